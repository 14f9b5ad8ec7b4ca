//! The `jwt` format (feature `jwt`): the session as a compact JWS (RFC 7515) signed with
//! HS256 (RFC 7518 §3.2), so other services that share the secret and speak JWT can read the
//! session, or mint one, with any JWT library.
//!
//! Like [`signed`](super::signed), the payload is readable by anyone holding the cookie and
//! cannot be changed without the key. Prefer the default [`encrypted`](super::encrypted)
//! format unless another service must read the session.
//!
//! # Token layout
//!
//! ```text
//! value  = base64url(header) "." base64url(claims) "." base64url(tag)
//! tag    = HMAC-SHA256(secret, base64url(header) "." base64url(claims))
//!
//! header = {"alg":"HS256","typ":"JWT","kid":"<key id>"}
//! claims = {"iat":<issued_at>,"exp":<expires_at>,"cat":<created_at>,"aud":"<cookie name>",
//!           "ses":{…the session…}}
//! ```
//!
//! base64url is the URL-safe alphabet without padding (RFC 7515 §2), strict: padding,
//! the other alphabet or non-canonical trailing bits are refused.
//!
//! | member | meaning |
//! |---|---|
//! | `kid` | the 4-byte key id every format of this crate uses, as 8 lowercase hex digits: the first 4 bytes of `HKDF-SHA256(ikm = secret, no salt, info = "cookie-session/v1/key-id")`. Public; it only says which key to try |
//! | `iat` | when this token was sealed, Unix seconds (RFC 7519 NumericDate, an integer) |
//! | `exp` | after which the server refuses it, Unix seconds (integer) |
//! | `cat` | private claim: when the session was first created, Unix seconds (integer); it survives re-issues so an absolute lifetime can be enforced |
//! | `aud` | the cookie name (RFC 7519 §4.1.3), binding the token to its cookie |
//! | `ses` | the session object, exactly the JSON the session layer sealed. Nested under one claim so its keys never collide with registered claims (`exp`, `aud`, …) |
//!
//! # The key: the raw secret
//!
//! The HMAC key is the raw secret of each key of the [`KeyRing`], not a derived subkey: this
//! is the one format of this crate that derives none, because "HS256 with secret S" means
//! exactly that to every other JWT library, and interoperating is the point of the format.
//! Every secret must still be at least 32 bytes, the hash output length that RFC 7518 §3.2
//! requires of an HS256 key.
//!
//! Using the raw secret is safe next to the other formats: `encrypted` and `signed` key
//! their primitives with HKDF subkeys, never the secret; the Express formats MAC the secret
//! over `name=value`, which always contains `=`, a byte no JWS signing input contains. So no
//! value of another format, even under the same ring, is a valid token here, nor the other way
//! round. A service that signs *other* HS256 tokens with the same secret cannot have them
//! taken for sessions either: a session needs exactly the claims above with `aud` equal to the
//! cookie name.
//!
//! The other direction is the operator's to keep: **never give a `jwt` secret to anything
//! else that computes HMAC-SHA256 with the raw secret.** express-session's `connect.sid`
//! (cookie-signature 1.0) is such a MAC: a `jwt` session cookie `H.P.S`, its signature
//! re-spelled in standard base64, verifies there as the signed id `H.P` (an id no store
//! holds, so express-session starts a new session — but a signature made for one protocol
//! passes in another). Inside one layer, [`ConfigError::MigrateSharesKey`](crate::ConfigError::MigrateSharesKey)
//! refuses a source sharing a key; across programs only distinct secrets prevent it.
//!
//! The `jsonwebtoken` crate keeps a copy of each secret in its own key types, which (unlike
//! the [`KeyRing`]) are not wiped from memory when dropped; the codec shares one copy per key
//! and never clones it.
//!
//! # Decoding rules
//!
//! In order, each refusal a [`Rejection`]:
//!
//! 1. larger than [`MAX_INPUT_LEN`] → `Malformed`, before anything else;
//! 2. not exactly three strict base64url parts, or a tag that is not 32 bytes → `Malformed`;
//! 3. a header that is not a JSON object of exactly `alg` = `"HS256"`, an optional `typ` =
//!    `"JWT"` and `kid` → `Malformed`. `none`, `HS384`, `HS512`, `RS256`, … are all refused
//!    (no algorithm confusion), and so is any other header member (`crit`, `b64`, `jku`,
//!    `jwk`, …), so nothing this decoder would ignore can change the meaning of a token;
//! 4. a `kid` that is not the id of a key of the ring (or is missing) → `UnknownKey`. Exactly
//!    one key is tried;
//! 5. the tag does not verify (checked in constant time by `jsonwebtoken`, with the
//!    algorithm pinned to HS256) → `BadSignature`. Nothing of the claims is read before;
//! 6. claims that are not exactly `iat`, `exp`, `cat` (integers from 0 to 2⁶⁴−1), `aud`
//!    (a string) and `ses` (an object) → `BadPayload`. Unknown claims such as `nbf` are
//!    refused rather than ignored;
//! 7. `aud` other than the cookie name → `BadSignature`, as for the other formats: a token
//!    sealed for one cookie name does not open under another.
//!
//! No time is checked here: `jsonwebtoken`'s own `exp`/`nbf` validation is off and it is
//! asked to require no claim. Expiry is enforced in one place, by the session layer, from the
//! [`Timestamps`] returned.
//!
//! # Compression
//!
//! Never applied to this format (the session layer's `compress` setting is ignored for it):
//! other services would not understand a deflated `ses`, and RFC 7516's `zip` exists for JWE
//! only.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::native::{self, B64};
use super::{Opened, Timestamps, MAX_INPUT_LEN};
use crate::key::{key_ids, KeyError, KeyRing};
use crate::rejection::Rejection;

