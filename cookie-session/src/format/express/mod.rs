//! The `express` format: byte-for-byte compatible with Express's `cookie-session` 2.1.1.
//!
//! A pure codec, no HTTP types (what Express does, measured: `docs/EXPRESS-COMPATIBILITY.md`, cited as §n):
//!
//! - the value cookie `<name>=<value>` holds `base64(JSON.stringify(session))`, standard
//!   alphabet with padding (§1.2);
//! - a separate cookie `<name>.sig=<sig>` holds keygrip's signature, base64url without padding
//!   of `HMAC(keys[0], "<name>=<value>")`, SHA-1 by default (§1.3);
//! - reading verifies the sig against every key in order, then decodes leniently as Node does.
//!
//! **No server-side expiry exists in this format**: an old cookie stays valid for as long as
//! the key that signed it is in the ring (§6 item 6).
//!
//! **Duplicate cookies: the first pair is read, and only it**, as Express's `cookies` does.
//! The native formats skip a first cookie that fails any check for a later one; this format
//! does not. Its cookies carry no time, so an older authentic pair planted first is a valid
//! session by every check the format has, and skipping a forged first pair for a later one
//! would read sessions Express refuses, breaking byte-exact compatibility with the Express app
//! sharing the cookie. Applications that must resist planted cookies use a `__Host-` name or a
//! native format.
//!
//! ```
//! use cookie_session::format::express::{ExpressCodec, SigAlgorithm};
//! use cookie_session::KeyRing;
//!
//! let ring = KeyRing::new(["key-new", "key-old"])?;
//! let codec = ExpressCodec::new(&ring, SigAlgorithm::Sha1);
//!
//! let mut session = serde_json::Map::new();
//! session.insert("views".into(), 1.into());
//! let (value, sig) = codec.seal("session", &session);
//! assert_eq!(value, "eyJ2aWV3cyI6MX0=");
//! assert_eq!(sig, "WcRy3bp0__-yp0ragQZ1Tz8zjtg");
//!
//! let (key_index, loaded) = codec.open("session", Some(&value), Some(&sig)).unwrap();
//! assert_eq!((key_index, loaded), (0, session));
//! # Ok::<(), cookie_session::KeyError>(())
//! ```

mod base64;
mod json;

use std::fmt;

use ::base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ::base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::MAX_INPUT_LEN;
use crate::key::KeyRing;
use crate::rejection::Rejection;

// Test and fuzz helpers: public (and hidden) only with the `__internals` feature, which the
// fuzz targets and the Express test suites enable; not part of the API.
#[cfg(feature = "__internals")]
#[doc(hidden)]
pub use self::base64::node_base64_decode;
#[cfg(not(feature = "__internals"))]
use self::base64::node_base64_decode;
#[cfg(feature = "__internals")]
#[doc(hidden)]
pub use self::json::{replace_lone_surrogates, stringify, stringify_map};
// The express-session record (`format/express_session/record.rs`) writes JSON the same way.
pub(crate) use self::json::stringify_map_keeping;
#[cfg(not(feature = "__internals"))]
pub(crate) use self::json::{replace_lone_surrogates, stringify_map};

