//! Node's lenient base64 decoder (`Buffer.from(s, 'base64')`), as cookie-session's `decode`
//! uses it (docs/EXPRESS-COMPATIBILITY.md §1.2, `node_base64_decode_vectors`).

/// Marks a byte that is not in either base64 alphabet.
const INVALID: u8 = 0xff;

/// Node's `unbase64` table: both alphabets at once (`+`/`-` → 62, `/`/`_` → 63).
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u8;
        table[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    table[b'+' as usize] = 62;
    table[b'-' as usize] = 62;
    table[b'/' as usize] = 63;
    table[b'_' as usize] = 63;
    table
};

/// Node's `Buffer.from(input, 'base64')`: never fails, whatever the input.
///
/// - both the standard (`+/`) and the URL-safe (`-_`) alphabet, mixed freely;
/// - padding optional; decoding **stops at the first `=`**, whatever follows;
/// - any other byte (whitespace, `!`, non-ASCII) is skipped;
/// - a final group of 2 or 3 characters gives 1 or 2 bytes, a lone final character nothing;
///   leftover bits are dropped, never checked.
///
/// The output is capped at Node's allocation, `(len − trailing '=' (at most 2)) * 3 / 4` bytes
/// (`base64ByteLength`); the decoded data never exceeds it, so the cap is only a safety net.
/// Lengths count bytes: Node reads header values as latin1, one char per byte.
pub fn node_base64_decode(input: &str) -> Vec<u8> {
    // Fast path: canonical standard base64 (what Express and this crate write) decodes to the
    // same bytes strictly as leniently, so the `base64` crate's faster decoder is used; any
    // other text (URL-safe characters, junk, bad padding, non-zero trailing bits) falls
    // through to the lenient loop below.
    {
        use base64::Engine as _;
        if let Ok(out) = base64::engine::general_purpose::STANDARD.decode(input) {
            return out;
        }
    }
    let bytes = input.as_bytes();
    let unpadded = bytes
        .strip_suffix(b"=")
        .map(|rest| rest.strip_suffix(b"=").unwrap_or(rest))
        .unwrap_or(bytes);
    let cap = unpadded.len() / 4 * 3 + (unpadded.len() % 4) * 3 / 4;
    let mut out = Vec::with_capacity(cap);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &b in bytes {
        if b == b'=' {
            break;
        }
        let v = DECODE[usize::from(b)];
        if v == INVALID {
            continue;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            if out.len() >= cap {
                break;
            }
            bits -= 8;
            // Truncation to the low byte is the point.
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Standard base64 with padding (`Buffer#toString('base64')`), written into a String sized once.
pub(crate) fn encode_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    engine.encode_string(bytes, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_groups_and_padding() {
        assert_eq!(node_base64_decode(""), b"");
        assert_eq!(node_base64_decode("Q"), b"");
        assert_eq!(node_base64_decode("QQ"), b"A");
        assert_eq!(node_base64_decode("QQ=="), b"A");
        assert_eq!(node_base64_decode("QUI"), b"AB");
        assert_eq!(node_base64_decode("QUJD"), b"ABC");
        assert_eq!(node_base64_decode("QUJDQ"), b"ABC");
        assert_eq!(node_base64_decode("QQ=QUJD"), b"A");
        assert_eq!(node_base64_decode("=QUJD"), b"");
        // Non-zero leftover bits are ignored, not rejected.
        assert_eq!(node_base64_decode("QR=="), b"A");
        // Whitespace and non-ASCII are skipped.
        assert_eq!(node_base64_decode(" Q U\tJ\nD é"), b"ABC");
        assert_eq!(node_base64_decode("+/-_"), [0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn fast_path_agrees_with_the_lenient_loop() {
        use base64::Engine as _;
        let engine = &base64::engine::general_purpose::STANDARD;
        for len in 0..64usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let text = engine.encode(&bytes);
            assert_eq!(node_base64_decode(&text), bytes, "{text}");
            // The same text without padding, or with junk, takes the lenient loop: same bytes.
            assert_eq!(
                node_base64_decode(text.trim_end_matches('=')),
                bytes,
                "{text}"
            );
            assert_eq!(node_base64_decode(&format!(" {text}")), bytes, "{text}");
        }
    }

    #[test]
    fn cap_matches_node_allocation() {
        // Node allocates (len - padding) * 3 / 4 bytes; valid data never needs more.
        for len in 0..40 {
            let s: String = "QUJD".repeat(10).chars().take(len).collect();
            let out = node_base64_decode(&s);
            assert_eq!(out.len(), len * 3 / 4, "{s}");
        }
    }

    #[test]
    fn encode_standard_pads() {
        assert_eq!(encode_standard(b"{}"), "e30=");
        assert_eq!(encode_standard(b""), "");
        assert_eq!(encode_standard(br#"{"a":1}"#), "eyJhIjoxfQ==");
        assert_eq!(encode_standard(&[0xfb, 0xff]), "+/8=");
    }
}
