//! One entry point over the formats, used by the session layer and the command alike.

use std::str::FromStr;

use serde_json::{Map, Value};

use super::encrypted::{Cipher, EncryptedCodec};
use super::express::{self, ExpressCodec, SigAlgorithm};
#[cfg(feature = "jwt")]
use super::jwt::JwtCodec;
use super::native;
use super::signed::SignedCodec;
use super::{Data, Decoded, Index, Timestamps};
use crate::cookie::{cookie_values, first_cookie_value, HeaderStyle};
use crate::key::{KeyError, KeyRing};
use crate::rejection::Rejection;

/// Which cookie format a session layer reads and writes.
///
/// Non-exhaustive: formats behind cargo features (`jwt`) exist only when enabled, and more may
/// come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// XAES-256-GCM or XChaCha20-Poly1305 (see [`Cipher`]): the browser sees nothing of the
    /// session. The default.
    #[default]
    Encrypted,
    /// HMAC-SHA256 over a readable payload.
    Signed,
    /// Express `cookie-session` 2.x, with keygrip's algorithm (SHA-1 by default).
    /// No server-side expiry: see [`crate::format::express`].
    Express(SigAlgorithm),
    /// A compact JWS signed with HS256 under the raw secret, readable by other services that
    /// speak JWT (feature `jwt`). See [`crate::format::jwt`].
    #[cfg(feature = "jwt")]
    Jwt,
}

impl Format {
    /// The name used in configuration and by the command (`encrypted`, `signed`, `jwt`,
    /// `express`, `express-sha256`, `express-sha512`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Encrypted => "encrypted",
            Format::Signed => "signed",
            #[cfg(feature = "jwt")]
            Format::Jwt => "jwt",
            Format::Express(SigAlgorithm::Sha1) => "express",
            Format::Express(SigAlgorithm::Sha256) => "express-sha256",
            Format::Express(SigAlgorithm::Sha512) => "express-sha512",
        }
    }

    /// Whether cookies of this format carry an authenticated expiry the server enforces.
    pub fn has_server_expiry(self) -> bool {
        !matches!(self, Format::Express(_))
    }
}

/// The format names [`Format::from_str`] accepts, for messages.
#[cfg(feature = "jwt")]
const FORMAT_NAMES: &str = "encrypted, signed, jwt, express, express-sha256 or express-sha512";
#[cfg(not(feature = "jwt"))]
const FORMAT_NAMES: &str = "encrypted, signed, express, express-sha256 or express-sha512";

/// A format name that is not one of [`Format::as_str`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown session format {0:?}: expected {FORMAT_NAMES}")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// ```
    /// use cookie_session::format::{Format, SigAlgorithm};
    /// assert_eq!("express-sha256".parse(), Ok(Format::Express(SigAlgorithm::Sha256)));
    /// assert!("jws".parse::<Format>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "encrypted" => Ok(Format::Encrypted),
            "signed" => Ok(Format::Signed),
            #[cfg(feature = "jwt")]
            "jwt" => Ok(Format::Jwt),
            "express" | "express-sha1" => Ok(Format::Express(SigAlgorithm::Sha1)),
            "express-sha256" => Ok(Format::Express(SigAlgorithm::Sha256)),
            "express-sha512" => Ok(Format::Express(SigAlgorithm::Sha512)),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone)]
enum Inner {
    Encrypted(EncryptedCodec),
    Signed(SignedCodec),
    Express(ExpressCodec),
    #[cfg(feature = "jwt")]
    Jwt(JwtCodec),
}

/// A format bound to a key ring and a cookie name: reads a request's cookies into a session
/// map and seals a map into cookie values. Pure: no HTTP types, no clock.
///
/// ```
/// use cookie_session::{KeyRing, format::{Codec, Format, Timestamps}};
/// use serde_json::json;
///
/// let ring = KeyRing::new(["an example secret of at least 32 bytes"])?;
/// let codec = Codec::new(Format::Signed, &ring, "session")?;
/// let data = json!({"views": 1}).as_object().cloned().unwrap();
/// let times = Timestamps { created_at: 100, issued_at: 100, expires_at: 200 };
/// let sealed = codec.seal(&codec.canonical(&data), times);
/// let header = format!("session={}", sealed.value);
/// let loaded = codec.open([header.as_str()]).unwrap();
/// assert_eq!(loaded.data, data);
/// assert_eq!(loaded.times, Some(times));
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Codec {
    inner: Inner,
    format: Format,
    name: String,
    sig_name: String,
    compress: bool,
}

