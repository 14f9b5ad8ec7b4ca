//! What the two native formats ([`encrypted`](super::encrypted), [`signed`](super::signed))
//! share: the format byte, the key id, the 24-byte timestamp block and strict base64url.
//!
//! Every native value starts (after base64url decoding) with the same 5-byte header:
//!
//! ```text
//! format byte (1) | key id (4)
//! ```
//!
//! The format byte names both the format and its version: `0xE1` is "encrypted, version 1"
//! (XChaCha20-Poly1305), `0xE2` "encrypted, version 2" (XAES-256-GCM), `0x51` is "signed,
//! version 1". A value of one format given to the other, or a value of a
//! version this code does not know, is refused on this byte before any key is looked at.
//!
//! Nothing here is secret: the key id is public (derived with its own HKDF label), so it is
//! compared with plain `==`. Secret comparisons live in the AEAD and HMAC crates only.

#[cfg(any(test, feature = "jwt"))]
use base64::alphabet;
#[cfg(any(test, feature = "jwt"))]
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
#[cfg(any(test, feature = "jwt"))]
use base64::engine::DecodePaddingMode;

use super::{Opened, Timestamps, MAX_INPUT_LEN};
use crate::key::{derive_subkey, key_ids, KeyError, KeyRing, KEY_ID_LEN};
use crate::rejection::Rejection;

/// Format byte of the `encrypted` format, version 1.
pub(crate) const FORMAT_ENCRYPTED_V1: u8 = 0xE1;

/// Format byte of the `encrypted` format, version 2 (XAES-256-GCM).
pub(crate) const FORMAT_ENCRYPTED_V2: u8 = 0xE2;

/// Format byte of the `signed` format, version 1.
pub(crate) const FORMAT_SIGNED_V1: u8 = 0x51;

/// Length of the header every native value starts with: format byte and key id.
pub(crate) const HEADER_LEN: usize = 1 + KEY_ID_LEN;

/// Length of the timestamp block: `created_at | issued_at | expires_at`, each u64 big-endian.
pub(crate) const TIMES_LEN: usize = 24;

/// Strict base64url: URL-safe alphabet, no padding written or accepted, and the unused bits
/// of the last character must be zero, so every byte string has exactly one encoding and
/// every accepted text is exactly what [`encode_into`] would have written.
///
/// The `base64` crate's engine with that contract. The hot path ([`encode_into`],
/// [`decode_into`]) uses `base64-simd` instead; this engine is the reference it is tested
/// against, and what the cold paths (the `jwt` header) use.
#[cfg(any(test, feature = "jwt"))]
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// [`B64`]'s contract in `base64-simd` (runtime AVX2/SSE4.1/NEON detection). Its strict
/// decoder refuses `=`, the standard alphabet's `+` and `/`, impossible lengths, and a last
/// character with non-zero unused bits (base64-simd 0.8.0, `src/decode.rs`, `decode_extra`:
/// the forgiving mode alone skips that check); the `simd_agrees_with_the_strict_engine_*`
/// tests below hold it to [`B64`]'s answers.
const SIMD: base64_simd::Base64 = base64_simd::URL_SAFE_NO_PAD;

/// The number of base64url characters (no padding) that encode `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    // 4 characters per 3 bytes, rounded up, minus the padding that is not written.
    (len / 3) * 4
        + match len % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// Appends the strict base64url encoding of `bytes` to `out`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    SIMD.encode_append(bytes, out);
}

/// Decodes strict base64url text into a new vector, refusing anything larger than
/// [`MAX_INPUT_LEN`] before looking at it.
#[cfg(any(test, feature = "jwt"))]
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, Rejection> {
    let mut out = Vec::new();
    decode_into(text, &mut out)?;
    Ok(out)
}

/// [`decode`] into `out`, replacing what it held and reusing its memory. Anything larger than
/// [`MAX_INPUT_LEN`] is refused before it is looked at; on a refusal `out` is left empty.
pub(crate) fn decode_into(text: &str, out: &mut Vec<u8>) -> Result<(), Rejection> {
    out.clear();
    if text.len() > MAX_INPUT_LEN {
        return Err(Rejection::Malformed);
    }
    SIMD.decode_append(text, out)
        .map_err(|_| Rejection::Malformed)
}

