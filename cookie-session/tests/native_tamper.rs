//! The tamper matrix for the native formats (docs/SECURITY-CHECKLIST.md §8.1 and §8.3): the same
//! assertions run against both versions of `encrypted` (XChaCha20-Poly1305 `0xE1`, XAES-256-GCM
//! `0xE2`, each pinned so both run on any CPU), `signed` and (feature `jwt`) `jwt` through the
//! [`Codec`] trait below.
//!
//! "Rejected" here means `open` returns `Err` and does not panic; where the reason is
//! determined by the layout (format byte → malformed, key id → unknown key, anything else →
//! bad signature) the exact [`Rejection`] is asserted too.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cookie_session::format::encrypted::{Cipher, EncryptedCodec};
#[cfg(feature = "jwt")]
use cookie_session::format::jwt::JwtCodec;
use cookie_session::format::signed::SignedCodec;
use cookie_session::format::{Opened, Timestamps, MAX_INPUT_LEN};
use cookie_session::{KeyError, KeyRing, Rejection};
use proptest::prelude::*;

const SECRET: &str = "secret-number-one-is-32-bytes-long!";
const OTHER: &str = "secret-number-two-is-32-bytes-long!";
const NAME: &str = "session";
const JSON: &[u8] = br#"{"user":42,"role":"admin"}"#;
const TIMES: Timestamps = Timestamps {
    created_at: 1_700_000_000,
    issued_at: 1_700_000_100,
    expires_at: 1_700_086_500,
};
const B64_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// What the matrix needs from a codec, plus how its value splits into raw byte parts.
trait Codec: Sized + std::fmt::Debug {
    /// The format byte (the first byte of the first part).
    const FORMAT: u8;
    /// Format bytes of other versions of the same format: a value given one of them has the
    /// layout, so it is refused by its tag (the byte is authenticated), not as malformed.
    const SIBLINGS: &'static [u8] = &[];
    /// Two 8-byte authenticated fields to swap: the part and the two offsets (created ↔
    /// expires, or nonce ↔ ciphertext, by default).
    const SWAP: (usize, usize, usize) = (0, 5, 5 + 16);
    /// The rejections a flipped bit in byte `i` of part `p` may give (one, where the layout
    /// decides it): the format byte, then the key id, then anything authenticated.
    fn flip_rejections(p: usize, i: usize) -> &'static [Rejection] {
        match (p, i) {
            (0, 0) => &[Rejection::Malformed],
            (0, 1..=4) => &[Rejection::UnknownKey],
            _ => &[Rejection::BadSignature],
        }
    }
    /// What the codec is given to seal from arbitrary bytes (formats that seal a JSON object
    /// wrap them in one).
    fn payload(bytes: &[u8]) -> Vec<u8> {
        bytes.to_vec()
    }
    fn build(ring: &KeyRing) -> Result<Self, KeyError>;
    fn seal(&self, name: &str, times: Timestamps, json: &[u8]) -> String;
    fn open(&self, name: &str, value: &str) -> Result<Opened, Rejection>;
    /// The decoded byte strings of a value (one for encrypted; body and tag for signed).
    fn split(value: &str) -> Vec<Vec<u8>>;
    /// The inverse of `split`.
    fn join(parts: &[Vec<u8>]) -> String;
}

/// The `encrypted` codec pinned to the version of format byte `V`.
#[derive(Debug)]
struct Encrypted<const V: u8>(EncryptedCodec);

/// Version 1: XChaCha20-Poly1305.
type EncryptedV1 = Encrypted<0xE1>;
/// Version 2: XAES-256-GCM.
type EncryptedV2 = Encrypted<0xE2>;

/// The sealing cipher of each version, for the format-specific tests below.
const CIPHERS: [(Cipher, u8); 2] = [
    (Cipher::XChaCha20Poly1305, 0xE1),
    (Cipher::Xaes256Gcm, 0xE2),
];

fn pinned(secrets: &[&str], cipher: Cipher) -> EncryptedCodec {
    EncryptedCodec::with_cipher(&KeyRing::new(secrets).unwrap(), cipher).unwrap()
}