/// Length of the HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// Length of the tag as base64url text.
const TAG_TEXT_LEN: usize = native::encoded_len(TAG_LEN);

/// The only `alg` accepted.
const ALG: &str = "HS256";

/// The only `typ` accepted (when present).
const TYP: &str = "JWT";

/// One key of the ring, ready to use.
struct JwtKey {
    /// The key id as written in headers: 8 lowercase hex digits.
    kid: String,
    /// `base64url(header)` for tokens this key seals, computed once.
    header: String,
    /// The raw secret as `jsonwebtoken` wants it, for sealing.
    encoding: EncodingKey,
    /// The raw secret as `jsonwebtoken` wants it, for opening.
    decoding: DecodingKey,
}

/// Seals and opens `jwt` cookie values (see the [module docs](self) for the layout).
///
/// ```
/// use cookie_session::format::jwt::JwtCodec;
/// use cookie_session::{format::Timestamps, Rejection};
/// use cookie_session::KeyRing;
///
/// let ring = KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?;
/// let codec = JwtCodec::new(&ring)?;
/// let times = Timestamps { created_at: 1_700_000_000, issued_at: 1_700_000_000, expires_at: 1_700_086_400 };
///
/// let value = codec.seal("session", times, br#"{"user":42}"#);
/// assert!(value.starts_with("eyJ")); // base64url of `{"`
/// let opened = codec.open("session", &value).expect("our own value opens");
/// assert_eq!(opened.key_index, 0);
/// assert_eq!(opened.times, Some(times));
/// assert_eq!(opened.json, br#"{"user":42}"#);
/// assert_eq!(codec.open("other", &value), Err(Rejection::BadSignature));
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
#[derive(Clone)]
pub struct JwtCodec {
    /// One per ring key, in ring order; shared so cloning a codec copies no secret.
    keys: Arc<[JwtKey]>,
    /// HS256 only, no claim required, no time checked, `aud` checked by us.
    validation: Arc<Validation>,
}

/// The header we write and the only shape we accept.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
    // `null` is not "absent": a member present must be a string (found by the fuzz oracle).
    #[serde(borrow, default, deserialize_with = "present")]
    typ: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "present")]
    kid: Option<std::borrow::Cow<'a, str>>,
}

