//! The `signed` format: the payload is readable by anyone holding the cookie (base64url, not
//! encrypted) but cannot be changed without the key, thanks to an HMAC-SHA256 tag.
//!
//! Choose it when the client or an intermediary must read the session (debugging, a front end
//! that shows the user name); otherwise prefer the default [`encrypted`](super::encrypted)
//! format, which hides the payload too.
//!
//! # Byte layout
//!
//! The cookie value is two strict base64url texts (URL-safe alphabet, no `=`, canonical
//! trailing bits) joined by a single `.`:
//!
//! ```text
//! value = base64url(body) "." base64url(tag)
//!
//! body  = 0x51 (1) | key id (4) | created_at u64 BE (8) | issued_at u64 BE (8)
//!         | expires_at u64 BE (8) | JSON
//! tag   = HMAC-SHA256(subkey, b"cookie-session/v1/signed\0" | u32 BE len(name) | name | body)
//! ```
//!
//! `0x51` names the format and its version; the key id (see [`crate::key`]) tells the server
//! which single key to try. The MAC key is `HKDF-SHA256(secret, info = "cookie-session/v1/signed")`,
//! a subkey used for nothing else. The MAC input starts with a domain label and binds the
//! cookie name (length-prefixed, so name and body cannot be re-split), so a value sealed for
//! one cookie name does not verify under another. The tag is always 32 bytes (43 characters).
//!
//! When opening, the tag is checked in constant time (`hmac`'s `verify_slice`) before anything
//! of the body other than its format byte and key id is used. This module checks no time:
//! expiry is enforced in one place by the session layer, from the [`Timestamps`] returned.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::native::{self, NativeKey, FORMAT_SIGNED_V1, HEADER_LEN, TIMES_LEN};
use super::{Opened, Timestamps, MAX_INPUT_LEN};
use crate::key::{KeyError, KeyRing, KEY_ID_LEN};
use crate::rejection::Rejection;

/// HKDF label of the MAC subkey.
const LABEL: &str = "cookie-session/v1/signed";

/// The first bytes of every MAC input: the label and a NUL.
const MAC_DOMAIN: &[u8] = b"cookie-session/v1/signed\0";

/// Length of the HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// Length of the tag as base64url text.
const TAG_TEXT_LEN: usize = native::encoded_len(TAG_LEN);

/// Where the JSON starts in the body: after the header and the times.
pub(crate) const JSON_START: usize = HEADER_LEN + TIMES_LEN;

/// The shortest body we can have sealed: header and times, with an empty JSON text.
const MIN_BODY_LEN: usize = JSON_START;

/// The length of the value signing `json_len` bytes of JSON.
pub(crate) const fn sealed_len(json_len: usize) -> usize {
    native::encoded_len(MIN_BODY_LEN + json_len) + 1 + TAG_TEXT_LEN
}

type HmacSha256 = Hmac<Sha256>;

/// Seals and opens `signed` cookie values (see the [module docs](self) for the layout).
///
/// Build it once from the [`KeyRing`]: the subkeys are derived and the HMAC key states
/// computed in [`SignedCodec::new`]; each seal or open clones a ready state.
///
/// ```
/// use cookie_session::format::signed::SignedCodec;
/// use cookie_session::format::Timestamps;
/// use cookie_session::KeyRing;
///
/// let ring = KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?;
/// let codec = SignedCodec::new(&ring)?;
/// let times = Timestamps { created_at: 1_700_000_000, issued_at: 1_700_000_000, expires_at: 1_700_086_400 };
///
/// let value = codec.seal("session", times, br#"{"user":42}"#);
/// let opened = codec.open("session", &value).expect("our own value opens");
/// assert_eq!(opened.key_index, 0);
/// assert_eq!(opened.times, Some(times));
/// assert_eq!(opened.json, br#"{"user":42}"#);
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
#[derive(Clone)]
pub struct SignedCodec {
    /// One per ring key, in ring order: key id and HMAC state keyed with the derived subkey.
    keys: Vec<NativeKey<HmacSha256>>,
}