impl<const V: u8> Codec for Encrypted<V> {
    const FORMAT: u8 = V;
    const SIBLINGS: &'static [u8] = if V == 0xE1 { &[0xE2] } else { &[0xE1] };
    fn build(ring: &KeyRing) -> Result<Self, KeyError> {
        let cipher = if V == 0xE2 {
            Cipher::Xaes256Gcm
        } else {
            Cipher::XChaCha20Poly1305
        };
        EncryptedCodec::with_cipher(ring, cipher).map(Self)
    }
    fn seal(&self, name: &str, times: Timestamps, json: &[u8]) -> String {
        let value = self.0.seal(name, times, json);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&value).unwrap()[0],
            V,
            "pinned version"
        );
        value
    }
    fn open(&self, name: &str, value: &str) -> Result<Opened, Rejection> {
        self.0.open(name, value)
    }
    fn split(value: &str) -> Vec<Vec<u8>> {
        vec![URL_SAFE_NO_PAD.decode(value).unwrap()]
    }
    fn join(parts: &[Vec<u8>]) -> String {
        assert_eq!(parts.len(), 1);
        URL_SAFE_NO_PAD.encode(&parts[0])
    }
}

impl Codec for SignedCodec {
    const FORMAT: u8 = 0x51;
    fn build(ring: &KeyRing) -> Result<Self, KeyError> {
        SignedCodec::new(ring)
    }
    fn seal(&self, name: &str, times: Timestamps, json: &[u8]) -> String {
        SignedCodec::seal(self, name, times, json)
    }
    fn open(&self, name: &str, value: &str) -> Result<Opened, Rejection> {
        SignedCodec::open(self, name, value)
    }
    fn split(value: &str) -> Vec<Vec<u8>> {
        value
            .split('.')
            .map(|part| URL_SAFE_NO_PAD.decode(part).unwrap())
            .collect()
    }
    fn join(parts: &[Vec<u8>]) -> String {
        parts
            .iter()
            .map(|part| URL_SAFE_NO_PAD.encode(part))
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// The `jwt` format: three base64url parts, the header being JSON. Its header has no fixed
/// offsets, so a flipped header bit may give any of three rejections (never success).
#[cfg(feature = "jwt")]
impl Codec for JwtCodec {
    const FORMAT: u8 = b'{';
    /// `iat` ↔ `exp` in the claims.
    const SWAP: (usize, usize, usize) = (1, 1, 1 + 16);
    fn flip_rejections(p: usize, _: usize) -> &'static [Rejection] {
        match p {
            0 => &[
                Rejection::Malformed,
                Rejection::UnknownKey,
                Rejection::BadSignature,
            ],
            _ => &[Rejection::BadSignature],
        }
    }
    fn payload(bytes: &[u8]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "bytes": bytes,
            "text": String::from_utf8_lossy(bytes),
        }))
        .unwrap()
    }
    fn build(ring: &KeyRing) -> Result<Self, KeyError> {
        JwtCodec::new(ring)
    }
    fn seal(&self, name: &str, times: Timestamps, json: &[u8]) -> String {
        JwtCodec::seal(self, name, times, json)
    }
    fn open(&self, name: &str, value: &str) -> Result<Opened, Rejection> {
        JwtCodec::open(self, name, value)
    }
    fn split(value: &str) -> Vec<Vec<u8>> {
        <SignedCodec as Codec>::split(value)
    }
    fn join(parts: &[Vec<u8>]) -> String {
        <SignedCodec as Codec>::join(parts)
    }
}

fn codec<C: Codec>(secrets: &[&str]) -> C {
    C::build(&KeyRing::new(secrets).unwrap()).unwrap()
}

fn sealed<C: Codec>() -> (C, String) {
    let codec = codec::<C>(&[SECRET]);
    let value = codec.seal(NAME, TIMES, JSON);
    (codec, value)
}

// ---- the assertions, generic over both formats ----

