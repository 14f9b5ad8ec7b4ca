//! Independent verifiers written from the documented byte layouts (the module docs of
//! `format::encrypted`, `format::signed`, `format::jwt` and `format::express`), not from the
//! library's code.
//!
//! A fuzz target asserts that the library accepts a value exactly when the oracle says it is
//! authentic, and that both read the same times and payload out of it. The oracle only ever
//! uses the primitives (HKDF, HMAC, XChaCha20-Poly1305, the AES block cipher and AES-256-GCM,
//! base64, serde_json as a JSON parser);
//! every piece of glue — format byte, key id, nonce and tag offsets, AAD and MAC input,
//! canonical base64, length limit, JWT header and claims — is written again here, so a bug in
//! the library's glue shows up as a disagreement.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
// XAES-256-GCM (format version 2) from RustCrypto's `aes` block cipher and `aes-gcm` AEAD, not
// `ring`, which the library uses for the message.
use aes::cipher::BlockEncrypt;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The largest cookie value any decoder looks at (`format::MAX_INPUT_LEN`, documented).
pub const MAX_INPUT_LEN: usize = 8 * 4096;

/// What an authentic native value holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentic {
    /// Index in the ring of the key whose id the value names.
    pub key_index: usize,
    /// `created_at`, `issued_at`, `expires_at`.
    pub times: [u64; 3],
    /// The payload after the times (JSON, or 0x00 + deflate when compressed).
    pub payload: Vec<u8>,
}

fn hkdf(secret: &[u8], info: &[u8], out: &mut [u8]) {
    Hkdf::<Sha256>::new(None, secret)
        .expand(info, out)
        .expect("short HKDF outputs never fail");
}

/// The public key id: 4 bytes of HKDF-SHA256(secret, info = "cookie-session/v1/key-id").
pub fn key_id(secret: &[u8]) -> [u8; 4] {
    let mut id = [0u8; 4];
    hkdf(secret, b"cookie-session/v1/key-id", &mut id);
    id
}

/// Strict base64url: decodes, and re-encodes to exactly the same text (canonical).
fn b64(text: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    (URL_SAFE_NO_PAD.encode(&bytes) == text).then_some(bytes)
}

fn times(bytes: &[u8]) -> Option<([u64; 3], &[u8])> {
    if bytes.len() < 24 {
        return None;
    }
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        u64::from_be_bytes(b)
    };
    Some(([word(0), word(1), word(2)], &bytes[24..]))
}

fn find_key(secrets: &[&[u8]], kid: &[u8]) -> Option<usize> {
    secrets.iter().position(|s| key_id(s) == kid)
}

/// `encrypted`: base64url(format | kid (4) | nonce (24) | AEAD(times | JSON) | tag (16)),
/// AAD = "cookie-session/v<n>/encrypted\0" | format | kid | name, where format `0xE1` (v1) is
/// XChaCha20-Poly1305 and `0xE2` (v2) XAES-256-GCM, each under
/// HKDF-SHA256(secret, info = "cookie-session/v<n>/encrypted").
pub fn encrypted(secrets: &[&[u8]], name: &str, value: &str) -> Option<Authentic> {
    if value.len() > MAX_INPUT_LEN {
        return None;
    }
    let raw = b64(value)?;
    if raw.len() < 5 + 24 + 24 + 16 {
        return None;
    }
    let label: &[u8] = match raw[0] {
        0xE1 => b"cookie-session/v1/encrypted",
        0xE2 => b"cookie-session/v2/encrypted",
        _ => return None,
    };
    let key_index = find_key(secrets, &raw[1..5])?;
    let mut subkey = [0u8; 32];
    hkdf(secrets[key_index], label, &mut subkey);
    let mut aad = label.to_vec();
    aad.push(0);
    aad.extend_from_slice(&raw[..5]);
    aad.extend_from_slice(name.as_bytes());
    let payload = Payload {
        msg: &raw[29..],
        aad: &aad,
    };
    let nonce = &raw[5..29];
    let plain = if raw[0] == 0xE1 {
        XChaCha20Poly1305::new(Key::from_slice(&subkey))
            .decrypt(XNonce::from_slice(nonce), payload)
            .ok()?
    } else {
        xaes_256_gcm(&subkey, nonce)
            .decrypt(aes_gcm::Nonce::from_slice(&nonce[12..]), payload)
            .ok()?
    };
    let (times, payload) = times(&plain)?;
    Some(Authentic {
        key_index,
        times,
        payload: payload.to_vec(),
    })
}

