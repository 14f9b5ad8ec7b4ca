//! The `connect.sid` cookie: a session id signed as express-session 1.19 signs it.
//!
//! express-session sends `encodeURIComponent("s:" + sign(sid, secrets[0]))`, where `sign` is
//! cookie-signature 1.0.7's: `sid + "." + base64(HMAC-SHA256(secret, sid))` with the `=`
//! padding stripped (standard alphabet, so the cookie carries `%2B` and `%2F`). It reads the
//! cookie with cookie 0.7.2's parser (first occurrence wins, blanks trimmed, quotes stripped,
//! `%`-escapes decoded when valid) and accepts a value starting with `s:` whose signature
//! verifies with any secret of the list, the first one that does.
//! The recorded behaviour is in `cookie-session/tests/data/express-session-vectors.json`.

use std::fmt;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::format::MAX_INPUT_LEN;
use crate::key::KeyRing;
use crate::rejection::Rejection;

/// The length of a signature: base64 without padding of a SHA-256 digest.
pub const SIGNATURE_LEN: usize = 43;

/// Secrets shorter than this are accepted, as express-session accepts them, but
/// [`SidSigner::short_secrets`] reports them so an application can warn.
pub const RECOMMENDED_SECRET_LEN: usize = 32;

/// Signs and verifies session ids with a list of secrets: the first signs, every one verifies.
///
/// Each secret is used as its raw bytes, which is what Node's `createHmac` does with a string
/// secret (its UTF-8 bytes). `Debug` prints only how many secrets there are.
///
/// # Examples
///
/// ```
/// use cookie_session::format::express_session::{find_cookie, SidSigner};
/// use cookie_session::KeyRing;
///
/// let signer = SidSigner::new(&KeyRing::new(["secret-new", "secret-old"])?);
/// let value = signer.cookie_value("VBFEUUBshl3roZSnqe-caSobqroPU8q6");
/// // What express-session sends for this sid (cookie-signature 1.0.7; the `unsign` vectors).
/// assert_eq!(
///     value,
///     "s%3AVBFEUUBshl3roZSnqe-caSobqroPU8q6.ew9mk6Uqcwrc78WCT2TxmQK0pX8dOpCQr4A4wPdAtv4"
/// );
/// let header = format!("theme=dark; connect.sid={value}");
/// let found = find_cookie(&header, "connect.sid").unwrap_or_default();
/// assert_eq!(
///     signer.open(&found),
///     Ok(("VBFEUUBshl3roZSnqe-caSobqroPU8q6".to_owned(), 0))
/// );
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
#[derive(Clone)]
pub struct SidSigner {
    keys: Vec<Hmac<Sha256>>,
    short: Vec<usize>,
}

impl fmt::Debug for SidSigner {
    /// `SidSigner { secrets: 2 }`: never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SidSigner")
            .field("secrets", &self.keys.len())
            .finish()
    }
}

impl SidSigner {
    /// A signer for `ring`'s secrets, the first one signing.
    ///
    /// Any non-empty secret is accepted, as express-session accepts any string; secrets shorter
    /// than [`RECOMMENDED_SECRET_LEN`] bytes are logged once here (index and length only) and
    /// listed by [`short_secrets`](Self::short_secrets).
    pub fn new(ring: &KeyRing) -> Self {
        let mut short = Vec::new();
        let keys = ring
            .secrets()
            .enumerate()
            .map(|(index, secret)| {
                if secret.len() < RECOMMENDED_SECRET_LEN {
                    short.push(index);
                    tracing::warn!(
                        index,
                        len = secret.len(),
                        "express-session secret is shorter than {RECOMMENDED_SECRET_LEN} bytes; \
                         accepted for compatibility, but a long random secret is safer"
                    );
                }
                hmac_for(secret)
            })
            .collect();
        Self { keys, short }
    }

    /// The positions in the ring of the secrets shorter than [`RECOMMENDED_SECRET_LEN`].
    pub fn short_secrets(&self) -> &[usize] {
        &self.short
    }

    /// How many secrets verify (the first also signs).
    pub fn secret_count(&self) -> usize {
        self.keys.len()
    }

    /// cookie-signature's `sign(sid, secrets[0])`: `sid + "." + signature`.
    ///
    /// ```
    /// # use cookie_session::{KeyRing, format::express_session::SidSigner};
    /// let signer = SidSigner::new(&KeyRing::new(["secret-new"])?);
    /// assert_eq!(
    ///     signer.sign("VBFEUUBshl3roZSnqe-caSobqroPU8q6"),
    ///     "VBFEUUBshl3roZSnqe-caSobqroPU8q6.ew9mk6Uqcwrc78WCT2TxmQK0pX8dOpCQr4A4wPdAtv4"
    /// );
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn sign(&self, sid: &str) -> String {
        let mut out = String::with_capacity(sid.len() + 1 + SIGNATURE_LEN);
        out.push_str(sid);
        out.push('.');
        if let Some(key) = self.keys.first() {
            let sig = signature(key, sid);
            out.push_str(sig.as_str());
        }
        out
    }

