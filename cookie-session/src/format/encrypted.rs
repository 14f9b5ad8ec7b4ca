//! The `encrypted` format, the default: the browser holds XChaCha20-Poly1305 (version 1) or
//! XAES-256-GCM (version 2) ciphertext and can read nothing of the session, not even its times.
//!
//! # Two versions, one codec
//!
//! | format byte | cipher | sealed where |
//! |---|---|---|
//! | `0xE1` (version 1) | XChaCha20-Poly1305 | CPUs without AES and carry-less multiply instructions |
//! | `0xE2` (version 2) | XAES-256-GCM (c2sp.org/XAES-256-GCM) | CPUs with them (x86-64 AES-NI + PCLMULQDQ, ARMv8 AES + PMULL) |
//!
//! [`EncryptedCodec`] always opens both versions, and seals with the one [`Cipher`] picks:
//! by default ([`Cipher::Auto`]) XAES-256-GCM where the CPU has the instructions that make AES
//! fast and constant-time, XChaCha20-Poly1305 elsewhere. Both have 192-bit nonces and 16-byte
//! tags, so the two versions have the same layout and length; each has its own subkey and AAD
//! domain. Version 1's nonces are random in all 24 bytes; version 2's are a random prefix
//! shared by up to 2^16 seals (so its derived key is built once for them) and 12 random
//! bytes. The security argument for version 2 is in `format/xaes.rs` and `docs/SECURITY.md`.
//!
//! **Rolling upgrades:** a server running an older release of this crate knows only version
//! 1 and refuses `0xE2` values (the session starts empty). Pin
//! [`Cipher::XChaCha20Poly1305`] until every instance runs a release that opens version 2.
//!
//! # Why XChaCha20-Poly1305
//!
//! - **Random nonces are safe at any volume.** The nonce is 192 bits, drawn at random for every
//!   cookie. The chance that two seals under one key ever share a nonce stays negligible
//!   (about 2^-96 after 2^48 seals). AES-GCM's nonce is 96 bits: with random nonces NIST caps
//!   a key at 2^32 seals, a number a busy site reaches, and one repeated nonce leaks the
//!   authentication key and the XOR of two plaintexts.
//! - **Constant time in software.** ChaCha20 and Poly1305 use only additions, rotations and
//!   XORs, with no table lookups indexed by secret data, so no implementation of them needs
//!   a cache-timing defence on any CPU. Ours is HChaCha20 from RustCrypto's `chacha20` and
//!   `ring`'s ChaCha20-Poly1305 (see `format/xchacha.rs` for why not one crate).
//! - **No hardware dependency.** AES is fast and constant-time only with AES-NI or similar
//!   instructions; ChaCha20 is fast everywhere (servers, ARM boards, WebAssembly).
//!
//! # Byte layout
//!
//! The cookie value is base64url without padding (strict: URL-safe alphabet, no `=`,
//! canonical trailing bits) of:
//!
//! ```text
//! 0xE1 (1) | key id (4) | nonce (24) | ciphertext of the plaintext | Poly1305 tag (16)
//! 0xE2 (1) | key id (4) | nonce (24) | ciphertext of the plaintext | GCM tag (16)
//!
//! plaintext = created_at u64 BE (8) | issued_at u64 BE (8) | expires_at u64 BE (8) | body
//! body      = JSON | JSON + its entry index (format/index.rs; last byte 0x01)
//!           | 0x00 + deflated JSON (compression on)
//! AAD (v1)  = b"cookie-session/v1/encrypted\0" | 0xE1 | key id (4) | cookie name bytes
//! AAD (v2)  = b"cookie-session/v2/encrypted\0" | 0xE2 | key id (4) | cookie name bytes
//! ```
//!
//! `0xE1`/`0xE2` name the format and its version. The key id (see [`crate::key`]) tells the
//! server which single key to try. The cipher keys are
//! `HKDF-SHA256(secret, info = "cookie-session/v1/encrypted")` (XChaCha20-Poly1305) and
//! `HKDF-SHA256(secret, info = "cookie-session/v2/encrypted")` (XAES-256-GCM), subkeys used
//! for nothing else.
//! The AAD binds the value to the format, to the key id and to the cookie name, so a value
//! sealed for one cookie name does not open under another. The times are inside the
//! ciphertext: authenticated and hidden. A value is at least 69 bytes (92 characters) long.
//! The session layer seals the JSON with its entry index, so that opening it reads no JSON
//! byte by byte (`docs/SECURITY.md` §6); [`EncryptedCodec::seal`] seals the body it is given.
//!
//! This module only seals and opens; it checks no time. Expiry, clock skew and absolute
//! lifetime are enforced in one place by the session layer, from the [`Timestamps`] returned.

use std::fmt;

use rand::RngCore;

use super::native::{
    self, NativeKey, FORMAT_ENCRYPTED_V1, FORMAT_ENCRYPTED_V2, HEADER_LEN, TIMES_LEN,
};
use super::xaes::{self, XaesKey};
use super::xchacha::{OpenError, XChaChaKey, NONCE_LEN, TAG_LEN};
use super::{Opened, Timestamps};
use crate::key::{KeyError, KeyRing, KEY_ID_LEN};
use crate::rejection::Rejection;