impl SignedCodec {
    /// A codec for every key of the ring; the first seals.
    ///
    /// Every secret must be at least [`MIN_SECRET_LEN`](crate::key::MIN_SECRET_LEN) bytes
    /// ([`KeyError::TooShort`]) and no two may be the same ([`KeyError::Duplicate`]).
    ///
    /// ```
    /// use cookie_session::format::signed::SignedCodec;
    /// use cookie_session::{KeyError, KeyRing};
    ///
    /// let short = KeyRing::new(["too short"])?;
    /// assert!(matches!(SignedCodec::new(&short), Err(KeyError::TooShort { index: 0, .. })));
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn new(ring: &KeyRing) -> Result<Self, KeyError> {
        let keys = native::build_keys(ring, "signed", LABEL, |subkey| {
            <HmacSha256 as Mac>::new_from_slice(subkey).expect("HMAC accepts keys of any length")
        })?;
        Ok(Self { keys })
    }

    /// Signs the times and the JSON text with the first key of the ring, for the cookie `name`.
    ///
    /// The same input always gives the same value (HMAC is deterministic). The result is ASCII
    /// (base64url and one `.`) and safe as a cookie value.
    ///
    /// ```
    /// use cookie_session::format::signed::SignedCodec;
    /// use cookie_session::format::Timestamps;
    /// use cookie_session::KeyRing;
    ///
    /// let codec = SignedCodec::new(&KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?)?;
    /// let times = Timestamps { created_at: 10, issued_at: 20, expires_at: 30 };
    /// let value = codec.seal("session", times, b"{}");
    /// assert_eq!(value.matches('.').count(), 1);
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// Only if `name` is 4 GiB or longer.
    pub fn seal(&self, name: &str, times: Timestamps, json: &[u8]) -> String {
        let mut body = Vec::with_capacity(MIN_BODY_LEN + json.len());
        body.resize(JSON_START, 0);
        body.extend_from_slice(json);
        let mut out = String::with_capacity(sealed_len(json.len()));
        self.seal_buffer(name, times, &mut body, &mut out);
        out
    }

    /// Signs `body[JSON_START..]` (the JSON, written after room for the header and times)
    /// and appends the value to `out` (see `Codec::seal_buffer`).
    pub(crate) fn seal_buffer(
        &self,
        name: &str,
        times: Timestamps,
        body: &mut Vec<u8>,
        out: &mut String,
    ) {
        // A ring always holds at least one key, so a codec does too.
        let Some(key) = self.keys.first() else {
            unreachable!("a KeyRing is never empty")
        };
        if body.len() < JSON_START {
            body.resize(JSON_START, 0);
        }
        body[0] = FORMAT_SIGNED_V1;
        body[1..HEADER_LEN].copy_from_slice(&key.id);
        native::put_times(&mut body[HEADER_LEN..JSON_START], times);

        let name_len = name_len(name).expect("a cookie name is shorter than 4 GiB");
        let tag = mac(&key.state, name_len, name, body)
            .finalize()
            .into_bytes();

        out.reserve(native::encoded_len(body.len()) + 1 + TAG_TEXT_LEN);
        native::encode_into(body, out);
        out.push('.');
        native::encode_into(&tag, out);
    }