fn round_trip<C: Codec>() {
    let (codec, value) = sealed::<C>();
    assert!(value.is_ascii());
    assert_eq!(
        codec.open(NAME, &value),
        Ok(Opened {
            key_index: 0,
            times: Some(TIMES),
            json: JSON.to_vec()
        })
    );
    // Extreme times and an empty payload survive too (no time check happens in the codec).
    let extreme = Timestamps {
        created_at: 0,
        issued_at: u64::MAX,
        expires_at: 0,
    };
    let value = codec.seal(NAME, extreme, b"");
    assert_eq!(codec.open(NAME, &value).unwrap().times, Some(extreme));
}

fn every_bit_flip_is_rejected<C: Codec>() {
    let (codec, value) = sealed::<C>();
    let parts = C::split(&value);
    let mut tried = 0;
    for (p, part) in parts.iter().enumerate() {
        for i in 0..part.len() {
            for bit in 0..8 {
                let mut parts = parts.clone();
                parts[p][i] ^= 1 << bit;
                let got = codec.open(NAME, &C::join(&parts));
                let expected = C::flip_rejections(p, i);
                assert!(
                    got.as_ref().is_err_and(|e| expected.contains(e)),
                    "part {p} byte {i} bit {bit}: {got:?}, expected one of {expected:?}"
                );
                tried += 1;
            }
        }
    }
    assert!(tried > 8 * (1 + 4 + 24 + JSON.len()));
}

fn every_character_substitution_is_rejected<C: Codec>() {
    let (codec, value) = sealed::<C>();
    let bytes = value.as_bytes();
    for i in 0..bytes.len() {
        for &c in B64_CHARS.iter().chain(b".=+/ ") {
            if c == bytes[i] {
                continue;
            }
            let mut changed = bytes.to_vec();
            changed[i] = c;
            let changed = String::from_utf8(changed).unwrap();
            assert!(
                codec.open(NAME, &changed).is_err(),
                "position {i} -> {:?}",
                c as char
            );
        }
    }
}

fn every_truncation_is_rejected<C: Codec>() {
    let (codec, value) = sealed::<C>();
    for len in 0..value.len() {
        assert!(
            codec.open(NAME, &value[..len]).is_err(),
            "text truncated to {len}"
        );
    }
    // Dropping raw bytes (re-encoded canonically), including exactly one byte of the tag.
    let parts = C::split(&value);
    for (p, part) in parts.iter().enumerate() {
        for len in 0..part.len() {
            let mut parts = parts.clone();
            parts[p].truncate(len);
            assert!(
                codec.open(NAME, &C::join(&parts)).is_err(),
                "part {p} truncated to {len}"
            );
        }
    }
}

fn every_extension_is_rejected<C: Codec>() {
    let (codec, value) = sealed::<C>();
    for suffix in [
        "A", "AA", "AAA", "AAAA", " ", "\t", ".", ".A", "=", "==", ";", "\n",
    ] {
        let longer = format!("{value}{suffix}");
        assert!(codec.open(NAME, &longer).is_err(), "suffix {suffix:?}");
        let prefixed = format!("{suffix}{value}");
        assert!(codec.open(NAME, &prefixed).is_err(), "prefix {suffix:?}");
    }
    let parts = C::split(&value);
    for (p, _) in parts.iter().enumerate() {
        for byte in [0u8, b' ', 0xff] {
            let mut longer = parts.clone();
            longer[p].push(byte);
            assert!(
                codec.open(NAME, &C::join(&longer)).is_err(),
                "part {p} + {byte:#x}"
            );
        }
    }
}

fn components_cannot_be_reordered<C: Codec>() {
    let (codec, value) = sealed::<C>();
    let parts = C::split(&value);
    if parts.len() >= 2 {
        let mut swapped = parts.clone();
        swapped.swap(0, 1);
        assert_eq!(
            codec.open(NAME, &C::join(&swapped)),
            Err(Rejection::Malformed)
        );
    }
    // Swap two 8-byte authenticated fields (nonce ↔ ciphertext, created ↔ expires, iat ↔ exp).
    let mut raw = parts.clone();
    let (p, a, b) = C::SWAP;
    for k in 0..8 {
        raw[p].swap(a + k, b + k);
    }
    assert_eq!(
        codec.open(NAME, &C::join(&raw)),
        Err(Rejection::BadSignature)
    );
}