/// The last byte of a native body that ends with the index of its entries.
pub const INDEXED: u8 = 0x01;

/// What the `encrypted` layer seals for `map` (`format/index.rs`, written from the layout it
/// documents): serde_json's compact text of the map, then for each entry the offsets from the
/// `{` of its key's closing quote and of the `,` or `}` after its value (u16, big-endian),
/// the number of entries (u16, big-endian) and [`INDEXED`].
pub fn indexed(map: &Map<String, Value>) -> Vec<u8> {
    let mut json = b"{".to_vec();
    let mut index = Vec::new();
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(&serde_json::to_vec(key).expect("a string"));
        let key_end = json.len() - 1;
        json.push(b':');
        json.extend_from_slice(&serde_json::to_vec(value).expect("a JSON value"));
        for offset in [key_end, json.len()] {
            index.extend_from_slice(&u16::try_from(offset).expect("a short text").to_be_bytes());
        }
    }
    json.push(b'}');
    assert_eq!(
        json,
        serde_json::to_vec(map).expect("a map"),
        "serde_json's text"
    );
    json.extend_from_slice(&index);
    json.extend_from_slice(&u16::try_from(map.len()).expect("few keys").to_be_bytes());
    json.push(INDEXED);
    json
}

/// The other direction of [`encrypted`], for targets that need an authentic value around a
/// plaintext of their choosing: version 1 (XChaCha20-Poly1305) under `secret`, bound to
/// `name`, `plaintext` being `times | JSON` as the library seals it.
pub fn encrypted_seal_v1(secret: &[u8], name: &str, nonce: [u8; 24], plaintext: &[u8]) -> String {
    let label: &[u8] = b"cookie-session/v1/encrypted";
    let mut subkey = [0u8; 32];
    hkdf(secret, label, &mut subkey);
    let mut raw = vec![0xE1];
    raw.extend_from_slice(&key_id(secret));
    let mut aad = label.to_vec();
    aad.push(0);
    aad.extend_from_slice(&raw);
    aad.extend_from_slice(name.as_bytes());
    let sealed = XChaCha20Poly1305::new(Key::from_slice(&subkey))
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 seals any length this target makes");
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&sealed);
    URL_SAFE_NO_PAD.encode(raw)
}

/// XAES-256-GCM as c2sp.org/XAES-256-GCM defines it: the AES-256-GCM keyed with
/// `K_X = AES_K(M1 ⊕ K1) ‖ AES_K(M2 ⊕ K1)`, where `K1` doubles `L = AES_K(0^128)` in GF(2^128)
/// and `M_i = 0x00 | i | "X" | 0x00 | nonce[..12]`. Its nonce is `nonce[12..]`.
fn xaes_256_gcm(key: &[u8; 32], nonce: &[u8]) -> aes_gcm::Aes256Gcm {
    let aes = aes::Aes256::new(key.into());
    let mut l = [0u8; 16].into();
    aes.encrypt_block(&mut l);
    let l = u128::from_be_bytes(l.into());
    let k1 = (l << 1) ^ if l >> 127 == 1 { 0x87 } else { 0 };
    let mut kx = [0u8; 32];
    for (i, half) in kx.chunks_mut(16).enumerate() {
        let mut m = [0u8; 16];
        m[1] = i as u8 + 1;
        m[2] = b'X';
        m[4..].copy_from_slice(&nonce[..12]);
        let mut block = (u128::from_be_bytes(m) ^ k1).to_be_bytes().into();
        aes.encrypt_block(&mut block);
        half.copy_from_slice(&block);
    }
    aes_gcm::Aes256Gcm::new(&kx.into())
}

