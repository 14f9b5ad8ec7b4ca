//! Cookie formats: pure encode/decode of cookie values, one module per format, no HTTP types.
//!
//! | format | what the browser holds | server-side expiry | keys |
//! |---|---|---|---|
//! | [`encrypted`] (default) | XChaCha20-Poly1305 ciphertext: nothing readable | yes | ≥ 32 bytes |
//! | [`signed`] | readable payload + HMAC-SHA256 | yes | ≥ 32 bytes |
//! | `jwt` (feature `jwt`) | a compact JWS (HS256), readable by other JWT services | yes | ≥ 32 bytes |
//! | [`express`] | Express `cookie-session` 2.x: base64 JSON + keygrip `.sig` cookie | **no** | any non-empty |
//!
//! [`express_session`] holds the codecs of express-session's signed session id and store record
//! (the session lives in a store, not in the cookie).

pub mod encrypted;
pub mod express;
pub mod express_session;
#[cfg(feature = "jwt")]
pub mod jwt;
mod native;
pub mod signed;
mod xchacha;

/// The times a native cookie carries inside its authenticated payload, in Unix seconds.
///
/// `created_at` is when the session was first issued (it survives re-issues, so an absolute
/// lifetime can be enforced), `issued_at` when this cookie was sealed, `expires_at` after which
/// the server refuses it whatever the browser does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamps {
    /// When the session was first issued.
    pub created_at: u64,
    /// When this cookie value was sealed.
    pub issued_at: u64,
    /// When the server stops accepting it.
    pub expires_at: u64,
}

/// A cookie value that authenticated: which key opened it, its times and its JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Index in the key ring of the key that opened it (0 = the sealing key).
    pub key_index: usize,
    /// The authenticated times (`None` for the Express format, which has none).
    pub times: Option<Timestamps>,
    /// The JSON text of the session, exactly as sealed.
    pub json: Vec<u8>,
}

/// Why a cookie was not accepted. Every rejection means the same thing to the request: a fresh
/// empty session. The reason exists for logs, metrics and the `decode` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// No cookie of that name (or an empty one).
    Missing,
    /// Not decodable at all: bad base64, too short, wrong version or format byte, too large.
    Malformed,
    /// The key id names no key of the ring (removed after a rotation, or never ours).
    UnknownKey,
    /// The MAC, AEAD tag or keygrip signature does not verify: tampered, truncated, sealed for
    /// another cookie name, or sealed by a key that is not in the ring.
    BadSignature,
    /// The signature cookie (`<name>.sig`) of the Express format is absent or empty.
    MissingSignature,
    /// The payload authenticated but is not a JSON object.
    BadPayload,
    /// The authenticated expiry has passed.
    Expired,
    /// The authenticated issued-at lies in the future beyond the allowed clock skew.
    IssuedInFuture,
    /// The session is older than the configured absolute lifetime.
    TooOld,
    /// The session was revoked (created before the user's revocation time).
    Revoked,
    /// Store mode: the cookie names a session the store does not hold (expired, destroyed,
    /// revoked). A new session starts, under a new id.
    UnknownSession,
}

impl Rejection {
    /// A short stable name for logs and the `decode` command (`"expired"`, `"bad_signature"`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Missing => "missing",
            Rejection::Malformed => "malformed",
            Rejection::UnknownKey => "unknown_key",
            Rejection::BadSignature => "bad_signature",
            Rejection::MissingSignature => "missing_signature",
            Rejection::BadPayload => "bad_payload",
            Rejection::Expired => "expired",
            Rejection::IssuedInFuture => "issued_in_future",
            Rejection::TooOld => "too_old",
            Rejection::Revoked => "revoked",
            Rejection::UnknownSession => "unknown_session",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest cookie value a decoder looks at, in bytes: eight chunks of a split session
/// ([`MAX_CHUNKS`] cookies of at most 4096 bytes). Anything larger did not come from us and is
/// refused before any decoding, so a client cannot make the server allocate in proportion to
/// a huge header.
pub const MAX_INPUT_LEN: usize = MAX_CHUNKS * 4096;

/// The most cookies one split session may use (`SessionConfig::split_oversized`).
pub const MAX_CHUNKS: usize = 8;

/// The most bytes a compressed session may inflate to. Decompression runs only after the
/// cookie authenticated, and stops at this size (docs/SECURITY-CHECKLIST.md item 32: no zip bombs).
pub const MAX_DECOMPRESSED_LEN: usize = 64 * 1024;

mod codec;
pub(crate) use codec::Candidates;
pub use codec::{Codec, Format, Loaded, Sealed, UnknownFormat};
pub use express::SigAlgorithm;