/// The first byte of a compressed native payload. JSON never starts with it, so the flag needs
/// no room of its own, and it sits inside the authenticated payload. (An entry index, the
/// other layout, is marked by the body's last byte: `format/index.rs`.)
const COMPRESSED: u8 = 0x00;
/// Sessions shorter than this are never compressed: deflate would not pay for itself.
const COMPRESS_FROM: usize = 128;

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("format", &self.format)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A session read from a request's cookies.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// Index in the key ring of the key that opened it.
    pub key_index: usize,
    /// Authenticated times (native formats only). Not checked yet: see
    /// [`TimePolicy`](crate::TimePolicy).
    pub times: Option<Timestamps>,
    /// The session.
    pub data: Map<String, Value>,
    /// The canonical text it was read from ([`Codec::canonical`] of an unchanged session
    /// equals it), to tell whether a write is needed.
    pub canonical: Vec<u8>,
}

/// A session read from a request's cookies, as the layer keeps it: [`Loaded`] with the data
/// read lazily (see `format/data.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Unsealed {
    pub(crate) key_index: usize,
    pub(crate) times: Option<Timestamps>,
    pub(crate) data: Data,
    /// [`Loaded::canonical`]; empty when it is the data's source text (native formats).
    pub(crate) canonical: Vec<u8>,
}

impl Unsealed {
    /// The public form.
    pub(crate) fn into_loaded(self) -> Loaded {
        if !self.canonical.is_empty() {
            return Loaded {
                key_index: self.key_index,
                times: self.times,
                data: self.data.into_map(),
                canonical: self.canonical,
            };
        }
        // A native cookie's text, checked when it was opened: one parse into the map is
        // cheaper than deserialising its values one by one.
        let canonical = self.data.source().to_vec();
        let data = serde_json::from_slice(&canonical).unwrap_or_else(|_| self.data.into_map());
        Loaded {
            key_index: self.key_index,
            times: self.times,
            data,
            canonical,
        }
    }
}

/// Sealed cookie values, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The value of the session cookie.
    pub value: String,
    /// The value of the signature cookie `<name>.sig` (Express format only).
    pub sig: Option<String>,
}

impl Codec {
    /// Binds `format` to `ring` and the cookie `name`. Fails when a key is too short for the
    /// format or two keys are the same.
    pub fn new(format: Format, ring: &KeyRing, name: &str) -> Result<Self, KeyError> {
        let inner = match format {
            Format::Encrypted => Inner::Encrypted(EncryptedCodec::new(ring)?),
            Format::Signed => Inner::Signed(SignedCodec::new(ring)?),
            Format::Express(algorithm) => Inner::Express(ExpressCodec::new(ring, algorithm)),
            #[cfg(feature = "jwt")]
            Format::Jwt => Inner::Jwt(JwtCodec::new(ring)?),
        };
        Ok(Self {
            inner,
            format,
            name: name.to_owned(),
            sig_name: format!("{name}.sig"),
            compress: false,
        })
    }