fn cookie_name_is_bound<C: Codec>() {
    let (codec, value) = sealed::<C>();
    for other in [
        "", "Session", "session ", "sessio", "sessionn", "other", "a",
    ] {
        assert_eq!(
            codec.open(other, &value),
            Err(Rejection::BadSignature),
            "{other:?}"
        );
    }
    let a = codec.seal("a", TIMES, JSON);
    assert!(codec.open("a", &a).is_ok());
    assert_eq!(codec.open("b", &a), Err(Rejection::BadSignature));
}

fn keys_and_rotation<C: Codec>() {
    let (_, old_value) = sealed::<C>();
    // A ring that never had the key: unknown key id.
    let stranger = codec::<C>(&[OTHER]);
    assert_eq!(stranger.open(NAME, &old_value), Err(Rejection::UnknownKey));
    // Rotation: the new key first, the old one second, opens with index 1...
    let rotated = codec::<C>(&[OTHER, SECRET]);
    let opened = rotated.open(NAME, &old_value).unwrap();
    assert_eq!(opened.key_index, 1);
    assert_eq!(opened.json, JSON);
    // ...and what the rotated ring seals verifies under the new key alone (docs/SECURITY-CHECKLIST.md item 24).
    let new_value = rotated.seal(NAME, TIMES, JSON);
    assert_eq!(rotated.open(NAME, &new_value).unwrap().key_index, 0);
    assert_eq!(stranger.open(NAME, &new_value).unwrap().key_index, 0);
    // Once the old key is dropped, its cookies are gone.
    assert_eq!(stranger.open(NAME, &old_value), Err(Rejection::UnknownKey));
    // Construction refuses short or repeated secrets.
    assert!(matches!(
        C::build(&KeyRing::new(["short"]).unwrap()),
        Err(KeyError::TooShort { .. })
    ));
    assert!(matches!(
        C::build(&KeyRing::new([SECRET, OTHER, SECRET]).unwrap()),
        Err(KeyError::Duplicate {
            first: 0,
            second: 2
        })
    ));
}

fn unknown_format_bytes_are_malformed<C: Codec>() {
    let (codec, value) = sealed::<C>();
    let parts = C::split(&value);
    for byte in 0..=255u8 {
        if byte == C::FORMAT {
            continue;
        }
        let mut parts = parts.clone();
        parts[0][0] = byte;
        // Another version's byte: the layout holds, and the tag refuses it (the byte is in
        // the AAD and each version has its own subkey).
        let expected = if C::SIBLINGS.contains(&byte) {
            Rejection::BadSignature
        } else {
            Rejection::Malformed
        };
        assert_eq!(
            codec.open(NAME, &C::join(&parts)),
            Err(expected),
            "{byte:#x}"
        );
    }
}

fn garbage_is_rejected_without_panic<C: Codec>() {
    let (codec, value) = sealed::<C>();
    let huge = "A".repeat(10 * 1024);
    let just_over = "A".repeat(MAX_INPUT_LEN + 1);
    let mut garbage: Vec<String> = vec![
        String::new(),
        ".".into(),
        "..".into(),
        "not base64!".into(),
        "{\"user\":42}".into(),
        URL_SAFE_NO_PAD.encode(JSON),
        format!("{}.", URL_SAFE_NO_PAD.encode(JSON)),
        format!("{}=", value),
        format!("{}+", &value[..value.len() - 1]),
        format!("{}/", &value[..value.len() - 1]),
        "\u{0}".repeat(100),
        "£".repeat(100),
        huge,
        just_over,
    ];
    // The standard alphabet in place of the URL-safe one, wherever the value has `-` or `_`.
    for (i, c) in value.char_indices() {
        let standard = match c {
            '-' => "+",
            '_' => "/",
            _ => continue,
        };
        garbage.push(format!("{}{standard}{}", &value[..i], &value[i + 1..]));
    }
    // A `£` (two UTF-8 bytes) inserted at and substituted for every offset.
    for i in 0..value.len() {
        garbage.push(format!("{}£{}", &value[..i], &value[i..]));
        garbage.push(format!("{}£{}", &value[..i], &value[i + 1..]));
        garbage.push(format!("{}é", &value[..i]));
    }
    for g in &garbage {
        assert!(codec.open(NAME, g).is_err(), "{g:?}");
    }
    assert_eq!(
        codec.open(NAME, &"A".repeat(10 * 1024)),
        Err(Rejection::Malformed)
    );
}

