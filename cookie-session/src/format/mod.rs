//! Cookie formats: pure encode/decode of cookie values, one module per format, no HTTP types.
//!
//! | format | what the browser holds | server-side expiry | keys |
//! |---|---|---|---|
//! | [`encrypted`] (default) | XAES-256-GCM or XChaCha20-Poly1305 ciphertext: nothing readable | yes | ≥ 32 bytes |
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
mod xaes;
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
    /// The payload exactly as sealed: the session's JSON text, as [`Codec::seal`] seals it.
    /// A cookie the session layer wrote may hold more: its JSON deflated (compression on;
    /// first byte `0x00`), or, in the `encrypted` format, its JSON followed by the index of
    /// its entries (last byte `0x01`). [`Codec::open`] reads every layout.
    pub json: Vec<u8>,
}

// Only for the crate's own `crate::format::Rejection` imports in `session/`; the public path is
// `cookie_session::Rejection` (src/rejection.rs).
pub(crate) use crate::rejection::Rejection;

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
mod data;
mod index;
pub(crate) use codec::{Candidates, Unsealed};
pub use codec::{Codec, Format, Loaded, Sealed, UnknownFormat};
pub(crate) use data::{wipe, Data, Decoded};
pub use encrypted::Cipher;
pub use express::SigAlgorithm;
pub(crate) use index::Index;