    /// Compress native payloads (raw deflate) before sealing when that makes them smaller.
    /// Decoding always understands compressed payloads, inflating them only after they
    /// authenticated and never past [`MAX_DECOMPRESSED_LEN`](super::MAX_DECOMPRESSED_LEN).
    /// The Express and `jwt` formats ignore it (a JWT's readers expect plain JSON claims).
    pub fn with_compression(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Which cipher seals `encrypted` values ([`Cipher::Auto`] unless set): see
    /// [`Cipher`]. Opening always understands both versions. Other formats ignore it.
    ///
    /// ```
    /// use cookie_session::format::{encrypted, Cipher, Codec, Format, Timestamps};
    /// use cookie_session::KeyRing;
    ///
    /// let ring = KeyRing::new(["an example secret of at least 32 bytes"])?;
    /// let codec = Codec::new(Format::Encrypted, &ring, "session")?.with_cipher(Cipher::XChaCha20Poly1305);
    /// let times = Timestamps { created_at: 100, issued_at: 100, expires_at: 200 };
    /// let sealed = codec.seal(&codec.canonical(&Default::default()), times);
    /// let parts = encrypted::inspect(&sealed.value).expect("an encrypted value");
    /// assert_eq!(parts.cipher, Cipher::XChaCha20Poly1305);
    /// # Ok::<(), cookie_session::KeyError>(())
    /// ```
    pub fn with_cipher(mut self, cipher: Cipher) -> Self {
        if let Inner::Encrypted(codec) = &mut self.inner {
            codec.set_cipher(cipher);
        }
        self
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the signature cookie, for formats that have one.
    pub fn sig_name(&self) -> Option<&str> {
        matches!(self.inner, Inner::Express(_)).then_some(self.sig_name.as_str())
    }

    /// How this format's `Set-Cookie` headers are spelled.
    pub fn header_style(&self) -> HeaderStyle {
        match self.inner {
            Inner::Express(_) => HeaderStyle::Express,
            _ => HeaderStyle::Standard,
        }
    }

    /// Reads the first authentic session from `Cookie` header values, without a clock.
    ///
    /// Native formats try every cookie of the name in header order and return the first that
    /// authenticates and holds a JSON object; a forged or damaged one is never used. The
    /// Express format reads only the first occurrence of each cookie, exactly as Express does
    /// (see [`crate::format::express`]).
    ///
    /// This is authenticity only: the times are returned, not checked. The session layer
    /// ([`SessionLayer::decode`](crate::SessionLayer::decode) and every request) goes further
    /// and serves the first cookie that passes *every* check — authenticity, the
    /// [`TimePolicy`](crate::TimePolicy), revocation and, in store mode, the record — so a
    /// cookie planted before ours (from a sibling subdomain), whether forged or authentic but
    /// expired, revoked or destroyed, cannot shadow a valid one behind it.
    pub fn open<'h, I>(&self, headers: I) -> Result<Loaded, Rejection>
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        self.open_unsealed(headers, false)
            .map(Unsealed::into_loaded)
    }

    /// [`Codec::open`], keeping the data as the layer reads it; `lazy`: see
    /// [`Candidates::lazy`].
    pub(crate) fn open_unsealed<'h, I>(&self, headers: I, lazy: bool) -> Result<Unsealed, Rejection>
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        let mut first_error = Rejection::Missing;
        for candidate in self.candidates(headers).lazy(lazy) {
            match candidate {
                Ok(loaded) => return Ok(loaded),
                Err(e) if first_error == Rejection::Missing => first_error = e,
                Err(_) => {}
            }
        }
        Err(first_error)
    }