fn forged_unsigned_payload_is_rejected<C: Codec>() {
    let (codec, value) = sealed::<C>();
    // A body with an all-zero tag, and with a tag copied from another value.
    let parts = C::split(&value);
    let mut zero_tag = parts.clone();
    let last = zero_tag.len() - 1;
    let tag_start = zero_tag[last].len() - if last == 0 { 16 } else { 32 };
    zero_tag[last][tag_start..].fill(0);
    assert_eq!(
        codec.open(NAME, &C::join(&zero_tag)),
        Err(Rejection::BadSignature)
    );
    let other_value = codec.seal(NAME, TIMES, br#"{"user":1}"#);
    let other_parts = C::split(&other_value);
    let mut spliced = parts.clone();
    let other_tag =
        &other_parts[last][other_parts[last].len() - (spliced[last].len() - tag_start)..];
    spliced[last].truncate(tag_start);
    spliced[last].extend_from_slice(other_tag);
    assert_eq!(
        codec.open(NAME, &C::join(&spliced)),
        Err(Rejection::BadSignature)
    );
}

fn debug_shows_no_key_material<C: Codec>() {
    let codec = codec::<C>(&[SECRET, OTHER]);
    let debug = format!("{codec:?} {codec:#?}");
    assert!(debug.contains("keys: 2"), "{debug}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(!debug.contains('['), "no byte arrays: {debug}");
}

macro_rules! matrix {
    ($module:ident, $codec:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn round_trip() {
                super::round_trip::<$codec>();
            }
            #[test]
            fn every_bit_flip_is_rejected() {
                super::every_bit_flip_is_rejected::<$codec>();
            }
            #[test]
            fn every_character_substitution_is_rejected() {
                super::every_character_substitution_is_rejected::<$codec>();
            }
            #[test]
            fn every_truncation_is_rejected() {
                super::every_truncation_is_rejected::<$codec>();
            }
            #[test]
            fn every_extension_is_rejected() {
                super::every_extension_is_rejected::<$codec>();
            }
            #[test]
            fn components_cannot_be_reordered() {
                super::components_cannot_be_reordered::<$codec>();
            }
            #[test]
            fn cookie_name_is_bound() {
                super::cookie_name_is_bound::<$codec>();
            }
            #[test]
            fn keys_and_rotation() {
                super::keys_and_rotation::<$codec>();
            }
            #[test]
            fn unknown_format_bytes_are_malformed() {
                super::unknown_format_bytes_are_malformed::<$codec>();
            }
            #[test]
            fn garbage_is_rejected_without_panic() {
                super::garbage_is_rejected_without_panic::<$codec>();
            }
            #[test]
            fn forged_unsigned_payload_is_rejected() {
                super::forged_unsigned_payload_is_rejected::<$codec>();
            }
            #[test]
            fn debug_shows_no_key_material() {
                super::debug_shows_no_key_material::<$codec>();
            }

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(64))]

                #[test]
                fn round_trip_any_input(
                    json in proptest::collection::vec(any::<u8>(), 0..512),
                    created_at: u64,
                    issued_at: u64,
                    expires_at: u64,
                    name in "[!#-+\\--:<-\\[\\]-~]{1,40}",
                ) {
                    let codec = codec::<$codec>(&[SECRET]);
                    let json = <$codec as Codec>::payload(&json);
                    let times = Timestamps { created_at, issued_at, expires_at };
                    let value = codec.seal(&name, times, &json);
                    let opened = codec.open(&name, &value).unwrap();
                    prop_assert_eq!(opened, Opened { key_index: 0, times: Some(times), json });
                }

                #[test]
                fn any_text_is_rejected_without_panic(value in "\\PC{0,200}") {
                    let codec = codec::<$codec>(&[SECRET]);
                    prop_assert!(codec.open(NAME, &value).is_err());
                }

                #[test]
                fn any_byte_string_is_rejected_without_panic(
                    parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..4),
                ) {
                    let codec = codec::<$codec>(&[SECRET]);
                    let value = parts.iter().map(|p| URL_SAFE_NO_PAD.encode(p)).collect::<Vec<_>>().join(".");
                    prop_assert!(codec.open(NAME, &value).is_err());
                }
            }
        }
    };
}