    /// express-session's `unsigncookie(signed, secrets)`: the sid and the index of the first
    /// secret whose signature matches, or `None`.
    ///
    /// `signed` is the cookie value after `s:`, already decoded. The sid is everything before
    /// the last `.`; the rest must be exactly the signature, compared in constant time (a
    /// padded, URL-safe or truncated signature is refused, as cookie-signature refuses it).
    ///
    /// ```
    /// # use cookie_session::{KeyRing, format::express_session::SidSigner};
    /// let signer = SidSigner::new(&KeyRing::new(["secret-new", "secret-old"])?);
    /// let signed = "VBFEUUBshl3roZSnqe-caSobqroPU8q6.OG62daQjQUf+o/mC0E4O1xhNUztEL/ZIb26VklDKTHc";
    /// assert_eq!(signer.unsign(signed), Some(("VBFEUUBshl3roZSnqe-caSobqroPU8q6", 1)));
    /// assert_eq!(signer.unsign("VBFEUUBshl3roZSnqe-caSobqroPU8q6"), None);
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn unsign<'a>(&self, signed: &'a str) -> Option<(&'a str, usize)> {
        let dot = signed.rfind('.')?;
        let (sid, sig) = (signed.get(..dot)?, signed.get(dot + 1..)?);
        // Another length can never match; lengths are public anyway.
        if sig.len() != SIGNATURE_LEN {
            return None;
        }
        // First match wins, as express-session's loop over the secrets does.
        self.keys
            .iter()
            .position(|key| bool::from(signature(key, sid).as_bytes().ct_eq(sig.as_bytes())))
            .map(|index| (sid, index))
    }

    /// The `connect.sid` value express-session sends for `sid`:
    /// `encodeURIComponent("s:" + sign(sid))`.
    pub fn cookie_value(&self, sid: &str) -> String {
        encode_uri_component(&format!("s:{}", self.sign(sid)))
    }

    /// Reads a `connect.sid` value as express-session does, given the value as its cookie
    /// parser returns it: already trimmed, unquoted and decoded by [`find_cookie`] (decoding it
    /// again here would accept values express-session refuses).
    ///
    /// # Errors
    ///
    /// Every error means "no session from this cookie" (a fresh one, under a new id):
    /// [`Rejection::Missing`] for an empty value, [`Rejection::Malformed`] for one that is too
    /// long or does not start with `s:` (express-session ignores unsigned ids), and
    /// [`Rejection::BadSignature`] when no secret verifies it.
    pub fn open(&self, value: &str) -> Result<(String, usize), Rejection> {
        if value.is_empty() {
            return Err(Rejection::Missing);
        }
        if value.len() > MAX_INPUT_LEN {
            return Err(Rejection::Malformed);
        }
        let signed = value.strip_prefix("s:").ok_or(Rejection::Malformed)?;
        let (sid, index) = self.unsign(signed).ok_or(Rejection::BadSignature)?;
        Ok((sid.to_owned(), index))
    }
}