    /// Every cookie of the name, opened lazily in header order: one item per value (an empty
    /// value is [`Rejection::Missing`]). The Express format yields exactly one item, the first
    /// `name`/`name.sig` pair (Missing when absent), as Express reads nothing else.
    pub(crate) fn candidates<'a, 'h, I>(
        &'a self,
        headers: I,
    ) -> Candidates<'a, impl Iterator<Item = &'h str> + use<'a, 'h, I>>
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        match &self.inner {
            Inner::Express(codec) => {
                let value = first_cookie_value(headers.clone(), &self.name);
                let sig = first_cookie_value(headers, &self.sig_name);
                let loaded = codec.open(&self.name, value, sig).map(|(key_index, data)| {
                    let canonical = express::unquote(value.unwrap_or_default())
                        .as_bytes()
                        .to_vec();
                    Unsealed {
                        key_index,
                        times: None,
                        data: Data::from_map(data),
                        canonical,
                    }
                });
                Candidates {
                    codec: self,
                    express: Some(loaded),
                    values: None,
                    lazy: true,
                    decoded: Decoded::default(),
                }
            }
            _ => Candidates {
                codec: self,
                express: None,
                values: Some(cookie_values(headers, &self.name)),
                lazy: true,
                decoded: Decoded::default(),
            },
        }
    }

    /// The session's canonical text: its JSON (native formats) or its base64 cookie value
    /// (Express format, `JSON.stringify`-compatible). A loaded session needs writing back
    /// exactly when this differs from [`Loaded::canonical`], which is also Express's
    /// `isChanged` rule (docs/EXPRESS-COMPATIBILITY.md §3.2).
    pub fn canonical(&self, data: &Map<String, Value>) -> Vec<u8> {
        match self.inner {
            Inner::Express(_) => express::encode_value(data).into_bytes(),
            // Serialising a map of `Value`s cannot fail: keys are strings, numbers finite.
            _ => serde_json::to_vec(data).unwrap_or_else(|_| b"{}".to_vec()),
        }
    }

    /// Where the canonical text starts in a buffer from [`Codec::canonical_buffer_in`]: native
    /// formats leave room for what precedes the JSON in the sealed value.
    pub(crate) fn json_start(&self) -> usize {
        match self.inner {
            Inner::Encrypted(_) => super::encrypted::JSON_START,
            Inner::Signed(_) => super::signed::JSON_START,
            _ => 0,
        }
    }

    /// [`Codec::canonical_of`], written after [`Codec::json_start`] bytes of room, so
    /// [`Codec::seal_buffer`] seals it where it is. Written into `out`, an earlier buffer
    /// whose memory is reused (its content is dropped). The `encrypted` format also leaves
    /// the entry index of the text in `index` (`format/index.rs`), for `seal_buffer` to seal
    /// after it; the others leave `index` empty.
    pub(crate) fn canonical_buffer_in(
        &self,
        data: &Data,
        mut out: Vec<u8>,
        index: &mut Index,
    ) -> Vec<u8> {
        index.clear();
        let start = self.json_start();
        if start == 0 {
            return self.canonical_of(data);
        }
        out.clear();
        // Room for the JSON as it was, a little growth, the tag, and the index sealed after it.
        out.reserve(start + data.source().len() + 16 + Index::room(data.len()));
        out.resize(start, 0);
        // Only `encrypted` bodies carry the index: a `signed` value's payload is readable, and
        // stays the JSON its readers expect.
        let written = match self.inner {
            Inner::Encrypted(_) => data.write_json_indexed(&mut out, index),
            _ => data.write_json(&mut out),
        };
        if written.is_err() {
            // Serialising `Value`s cannot fail: keys are strings, numbers finite.
            out.truncate(start);
            out.extend_from_slice(b"{}");
            index.clear();
        }
        out
    }

    /// [`Codec::canonical_buffer_in`] of canonical text given as bytes.
    pub(crate) fn canonical_buffer_from(&self, canonical: &[u8]) -> Vec<u8> {
        let start = self.json_start();
        let mut out = Vec::with_capacity(start + canonical.len());
        out.resize(start, 0);
        out.extend_from_slice(canonical);
        out
    }

    /// [`Codec::seal`] of a buffer from [`Codec::canonical_buffer_in`], appending the value to
    /// `out` (for native formats without copying the buffer: it is sealed in place and
    /// encoded straight into `out`, and the buffer is left holding the sealed bytes). Returns
    /// the Express signature cookie's value.
    pub(crate) fn seal_buffer(
        &self,
        buffer: &mut Vec<u8>,
        index: &[u8],
        times: Timestamps,
        out: &mut String,
    ) -> Option<String> {
        let start = self.json_start();
        let mut index = index;
        if start > 0 && self.compress && buffer.len() >= start + COMPRESS_FROM {
            if let std::borrow::Cow::Owned(deflated) = self.payload(&buffer[start..]) {
                buffer.truncate(start);
                buffer.extend_from_slice(&deflated);
                // A deflated body is never indexed: inflating it costs far more than reading it.
                index = &[];
            }
        }
        buffer.extend_from_slice(index);
        match &self.inner {
            Inner::Encrypted(codec) => codec.seal_buffer(&self.name, times, buffer, out),
            Inner::Signed(codec) => codec.seal_buffer(&self.name, times, buffer, out),
            // The canonical text is the base64 value itself (ASCII), as in `Codec::seal`.
            Inner::Express(codec) => {
                let value = String::from_utf8_lossy(buffer);
                out.push_str(&value);
                return Some(codec.sign_cookie(&self.name, &value));
            }
            #[cfg(feature = "jwt")]
            Inner::Jwt(codec) => out.push_str(&codec.seal(&self.name, times, buffer)),
        }
        None
    }

    /// An estimate of the length of the value sealing `json_len` bytes (exact for the native
    /// formats without compression), to size the `Set-Cookie` text once.
    pub(crate) fn sealed_len(&self, json_len: usize) -> usize {
        match self.inner {
            Inner::Encrypted(_) => super::encrypted::sealed_len(json_len),
            Inner::Signed(_) => super::signed::sealed_len(json_len),
            _ => json_len * 4 / 3 + 4,
        }
    }

    /// [`Codec::canonical`] of the session as the layer holds it.
    pub(crate) fn canonical_of(&self, data: &Data) -> Vec<u8> {
        match self.inner {
            Inner::Express(_) => express::encode_value(&data.as_map()).into_bytes(),
            _ => {
                let mut out = Vec::with_capacity(data.source().len() + 16);
                // Serialising `Value`s cannot fail: keys are strings, numbers finite.
                match data.write_json(&mut out) {
                    Ok(()) => out,
                    Err(_) => b"{}".to_vec(),
                }
            }
        }
    }

    /// Seals canonical text from [`Codec::canonical`] under the first key. The times are
    /// ignored by the Express format.
    pub fn seal(&self, canonical: &[u8], times: Timestamps) -> Sealed {
        match &self.inner {
            Inner::Encrypted(codec) => Sealed {
                value: codec.seal(&self.name, times, &self.payload(canonical)),
                sig: None,
            },
            Inner::Signed(codec) => Sealed {
                value: codec.seal(&self.name, times, &self.payload(canonical)),
                sig: None,
            },
            // Never compressed: the `ses` claim is the JSON itself.
            #[cfg(feature = "jwt")]
            Inner::Jwt(codec) => Sealed {
                value: codec.seal(&self.name, times, canonical),
                sig: None,
            },
            Inner::Express(codec) => {
                // The canonical text of the Express format is the base64 value: ASCII, so the
                // fast validator succeeds and the lossy conversion is never taken.
                let value = match std::str::from_utf8(canonical) {
                    Ok(text) => text.to_owned(),
                    Err(_) => String::from_utf8_lossy(canonical).into_owned(),
                };
                // keygrip signs "<name>=<value>"; signed in parts, without building it.
                let sig = codec.sign_cookie(&self.name, &value);
                Sealed {
                    value,
                    sig: Some(sig),
                }
            }
        }
    }

    /// What a native format seals: the JSON, or its deflated form when compression is on and
    /// pays off.
    fn payload<'a>(&self, canonical: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        if self.compress && canonical.len() >= COMPRESS_FROM {
            let mut deflated = vec![COMPRESSED];
            deflated.extend(miniz_oxide::deflate::compress_to_vec(canonical, 6));
            if deflated.len() < canonical.len() {
                return deflated.into();
            }
        }
        canonical.into()
    }

    /// The keygrip signature of an Express clearing cookie (`sign("<name>=")`, docs/EXPRESS-COMPATIBILITY.md §4).
    pub(crate) fn clearing_sig(&self) -> Option<String> {
        match &self.inner {
            Inner::Express(codec) => Some(codec.sign(format!("{}=", self.name).as_bytes())),
            _ => None,
        }
    }
}