/// A header member that, when present, must be a string (`null` is refused).
fn present<'de: 'a, 'a, D>(deserializer: D) -> Result<Option<std::borrow::Cow<'a, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);
    Text::deserialize(deserializer).map(|Text(text)| Some(text))
}

/// The claims as sealed.
#[derive(Serialize)]
struct SealClaims<'a> {
    iat: u64,
    exp: u64,
    cat: u64,
    aud: &'a str,
    ses: &'a RawValue,
}

/// The claims as opened: exactly these, nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenClaims {
    iat: u64,
    exp: u64,
    cat: u64,
    aud: String,
    ses: Box<RawValue>,
}

impl JwtCodec {
    /// A codec for every key of the ring; the first seals.
    ///
    /// Every secret must be at least [`MIN_SECRET_LEN`](crate::key::MIN_SECRET_LEN) bytes
    /// ([`KeyError::TooShort`]) and no two may be the same ([`KeyError::Duplicate`]).
    ///
    /// ```
    /// use cookie_session::format::jwt::JwtCodec;
    /// use cookie_session::{KeyError, KeyRing};
    ///
    /// let short = KeyRing::new(["too short"])?;
    /// assert!(matches!(JwtCodec::new(&short), Err(KeyError::TooShort { index: 0, format: "jwt", .. })));
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn new(ring: &KeyRing) -> Result<Self, KeyError> {
        ring.require_min_len("jwt")?;
        let ids = key_ids(ring)?;
        let keys: Vec<JwtKey> = ring
            .secrets()
            .zip(ids)
            .map(|(secret, id)| {
                let kid: String = id.iter().map(|b| format!("{b:02x}")).collect();
                let header =
                    B64.encode(format!(r#"{{"alg":"{ALG}","typ":"{TYP}","kid":"{kid}"}}"#));
                JwtKey {
                    kid,
                    header,
                    encoding: EncodingKey::from_secret(secret),
                    decoding: DecodingKey::from_secret(secret),
                }
            })
            .collect();

        let mut validation = Validation::new(Algorithm::HS256);
        // Times are the session layer's (TimePolicy), checked in one place; the claims we
        // need are required by `OpenClaims` itself.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        // `aud` is compared with the cookie name after decoding (rule 7).
        validation.validate_aud = false;
        validation.algorithms = vec![Algorithm::HS256];
        Ok(Self {
            keys: keys.into(),
            validation: Arc::new(validation),
        })
    }

    /// Signs the times and the session with the first key of the ring, for the cookie `name`.
    ///
    /// `json` is the session's JSON text, a JSON object (what
    /// [`Codec::canonical`](super::Codec::canonical) gives); it is embedded verbatim as the
    /// `ses` claim. Anything that is not a JSON object cannot be a session and is sealed as
    /// the empty session `{}`, so no input can add or change another claim.
    ///
    /// The same input always gives the same value. The result is ASCII and safe as a cookie
    /// value.
    pub fn seal(&self, name: &str, times: Timestamps, json: &[u8]) -> String {
        // A ring always holds at least one key, so a codec does too.
        let Some(key) = self.keys.first() else {
            unreachable!("a KeyRing is never empty")
        };
        let ses = session_object(json);
        let claims = SealClaims {
            iat: times.issued_at,
            exp: times.expires_at,
            cat: times.created_at,
            aud: name,
            ses,
        };
        // Integers, a string and already-valid JSON: serialising cannot fail.
        let claims = serde_json::to_vec(&claims).expect("claims serialise");

        let mut out = String::with_capacity(
            key.header.len() + 2 + native::encoded_len(claims.len()) + TAG_TEXT_LEN,
        );
        out.push_str(&key.header);
        out.push('.');
        native::encode_into(&claims, &mut out);
        let tag = jsonwebtoken::crypto::sign(out.as_bytes(), &key.encoding, Algorithm::HS256)
            .expect("HMAC signing cannot fail");
        out.push('.');
        out.push_str(&tag);
        out
    }

    /// Opens a token sealed for the cookie `name` by any key of the ring, following the
    /// [decoding rules](self#decoding-rules). No time is checked here.
    ///
    /// ```
    /// use cookie_session::format::jwt::JwtCodec;
    /// use cookie_session::{format::Timestamps, Rejection};
    /// use cookie_session::KeyRing;
    ///
    /// let codec = JwtCodec::new(&KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?)?;
    /// let times = Timestamps { created_at: 10, issued_at: 20, expires_at: 30 };
    /// let value = codec.seal("session", times, b"{}");
    ///
    /// assert_eq!(codec.open("session", &value).map(|o| o.json), Ok(b"{}".to_vec()));
    /// // `{"alg":"none"}` with an empty signature: refused before any key is looked at.
    /// let claims = value.split('.').nth(1).unwrap();
    /// let none = format!("eyJhbGciOiJub25lIn0.{claims}.");
    /// assert_eq!(codec.open("session", &none), Err(Rejection::Malformed));
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn open(&self, name: &str, value: &str) -> Result<Opened, Rejection> {
        // 1. Size first.
        if value.len() > MAX_INPUT_LEN {
            return Err(Rejection::Malformed);
        }
        // 2. Exactly three strict base64url parts, a 32-byte tag.
        let mut parts = value.split('.');
        let (Some(header_text), Some(claims_text), Some(tag_text), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        if tag_text.len() != TAG_TEXT_LEN {
            return Err(Rejection::Malformed);
        }
        let mut tag = [0u8; TAG_LEN];
        match B64.decode_slice(tag_text, &mut tag) {
            Ok(TAG_LEN) => {}
            _ => return Err(Rejection::Malformed),
        }
        let header = native::decode(header_text)?;
        // Checked here for structure; `jsonwebtoken` decodes the claims again after the tag.
        native::decode(claims_text)?;

        // 3. The header: exactly HS256, no member we would ignore.
        let header: Header<'_> =
            serde_json::from_slice(&header).map_err(|_| Rejection::Malformed)?;
        if header.alg != ALG || header.typ.as_deref().is_some_and(|typ| typ != TYP) {
            return Err(Rejection::Malformed);
        }

        // 4. The key named by the kid, and only it.
        let kid = header.kid.ok_or(Rejection::UnknownKey)?;
        let (key_index, key) = self
            .keys
            .iter()
            .enumerate()
            .find(|(_, key)| key.kid == kid)
            .ok_or(Rejection::UnknownKey)?;

        // 5. and 6. The tag (constant time, HS256 pinned), then the claims.
        let data = jsonwebtoken::decode::<OpenClaims>(value, &key.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => Rejection::BadSignature,
                // Only reachable after the tag verified: the claims are not ours.
                ErrorKind::Json(_) | ErrorKind::Utf8(_) => Rejection::BadPayload,
                _ => Rejection::Malformed,
            })?;
        let claims = data.claims;
        let ses = claims.ses.get();
        if !ses.starts_with('{') {
            return Err(Rejection::BadPayload);
        }
        // 7. The cookie name.
        if claims.aud != name {
            return Err(Rejection::BadSignature);
        }
        Ok(Opened {
            key_index,
            times: Some(Timestamps {
                created_at: claims.cat,
                issued_at: claims.iat,
                expires_at: claims.exp,
            }),
            json: ses.as_bytes().to_vec(),
        })
    }
}

/// `json` as a JSON object to embed, or `{}` when it is not one.
fn session_object(json: &[u8]) -> &RawValue {
    match serde_json::from_slice::<&RawValue>(json) {
        Ok(raw) if raw.get().starts_with('{') => raw,
        _ => empty_object(),
    }
}

/// The empty JSON object.
fn empty_object() -> &'static RawValue {
    serde_json::from_str("{}").expect("{} is JSON")
}

impl fmt::Debug for JwtCodec {
    /// Prints how many keys there are, never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtCodec")
            .field("keys", &self.keys.len())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const TIMES: Timestamps = Timestamps {
        created_at: 1_700_000_000,
        issued_at: 1_700_000_100,
        expires_at: 1_700_086_500,
    };