/// Decodes strict base64url text of exactly `N` bytes into an array (a tag), or `None`.
pub(crate) fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut array = [0u8; N];
    if text.len() != encoded_len(N) {
        return None;
    }
    // The length is checked above, so the output fits: base64-simd panics only when it
    // would not.
    let decoded = SIMD
        .decode(text.as_bytes(), base64_simd::Out::from_slice(&mut array))
        .ok()?;
    (decoded.len() == N).then_some(array)
}

/// One key of a native codec: its public id and its ready-to-use secret state (a cipher or a
/// keyed MAC), built once when the codec is built.
#[derive(Clone)]
pub(crate) struct NativeKey<S> {
    /// The key id written in every value the key seals.
    pub(crate) id: [u8; KEY_ID_LEN],
    /// The cipher or MAC state derived from the secret.
    pub(crate) state: S,
}

/// Builds the keys of a native codec from a ring: checks every secret is at least
/// [`MIN_SECRET_LEN`](crate::key::MIN_SECRET_LEN) bytes, computes the key ids (refusing two
/// secrets with one id), derives one subkey per secret under `label` and turns it into a
/// ready state with `make`. The subkey is wiped when `make` returns.
pub(crate) fn build_keys<S>(
    ring: &KeyRing,
    format: &'static str,
    label: &str,
    make: impl Fn(&[u8; 32]) -> S,
) -> Result<Vec<NativeKey<S>>, KeyError> {
    ring.require_min_len(format)?;
    let ids = key_ids(ring)?;
    Ok(ring
        .secrets()
        .zip(ids)
        .map(|(secret, id)| {
            let subkey = derive_subkey(secret, label);
            NativeKey {
                id,
                state: make(&subkey),
            }
        })
        .collect())
}

/// The key with this id, and its index in the ring, if the ring has one.
///
/// Exactly one key is ever tried per value: the one its id names.
pub(crate) fn find_key<'a, S>(
    keys: &'a [NativeKey<S>],
    kid: &[u8; KEY_ID_LEN],
) -> Option<(usize, &'a S)> {
    keys.iter()
        .enumerate()
        .find(|(_, key)| key.id == *kid)
        .map(|(index, key)| (index, &key.state))
}

/// What a native codec's crate-private `open_in` found (the key index and the times), with
/// the JSON text it left in its buffer.
pub(crate) fn opened((key_index, times): (usize, Timestamps), json: Vec<u8>) -> Opened {
    Opened {
        key_index,
        times: Some(times),
        json,
    }
}

/// A native codec's public `open`: its crate-private `open_in` (which decodes into a reused
/// buffer) run into a new buffer of its own.
pub(crate) fn open_into_new(
    open_in: impl FnOnce(&mut Vec<u8>) -> Result<(usize, Timestamps), Rejection>,
) -> Result<Opened, Rejection> {
    let mut json = Vec::new();
    let found = open_in(&mut json)?;
    Ok(opened(found, json))
}

/// Keeps `raw[start..end]` in the same allocation (no copy into a new vector), or `None` when
/// the range does not fit.
pub(crate) fn keep_range(raw: &mut Vec<u8>, start: usize, end: usize) -> Option<()> {
    if start > end || end > raw.len() {
        return None;
    }
    raw.truncate(end);
    raw.drain(..start);
    Some(())
}

/// Splits a decoded native value into its key id and the rest, after checking its format byte.
///
/// Too short for a header → [`Rejection::Malformed`]; another format byte (another format or
/// an unknown version) → [`Rejection::Malformed`].
pub(crate) fn split_header(
    raw: &[u8],
    format: u8,
) -> Result<(&[u8; KEY_ID_LEN], &[u8]), Rejection> {
    let Some((&byte, rest)) = raw.split_first() else {
        return Err(Rejection::Malformed);
    };
    if byte != format {
        return Err(Rejection::Malformed);
    }
    rest.split_first_chunk::<KEY_ID_LEN>()
        .ok_or(Rejection::Malformed)
}

/// Appends the header (format byte and key id) to `out`.
pub(crate) fn write_header(out: &mut Vec<u8>, format: u8, kid: &[u8; KEY_ID_LEN]) {
    out.push(format);
    out.extend_from_slice(kid);
}

/// Appends the 24-byte timestamp block to `out`.
#[cfg(test)]
pub(crate) fn write_times(out: &mut Vec<u8>, times: Timestamps) {
    out.extend_from_slice(&times.created_at.to_be_bytes());
    out.extend_from_slice(&times.issued_at.to_be_bytes());
    out.extend_from_slice(&times.expires_at.to_be_bytes());
}