/// The cookies of one name, opened in header order: see [`Codec::candidates`].
pub(crate) struct Candidates<'a, V> {
    codec: &'a Codec,
    /// The Express format's single pair, taken once.
    express: Option<Result<Unsealed, Rejection>>,
    /// The native formats' values, opened one at a time as they are asked for.
    values: Option<V>,
    /// Whether native sessions are read lazily (see `format/data.rs`).
    lazy: bool,
    /// Where `encrypted` and `signed` values are decoded: an opened session's JSON leaves in
    /// its text buffer (that memory becomes the session's source text), a refused value's
    /// bytes stay; a lazily read session's entries take its vector.
    decoded: Decoded,
}

impl<V> Candidates<'_, V> {
    /// Reads native sessions lazily (the default, for the layer) or straight into a map (for
    /// [`Codec::open`], whose caller wants the map: one parse instead of a scan and a parse).
    pub(crate) fn lazy(mut self, lazy: bool) -> Self {
        self.lazy = lazy;
        self
    }

    /// The memory native values are decoded into (empty at first): swap an earlier
    /// request's in to reuse it. An opened session takes the text buffer, leaving it empty
    /// (and the entries' vector, when read lazily); a refused value's bytes stay in it.
    pub(crate) fn decoded(&mut self) -> &mut Decoded {
        &mut self.decoded
    }
}