    fn codec(secrets: &[&[u8]]) -> JwtCodec {
        JwtCodec::new(&KeyRing::new(secrets).unwrap()).unwrap()
    }

    #[test]
    fn round_trip_keeps_the_text() {
        let codec = codec(&[SECRET]);
        for json in [
            &b"{}"[..],
            br#"{"a":[1,2,3],"b":"\u00e9","c":{"d":null}}"#,
            "{\"é\":\"ü\"}".as_bytes(),
            br#"{"exp":1,"aud":"x","ses":{}}"#,
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

    /// Pins the whole token for fixed inputs. The expected value was computed independently
    /// of this crate, in Python (`hmac`, `hashlib`, `base64`, `json`), from the layout in the
    /// module docs.
    #[test]
    fn known_answer() {
        let value = codec(&[SECRET]).seal("id", TIMES, br#"{"user":42}"#);
        assert_eq!(
            value,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjBkZjJiMTFkIn0\
             .eyJpYXQiOjE3MDAwMDAxMDAsImV4cCI6MTcwMDA4NjUwMCwiY2F0IjoxNzAwMDAwMDAwLCJhdWQiOiJpZCIsInNlcyI6eyJ1c2VyIjo0Mn19\
             .U3su4v6eRfVlLIArAeJPgng9eHHWMMkyQESZupn012M"
        );
    }

    #[test]
    fn non_objects_are_sealed_as_the_empty_session() {
        let codec = codec(&[SECRET]);
        for json in [
            &b""[..],
            b"[]",
            b"42",
            b"\"x\"",
            b"{",
            br#"{"a":1},"aud":"other""#,
            b" {}",
            &[0x00, 0x01, 0x02],
        ] {
            let value = codec.seal("id", TIMES, json);
            assert_eq!(codec.open("id", &value).unwrap().json, b"{}", "{json:?}");
        }
    }

    #[test]
    fn debug_prints_no_key_material() {
        let codec = codec(&[SECRET, b"another-secret-of-32-bytes-or-more"]);
        let debug = format!("{codec:?} {codec:#?}");
        assert!(debug.starts_with("JwtCodec { keys: 2 }"), "{debug}");
        assert!(!debug.contains("0123456789"));
        assert!(!debug.contains("another"));
    }

    #[test]
    fn short_and_duplicate_secrets_are_refused() {
        let short = KeyRing::new([&[7u8; 31][..]]).unwrap();
        assert!(matches!(
            JwtCodec::new(&short),
            Err(KeyError::TooShort {
                index: 0,
                len: 31,
                min: 32,
                format: "jwt"
            })
        ));
        let dup = KeyRing::new([SECRET, SECRET]).unwrap();
        assert_eq!(
            JwtCodec::new(&dup).unwrap_err(),
            KeyError::Duplicate {
                first: 0,
                second: 1
            }
        );
    }

    #[test]
    fn structure_is_strict() {
        let codec = codec(&[SECRET]);
        let value = codec.seal("id", TIMES, b"{}");
        let parts: Vec<&str> = value.split('.').collect();
        let (h, c, t) = (parts[0], parts[1], parts[2]);
        for bad in [
            format!("{h}.{c}"),
            format!("{h}.{c}.{t}."),
            format!("{h}.{c}.{t}.{t}"),
            format!("{h}..{c}.{t}"),
            format!(".{h}.{c}.{t}"),
            format!("{h}.{c}.{}", &t[..42]),
            format!("{h}.{c}.{t}A"),
            format!("{h}=.{c}.{t}"),
            format!("{h}.{c}=.{t}"),
            format!("{h}.{c}.{t}="),
            format!("{h}.{c}."),
            format!(".{c}.{t}"),
            "..".to_string(),
        ] {
            assert_eq!(codec.open("id", &bad), Err(Rejection::Malformed), "{bad:?}");
        }
    }
}