/// HKDF label of the version 1 (XChaCha20-Poly1305) subkey, and the first part of its AAD.
const LABEL: &str = "cookie-session/v1/encrypted";

/// HKDF label of the version 2 (XAES-256-GCM) subkey, and the first part of its AAD.
const LABEL_V2: &str = "cookie-session/v2/encrypted";

/// The AAD prefixes: the label and a NUL, so the name that follows cannot extend the label.
const AAD_DOMAIN: &[u8] = b"cookie-session/v1/encrypted\0";
const AAD_DOMAIN_V2: &[u8] = b"cookie-session/v2/encrypted\0";

/// Which AEAD seals new `encrypted` values. Every [`EncryptedCodec`] opens both versions
/// whatever this says; it only chooses the version written.
///
/// ```
/// use cookie_session::format::encrypted::{Cipher, EncryptedCodec};
/// use cookie_session::KeyRing;
///
/// let ring = KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?;
/// // During a rolling upgrade, keep writing version 1 until every instance opens version 2.
/// let codec = EncryptedCodec::with_cipher(&ring, Cipher::XChaCha20Poly1305)?;
/// assert_eq!(codec.sealing_cipher(), Cipher::XChaCha20Poly1305);
/// // The default picks by CPU, once, when the codec is built.
/// let auto = EncryptedCodec::new(&ring)?;
/// assert_ne!(auto.sealing_cipher(), Cipher::Auto);
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Cipher {
    /// XAES-256-GCM where the CPU has AES and carry-less multiply instructions (x86-64:
    /// AES-NI and PCLMULQDQ; aarch64: AES and PMULL), XChaCha20-Poly1305 elsewhere. The
    /// default.
    #[default]
    Auto,
    /// XChaCha20-Poly1305, format byte `0xE1` (version 1): what every release opens.
    XChaCha20Poly1305,
    /// XAES-256-GCM, format byte `0xE2` (version 2), on any CPU. Without AES instructions
    /// it runs in the crates' constant-time software, several times slower.
    Xaes256Gcm,
}

impl Cipher {
    /// The cipher this resolves to on this CPU: never [`Cipher::Auto`].
    fn resolve(self) -> Self {
        match self {
            Cipher::Auto if xaes::hardware_accelerated() => Cipher::Xaes256Gcm,
            Cipher::Auto => Cipher::XChaCha20Poly1305,
            pinned => pinned,
        }
    }

    /// The cipher of a format byte, or `None` when it is no version of this format.
    fn of_format_byte(byte: u8) -> Option<Self> {
        match byte {
            FORMAT_ENCRYPTED_V1 => Some(Cipher::XChaCha20Poly1305),
            FORMAT_ENCRYPTED_V2 => Some(Cipher::Xaes256Gcm),
            _ => None,
        }
    }

    /// The format byte and AAD prefix of a resolved cipher.
    fn format_byte_and_domain(self) -> (u8, &'static [u8]) {
        match self {
            Cipher::Xaes256Gcm => (FORMAT_ENCRYPTED_V2, AAD_DOMAIN_V2),
            _ => (FORMAT_ENCRYPTED_V1, AAD_DOMAIN),
        }
    }
}

/// The two cipher keys of one ring key, each derived under its own label.
#[derive(Clone)]
struct Ciphers {
    v1: XChaChaKey,
    v2: XaesKey,
}

impl Ciphers {
    /// Seals under `nonce`, or under a fresh one when it is `None`; returns the nonce used
    /// and the tag. Version 2 draws its fresh nonces itself (its current prefix and random
    /// bytes, see `format/xaes.rs`), version 1 takes [`fresh_nonce`].
    fn seal_in_place(
        &self,
        cipher: Cipher,
        nonce: Option<&[u8; NONCE_LEN]>,
        aad: &[u8],
        in_out: &mut [u8],
    ) -> ([u8; NONCE_LEN], [u8; TAG_LEN]) {
        match (cipher, nonce) {
            (Cipher::Xaes256Gcm, None) => self.v2.seal_in_place(aad, in_out),
            (Cipher::Xaes256Gcm, Some(nonce)) => {
                (*nonce, self.v2.seal_with_nonce(nonce, aad, in_out))
            }
            (_, nonce) => {
                let nonce = nonce.copied().unwrap_or_else(fresh_nonce);
                let tag = self.v1.seal_in_place(&nonce, aad, in_out);
                (nonce, tag)
            }
        }
    }