impl<'h, V: Iterator<Item = &'h str>> Iterator for Candidates<'_, V> {
    type Item = Result<Unsealed, Rejection>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(express) = self.express.take() {
            return Some(express);
        }
        let value = self.values.as_mut()?.next()?;
        Some(self.codec.open_native(value, self.lazy, &mut self.decoded))
    }
}

impl Codec {
    /// Opens one native cookie value: authenticated first, then inflated and parsed. The
    /// `encrypted` and `signed` formats decode into `decoded`, whose memory the session
    /// then takes (see [`Candidates::decoded`]).
    fn open_native(
        &self,
        value: &str,
        lazy: bool,
        decoded: &mut Decoded,
    ) -> Result<Unsealed, Rejection> {
        let buffer = &mut decoded.text;
        if value.is_empty() {
            return Err(Rejection::Missing);
        }
        let mut opened = match &self.inner {
            // The JSON leaves with the opened value; the buffer's memory goes with it.
            Inner::Encrypted(codec) => native::opened(
                codec.open_in(&self.name, value, buffer)?,
                std::mem::take(buffer),
            ),
            Inner::Signed(codec) => native::opened(
                codec.open_in(&self.name, value, buffer)?,
                std::mem::take(buffer),
            ),
            #[cfg(feature = "jwt")]
            Inner::Jwt(codec) => codec.open(&self.name, value)?,
            // Never reached: the Express format has its own path in `candidates`.
            Inner::Express(_) => return Err(Rejection::Malformed),
        };
        // Inflated and deserialised only after authentication (docs/SECURITY-CHECKLIST.md items
        // 12 and 32); serde_json's recursion limit bounds nesting.
        if opened.json.first() == Some(&COMPRESSED) {
            let inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(
                &opened.json[1..],
                super::MAX_DECOMPRESSED_LEN,
            );
            // The deflated text goes back to the buffer (kept and wiped with it).
            let deflated = std::mem::take(&mut opened.json);
            if buffer.capacity() == 0 {
                *buffer = deflated;
            }
            opened.json = inflated.map_err(|_| Rejection::BadPayload)?;
        }
        let (data, canonical) = match self.inner {
            // Only our own serde_json output is sealed in these: read lazily, and the text
            // is the canonical form (`format/data.rs`).
            Inner::Encrypted(_) | Inner::Signed(_) if lazy => (
                Data::from_body_in(opened.json, decoded).ok_or(Rejection::BadPayload)?,
                Vec::new(),
            ),
            // Another service may have written the claims (`jwt`), or the caller wants the
            // map: parsed into one, as before.
            _ => {
                let json = match self.inner {
                    Inner::Encrypted(_) | Inner::Signed(_) => {
                        Data::json_of_body(opened.json).ok_or(Rejection::BadPayload)?
                    }
                    _ => opened.json,
                };
                (
                    serde_json::from_slice::<Map<String, Value>>(&json)
                        .map(Data::from_map)
                        .map_err(|_| Rejection::BadPayload)?,
                    json,
                )
            }
        };
        Ok(Unsealed {
            key_index: opened.key_index,
            times: opened.times,
            data,
            canonical,
        })
    }
}