    /// Opens a value signed for the cookie `name` by any key of the ring.
    ///
    /// - larger than [`MAX_INPUT_LEN`], not exactly one `.`, either side not strict
    ///   base64url, a tag that is not 32 bytes, a body too short, or another format byte
    ///   (the `encrypted` format, another version) → [`Rejection::Malformed`];
    /// - a key id that names no key of the ring → [`Rejection::UnknownKey`];
    /// - the tag does not verify (tampered, signed for another cookie name, …) →
    ///   [`Rejection::BadSignature`].
    ///
    /// Exactly one key is tried: the one named by the key id. No time is checked here.
    ///
    /// ```
    /// use cookie_session::format::signed::SignedCodec;
    /// use cookie_session::{format::Timestamps, Rejection};
    /// use cookie_session::KeyRing;
    ///
    /// let codec = SignedCodec::new(&KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?)?;
    /// let times = Timestamps { created_at: 10, issued_at: 20, expires_at: 30 };
    /// let value = codec.seal("session", times, b"{}");
    ///
    /// assert_eq!(codec.open("session", &value).map(|o| o.json), Ok(b"{}".to_vec()));
    /// assert_eq!(codec.open("other", &value), Err(Rejection::BadSignature));
    /// assert_eq!(codec.open("session", "not.a.cookie"), Err(Rejection::Malformed));
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn open(&self, name: &str, value: &str) -> Result<Opened, Rejection> {
        native::open_into_new(|json| self.open_in(name, value, json))
    }

    /// [`open`](Self::open), decoding into `body`, an earlier buffer whose memory is reused
    /// (the session layer's pooled one): once it verified, `body` holds the JSON text alone.
    /// Returns the index of the key that verified it and the times.
    pub(crate) fn open_in(
        &self,
        name: &str,
        value: &str,
        body: &mut Vec<u8>,
    ) -> Result<(usize, Timestamps), Rejection> {
        let tag = parse(value, body)?;
        let (kid, _) = native::split_header(body, FORMAT_SIGNED_V1)?;
        let (key_index, state) = native::find_key(&self.keys, kid).ok_or(Rejection::UnknownKey)?;
        // A name of 4 GiB cannot have been signed by us.
        let name_len = name_len(name).ok_or(Rejection::BadSignature)?;
        mac(state, name_len, name, body)
            .verify_slice(&tag)
            .map_err(|_| Rejection::BadSignature)?;

        // Authenticated from here on.
        let times_and_json = body.get(HEADER_LEN..).ok_or(Rejection::Malformed)?;
        let (times, _) = native::read_times(times_and_json).ok_or(Rejection::Malformed)?;
        let end = body.len();
        native::keep_range(body, MIN_BODY_LEN, end).ok_or(Rejection::Malformed)?;
        Ok((key_index, times))
    }
}

/// The parts of a `signed` value as anyone holding it can read them, for tools that explain
/// a cookie (the demo's "inside my session" page). **Nothing here is authenticated**: only
/// [`SignedCodec::open`] with the key says whether these bytes are the server's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedParts {
    /// The key id: which key of the ring signed it (see [`crate::key`]).
    pub key_id: [u8; KEY_ID_LEN],
    /// The times the value claims.
    pub times: Timestamps,
    /// The JSON text the value claims.
    pub json: Vec<u8>,
}

/// Reads a `signed` value's [`SignedParts`] without checking its tag, or `None` when it does
/// not have the layout (not two strict base64url texts, too short, another format byte).
///
/// ```
/// use cookie_session::format::signed::{self, SignedCodec};
/// use cookie_session::format::Timestamps;
/// use cookie_session::KeyRing;
///
/// let codec = SignedCodec::new(&KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?)?;
/// let times = Timestamps { created_at: 10, issued_at: 20, expires_at: 30 };
/// let parts = signed::inspect(&codec.seal("session", times, br#"{"a":1}"#)).expect("our layout");
/// assert_eq!((parts.times, parts.json), (times, br#"{"a":1}"#.to_vec()));
/// assert_eq!(signed::inspect("not.a cookie"), None);
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
pub fn inspect(value: &str) -> Option<SignedParts> {
    let mut body = Vec::new();
    parse(value, &mut body).ok()?;
    let (key_id, rest) = native::split_header(&body, FORMAT_SIGNED_V1).ok()?;
    let (times, json) = native::read_times(rest)?;
    Some(SignedParts {
        key_id: *key_id,
        times,
        json: json.to_vec(),
    })
}