    fn open_in_place(
        &self,
        cipher: Cipher,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<usize, OpenError> {
        match cipher {
            Cipher::Xaes256Gcm => self.v2.open_in_place(nonce, aad, in_out),
            _ => self.v1.open_in_place(nonce, aad, in_out),
        }
    }
}

/// Where the ciphertext starts: after the format byte, the key id and the nonce.
const CIPHERTEXT_START: usize = HEADER_LEN + NONCE_LEN;

/// Where the JSON starts in the raw value: after the header, the nonce and the times.
pub(crate) const JSON_START: usize = CIPHERTEXT_START + TIMES_LEN;

/// The shortest value we can have sealed: an empty JSON text (never written, but harmless).
const MIN_RAW_LEN: usize = JSON_START + TAG_LEN;

/// The length of the value sealing `json_len` bytes of JSON.
pub(crate) const fn sealed_len(json_len: usize) -> usize {
    native::encoded_len(MIN_RAW_LEN + json_len)
}

/// Seals and opens `encrypted` cookie values (see the [module docs](self) for the layout).
///
/// Build it once from the [`KeyRing`]: the subkeys are derived and the ciphers set up in
/// [`EncryptedCodec::new`], never per request. Cheap to clone; the cipher keys are wiped from
/// memory when the last copy holding them is dropped.
///
/// ```
/// use cookie_session::format::encrypted::EncryptedCodec;
/// use cookie_session::format::Timestamps;
/// use cookie_session::KeyRing;
///
/// let ring = KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?;
/// let codec = EncryptedCodec::new(&ring)?;
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
pub struct EncryptedCodec {
    /// One per ring key, in ring order: key id and both ciphers keyed with their subkeys.
    keys: Vec<NativeKey<Ciphers>>,
    /// The cipher that seals, resolved (never `Auto`).
    seal_with: Cipher,
}

impl EncryptedCodec {
    /// A codec for every key of the ring; the first seals.
    ///
    /// Every secret must be at least [`MIN_SECRET_LEN`](crate::key::MIN_SECRET_LEN) bytes
    /// ([`KeyError::TooShort`]) and no two may be the same ([`KeyError::Duplicate`]).
    ///
    /// ```
    /// use cookie_session::format::encrypted::EncryptedCodec;
    /// use cookie_session::{KeyError, KeyRing};
    ///
    /// let short = KeyRing::new(["too short"])?;
    /// assert!(matches!(EncryptedCodec::new(&short), Err(KeyError::TooShort { index: 0, .. })));
    /// # Ok::<(), KeyError>(())
    /// ```
    pub fn new(ring: &KeyRing) -> Result<Self, KeyError> {
        Self::with_cipher(ring, Cipher::Auto)
    }

    /// A codec that seals with `cipher` ([`EncryptedCodec::new`] takes [`Cipher::Auto`]).
    /// It opens both versions whatever the cipher.
    ///
    /// # Errors
    ///
    /// As [`EncryptedCodec::new`]: a secret too short or two the same.
    ///
    /// ```
    /// use cookie_session::format::encrypted::{self, Cipher, EncryptedCodec};
    /// use cookie_session::format::Timestamps;
    /// use cookie_session::KeyRing;
    ///
    /// let ring = KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?;
    /// let v1 = EncryptedCodec::with_cipher(&ring, Cipher::XChaCha20Poly1305)?;
    /// let v2 = EncryptedCodec::with_cipher(&ring, Cipher::Xaes256Gcm)?;
    /// let times = Timestamps { created_at: 10, issued_at: 20, expires_at: 30 };
    /// let old = v1.seal("session", times, b"{}");
    /// let new = v2.seal("session", times, b"{}");
    /// assert_eq!(encrypted::inspect(&new).map(|p| p.cipher), Some(Cipher::Xaes256Gcm));
    /// // Each opens both.
    /// assert_eq!(v2.open("session", &old).map(|o| o.json), Ok(b"{}".to_vec()));
    /// assert_eq!(v1.open("session", &new).map(|o| o.json), Ok(b"{}".to_vec()));
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn with_cipher(ring: &KeyRing, cipher: Cipher) -> Result<Self, KeyError> {
        let v1 = native::build_keys(ring, "encrypted", LABEL, XChaChaKey::new)?;
        let v2 = native::build_keys(ring, "encrypted", LABEL_V2, XaesKey::new)?;
        let keys = v1
            .into_iter()
            .zip(v2)
            .map(|(v1, v2)| NativeKey {
                id: v1.id,
                state: Ciphers {
                    v1: v1.state,
                    v2: v2.state,
                },
            })
            .collect();
        Ok(Self {
            keys,
            seal_with: cipher.resolve(),
        })
    }

    /// The cipher that seals new values: [`Cipher::Auto`] resolved for this CPU.
    pub fn sealing_cipher(&self) -> Cipher {
        self.seal_with
    }

    /// Seal with `cipher` from now on (for [`Codec::with_cipher`](super::Codec::with_cipher)).
    pub(crate) fn set_cipher(&mut self, cipher: Cipher) {
        self.seal_with = cipher.resolve();
    }