/// Writes the 24-byte timestamp block into the first 24 bytes of `out`.
pub(crate) fn put_times(out: &mut [u8], times: Timestamps) {
    let fields = [times.created_at, times.issued_at, times.expires_at];
    for (chunk, field) in out.chunks_exact_mut(8).zip(fields) {
        chunk.copy_from_slice(&field.to_be_bytes());
    }
}

/// Reads the 24-byte timestamp block at the start of `bytes`, returning the times and the
/// bytes after the block, or `None` when fewer than 24 bytes are there.
pub(crate) fn read_times(bytes: &[u8]) -> Option<(Timestamps, &[u8])> {
    let (created_at, rest) = bytes.split_first_chunk::<8>()?;
    let (issued_at, rest) = rest.split_first_chunk::<8>()?;
    let (expires_at, rest) = rest.split_first_chunk::<8>()?;
    Some((
        Timestamps {
            created_at: u64::from_be_bytes(*created_at),
            issued_at: u64::from_be_bytes(*issued_at),
            expires_at: u64::from_be_bytes(*expires_at),
        },
        rest,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    #[test]
    fn encoded_len_matches_the_engine() {
        for len in 0..100 {
            assert_eq!(
                encoded_len(len),
                B64.encode(vec![0u8; len]).len(),
                "len {len}"
            );
        }
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(decode("AAEC").unwrap(), vec![0, 1, 2]);
        assert_eq!(decode("_-8").unwrap(), vec![0xff, 0xef]);
        // Padding, the standard alphabet, non-canonical trailing bits, impossible lengths,
        // whitespace and non-ASCII are all refused.
        for bad in [
            "AA==", "AAE=", "+/8", "AB", "A", "AAAAA", " AAE", "AAE ", "AA\nE", "A£E",
        ] {
            assert_eq!(decode(bad), Err(Rejection::Malformed), "{bad:?}");
        }
        assert_eq!(
            decode(&"A".repeat(MAX_INPUT_LEN + 4)),
            Err(Rejection::Malformed)
        );
    }

    /// Both decoders' answer for `text`: the bytes, or a refusal.
    fn both(text: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let simd = decode(text).ok();
        let strict = B64.decode(text).ok();
        (simd, strict)
    }

    /// Every text of one to three characters over the alphabet, `=`, `+`, `/` and a space:
    /// every last character of every tail length, canonical or not, alone and after a full
    /// SIMD block (a tail past 32 characters is decoded by other code than a short text).
    #[test]
    fn simd_agrees_with_the_strict_engine_on_every_short_tail() {
        let chars: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ "
                .chars()
                .collect();
        let block = "AAAA".repeat(16);
        let mut accepted = 0;
        let mut text = String::new();
        for a in &chars {
            for b in std::iter::once(None).chain(chars.iter().map(Some)) {
                for c in std::iter::once(None).chain(chars.iter().map(Some)) {
                    if b.is_none() && c.is_some() {
                        continue;
                    }
                    for prefix in ["", block.as_str()] {
                        text.clear();
                        text.push_str(prefix);
                        text.push(*a);
                        text.extend(b);
                        text.extend(c);
                        let (simd, strict) = both(&text);
                        assert_eq!(simd, strict, "{text:?}");
                        accepted += usize::from(simd.is_some());
                    }
                }
            }
        }
        // Canonical tails: of 2 characters 64·4 (4 unused bits: 4 last characters of 64),
        // of 3 characters 64·64·16 (2 unused bits), each alone and after the block; a single
        // character never decodes.
        assert_eq!(accepted, 2 * (64 * 4 + 64 * 64 * 16));
    }

    /// A mutation of a valid text: the character at a position replaced, a character
    /// inserted, or the text cut short.
    #[derive(Debug, Clone)]
    enum Mutation {
        Replace(usize, char),
        Insert(usize, char),
        Truncate(usize),
    }

    fn any_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::sample::select(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                    .chars()
                    .collect::<Vec<_>>()
            ),
            2 => proptest::sample::select(vec!['=', '+', '/', ' ', '\n', '.', '\0', 'é', '€']),
            1 => any::<char>(),
        ]
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), any_char()).prop_map(|(at, c)| Mutation::Replace(at, c)),
            (any::<usize>(), any_char()).prop_map(|(at, c)| Mutation::Insert(at, c)),
            any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    fn mutate(text: &str, mutation: &Mutation) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        let len = chars.len();
        match *mutation {
            Mutation::Replace(at, c) if len > 0 => chars[at % len] = c,
            Mutation::Replace(_, c) => chars.push(c),
            Mutation::Insert(at, c) => chars.insert(at % (len + 1), c),
            Mutation::Truncate(at) => chars.truncate(at % (len + 1)),
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Random byte strings of every length mod 3 (so every tail): the SIMD encoding is the
        /// strict engine's, and it decodes back to the bytes.
        #[test]
        fn simd_encodes_as_the_strict_engine(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut text = String::from("prefix=");
            encode_into(&bytes, &mut text);
            prop_assert_eq!(&text["prefix=".len()..], B64.encode(&bytes));
            prop_assert_eq!(text.len() - "prefix=".len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(&text["prefix=".len()..]), Ok(bytes));
        }

        /// Valid texts with one or two mutations (a wrong character, `=`, `+`, `/`,
        /// whitespace, non-ASCII, a non-canonical last character, every length mod 4): both
        /// decoders accept and refuse the same texts, with the same bytes.
        #[test]
        fn simd_agrees_with_the_strict_engine_on_mutated_texts(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            first in mutation(),
            second in proptest::option::of(mutation()),
        ) {
            let valid = B64.encode(&bytes);
            let mut text = mutate(&valid, &first);
            if let Some(second) = &second {
                text = mutate(&text, second);
            }
            let (simd, strict) = both(&text);
            prop_assert_eq!(simd, strict, "{:?}", text);
        }

        /// Random texts over the alphabet and its near misses.
        #[test]
        fn simd_agrees_with_the_strict_engine_on_random_texts(
            chars in proptest::collection::vec(any_char(), 0..150),
        ) {
            let text: String = chars.into_iter().collect();
            let (simd, strict) = both(&text);
            prop_assert_eq!(simd, strict, "{:?}", text);
        }

        /// The fixed-length decoder (the `signed` tag) agrees too.
        #[test]
        fn decode_array_agrees_with_the_strict_engine(
            bytes in proptest::array::uniform32(any::<u8>()),
            change in proptest::option::of(mutation()),
        ) {
            let valid = B64.encode(bytes);
            let text = match &change {
                Some(change) => mutate(&valid, change),
                None => valid,
            };
            let mut strict = [0u8; 32];
            let strict = match B64.decode_slice(&text, &mut strict) {
                Ok(32) => Some(strict),
                _ => None,
            };
            prop_assert_eq!(decode_array::<32>(&text), strict);
            if change.is_none() {
                prop_assert_eq!(strict, Some(bytes));
            }
        }
    }

    #[test]
    fn decode_into_reuses_and_empties_its_buffer() {
        let mut buf = vec![9u8; 100];
        decode_into("AAEC", &mut buf).unwrap();
        assert_eq!(buf, [0, 1, 2]);
        assert!(buf.capacity() >= 100, "the memory is reused");
        assert_eq!(decode_into("AAE=", &mut buf), Err(Rejection::Malformed));
        assert!(buf.is_empty(), "a refusal leaves it empty");
        let long = "A".repeat(MAX_INPUT_LEN + 4);
        assert_eq!(decode_into(&long, &mut buf), Err(Rejection::Malformed));
    }

    #[test]
    fn times_round_trip_and_short_input() {
        let times = Timestamps {
            created_at: 1,
            issued_at: u64::MAX,
            expires_at: 0x0102_0304,
        };
        let mut buf = Vec::new();
        write_times(&mut buf, times);
        buf.push(9);
        assert_eq!(buf.len(), TIMES_LEN + 1);
        assert_eq!(read_times(&buf), Some((times, &[9u8][..])));
        for len in 0..TIMES_LEN {
            assert_eq!(read_times(&buf[..len]), None);
        }
    }

    #[test]
    fn header_checks_format_and_length() {
        let mut buf = Vec::new();
        write_header(&mut buf, FORMAT_SIGNED_V1, &[1, 2, 3, 4]);
        buf.push(5);
        assert_eq!(
            split_header(&buf, FORMAT_SIGNED_V1),
            Ok((&[1, 2, 3, 4], &[5u8][..]))
        );
        assert_eq!(
            split_header(&buf, FORMAT_ENCRYPTED_V1),
            Err(Rejection::Malformed)
        );
        for len in 0..HEADER_LEN {
            assert_eq!(
                split_header(&buf[..len], FORMAT_SIGNED_V1),
                Err(Rejection::Malformed)
            );
        }
    }
}