/// `signed`: base64url(body) "." base64url(tag), body = 0x51 | kid | times | JSON,
/// tag = HMAC-SHA256(subkey, "cookie-session/v1/signed\0" | u32 BE len(name) | name | body).
pub fn signed(secrets: &[&[u8]], name: &str, value: &str) -> Option<Authentic> {
    if value.len() > MAX_INPUT_LEN {
        return None;
    }
    let (body, tag) = value.split_once('.')?;
    let (body, tag) = (b64(body)?, b64(tag)?);
    if tag.len() != 32 || body.len() < 5 + 24 || body[0] != 0x51 {
        return None;
    }
    let key_index = find_key(secrets, &body[1..5])?;
    let mut subkey = [0u8; 32];
    hkdf(secrets[key_index], b"cookie-session/v1/signed", &mut subkey);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&subkey).expect("any key length");
    mac.update(b"cookie-session/v1/signed\0");
    mac.update(&u32::try_from(name.len()).ok()?.to_be_bytes());
    mac.update(name.as_bytes());
    mac.update(&body);
    let expected = mac.finalize().into_bytes();
    if !bool::from(expected.as_slice().ct_eq(&tag)) {
        return None;
    }
    let (times, payload) = times(&body[5..])?;
    Some(Authentic {
        key_index,
        times,
        payload: payload.to_vec(),
    })
}