    /// Seals the times and the JSON text with the first key of the ring, for the cookie `name`.
    ///
    /// Every call draws a fresh random nonce, so sealing the same input twice gives two
    /// different values. The result is ASCII (base64url) and safe as a cookie value.
    ///
    /// ```
    /// use cookie_session::format::encrypted::EncryptedCodec;
    /// use cookie_session::format::Timestamps;
    /// use cookie_session::KeyRing;
    ///
    /// let codec = EncryptedCodec::new(&KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?)?;
    /// let times = Timestamps { created_at: 10, issued_at: 20, expires_at: 30 };
    /// let a = codec.seal("session", times, b"{}");
    /// let b = codec.seal("session", times, b"{}");
    /// assert_ne!(a, b);
    /// assert!(!a.contains("{}"));
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// Only if `json` is larger than the cipher's message limit (64 GiB for AES-GCM).
    pub fn seal(&self, name: &str, times: Timestamps, json: &[u8]) -> String {
        let mut raw = Vec::with_capacity(MIN_RAW_LEN + json.len());
        raw.resize(JSON_START, 0);
        raw.extend_from_slice(json);
        let mut out = String::with_capacity(sealed_len(json.len()));
        self.seal_in_buffer(name, times, &mut raw, None, &mut out);
        out
    }

    /// [`seal`](Self::seal) with a given nonce: the known-answer tests pin the format with it.
    #[cfg(test)]
    fn seal_with_nonce(
        &self,
        name: &str,
        times: Timestamps,
        json: &[u8],
        nonce: &[u8; NONCE_LEN],
    ) -> String {
        let mut raw = Vec::with_capacity(MIN_RAW_LEN + json.len());
        raw.resize(JSON_START, 0);
        raw.extend_from_slice(json);
        let mut out = String::with_capacity(sealed_len(json.len()));
        self.seal_in_buffer(name, times, &mut raw, Some(nonce), &mut out);
        out
    }

    /// Seals `raw[JSON_START..]` (the JSON, written after room for the header, nonce and
    /// times) in place and appends the value to `out`: the one buffer goes from plaintext to
    /// ciphertext, then to base64 in the caller's string (see `Codec::seal_buffer`).
    pub(crate) fn seal_buffer(
        &self,
        name: &str,
        times: Timestamps,
        raw: &mut Vec<u8>,
        out: &mut String,
    ) {
        self.seal_in_buffer(name, times, raw, None, out);
    }

    fn seal_in_buffer(
        &self,
        name: &str,
        times: Timestamps,
        raw: &mut Vec<u8>,
        nonce: Option<&[u8; NONCE_LEN]>,
        out: &mut String,
    ) {
        // A ring always holds at least one key, so a codec does too.
        let Some(key) = self.keys.first() else {
            unreachable!("a KeyRing is never empty")
        };
        if raw.len() < JSON_START {
            raw.resize(JSON_START, 0);
        }
        let cipher = self.seal_with;
        let (head, _) = raw.split_at_mut(JSON_START);
        head[0] = cipher.format_byte_and_domain().0;
        head[1..HEADER_LEN].copy_from_slice(&key.id);
        native::put_times(&mut head[CIPHERTEXT_START..], times);

        // The nonce is not part of the AAD, so it is written once the cipher has chosen it.
        let (nonce, tag) = with_aad(cipher, &key.id, name, |aad| {
            key.state
                .seal_in_place(cipher, nonce, aad, &mut raw[CIPHERTEXT_START..])
        });
        raw[HEADER_LEN..CIPHERTEXT_START].copy_from_slice(&nonce);
        raw.extend_from_slice(&tag);
        out.reserve(native::encoded_len(raw.len()));
        native::encode_into(raw, out);
    }

    /// Opens a value sealed for the cookie `name` by any key of the ring.
    ///
    /// - larger than [`MAX_INPUT_LEN`](super::MAX_INPUT_LEN), not strict base64url, too short
    ///   or another format byte (the `signed` format, an unknown version) →
    ///   [`Rejection::Malformed`];
    /// - a key id that names no key of the ring → [`Rejection::UnknownKey`];
    /// - the tag does not verify (tampered, sealed for another cookie name, …) →
    ///   [`Rejection::BadSignature`].
    ///
    /// Exactly one key is tried: the one named by the key id, with the cipher its format byte
    /// names (both versions open, whatever the sealing cipher). No time is checked here.
    ///
    /// ```
    /// use cookie_session::format::encrypted::EncryptedCodec;
    /// use cookie_session::{format::Timestamps, Rejection};
    /// use cookie_session::KeyRing;
    ///
    /// let codec = EncryptedCodec::new(&KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?)?;
    /// let times = Timestamps { created_at: 10, issued_at: 20, expires_at: 30 };
    /// let value = codec.seal("session", times, b"{}");
    ///
    /// assert_eq!(codec.open("session", &value).map(|o| o.json), Ok(b"{}".to_vec()));
    /// assert_eq!(codec.open("other", &value), Err(Rejection::BadSignature));
    /// assert_eq!(codec.open("session", "not a cookie"), Err(Rejection::Malformed));
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn open(&self, name: &str, value: &str) -> Result<Opened, Rejection> {
        native::open_into_new(|json| self.open_in(name, value, json))
    }