fn hmac_for(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length (longer ones are hashed), so this never fails.
    Hmac::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// A signature on the stack: 43 ASCII characters.
struct Sig {
    buf: [u8; 44],
    len: usize,
}

impl Sig {
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn as_str(&self) -> &str {
        // base64 output is ASCII.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

fn signature(key: &Hmac<Sha256>, sid: &str) -> Sig {
    let mut mac = key.clone();
    mac.update(sid.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut buf = [0u8; 44];
    let len = STANDARD_NO_PAD.encode_slice(tag, &mut buf).unwrap_or(0);
    Sig { buf, len }
}

/// A new session id as express-session makes them (uid-safe): 24 random bytes from the
/// operating system, base64url without padding, 32 characters.
///
/// ```
/// let sid = cookie_session::format::express_session::generate_sid();
/// assert_eq!(sid.len(), 32);
/// assert!(sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// ```
pub fn generate_sid() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// JavaScript's `encodeURIComponent`: every byte of the UTF-8 text but `A-Z a-z 0-9 - _ . ! ~
/// * ' ( )` as `%XX` (upper-case hex).
///
/// ```
/// use cookie_session::format::express_session::encode_uri_component;
/// assert_eq!(encode_uri_component("s:a+b/c=d é"), "s%3Aa%2Bb%2Fc%3Dd%20%C3%A9");
/// ```
pub fn encode_uri_component(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len() + 8);
    for &b in text.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// JavaScript's `decodeURIComponent`, or `None` where it throws: a `%` not followed by two hex
/// digits, or escapes that do not form UTF-8.
///
/// ```
/// use cookie_session::format::express_session::decode_uri_component;
/// assert_eq!(decode_uri_component("s%3Aa%2Bb").as_deref(), Some("s:a+b"));
/// assert_eq!(decode_uri_component("%ZZ"), None);
/// assert_eq!(decode_uri_component("%C3"), None);
/// ```
pub fn decode_uri_component(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// cookie 0.7.2's value handling: decode when the value holds a `%` and decodes; otherwise
/// keep it as it is.
fn decode_cookie_value(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains('%') {
        if let Some(decoded) = decode_uri_component(value) {
            return decoded.into();
        }
    }
    value.into()
}

/// The value of cookie `name` in a `Cookie` header, as express-session's parser (cookie 0.7.2)
/// finds it: the first pair with that name wins, blanks (space, tab) around names and values
/// are trimmed, one pair of surrounding double quotes is stripped, and `%`-escapes are decoded
/// when they are valid (kept as they are otherwise).
///
/// Several `Cookie` header lines are passed joined with `"; "`, as Node joins them.
///
/// ```
/// use cookie_session::format::express_session::find_cookie;
/// let header = "a=1; connect.sid=s%3Afirst.x; connect.sid=s%3Asecond.y";
/// assert_eq!(find_cookie(header, "connect.sid").as_deref(), Some("s:first.x"));
/// assert_eq!(find_cookie("connect.sid=\"s%3Aabc\"", "connect.sid").as_deref(), Some("s:abc"));
/// assert_eq!(find_cookie("connect.sid=s%3Aa%ZZ", "connect.sid").as_deref(), Some("s%3Aa%ZZ"));
/// assert_eq!(find_cookie("other=1", "connect.sid"), None);
/// ```
pub fn find_cookie(header: &str, name: &str) -> Option<String> {
    let blank = |c: char| c == ' ' || c == '\t';
    for pair in header.split(';') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        if key.trim_matches(blank) != name {
            continue;
        }
        let value = value.trim_matches(blank);
        let value = match value.strip_prefix('"') {
            // JS slices (start + 1, end - 1) when both ends are quotes: `"` alone gives "".
            Some(rest) if value.ends_with('"') => rest.strip_suffix('"').unwrap_or_default(),
            _ => value,
        };
        return Some(decode_cookie_value(value).into_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn signer() -> SidSigner {
        SidSigner::new(&KeyRing::new(["secret-new", "secret-old"]).unwrap())
    }

    #[test]
    fn short_secrets_are_reported_not_refused() {
        let ring = KeyRing::new(["a", "x".repeat(32).as_str(), "short"]).unwrap();
        let signer = SidSigner::new(&ring);
        assert_eq!(signer.short_secrets(), &[0, 2]);
        assert_eq!(signer.secret_count(), 3);
        assert_eq!(format!("{signer:?}"), "SidSigner { secrets: 3 }");
    }

    #[test]
    fn unsigned_and_garbage_values_are_refused() {
        let signer = signer();
        let sid = "VBFEUUBshl3roZSnqe-caSobqroPU8q6";
        assert_eq!(signer.open(""), Err(Rejection::Missing));
        assert_eq!(signer.open(sid), Err(Rejection::Malformed));
        assert_eq!(
            signer.open(&"s".repeat(MAX_INPUT_LEN + 1)),
            Err(Rejection::Malformed)
        );
        assert_eq!(signer.open("s:"), Err(Rejection::BadSignature));
        assert_eq!(signer.open("s:."), Err(Rejection::BadSignature));
        let good = signer.sign(sid);
        // A multi-byte character where the signature's last byte was: no panic, no match.
        let mut cut = good.clone();
        cut.pop();
        cut.push('é');
        assert_eq!(
            signer.open(&format!("s:{cut}")),
            Err(Rejection::BadSignature)
        );
        assert_eq!(signer.open(&format!("s:{good}")), Ok((sid.to_owned(), 0)));
    }

    #[test]
    fn decode_uri_component_matches_js() {
        assert_eq!(decode_uri_component("%e2%9c%93").as_deref(), Some("✓"));
        assert_eq!(decode_uri_component("%").as_deref(), None);
        assert_eq!(decode_uri_component("%2").as_deref(), None);
        assert_eq!(decode_uri_component("%FF").as_deref(), None);
        let all: String = (1u8..128).map(char::from).collect();
        assert_eq!(
            decode_uri_component(&encode_uri_component(&all)).as_deref(),
            Some(all.as_str())
        );
    }
}