/// Declares a function `pub` and hidden from the docs with the `__internals` feature (for the
/// fuzz targets and the test suites), crate-private otherwise.
macro_rules! internal {
    ($(#[$attr:meta])* fn $name:ident $($rest:tt)*) => {
        #[cfg(feature = "__internals")]
        $(#[$attr])*
        #[doc(hidden)]
        pub fn $name $($rest)*
        #[cfg(not(feature = "__internals"))]
        $(#[$attr])*
        pub(crate) fn $name $($rest)*
    };
}

/// keygrip's HMAC algorithm. Default Sha1 (keygrip default); Sha256/Sha512 like
/// `new Keygrip(keys, 'sha256')`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigAlgorithm {
    /// HMAC-SHA1, keygrip's default: 27-character signatures.
    #[default]
    Sha1,
    /// HMAC-SHA256 (`new Keygrip(keys, 'sha256')`): 43-character signatures.
    Sha256,
    /// HMAC-SHA512 (`new Keygrip(keys, 'sha512')`): 86-character signatures.
    Sha512,
}

impl SigAlgorithm {
    /// The length of a signature: base64url without padding of the digest (§1.3).
    ///
    /// ```
    /// # use cookie_session::format::express::SigAlgorithm;
    /// assert_eq!(SigAlgorithm::Sha1.signature_len(), 27);
    /// assert_eq!(SigAlgorithm::Sha256.signature_len(), 43);
    /// assert_eq!(SigAlgorithm::Sha512.signature_len(), 86);
    /// ```
    pub fn signature_len(self) -> usize {
        match self {
            SigAlgorithm::Sha1 => 27,
            SigAlgorithm::Sha256 => 43,
            SigAlgorithm::Sha512 => 86,
        }
    }
}

/// One key's HMAC state, keyed once at construction and cloned per use.
#[derive(Clone)]
enum KeyState {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

/// The longest signature (SHA-512: 86 characters) plus room for the encoder's rounding.
const SIG_BUF_LEN: usize = 88;

/// A signature held on the stack, so verifying allocates nothing.
struct SigBuf {
    buf: [u8; SIG_BUF_LEN],
    len: usize,
}

impl SigBuf {
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl KeyState {
    fn new(algorithm: SigAlgorithm, secret: &[u8]) -> Self {
        // HMAC takes keys of any length (longer ones are hashed), so these never fail.
        const ANY_LEN: &str = "HMAC accepts keys of any length";
        match algorithm {
            SigAlgorithm::Sha1 => Self::Sha1(Hmac::new_from_slice(secret).expect(ANY_LEN)),
            SigAlgorithm::Sha256 => Self::Sha256(Hmac::new_from_slice(secret).expect(ANY_LEN)),
            SigAlgorithm::Sha512 => Self::Sha512(Hmac::new_from_slice(secret).expect(ANY_LEN)),
        }
    }

    /// keygrip's signature of the concatenation of `parts`.
    fn sig(&self, parts: &[&[u8]]) -> SigBuf {
        match self {
            KeyState::Sha1(mac) => sig_with(mac, parts),
            KeyState::Sha256(mac) => sig_with(mac, parts),
            KeyState::Sha512(mac) => sig_with(mac, parts),
        }
    }
}

/// Whether a computed signature equals the one the client sent. The only comparison of
/// signatures in this format: `subtle`'s, whose time does not depend on where the bytes differ
/// (the lengths are public: the caller compares them first).
fn same_sig(computed: &[u8], given: &[u8]) -> bool {
    #[cfg(test)]
    tests::SIG_COMPARISONS.with(|n| n.set(n.get() + 1));
    bool::from(computed.ct_eq(given))
}

fn sig_with<M: Mac + Clone>(state: &M, parts: &[&[u8]]) -> SigBuf {
    let mut mac = state.clone();
    for part in parts {
        mac.update(part);
    }
    let tag = mac.finalize().into_bytes();
    let mut buf = [0u8; SIG_BUF_LEN];
    // keygrip: standard base64, then `/`→`_`, `+`→`-`, every `=` stripped; that is exactly
    // base64url without padding. The buffer fits SHA-512; should it ever not, the empty
    // signature matches nothing (`open` refuses empty sigs before verifying).
    let len = URL_SAFE_NO_PAD.encode_slice(tag, &mut buf).unwrap_or(0);
    SigBuf { buf, len }
}

/// The Express codec: keygrip signatures over `name=value`, base64 JSON values.
///
/// Holds one precomputed HMAC state per key of the ring; `Debug` prints only the algorithm and
/// the number of keys.
#[derive(Clone)]
pub struct ExpressCodec {
    algorithm: SigAlgorithm,
    keys: Vec<KeyState>,
}

impl fmt::Debug for ExpressCodec {
    /// `ExpressCodec { algorithm: Sha1, keys: 2 }`: never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpressCodec")
            .field("algorithm", &self.algorithm)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl ExpressCodec {
    /// Any non-empty key is accepted, as keygrip does (KeyRing already guarantees non-empty).
    ///
    /// Keys are used as their raw bytes, which is what keygrip does with a JS string key (its
    /// UTF-8 bytes).
    ///
    /// A key shorter than [`MIN_SECRET_LEN`](crate::key::MIN_SECRET_LEN) bytes (what the native
    /// formats require) is accepted for compatibility, but logged as a `tracing` warning naming
    /// its position and length — never the key: a short HMAC key can be found by brute force,
    /// and whoever finds it can forge any session.
    pub fn new(ring: &KeyRing, algorithm: SigAlgorithm) -> Self {
        let keys = ring
            .secrets()
            .enumerate()
            .map(|(index, secret)| {
                if secret.len() < crate::key::MIN_SECRET_LEN {
                    tracing::warn!(
                        key_index = index,
                        key_len = secret.len(),
                        min_len = crate::key::MIN_SECRET_LEN,
                        "express format: a short key can be brute-forced and every session forged; use `cookie-session keygen`"
                    );
                }
                KeyState::new(algorithm, secret)
            })
            .collect();
        Self { algorithm, keys }
    }

    /// The HMAC algorithm in use.
    pub fn algorithm(&self) -> SigAlgorithm {
        self.algorithm
    }

    /// How many keys verify (the first one also signs).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// keygrip `sign`: base64url without padding of HMAC(`keys[0]`, data). (Std base64 then
    /// `/`→`_`, `+`→`-`, strip `=`.)
    ///
    /// ```
    /// # use cookie_session::{KeyRing, format::express::{ExpressCodec, SigAlgorithm}};
    /// let codec = ExpressCodec::new(&KeyRing::new(["a", "b"])?, SigAlgorithm::Sha1);
    /// // Upstream's own test vector (docs/EXPRESS-COMPATIBILITY.md §1.3).
    /// assert_eq!(codec.sign(b"session=eyJtZXNzYWdlIjoiaGkifQ=="), "vdp2-kj-91tgzbWcV1QzofT3hu0");
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn sign(&self, data: &[u8]) -> String {
        self.sign_parts(&[data])
    }

    /// [`sign`](Self::sign) of `"<name>=<value>"`, without building that string: the `.sig`
    /// cookie for a value cookie (§1.3). A cleared session is signed with an empty value (§4).
    pub fn sign_cookie(&self, name: &str, value: &str) -> String {
        self.sign_parts(&[name.as_bytes(), b"=", value.as_bytes()])
    }

    fn sign_parts(&self, parts: &[&[u8]]) -> String {
        match self.keys.first() {
            // base64url text: ASCII, so the lossy branch is never taken.
            Some(key) => {
                let sig = key.sig(parts);
                match std::str::from_utf8(sig.as_bytes()) {
                    Ok(text) => text.to_owned(),
                    Err(_) => String::from_utf8_lossy(sig.as_bytes()).into_owned(),
                }
            }
            // A ring always has a key; without one there is nothing to sign with.
            None => String::new(),
        }
    }

    /// keygrip `index`: the index of the first key whose signature equals `sig` exactly,
    /// compared in constant time.
    ///
    /// The comparison is on the *string*, as tsscmp does: a padded or standard-alphabet
    /// signature is refused (`[vec:sig_with_padding_rejected]`, and tests/express_vectors.rs
    /// `spec_sig_and_quote_cases` for the standard alphabet).
    ///
    /// ```
    /// # use cookie_session::{KeyRing, format::express::{ExpressCodec, SigAlgorithm}};
    /// let codec = ExpressCodec::new(&KeyRing::new(["a", "b"])?, SigAlgorithm::Sha1);
    /// let data = b"session=eyJtZXNzYWdlIjoiaGkifQ==";
    /// assert_eq!(codec.verify(data, "vdp2-kj-91tgzbWcV1QzofT3hu0"), Some(0));
    /// assert_eq!(codec.verify(data, "SiRRAEncekXEzVdvey_7SkWaMM4"), Some(1));
    /// assert_eq!(codec.verify(data, "SiRRAEncekXEzVdvey_7SkWaMM4="), None);
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn verify(&self, data: &[u8], sig: &str) -> Option<usize> {
        self.verify_parts(&[data], sig)
    }

    /// [`verify`](Self::verify) of `"<name>=<value>"`, without building that string.
    pub fn verify_cookie(&self, name: &str, value: &str, sig: &str) -> Option<usize> {
        self.verify_parts(&[name.as_bytes(), b"=", value.as_bytes()], sig)
    }

    fn verify_parts(&self, parts: &[&[u8]], sig: &str) -> Option<usize> {
        // A string of another length can never be equal; its length is public anyway, and
        // skipping the HMACs keeps garbage cheap.
        if sig.len() != self.algorithm.signature_len() {
            return None;
        }
        // First match wins, as keygrip's `index` loop does; the index is not secret (a match
        // on keys[i > 0] is answered with a re-signed `.sig` anyway, §1.5).
        self.keys
            .iter()
            .position(|key| same_sig(key.sig(parts).as_bytes(), sig.as_bytes()))
    }

    /// Reads a session as cookie-session does, given the FIRST occurrence of `<name>` and of
    /// `<name>.sig` from the Cookie header exactly as found (the caller does the header lookup;
    /// this strips the quotes: a value starting with `"` becomes `value.slice(1,-1)`, JS
    /// semantics, for both cookies, §1.4).
    ///
    /// Order: empty/absent value → `Err(Missing)`; absent/empty sig → `Err(MissingSignature)`;
    /// len > [`MAX_INPUT_LEN`] → `Err(Malformed)`; sig matches no key → `Err(BadSignature)`;
    /// then [`decode_value`]: `None` → `Err(Malformed)`.
    ///
    /// `Ok` gives the key index that verified and the session map. Every `Err` means "start a
    /// new empty session" (§1.5); the session layer decides which headers Express would send
    /// (`BadSignature` → clear `.sig`; `Ok` with index > 0 → re-sign).
    ///
    /// ```
    /// # use cookie_session::{KeyRing, Rejection, format::express::{ExpressCodec, SigAlgorithm}};
    /// let codec = ExpressCodec::new(&KeyRing::new(["key-new", "key-old"])?, SigAlgorithm::Sha1);
    /// // Signed with the old key: loads, and says so.
    /// let (index, session) =
    ///     codec.open("session", Some("eyJ2aWV3cyI6MX0="), Some("56Kxg2uOUKNGs-4aDZYAfVQyhCs")).unwrap();
    /// assert_eq!((index, session["views"].as_i64()), (1, Some(1)));
    /// // Tampered value.
    /// assert_eq!(
    ///     codec.open("session", Some("eyJ2aWV3cyI6OX0="), Some("WcRy3bp0__-yp0ragQZ1Tz8zjtg")),
    ///     Err(Rejection::BadSignature)
    /// );
    /// assert_eq!(codec.open("session", Some("eyJ2aWV3cyI6MX0="), None), Err(Rejection::MissingSignature));
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn open(
        &self,
        name: &str,
        value: Option<&str>,
        sig: Option<&str>,
    ) -> Result<(usize, Map<String, Value>), Rejection> {
        // cookie-session: `if (!str) return undefined` — empty means no session.
        // Note: cookies 0.9.1 would still verify a sig for an empty value (and could push a
        // `.sig` header); the result is a new session either way.
        let value = match value.map(unquote) {
            Some(v) if !v.is_empty() => v,
            _ => return Err(Rejection::Missing),
        };
        // cookies 0.9.1: `remote = this.get(sigName); if (!remote) return`.
        let sig = match sig.map(unquote) {
            Some(s) if !s.is_empty() => s,
            _ => return Err(Rejection::MissingSignature),
        };
        if value.len() > MAX_INPUT_LEN {
            return Err(Rejection::Malformed);
        }
        let index = self
            .verify_cookie(name, value, sig)
            .ok_or(Rejection::BadSignature)?;
        let session = decode_value(value).ok_or(Rejection::Malformed)?;
        Ok((index, session))
    }

    /// What cookie-session writes: `(value, sig)` with `value = encode_value(data)`,
    /// `sig = sign("<name>=<value>")` (§1.3, §4).
    pub fn seal(&self, name: &str, data: &Map<String, Value>) -> (String, String) {
        let value = encode_value(data);
        let sig = self.sign_cookie(name, &value);
        (value, sig)
    }
}

internal! {
/// Strip one pair of quotes the way cookies 0.9.1 does (value starting with `"` →
/// `slice(1,-1)`, even if it does not end with a quote; test `quoted_value_and_sig_are_unquoted`).
fn unquote(value: &str) -> &str {
    match value.strip_prefix('"') {
        Some(rest) => {
            // slice(-1) drops the last UTF-16 unit; header values are latin1 in Node, so for
            // ASCII this is the last char. Dropping the last char keeps us on a boundary.
            let mut chars = rest.chars();
            chars.next_back();
            chars.as_str()
        }
        None => value,
    }
}
}

/// `Buffer.from(JSON.stringify(data)).toString('base64')`: standard alphabet, padded.
///
/// ```
/// use cookie_session::format::express::encode_value;
/// let mut map = serde_json::Map::new();
/// assert_eq!(encode_value(&map), "e30=");
/// map.insert("views".into(), 1.into());
/// assert_eq!(encode_value(&map), "eyJ2aWV3cyI6MX0=");
/// ```
pub fn encode_value(data: &Map<String, Value>) -> String {
    self::base64::encode_standard(stringify_map(data).as_bytes())
}

internal! {
/// `JSON.parse(Buffer.from(value, 'base64').toString('utf8'))` then cookie-session's Session
/// constructor. `None` when `JSON.parse` would throw.
///
/// - base64: Node-lenient, see [`node_base64_decode`];
/// - invalid UTF-8 → U+FFFD, as Node's `toString('utf8')` (a BOM is kept, and makes parsing
///   fail as in JS);
/// - lone-surrogate escapes become U+FFFD ([`replace_lone_surrogates`]: lossy);
/// - duplicate keys: the last value wins, at the position of the first occurrence;
/// - non-object JSON (§1.2): numbers, booleans and `null` → an empty map; strings and arrays →
///   index keys `"0"`, `"1"`… as `for…in` gives them (a string per UTF-16 unit: a lone
///   surrogate half becomes U+FFFD);
/// - reserved keys are dropped ([`RESERVED_KEYS`], test `reserved_keys_dropped_on_load`).
///
/// Known differences from JS, all on input Express never writes: numbers beyond the f64
/// range (`1e400`, JS `Infinity`) and nesting deeper than serde_json's 128 levels are refused
/// instead of loaded.
fn decode_value(value: &str) -> Option<Map<String, Value>> {
    let bytes = node_base64_decode(value);
    // Valid UTF-8 (every cookie Express writes) is checked by the fast validator; only
    // invalid input pays for the lossy conversion, which gives the same text otherwise.
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(&bytes),
    };
    let text = replace_lone_surrogates(&text);
    let parsed: Value = serde_json::from_str(&text).ok()?;
    Some(session_from_json(parsed))
}
}

/// cookie-session's `Session` constructor: `for (key in obj) if (!(key in this)) this[key] = obj[key]`.
fn session_from_json(parsed: Value) -> Map<String, Value> {
    match parsed {
        Value::Object(map) => filter_reserved(map),
        // Index keys are never reserved.
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| (i.to_string(), item))
            .collect(),
        Value::String(s) => s
            .encode_utf16()
            .enumerate()
            .map(|(i, unit)| {
                let c = char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER);
                (i.to_string(), Value::String(c.to_string()))
            })
            .collect(),
        Value::Null | Value::Bool(_) | Value::Number(_) => Map::new(),
    }
}

/// The keys the Session constructor skips because `key in session` is already true (§1.2):
/// Session's own names and every `Object.prototype` name.
pub const RESERVED_KEYS: &[&str] = &[
    "_ctx",
    "isNew",
    "isChanged",
    "isPopulated",
    "constructor",
    "toString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

internal! {
/// Whether `key` is one of [`RESERVED_KEYS`].
fn is_reserved(key: &str) -> bool {
    RESERVED_KEYS.contains(&key)
}
}

/// Drops the top-level [`RESERVED_KEYS`], keeping the order of the rest: what the Session
/// constructor does to a loaded cookie and to `req.session = obj` (§1.2, §3.1). Nested objects
/// are kept as they are, as in Express.
///
/// ```
/// use cookie_session::format::express::filter_reserved;
/// let map = serde_json::json!({"a": 1, "isNew": false, "__proto__": {}, "b": {"isNew": 1}});
/// let serde_json::Value::Object(map) = map else { unreachable!() };
/// let kept: Vec<_> = filter_reserved(map).into_iter().map(|(k, _)| k).collect();
/// assert_eq!(kept, ["a", "b"]);
/// ```
pub fn filter_reserved(mut map: Map<String, Value>) -> Map<String, Value> {
    if map.keys().any(|k| is_reserved(k)) {
        map.retain(|k, _| !is_reserved(k));
    }
    map
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    thread_local! {
        /// Calls of [`same_sig`] on this thread: which paths go through it.
        pub(super) static SIG_COMPARISONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn comparisons(f: impl FnOnce()) -> usize {
        SIG_COMPARISONS.with(|n| n.set(0));
        f();
        SIG_COMPARISONS.with(std::cell::Cell::get)
    }

    #[test]
    fn the_signature_comparison_is_exact() {
        let sig = b"WcRy3bp0__-yp0ragQZ1Tz8zjtg";
        assert!(same_sig(sig, sig));
        for i in [0, 13, sig.len() - 1] {
            let mut other = *sig;
            other[i] ^= 1;
            assert!(!same_sig(sig, &other), "byte {i}");
        }
        assert!(!same_sig(sig, &sig[..26]));
        assert!(!same_sig(sig, b""));
    }

    /// Every signature check of `open` goes through `same_sig` (and so through `subtle`): one
    /// comparison per key tried, none for a signature of the wrong length, whose length alone
    /// tells it apart.
    #[test]
    fn every_signature_check_goes_through_the_constant_time_comparison() {
        let c = codec();
        let (value, sig) = c.seal("session", json!({"a": 1}).as_object().unwrap());
        let mut wrong = sig.clone().into_bytes();
        wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
        let wrong = String::from_utf8(wrong).unwrap();
        let old_sig = ExpressCodec::new(&KeyRing::new(["key-old"]).unwrap(), SigAlgorithm::Sha1)
            .sign_cookie("session", &value);
        let cases: [(&str, usize, bool); 4] = [
            (sig.as_str(), 1, true),
            (old_sig.as_str(), 2, true),
            (wrong.as_str(), 2, false),
            ("short", 0, false),
        ];
        for (given, expected, ok) in cases {
            let mut result = None;
            let n = comparisons(|| result = Some(c.open("session", Some(&value), Some(given))));
            assert_eq!(n, expected, "{given}");
            assert_eq!(result.unwrap().is_ok(), ok, "{given}");
        }
        assert_eq!(comparisons(|| assert_eq!(c.verify(b"x", &wrong), None)), 2);
    }

    fn codec() -> ExpressCodec {
        ExpressCodec::new(
            &KeyRing::new(["key-new", "key-old"]).unwrap(),
            SigAlgorithm::Sha1,
        )
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn debug_prints_no_key() {
        let ring = KeyRing::new(["super-secret-value"]).unwrap();
        let c = ExpressCodec::new(&ring, SigAlgorithm::Sha256);
        assert_eq!(
            format!("{c:?}"),
            "ExpressCodec { algorithm: Sha256, keys: 1 }"
        );
    }

    #[test]
    fn open_rejection_order() {
        let c = codec();
        let good = ("eyJ2aWV3cyI6MX0=", "WcRy3bp0__-yp0ragQZ1Tz8zjtg");
        assert_eq!(
            c.open("session", None, Some(good.1)),
            Err(Rejection::Missing)
        );
        assert_eq!(
            c.open("session", Some(""), Some(good.1)),
            Err(Rejection::Missing)
        );
        assert_eq!(c.open("session", Some("\""), None), Err(Rejection::Missing));
        assert_eq!(
            c.open("session", Some(good.0), None),
            Err(Rejection::MissingSignature)
        );
        assert_eq!(
            c.open("session", Some(good.0), Some("")),
            Err(Rejection::MissingSignature)
        );
        assert_eq!(
            c.open("session", Some(good.0), Some("\"")),
            Err(Rejection::MissingSignature)
        );
        let huge = "A".repeat(MAX_INPUT_LEN + 1);
        assert_eq!(
            c.open("session", Some(&huge), Some("x")),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            c.open("session", Some(good.0), Some("x")),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            c.open("sid", Some(good.0), Some(good.1)),
            Err(Rejection::BadSignature)
        );
        assert_eq!(c.open("session", Some(good.0), Some(good.1)).unwrap().0, 0);
        // A valid sig over a value that is not JSON.
        let sig = c.sign_cookie("session", "!!!notbase64");
        assert_eq!(
            c.open("session", Some("!!!notbase64"), Some(&sig)),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn quoted_value_and_sig_are_unquoted() {
        let c = codec();
        let (v, s) = (r#""eyJ2aWV3cyI6MX0=""#, r#""WcRy3bp0__-yp0ragQZ1Tz8zjtg""#);
        assert_eq!(
            c.open("session", Some(v), Some(s)).unwrap().1,
            obj(json!({"views": 1}))
        );
    }

    #[test]
    fn algorithms() {
        let ring = KeyRing::new(["key-new"]).unwrap();
        for alg in [
            SigAlgorithm::Sha1,
            SigAlgorithm::Sha256,
            SigAlgorithm::Sha512,
        ] {
            let c = ExpressCodec::new(&ring, alg);
            let sig = c.sign(b"session=e30=");
            assert_eq!(sig.len(), alg.signature_len());
            assert!(sig
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(c.verify(b"session=e30=", &sig), Some(0));
            assert_eq!(
                c.open("session", Some("e30="), Some(&sig)).unwrap(),
                (0, Map::new())
            );
        }
    }

    #[test]
    fn non_object_json() {
        let cases: &[(&str, Value)] = &[
            ("1", json!({})),
            ("0", json!({})),
            ("true", json!({})),
            ("null", json!({})),
            ("\"\"", json!({})),
            ("\"ab\"", json!({"0": "a", "1": "b"})),
            ("\"😀\"", json!({"0": "\u{fffd}", "1": "\u{fffd}"})),
            ("[1,{\"a\":2}]", json!({"0": 1, "1": {"a": 2}})),
            (" {\"a\":1,\"a\":2,\"b\":3} ", json!({"a": 2, "b": 3})),
        ];
        for (text, want) in cases {
            let value = self::base64::encode_standard(text.as_bytes());
            assert_eq!(decode_value(&value), Some(obj(want.clone())), "{text}");
        }
        for bad in ["", "{", "\u{feff}{}", "{\"a\":01}", "undefined", "{} x"] {
            let value = self::base64::encode_standard(bad.as_bytes());
            assert_eq!(decode_value(&value), None, "{bad}");
        }
    }

    #[test]
    fn duplicate_keys_keep_first_position() {
        let value = self::base64::encode_standard(br#"{"a":1,"b":2,"a":3}"#);
        let map = decode_value(&value).unwrap();
        assert_eq!(stringify_map(&map), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn reserved_keys_dropped_on_load() {
        let mut text = String::from("{");
        for k in RESERVED_KEYS {
            text.push_str(&format!("\"{k}\":1,"));
        }
        text.push_str("\"ok\":{\"isNew\":1}}");
        let map = decode_value(&self::base64::encode_standard(text.as_bytes())).unwrap();
        assert_eq!(map, obj(json!({"ok": {"isNew": 1}})));
    }

    #[test]
    fn invalid_utf8_becomes_replacement() {
        let value = self::base64::encode_standard(b"{\"a\":\"\xff\"}");
        assert_eq!(decode_value(&value).unwrap()["a"], json!("\u{fffd}"));
    }

    #[test]
    fn helper_examples() {
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("\"abc"), "ab"); // JS slice(1, -1) drops the last char whatever it is
        assert_eq!(unquote("\""), "");
        assert_eq!(unquote("abc\""), "abc\"");
        assert_eq!(decode_value("eyJ2aWV3cyI6MX0=").unwrap()["views"], json!(1));
        assert_eq!(decode_value("MQ==").unwrap().len(), 0); // "1": an empty session
        assert_eq!(decode_value("!!!notbase64"), None);
        assert_eq!(node_base64_decode("eyJ2aWV3cyI6MX0="), br#"{"views":1}"#);
        assert_eq!(
            node_base64_decode("eyJ2!aWV3cyI6MX0=AAAA"),
            br#"{"views":1}"#
        );
        assert_eq!(node_base64_decode("hello"), [0x85, 0xe9, 0x65]);
        let v = json!({"b": 1, "a": [1.0, -0.0, 1e21], "10": "x/\u{2028}", "2": null});
        assert_eq!(
            json::stringify(&v),
            "{\"2\":null,\"10\":\"x/\u{2028}\",\"b\":1,\"a\":[1,0,1e+21]}"
        );
        let mut map = serde_json::Map::new();
        map.insert("views".into(), 1.into());
        assert_eq!(stringify_map(&map), r#"{"views":1}"#);
        assert_eq!(
            replace_lone_surrogates(r#"{"s":"\ud800x"}"#),
            r#"{"s":"\ufffdx"}"#
        );
        assert_eq!(
            replace_lone_surrogates(r#"{"s":"\ud83d\ude00"}"#),
            r#"{"s":"\ud83d\ude00"}"#
        );
        assert_eq!(
            replace_lone_surrogates(r#"{"s":"\\ud800"}"#),
            r#"{"s":"\\ud800"}"#
        );
    }

    #[test]
    fn unquote_multibyte_does_not_panic() {
        assert_eq!(unquote("\"é"), "");
        assert_eq!(unquote("\"aé"), "a");
    }

    /// Node writes the shortest decimal that round-trips; reading it must give back the very
    /// same double, or a read-only request rewrites the cookie with a number one ulp off.
    /// serde_json's default float parser is not correctly rounded for these (found by the live
    /// interop test, `interop/tests/express_live.rs`): `float_roundtrip` is required.
    #[test]
    fn shortest_doubles_from_node_read_back_exactly() {
        for text in [
            "9.839846043121423e-16",
            "2.638344616030823e-256",
            "0.30000000000000004",
            "1.7976931348623157e+308",
            "5e-324",
        ] {
            let json = format!("{{\"n\":{text}}}");
            let value = self::base64::encode_standard(json.as_bytes());
            let map = decode_value(&value).unwrap();
            assert_eq!(stringify_map(&map), json, "{text}");
            assert_eq!(encode_value(&map), value, "{text}");
        }
    }
}