    /// [`open`](Self::open), decoding into `raw`, an earlier buffer whose memory is reused
    /// (the session layer's pooled one): once it opened, `raw` holds the JSON text alone.
    /// Returns the index of the key that opened it and the times.
    pub(crate) fn open_in(
        &self,
        name: &str,
        value: &str,
        raw: &mut Vec<u8>,
    ) -> Result<(usize, Timestamps), Rejection> {
        let Parsed {
            cipher: version,
            kid,
            nonce,
        } = parse(value, raw)?;
        let (key_index, cipher) =
            native::find_key(&self.keys, &kid).ok_or(Rejection::UnknownKey)?;

        // Ciphertext ‖ tag; at least TIMES_LEN + TAG_LEN bytes (MIN_RAW_LEN above).
        let sealed = raw
            .get_mut(CIPHERTEXT_START..)
            .ok_or(Rejection::Malformed)?;
        let plaintext_len = with_aad(version, &kid, name, |aad| {
            cipher.open_in_place(version, &nonce, aad, sealed)
        })
        .map_err(|_| Rejection::BadSignature)?;
        // Authenticated from here on.
        let plaintext = sealed.get(..plaintext_len).ok_or(Rejection::Malformed)?;
        let (times, _) = native::read_times(plaintext).ok_or(Rejection::Malformed)?;
        let plaintext_end = CIPHERTEXT_START + plaintext_len;
        native::keep_range(raw, CIPHERTEXT_START + TIMES_LEN, plaintext_end)
            .ok_or(Rejection::Malformed)?;
        Ok((key_index, times))
    }
}

/// The parts of an `encrypted` value that anyone can see without a key, for tools that
/// explain a cookie (the demo's "inside my session" page). **Nothing here is authenticated**,
/// and the times and the JSON stay hidden in the sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptedParts {
    /// The key id: which key of the ring sealed it (see [`crate::key`]); reveals nothing of
    /// the key.
    pub key_id: [u8; KEY_ID_LEN],
    /// The random nonce of this seal.
    pub nonce: [u8; NONCE_LEN],
    /// Length of the ciphertext (times and body: the JSON, and the index of its entries when
    /// the session layer wrote it) and its 16-byte tag.
    pub sealed_len: usize,
    /// The cipher its format byte names: [`Cipher::XChaCha20Poly1305`] (`0xE1`) or
    /// [`Cipher::Xaes256Gcm`] (`0xE2`).
    pub cipher: Cipher,
}

/// Splits an `encrypted` value into its [`EncryptedParts`] without opening it, or `None` when
/// it does not have the layout (not strict base64url, too short, another format byte).
///
/// ```
/// use cookie_session::format::encrypted::{self, EncryptedCodec};
/// use cookie_session::format::Timestamps;
/// use cookie_session::KeyRing;
///
/// let codec = EncryptedCodec::new(&KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?)?;
/// let times = Timestamps { created_at: 10, issued_at: 20, expires_at: 30 };
/// let parts = encrypted::inspect(&codec.seal("session", times, b"{}")).expect("our layout");
/// assert_eq!(parts.sealed_len, 24 + 2 + 16); // three u64 times, `{}`, the tag
/// assert_eq!(encrypted::inspect("not a cookie"), None);
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
pub fn inspect(value: &str) -> Option<EncryptedParts> {
    let mut raw = Vec::new();
    let Parsed { cipher, kid, nonce } = parse(value, &mut raw).ok()?;
    Some(EncryptedParts {
        key_id: kid,
        nonce,
        sealed_len: raw.len().saturating_sub(CIPHERTEXT_START),
        cipher,
    })
}

/// A value that has the layout: the cipher of its format byte, key id and nonce (nothing
/// verified yet).
struct Parsed {
    cipher: Cipher,
    kid: [u8; KEY_ID_LEN],
    nonce: [u8; NONCE_LEN],
}

/// The layout rules, in one place for [`EncryptedCodec::open`] and [`inspect`]: strict
/// base64url within the size limit, at least [`MIN_RAW_LEN`] bytes, one of our format bytes.
/// Decodes the raw bytes into `raw` and returns the cipher, the key id and the nonce; anything
/// else is [`Rejection::Malformed`].
fn parse(value: &str, raw: &mut Vec<u8>) -> Result<Parsed, Rejection> {
    native::decode_into(value, raw)?;
    if raw.len() < MIN_RAW_LEN {
        return Err(Rejection::Malformed);
    }
    let format = raw.first().copied().unwrap_or_default();
    let cipher = Cipher::of_format_byte(format).ok_or(Rejection::Malformed)?;
    let (kid, rest) = native::split_header(raw, format)?;
    let nonce = rest
        .first_chunk::<NONCE_LEN>()
        .ok_or(Rejection::Malformed)?;
    let (kid, nonce) = (*kid, *nonce);
    Ok(Parsed { cipher, kid, nonce })
}

/// A fresh random nonce from `rand::thread_rng()`: a ChaCha12 CSPRNG per thread, seeded from
/// the operating system and reseeded from it periodically.
fn fresh_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    nonce
}