matrix!(encrypted, EncryptedV1);
matrix!(encrypted_v2, EncryptedV2);
matrix!(signed, SignedCodec);
#[cfg(feature = "jwt")]
matrix!(jwt, JwtCodec);

// ---- format-specific ----

#[test]
fn cross_format_values_are_rejected() {
    for (cipher, format) in CIPHERS {
        cross_format_values_are_rejected_with(pinned(&[SECRET], cipher), format);
    }
}

fn cross_format_values_are_rejected_with(encrypted: EncryptedCodec, format: u8) {
    let signed = codec::<SignedCodec>(&[SECRET]);
    let e = encrypted.seal(NAME, TIMES, JSON);
    let s = signed.seal(NAME, TIMES, JSON);
    assert_eq!(signed.open(NAME, &e), Err(Rejection::Malformed));
    assert_eq!(encrypted.open(NAME, &s), Err(Rejection::Malformed));
    // The signed body alone (no '.', so valid base64url) has the wrong format byte.
    let (body, tag) = s.split_once('.').unwrap();
    assert_eq!(encrypted.open(NAME, body), Err(Rejection::Malformed));
    assert_eq!(
        encrypted.open(NAME, &format!("{body}{tag}")),
        Err(Rejection::Malformed)
    );
    // Even with the format byte rewritten, the domain-separated subkeys do not verify.
    let mut raw = URL_SAFE_NO_PAD.decode(body).unwrap();
    raw[0] = format;
    raw.extend_from_slice(&[0u8; 64]);
    assert_eq!(
        encrypted.open(NAME, &URL_SAFE_NO_PAD.encode(&raw)),
        Err(Rejection::BadSignature)
    );
    let mut raw = URL_SAFE_NO_PAD.decode(&e).unwrap();
    raw[0] = 0x51;
    let (body, tag) = raw.split_at(raw.len() - 32);
    let forged = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(body),
        URL_SAFE_NO_PAD.encode(tag)
    );
    assert_eq!(signed.open(NAME, &forged), Err(Rejection::BadSignature));
}

/// A JWT given to the other native codecs and theirs to it: refused on structure, and even
/// a JWT-shaped value with a native body does not verify (the raw secret is never a subkey).
#[cfg(feature = "jwt")]
#[test]
fn cross_format_values_are_rejected_with_jwt() {
    for (cipher, _) in CIPHERS {
        cross_format_values_are_rejected_with_jwt_and(pinned(&[SECRET], cipher));
    }
}

#[cfg(feature = "jwt")]
fn cross_format_values_are_rejected_with_jwt_and(encrypted: EncryptedCodec) {
    let signed = codec::<SignedCodec>(&[SECRET]);
    let jwt = codec::<JwtCodec>(&[SECRET]);
    let e = encrypted.seal(NAME, TIMES, JSON);
    let s = signed.seal(NAME, TIMES, JSON);
    let j = jwt.seal(NAME, TIMES, JSON);
    assert_eq!(jwt.open(NAME, &j).unwrap().json, JSON);
    assert_eq!(encrypted.open(NAME, &j), Err(Rejection::Malformed));
    assert_eq!(signed.open(NAME, &j), Err(Rejection::Malformed));
    assert_eq!(jwt.open(NAME, &e), Err(Rejection::Malformed));
    assert_eq!(jwt.open(NAME, &s), Err(Rejection::Malformed));
    // Each part of the JWT, and pairs of them, are no value of another format.
    let parts: Vec<&str> = j.split('.').collect();
    for candidate in [
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{}", parts[1], parts[2]),
        format!("{}{}{}", parts[0], parts[1], parts[2]),
    ] {
        assert!(encrypted.open(NAME, &candidate).is_err(), "{candidate}");
        assert!(signed.open(NAME, &candidate).is_err(), "{candidate}");
    }
    // A signed value's body and tag wrapped in a valid JWT header: the tag was made with a
    // subkey over another input, so it does not verify as HS256 under the raw secret.
    let (body, tag) = s.split_once('.').unwrap();
    let header = j.split('.').next().unwrap();
    assert_eq!(
        jwt.open(NAME, &format!("{header}.{body}.{tag}")),
        Err(Rejection::BadSignature)
    );
    // And a JWT's claims and tag behind a signed body: wrong format byte.
    assert_eq!(
        signed.open(NAME, &format!("{}.{}", parts[1], parts[2])),
        Err(Rejection::Malformed)
    );
}