/// The layout rules, in one place for [`SignedCodec::open`] and [`inspect`]: within the size
/// limit, two strict base64url texts joined by one `.`, a 32-byte tag, a body of at least
/// [`MIN_BODY_LEN`] bytes. Decodes the body into `body` and returns the tag; anything else is
/// [`Rejection::Malformed`]. Nothing is verified here.
fn parse(value: &str, body: &mut Vec<u8>) -> Result<[u8; TAG_LEN], Rejection> {
    if value.len() > MAX_INPUT_LEN {
        return Err(Rejection::Malformed);
    }
    let (body_text, tag_text) = value.split_once('.').ok_or(Rejection::Malformed)?;
    // Exactly one '.': the tag side is 43 base64url characters, which never include one.
    if tag_text.len() != TAG_TEXT_LEN {
        return Err(Rejection::Malformed);
    }
    let tag = native::decode_array::<TAG_LEN>(tag_text).ok_or(Rejection::Malformed)?;
    native::decode_into(body_text, body)?;
    if body.len() < MIN_BODY_LEN {
        return Err(Rejection::Malformed);
    }
    Ok(tag)
}

/// The cookie name's length as the 4 big-endian bytes of the MAC input.
fn name_len(name: &str) -> Option<[u8; 4]> {
    u32::try_from(name.len()).ok().map(u32::to_be_bytes)
}

/// A copy of the keyed state that has absorbed the whole MAC input, ready to finalize or verify.
fn mac(state: &HmacSha256, name_len: [u8; 4], name: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = state.clone();
    mac.update(MAC_DOMAIN);
    mac.update(&name_len);
    mac.update(name.as_bytes());
    mac.update(body);
    mac
}

impl fmt::Debug for SignedCodec {
    /// Prints how many keys there are, never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedCodec")
            .field("keys", &self.keys.len())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::key::derive_subkey;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const TIMES: Timestamps = Timestamps {
        created_at: 1_700_000_000,
        issued_at: 1_700_000_100,
        expires_at: 1_700_086_500,
    };