/// The associated data: domain label of the version, format byte, key id, cookie name.
///
/// The name is last and everything before it has a fixed length, so no two (key id, name)
/// pairs give the same AAD.
fn aad(cipher: Cipher, kid: &[u8; KEY_ID_LEN], name: &str) -> Vec<u8> {
    let (format, domain) = cipher.format_byte_and_domain();
    let mut aad = Vec::with_capacity(domain.len() + HEADER_LEN + name.len());
    aad.extend_from_slice(domain);
    native::write_header(&mut aad, format, kid);
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// The longest AAD [`with_aad`] builds on the stack: a cookie name of up to 63 bytes.
const INLINE_AAD_LEN: usize = 96;

/// Calls `f` with the [`aad`] bytes, built on the stack for every usual cookie name, so
/// sealing and opening allocate nothing for it.
fn with_aad<R>(
    cipher: Cipher,
    kid: &[u8; KEY_ID_LEN],
    name: &str,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    let (format, domain) = cipher.format_byte_and_domain();
    let mut buf = [0u8; INLINE_AAD_LEN];
    let mut len = 0;
    for part in [domain, &[format], kid, name.as_bytes()] {
        let Some(slot) = buf.get_mut(len..len + part.len()) else {
            // A name too long for the stack buffer: the same bytes, on the heap.
            return f(&aad(cipher, kid, name));
        };
        slot.copy_from_slice(part);
        len += part.len();
    }
    f(buf.get(..len).unwrap_or_default())
}

impl fmt::Debug for EncryptedCodec {
    /// Prints how many keys there are, never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedCodec")
            .field("keys", &self.keys.len())
            .field("seal_with", &self.seal_with)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::key::derive_subkey;
    use base64::Engine as _;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const TIMES: Timestamps = Timestamps {
        created_at: 1_700_000_000,
        issued_at: 1_700_000_100,
        expires_at: 1_700_086_500,
    };

    fn codec(secrets: &[&[u8]]) -> EncryptedCodec {
        EncryptedCodec::new(&KeyRing::new(secrets).unwrap()).unwrap()
    }

    fn pinned(secrets: &[&[u8]], cipher: Cipher) -> EncryptedCodec {
        EncryptedCodec::with_cipher(&KeyRing::new(secrets).unwrap(), cipher).unwrap()
    }

    /// Both versions, pinned, so the tests that use them pass on any CPU.
    const BOTH: [Cipher; 2] = [Cipher::XChaCha20Poly1305, Cipher::Xaes256Gcm];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn stack_aad_equals_heap_aad_for_every_name_length() {
        let kid = [1, 2, 3, 4];
        for cipher in BOTH {
            for len in [0, 1, 7, 62, 63, 64, 65, 200] {
                let name = "n".repeat(len);
                assert_eq!(
                    with_aad(cipher, &kid, &name, <[u8]>::to_vec),
                    aad(cipher, &kid, &name),
                    "{len}"
                );
            }
            // A name past the stack buffer still seals and opens.
            let codec = pinned(&[SECRET], cipher);
            let long = "x".repeat(200);
            let value = codec.seal(&long, TIMES, b"{}");
            assert_eq!(codec.open(&long, &value).unwrap().json, b"{}");
            assert_eq!(codec.open("x", &value), Err(Rejection::BadSignature));
        }
        assert_ne!(
            aad(Cipher::XChaCha20Poly1305, &kid, "id"),
            aad(Cipher::Xaes256Gcm, &kid, "id")
        );
    }

    #[test]
    fn round_trip() {
        for cipher in [Cipher::Auto, Cipher::XChaCha20Poly1305, Cipher::Xaes256Gcm] {
            round_trip_with(&pinned(&[SECRET], cipher));
        }
    }

    fn round_trip_with(codec: &EncryptedCodec) {
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

    #[test]
    fn layout_is_as_documented() {
        let codec = pinned(&[SECRET], Cipher::XChaCha20Poly1305);
        let value = codec.seal("id", TIMES, b"{}");
        let raw = native::B64.decode(&value).unwrap();
        assert_eq!(raw.len(), MIN_RAW_LEN + 2);
        assert_eq!(raw[0], 0xE1);
        assert_eq!(raw[1..5], crate::key::key_id(SECRET));
        // Decrypt with a cipher built from the documented derivation, independently.
        use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
        // The `chacha20poly1305` crate, not this crate's `xchacha` module: an independent
        // implementation of the same AEAD.
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&*derive_subkey(
            SECRET, LABEL,
        )));
        let mut aad = b"cookie-session/v1/encrypted\0".to_vec();
        aad.extend_from_slice(&raw[..5]);
        aad.extend_from_slice(b"id");
        let plain = chacha20poly1305::aead::Aead::decrypt(
            &cipher,
            XNonce::from_slice(&raw[5..29]),
            chacha20poly1305::aead::Payload {
                msg: &raw[29..],
                aad: &aad,
            },
        )
        .unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&TIMES.created_at.to_be_bytes());
        expected.extend_from_slice(&TIMES.issued_at.to_be_bytes());
        expected.extend_from_slice(&TIMES.expires_at.to_be_bytes());
        expected.extend_from_slice(b"{}");
        assert_eq!(plain, expected);
    }

    /// Pins the subkey derivation, the key id and the whole format for fixed inputs: if any
    /// of them drifts, existing cookies would stop opening, and this test says so.
    ///
    /// The expected values were computed independently of this crate, in Python: HKDF-SHA256
    /// from `hmac`/`hashlib`, HChaCha20 by hand (checked against the test vector of
    /// draft-irtf-cfrg-xchacha §2.2.1) and ChaCha20-Poly1305 from `cryptography`.
    #[test]
    fn known_answer() {
        assert_eq!(
            hex(&*derive_subkey(SECRET, LABEL)),
            "3c882c43cd0c492170b10b06f48b8a7cfe1cc95039712e502f7cd1892233e21f"
        );
        assert_eq!(hex(&crate::key::key_id(SECRET)), "0df2b11d");
        let codec = pinned(&[SECRET], Cipher::XChaCha20Poly1305);
        let value = codec.seal_with_nonce("id", TIMES, br#"{"user":42}"#, &[7u8; NONCE_LEN]);
        assert_eq!(
            value,
            "4Q3ysR0HBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcvTcj-aRt5CiagCierX1HOPgCUbatjP2KU545OaGZehcirzj_SFcIvdFEhpZJzOnLM9Po"
        );
        assert_eq!(
            codec.open("id", &value).unwrap().json,
            br#"{"user":42}"#.to_vec()
        );
    }

    /// Version 2's layout, decrypted with an independent composition of the documented
    /// derivation: HKDF under the v2 label, then XAES-256-GCM from the `aes` block cipher and
    /// the `aes-gcm` crate (not `ring`), with the v2 AAD.
    #[test]
    fn v2_layout_is_as_documented() {
        use aes::cipher::{BlockEncrypt, KeyInit};
        use aes_gcm::aead::{Aead, Payload};

        let codec = pinned(&[SECRET], Cipher::Xaes256Gcm);
        let value = codec.seal("id", TIMES, b"{}");
        let raw = native::B64.decode(&value).unwrap();
        assert_eq!(raw.len(), MIN_RAW_LEN + 2);
        assert_eq!(raw[0], 0xE2);
        assert_eq!(raw[1..5], crate::key::key_id(SECRET));

        let key = derive_subkey(SECRET, "cookie-session/v2/encrypted");
        let aes = aes::Aes256::new_from_slice(&key[..]).unwrap();
        let mut l = [0u8; 16].into();
        aes.encrypt_block(&mut l);
        let l = u128::from_be_bytes(l.into());
        let k1 = (l << 1) ^ if l >> 127 == 1 { 0x87 } else { 0 };
        let mut kx = Vec::new();
        for counter in [1u8, 2] {
            let mut m = [0, counter, b'X', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            m[4..].copy_from_slice(&raw[5..17]);
            let mut block = (u128::from_be_bytes(m) ^ k1).to_be_bytes().into();
            aes.encrypt_block(&mut block);
            kx.extend_from_slice(&block);
        }
        let mut aad = b"cookie-session/v2/encrypted\0".to_vec();
        aad.extend_from_slice(&raw[..5]);
        aad.extend_from_slice(b"id");
        let plain = aes_gcm::Aes256Gcm::new_from_slice(&kx)
            .unwrap()
            .decrypt(
                aes_gcm::Nonce::from_slice(&raw[17..29]),
                Payload {
                    msg: &raw[29..],
                    aad: &aad,
                },
            )
            .unwrap();
        let mut expected = Vec::new();
        native::write_times(&mut expected, TIMES);
        expected.extend_from_slice(b"{}");
        assert_eq!(plain, expected);
    }

    /// Version 2's subkey and a value of it, for the inputs of [`v2_known_answer`].
    const V2_SUBKEY_HEX: &str = "52913500266bf88d023583f01ac8742a731290f32fd8751f72c307f28ae602a1";
    const V2_KNOWN_VALUE: &str = "4g3ysR0HBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwfCuGuZiLnK1nVZxAKJ53ClRxCkOH7mw_LHhWUxHItuBeKts9rfavbt_ulACU88wWxNCOk";

    /// Pins version 2 for fixed inputs, as [`known_answer`] pins version 1.
    ///
    /// The expected values were computed independently of this crate, in Python, by
    /// `tests/data/xaes_known_answer.py`: HKDF-SHA256 from `hmac`/`hashlib`, the XAES-256-GCM
    /// key derivation from the AES block cipher of `cryptography` (48.0) and AES-256-GCM from
    /// the same package (the script first checks itself on the two C2SP test vectors).
    #[test]
    fn v2_known_answer() {
        assert_eq!(hex(&*derive_subkey(SECRET, LABEL_V2)), V2_SUBKEY_HEX);
        let codec = pinned(&[SECRET], Cipher::Xaes256Gcm);
        let value = codec.seal_with_nonce("id", TIMES, br#"{"user":42}"#, &[7u8; NONCE_LEN]);
        assert_eq!(value, V2_KNOWN_VALUE);
        // Opens under every codec, whatever it seals with.
        for cipher in [Cipher::Auto, Cipher::XChaCha20Poly1305, Cipher::Xaes256Gcm] {
            assert_eq!(
                pinned(&[SECRET], cipher).open("id", &value).unwrap().json,
                br#"{"user":42}"#.to_vec()
            );
        }
    }

    /// The old layout still opens: version 1's known answer, and a value of a v1-pinned codec,
    /// open under the default (automatic) codec and an XAES-pinned one.
    #[test]
    fn version_1_still_opens_everywhere() {
        const V1_KNOWN: &str = "4Q3ysR0HBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcvTcj-aRt5CiagCierX1HOPgCUbatjP2KU545OaGZehcirzj_SFcIvdFEhpZJzOnLM9Po";
        let v1 = pinned(&[SECRET], Cipher::XChaCha20Poly1305).seal("id", TIMES, b"{}");
        assert_eq!(inspect(&v1).unwrap().cipher, Cipher::XChaCha20Poly1305);
        for codec in [codec(&[SECRET]), pinned(&[SECRET], Cipher::Xaes256Gcm)] {
            assert_eq!(
                codec.open("id", V1_KNOWN).unwrap().json,
                br#"{"user":42}"#.to_vec()
            );
            assert_eq!(codec.open("id", &v1).unwrap().json, b"{}".to_vec());
        }
    }

    /// A value of one version given the other's format byte is refused: the byte is in the
    /// AAD, and each version has its own key.
    #[test]
    fn swapped_version_byte_is_refused() {
        let codec = codec(&[SECRET]);
        for (cipher, other) in [
            (Cipher::XChaCha20Poly1305, 0xE2),
            (Cipher::Xaes256Gcm, 0xE1),
        ] {
            let mut raw = native::B64
                .decode(pinned(&[SECRET], cipher).seal("id", TIMES, b"{}"))
                .unwrap();
            raw[0] = other;
            assert_eq!(
                codec.open("id", &native::B64.encode(&raw)),
                Err(Rejection::BadSignature)
            );
        }
    }

    /// The automatic choice follows the CPU, and the two subkeys differ.
    #[test]
    fn auto_follows_the_cpu() {
        let expected = if xaes::hardware_accelerated() {
            Cipher::Xaes256Gcm
        } else {
            Cipher::XChaCha20Poly1305
        };
        let codec = codec(&[SECRET]);
        assert_eq!(codec.sealing_cipher(), expected);
        assert_eq!(
            inspect(&codec.seal("id", TIMES, b"{}")).unwrap().cipher,
            expected
        );
        assert_ne!(
            derive_subkey(SECRET, LABEL),
            derive_subkey(SECRET, LABEL_V2)
        );
    }

    /// The nonce source `seal` uses, 100 000 times: no repeat. (The integration tests also
    /// check the nonces of full seals; 100 000 of those are slow in an unoptimized build.)
    #[test]
    fn nonces_never_repeat() {
        let mut seen = std::collections::HashSet::with_capacity(100_000);
        for _ in 0..100_000 {
            assert!(seen.insert(fresh_nonce()));
        }
    }

    #[test]
    fn debug_prints_no_key_material() {
        let codec = codec(&[SECRET, b"another-secret-of-32-bytes-or-more"]);
        let debug = format!("{codec:?}");
        assert_eq!(
            debug,
            format!(
                "EncryptedCodec {{ keys: 2, seal_with: {:?} }}",
                codec.sealing_cipher()
            )
        );
        let alt = format!("{codec:#?}");
        let subkey = hex(&*derive_subkey(SECRET, LABEL));
        let subkey_v2 = hex(&*derive_subkey(SECRET, LABEL_V2));
        for text in [&debug, &alt] {
            assert!(!text.contains("0123456789"));
            assert!(!text.contains(&subkey[..8]));
            assert!(!text.contains(&subkey_v2[..8]));
        }
    }

    #[test]
    fn short_and_duplicate_secrets_are_refused() {
        let short = KeyRing::new([&b"short"[..]]).unwrap();
        assert!(matches!(
            EncryptedCodec::new(&short),
            Err(KeyError::TooShort {
                index: 0,
                len: 5,
                min: 32,
                format: "encrypted"
            })
        ));
        let dup = KeyRing::new([SECRET, SECRET]).unwrap();
        assert_eq!(
            EncryptedCodec::new(&dup).unwrap_err(),
            KeyError::Duplicate {
                first: 0,
                second: 1
            }
        );
    }

    #[test]
    fn unknown_version_byte_is_malformed() {
        let codec = codec(&[SECRET]);
        let mut raw = native::B64.decode(codec.seal("id", TIMES, b"{}")).unwrap();
        for byte in [0x00, 0xE0, 0xE3, 0x51, 0xFF] {
            raw[0] = byte;
            assert_eq!(
                codec.open("id", &native::B64.encode(&raw)),
                Err(Rejection::Malformed)
            );
        }
    }
}