/// Full seals: 100 000 in an optimized build (`cargo test --release`), 10 000 otherwise, where
/// unoptimized XChaCha20 takes ~75 µs a seal. The unit test `nonces_never_repeat` draws
/// 100 000 nonces from the same source in every build.
const SEALS: usize = if cfg!(debug_assertions) {
    10_000
} else {
    100_000
};

#[test]
fn encrypted_seals_differ_and_nonces_never_repeat() {
    for (cipher, _) in CIPHERS {
        seals_differ_and_nonces_never_repeat(pinned(&[SECRET], cipher));
    }
}

fn seals_differ_and_nonces_never_repeat(codec: EncryptedCodec) {
    assert_ne!(codec.seal(NAME, TIMES, JSON), codec.seal(NAME, TIMES, JSON));
    let mut nonces = HashSet::with_capacity(SEALS);
    for _ in 0..SEALS {
        let raw = URL_SAFE_NO_PAD
            .decode(codec.seal(NAME, TIMES, b""))
            .unwrap();
        let nonce: [u8; 24] = raw[5..29].try_into().unwrap();
        assert!(nonces.insert(nonce), "nonce repeated");
    }
}

#[test]
fn encrypted_payload_is_not_readable() {
    for (cipher, _) in CIPHERS {
        let codec = pinned(&[SECRET], cipher);
        let raw = URL_SAFE_NO_PAD
            .decode(codec.seal(NAME, TIMES, JSON))
            .unwrap();
        assert!(!raw.windows(6).any(|w| w == b"\"user\""));
        assert!(!raw.windows(8).any(|w| w == TIMES.expires_at.to_be_bytes()));
    }
}

/// The two versions have the same layout and length for the same session (a value reveals
/// nothing more in version 2), and each codec opens the other version's values.
#[test]
fn encrypted_versions_have_one_layout_and_open_each_other() {
    let v1 = pinned(&[SECRET], Cipher::XChaCha20Poly1305);
    let v2 = pinned(&[SECRET], Cipher::Xaes256Gcm);
    let auto = EncryptedCodec::new(&KeyRing::new([SECRET]).unwrap()).unwrap();
    let a = URL_SAFE_NO_PAD.decode(v1.seal(NAME, TIMES, JSON)).unwrap();
    let b = URL_SAFE_NO_PAD.decode(v2.seal(NAME, TIMES, JSON)).unwrap();
    assert_eq!(a.len(), b.len());
    assert_eq!((a[0], b[0]), (0xE1, 0xE2));
    assert_eq!(a[1..5], b[1..5], "one key id");
    let (a, b) = (URL_SAFE_NO_PAD.encode(&a), URL_SAFE_NO_PAD.encode(&b));
    for codec in [&v1, &v2, &auto] {
        assert_eq!(codec.open(NAME, &a).unwrap().json, JSON);
        assert_eq!(codec.open(NAME, &b).unwrap().json, JSON);
    }
}

#[test]
fn signed_seal_is_deterministic_and_readable() {
    let codec = codec::<SignedCodec>(&[SECRET]);
    let value = codec.seal(NAME, TIMES, JSON);
    assert_eq!(value, codec.seal(NAME, TIMES, JSON));
    let body = URL_SAFE_NO_PAD
        .decode(value.split_once('.').unwrap().0)
        .unwrap();
    assert!(body.ends_with(JSON));
}