/// keygrip's algorithm of the `express` format.
#[derive(Debug, Clone, Copy)]
pub enum Keygrip {
    /// HMAC-SHA1 (the default).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

fn keygrip(alg: Keygrip, secret: &[u8], data: &[u8]) -> String {
    fn sign<M: Mac + KeyInit>(secret: &[u8], data: &[u8]) -> String {
        let mut mac = <M as KeyInit>::new_from_slice(secret).expect("any key length");
        mac.update(data);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
    match alg {
        Keygrip::Sha1 => sign::<Hmac<sha1::Sha1>>(secret, data),
        Keygrip::Sha256 => sign::<Hmac<Sha256>>(secret, data),
        Keygrip::Sha512 => sign::<Hmac<sha2::Sha512>>(secret, data),
    }
}

/// cookies 0.9.1's unquoting: a value starting with `"` loses its first and its last char.
pub fn unquote(value: &str) -> &str {
    match value.strip_prefix('"') {
        Some(rest) => {
            let mut chars = rest.chars();
            chars.next_back();
            chars.as_str()
        }
        None => value,
    }
}

/// `express`: the sig cookie is base64url-no-pad(HMAC(key, "<name>=<value>")) for the first
/// key that matches, after unquoting both; empty value or sig, or a value over the limit,
/// never verifies. Returns the index of the first matching key.
pub fn express(
    secrets: &[&[u8]],
    alg: Keygrip,
    name: &str,
    value: &str,
    sig: &str,
) -> Option<usize> {
    let (value, sig) = (unquote(value), unquote(sig));
    if value.is_empty() || sig.is_empty() || value.len() > MAX_INPUT_LEN {
        return None;
    }
    let data = format!("{name}={value}");
    secrets.iter().position(|s| {
        bool::from(
            keygrip(alg, s, data.as_bytes())
                .as_bytes()
                .ct_eq(sig.as_bytes()),
        )
    })
}

/// The `jwt` format's `kid`: the 4-byte key id as 8 lowercase hex digits.
pub fn jwt_kid(secret: &[u8]) -> String {
    key_id(secret).iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 over `input` keyed with the raw secret (no subkey: RFC 7518 §3.2's HS256).
fn hs256(secret: &[u8], input: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(input);
    mac.finalize().into_bytes().into()
}

/// A token for `header` and `claims` (JSON texts, taken as they are) signed with HS256 under
/// the raw `secret`: what another service holding the secret mints. For seeds and tests.
pub fn jwt_mint(secret: &[u8], header: &str, claims: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let tag = hs256(secret, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// The members of a JSON object, in order, as raw JSON texts; `None` for anything that is not
/// one JSON object, or that names a member twice (RFC 7515 §4 lets a JWS parser refuse
/// duplicates; a header or claims object where one member could shadow another is refused).
fn members(json: &[u8]) -> Option<Vec<(String, Box<serde_json::value::RawValue>)>> {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;

    struct Members(Option<Vec<(String, Box<RawValue>)>>);
    struct MembersVisitor;
    impl<'de> Visitor<'de> for MembersVisitor {
        type Value = Members;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
            let mut out: Vec<(String, Box<RawValue>)> = Vec::new();
            let mut unique = true;
            while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                unique &= !out.iter().any(|(k, _)| *k == key);
                out.push((key, value));
            }
            Ok(Members(unique.then_some(out)))
        }
    }
    impl<'de> Deserialize<'de> for Members {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(MembersVisitor)
        }
    }
    serde_json::from_slice::<Members>(json).ok()?.0
}

/// Steps 1 to 5 of `jwt`: the size, exactly three strict base64url parts, the header (exactly
/// `alg` = "HS256", an optional `typ` = "JWT", and a `kid`), the key the kid names, and the
/// HS256 tag (32 bytes) over `base64url(header) "." base64url(claims)` under its raw secret.
/// Returns the key's index and the claims' bytes, not yet looked at.
pub fn jwt_verify(secrets: &[&[u8]], value: &str) -> Option<(usize, Vec<u8>)> {
    if value.len() > MAX_INPUT_LEN {
        return None;
    }
    let parts: Vec<&str> = value.split('.').collect();
    let [header_text, claims_text, tag_text] = parts[..] else {
        return None;
    };
    let (header, claims, tag) = (b64(header_text)?, b64(claims_text)?, b64(tag_text)?);
    if tag.len() != 32 {
        return None;
    }
    let (mut alg, mut typ, mut kid) = (None, None, None);
    for (name, raw) in members(&header)? {
        let text: String = serde_json::from_str(raw.get()).ok()?;
        match name.as_str() {
            "alg" => alg = Some(text),
            "typ" => typ = Some(text),
            "kid" => kid = Some(text),
            _ => return None,
        }
    }
    if alg.as_deref() != Some("HS256") || typ.as_deref().is_some_and(|t| t != "JWT") {
        return None;
    }
    let kid = kid?;
    let key_index = secrets.iter().position(|s| jwt_kid(s) == kid)?;
    let input = &value[..header_text.len() + 1 + claims_text.len()];
    let expected = hs256(secrets[key_index], input.as_bytes());
    if !bool::from(expected.as_slice().ct_eq(&tag)) {
        return None;
    }
    Some((key_index, claims))
}

/// `jwt`: base64url(header) "." base64url(claims) "." base64url(HS256 tag), verified as in
/// [`jwt_verify`], then claims of exactly `iat`, `exp`, `cat` (integers, 0 to 2^64 - 1),
/// `aud` (a string, the cookie name) and `ses` (a JSON object, the payload, as written).
/// `times` are `[cat, iat, exp]`.
pub fn jwt(secrets: &[&[u8]], name: &str, value: &str) -> Option<Authentic> {
    let (key_index, claims) = jwt_verify(secrets, value)?;
    let (mut iat, mut exp, mut cat, mut aud, mut ses) = (None, None, None, None, None);
    for (member, raw) in members(&claims)? {
        let raw = raw.get();
        match member.as_str() {
            "iat" => iat = Some(serde_json::from_str::<u64>(raw).ok()?),
            "exp" => exp = Some(serde_json::from_str::<u64>(raw).ok()?),
            "cat" => cat = Some(serde_json::from_str::<u64>(raw).ok()?),
            "aud" => aud = Some(serde_json::from_str::<String>(raw).ok()?),
            // A raw JSON value: an object exactly when it starts with `{`.
            "ses" if raw.starts_with('{') => ses = Some(raw.as_bytes().to_vec()),
            _ => return None,
        }
    }
    if aud? != name {
        return None;
    }
    Some(Authentic {
        key_index,
        times: [cat?, iat?, exp?],
        payload: ses?,
    })
}

/// express-session 1.19's `unsigncookie` (cookie-signature 1.0.7), written independently of
/// the library: `value` must be `s:` + `sid` + `.` + base64 (standard alphabet, no `=`) of
/// HMAC-SHA256(secret, sid), the sid being everything before the last `.`; the first secret
/// that verifies wins. `(sid, secret index)`.
pub fn express_session(secrets: &[&[u8]], value: &str) -> Option<(String, usize)> {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let signed = value.strip_prefix("s:")?;
    let dot = signed.rfind('.')?;
    let (sid, sig) = (&signed[..dot], &signed[dot + 1..]);
    secrets
        .iter()
        .position(|secret| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
            mac.update(sid.as_bytes());
            let expected = STANDARD_NO_PAD.encode(mac.finalize().into_bytes());
            bool::from(expected.as_bytes().ct_eq(sig.as_bytes()))
        })
        .map(|index| (sid.to_owned(), index))
}