    fn codec(secrets: &[&[u8]]) -> SignedCodec {
        SignedCodec::new(&KeyRing::new(secrets).unwrap()).unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn round_trip() {
        let codec = codec(&[SECRET]);
        for json in [
            &b""[..],
            b"{}",
            br#"{"a":[1,2,3],"b":"\u00e9"}"#,
            &[b'x'; 3000],
        ] {
            let value = codec.seal("id", TIMES, json);
            let opened = codec.open("id", &value).unwrap();
            assert_eq!(
                opened,
                Opened {
                    key_index: 0,
                    times: Some(TIMES),
                    json: json.to_vec()
                }
            );
        }
    }

    /// Pins the subkey derivation, the key id and the whole format for fixed inputs: if any
    /// of them drifts, existing cookies would stop verifying, and this test says so.
    ///
    /// The expected values were computed independently of this crate, in Python, with
    /// HKDF-SHA256 and HMAC-SHA256 from `hmac`/`hashlib`.
    #[test]
    fn known_answer() {
        assert_eq!(
            hex(&*derive_subkey(SECRET, LABEL)),
            "48a8c0d9bc8cbc7eeb35409369f5f285c1b2c68a0b26caa15be0174e4c908eff"
        );
        assert_eq!(hex(&crate::key::key_id(SECRET)), "0df2b11d");
        let value = codec(&[SECRET]).seal("id", TIMES, br#"{"user":42}"#);
        assert_eq!(
            value,
            "UQ3ysR0AAAAAZVPxAAAAAABlU_FkAAAAAGVVQuR7InVzZXIiOjQyfQ\
             .jCWjJ-Ntq_j32X8hJWCMLTRVvKIssYq-rcM96bfoH3A"
        );
    }

    #[test]
    fn payload_is_readable_but_not_changeable() {
        let codec = codec(&[SECRET]);
        let value = codec.seal("id", TIMES, br#"{"user":42}"#);
        let (body_text, tag_text) = value.split_once('.').unwrap();
        let mut body = base64::Engine::decode(&native::B64, body_text).unwrap();
        assert!(body.ends_with(br#"{"user":42}"#));
        // Same length, one digit changed: the classic privilege edit.
        let last = body.len() - 2;
        body[last] = b'3';
        let forged = format!("{}.{tag_text}", base64::Engine::encode(&native::B64, &body));
        assert_eq!(codec.open("id", &forged), Err(Rejection::BadSignature));
    }

    #[test]
    fn name_length_prefix_prevents_resplitting() {
        // Without the length prefix, ("ab", body) and ("a", "b" | body) would MAC the same
        // bytes. Check that moving a byte between name and body breaks the tag.
        let state = codec(&[SECRET]).keys[0].state.clone();
        let a = mac(&state, name_len("ab").unwrap(), "ab", b"xyz")
            .finalize()
            .into_bytes();
        let b = mac(&state, name_len("a").unwrap(), "a", b"bxyz")
            .finalize()
            .into_bytes();
        assert_ne!(a, b);
    }

    #[test]
    fn debug_prints_no_key_material() {
        let codec = codec(&[SECRET, b"another-secret-of-32-bytes-or-more"]);
        let debug = format!("{codec:?}");
        assert_eq!(debug, "SignedCodec { keys: 2 }");
        let alt = format!("{codec:#?}");
        let subkey = hex(&*derive_subkey(SECRET, LABEL));
        for text in [&debug, &alt] {
            assert!(!text.contains("0123456789"));
            assert!(!text.contains(&subkey[..8]));
        }
    }

    #[test]
    fn short_and_duplicate_secrets_are_refused() {
        let short = KeyRing::new([&b"short"[..]]).unwrap();
        assert!(matches!(
            SignedCodec::new(&short),
            Err(KeyError::TooShort {
                index: 0,
                len: 5,
                min: 32,
                format: "signed"
            })
        ));
        let dup = KeyRing::new([SECRET, SECRET]).unwrap();
        assert_eq!(
            SignedCodec::new(&dup).unwrap_err(),
            KeyError::Duplicate {
                first: 0,
                second: 1
            }
        );
    }

    #[test]
    fn unknown_version_byte_is_malformed() {
        let codec = codec(&[SECRET]);
        let value = codec.seal("id", TIMES, b"{}");
        let (body_text, tag_text) = value.split_once('.').unwrap();
        let mut body = base64::Engine::decode(&native::B64, body_text).unwrap();
        for byte in [0x00, 0x50, 0x52, 0xE1, 0xFF] {
            body[0] = byte;
            let value = format!("{}.{tag_text}", base64::Engine::encode(&native::B64, &body));
            assert_eq!(codec.open("id", &value), Err(Rejection::Malformed));
        }
    }

    #[test]
    fn structure_is_strict() {
        let codec = codec(&[SECRET]);
        let value = codec.seal("id", TIMES, b"{}");
        let (body_text, tag_text) = value.split_once('.').unwrap();
        for bad in [
            body_text.to_string(),
            format!("{body_text}.{tag_text}."),
            format!("{body_text}..{tag_text}"),
            format!(".{body_text}.{tag_text}"),
            format!("{tag_text}.{body_text}"),
            format!("{body_text}.{}", &tag_text[..42]),
            format!("{body_text}.{tag_text}A"),
            format!("{body_text}={}.{tag_text}", ""),
            format!("{body_text}.{tag_text}="),
            format!(".{tag_text}"),
            format!("{body_text}."),
            ".".to_string(),
        ] {
            assert_eq!(codec.open("id", &bad), Err(Rejection::Malformed), "{bad:?}");
        }
    }
}
