//! `codec-loop OP SIZE N`: runs one codec operation N times, for `callgrind` (instructions
//! per operation are deterministic, unlike times on a shared machine). `bench/codec-profile.sh`
//! drives it. The operations mirror `cookie-session/benches/codec.rs`:
//!
//! - `encode-<format>` / `decode-<format>`: the library's `Codec` (canonical + seal, open);
//!   `decodeforeign-<format>`: open a value another `Codec` of the same keys sealed (for
//!   `encryptedv2`, a nonce prefix the opening codec has not cached);
//! - `floor-<format>-encode` / `floor-<format>-decode`: serde_json each way, the bare AEAD or
//!   HMAC with a prebuilt cipher or keyed MAC, and base64 of the bytes;
//! - `xchacha-ring` (the format's XChaCha20-Poly1305: HChaCha20 + `ring`), `xchacha` (the
//!   `chacha20poly1305` crate's), `chacha`, `aesgcm`, `aesgcm-ring`, `xaes-ring` (the format's
//!   XAES-256-GCM: the `aes` block + `ring`'s AES-256-GCM), `xaes-aesgcm` (the same with
//!   RustCrypto's `aes-gcm`), `hmac256` (RustCrypto's `hmac` + `sha2`, the `signed` format's
//!   MAC), `hmac256-ring` (`ring`'s, measured against it): one seal or MAC of SIZE bytes;
//!   `xaes-ring-open` and `xchacha-ring-open`: one open.
//!
//! The `encrypted` format is `encrypted` (the cipher the CPU picks), `encryptedv1`
//! (XChaCha20-Poly1305 pinned) or `encryptedv2` (XAES-256-GCM pinned).

#[path = "../../cookie-session/benches/support/xaes.rs"]
mod xaes;
#[path = "../../cookie-session/benches/support/xchacha_ring.rs"]
mod xchacha_floor;

use std::borrow::Cow;
use std::hint::black_box;

use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use cookie_session::format::{Cipher, Codec, Format, SigAlgorithm, Timestamps};
use cookie_session::KeyRing;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::Sha256;

use xchacha_floor::xchacha_ring;

const SECRET: &str = "bench-secret-0123456789abcdef-0123456789abcdef";
const TIMES: Timestamps = Timestamps {
    created_at: 1_700_000_000,
    issued_at: 1_700_000_100,
    expires_at: 1_700_086_500,
};

fn session(size: usize) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("views".into(), 7.into());
    map.insert("user_id".into(), 42.into());
    map.insert("csrf".into(), "0123456789abcdef0123456789abcdef".into());
    if size > 66 {
        map.insert("pad".into(), "x".repeat(size - 75).into());
    }
    map
}

fn format(name: &str) -> Format {
    match name {
        "encrypted" | "encryptedv1" | "encryptedv2" => Format::Encrypted,
        "signed" => Format::Signed,
        _ => Format::Express(SigAlgorithm::Sha1),
    }
}

fn codec(name: &str, ring: &KeyRing) -> Codec {
    let cipher = match name {
        "encryptedv1" => Cipher::XChaCha20Poly1305,
        "encryptedv2" => Cipher::Xaes256Gcm,
        _ => Cipher::Auto,
    };
    Codec::new(format(name), ring, "session")
        .expect("codec")
        .with_cipher(cipher)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (op, size, n) = match args.as_slice() {
        [_, op, size, n] => (
            op.as_str(),
            size.parse::<usize>().expect("SIZE"),
            n.parse::<u64>().expect("N"),
        ),
        _ => {
            eprintln!("usage: codec-loop OP SIZE N");
            std::process::exit(2)
        }
    };
    let ring = KeyRing::new([SECRET]).expect("a key");
    let map = session(size);
    let key = [7u8; 32];
    let parts: Vec<&str> = op.split('-').collect();
    match parts.as_slice() {
        ["encode", f] => {
            let codec = codec(f, &ring);
            for _ in 0..n {
                black_box(codec.seal(&codec.canonical(black_box(&map)), TIMES));
            }
        }
        ["decode", f] => {
            let codec = codec(f, &ring);
            let sealed = codec.seal(&codec.canonical(&map), TIMES);
            let header = match sealed.sig {
                Some(sig) => format!("session={}; session.sig={sig}", sealed.value),
                None => format!("session={}", sealed.value),
            };
            for _ in 0..n {
                black_box(codec.open([black_box(header.as_str())]).expect("opens"));
            }
        }
        ["decodeforeign", f] => {
            // A value sealed by another codec of the same ring (another server instance):
            // for XAES-256-GCM its nonce prefix is in no cache of the opening codec.
            let sealer = codec(f, &ring);
            let sealed = sealer.seal(&sealer.canonical(&map), TIMES);
            assert!(
                sealed.sig.is_none(),
                "decodeforeign is for the encrypted format"
            );
            let header = format!("session={}", sealed.value);
            let codec = codec(f, &ring);
            for _ in 0..n {
                black_box(codec.open([black_box(header.as_str())]).expect("opens"));
            }
        }
        ["floor", f @ ("encrypted" | "encryptedv1" | "encryptedv2"), dir] => {
            let nonce = [9u8; 24];
            // The floor of each version: its AEAD as the format computes it, nothing else.
            // Version 2 seals under a message key prepared once per nonce prefix
            // (cookie-session/src/format/xaes.rs), so its floor keys `ring` once, as the
            // format's cache does; version 1 derives its key (HChaCha20) per message.
            let prepared = (*f == "encryptedv2").then(|| xaes::Xaes::new(&key).ring(&nonce).0);
            let aead = |nonce: &[u8; 24]| match &prepared {
                Some(prepared) => {
                    let mut inner = [0u8; 12];
                    inner.copy_from_slice(&nonce[12..]);
                    (Cow::Borrowed(prepared), Nonce::assume_unique_for_key(inner))
                }
                None => {
                    let (aead, inner) = xchacha_ring(&key, nonce);
                    (Cow::Owned(aead), inner)
                }
            };
            let seal = |map: &Map<String, Value>| {
                let mut buf = serde_json::to_vec(map).expect("JSON");
                let (aead, inner) = aead(&nonce);
                let tag = aead
                    .seal_in_place_separate_tag(inner, Aad::empty(), &mut buf)
                    .expect("seal");
                buf.extend_from_slice(tag.as_ref());
                URL_SAFE_NO_PAD.encode(&buf)
            };
            if *dir == "encode" {
                for _ in 0..n {
                    black_box(seal(black_box(&map)));
                }
            } else {
                let text = seal(&map);
                for _ in 0..n {
                    let mut buf = URL_SAFE_NO_PAD.decode(black_box(&text)).expect("b64");
                    let (aead, inner) = aead(&nonce);
                    let msg = aead
                        .open_in_place(inner, Aad::empty(), &mut buf)
                        .expect("opens");
                    black_box(serde_json::from_slice::<Map<String, Value>>(msg).expect("JSON"));
                }
            }
        }
        ["floor", "signed", dir] => {
            let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("key");
            let seal = |map: &Map<String, Value>| {
                let json = serde_json::to_vec(map).expect("JSON");
                let mut m = mac.clone();
                m.update(&json);
                let tag = m.finalize().into_bytes();
                let mut out = URL_SAFE_NO_PAD.encode(&json);
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(tag, &mut out);
                out
            };
            if *dir == "encode" {
                for _ in 0..n {
                    black_box(seal(black_box(&map)));
                }
            } else {
                let text = seal(&map);
                for _ in 0..n {
                    let (body, tag) = black_box(&text).split_once('.').expect("dot");
                    let json = URL_SAFE_NO_PAD.decode(body).expect("b64");
                    let tag = URL_SAFE_NO_PAD.decode(tag).expect("b64");
                    let mut m = mac.clone();
                    m.update(&json);
                    m.verify_slice(&tag).expect("verifies");
                    black_box(serde_json::from_slice::<Map<String, Value>>(&json).expect("JSON"));
                }
            }
        }
        ["floor", "express", dir] => {
            let mac = <Hmac<Sha1> as Mac>::new_from_slice(SECRET.as_bytes()).expect("key");
            let sign = |value: &str| {
                let mut m = mac.clone();
                m.update(b"session=");
                m.update(value.as_bytes());
                URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
            };
            if *dir == "encode" {
                for _ in 0..n {
                    let value = STANDARD.encode(serde_json::to_vec(black_box(&map)).expect("JSON"));
                    let sig = sign(&value);
                    black_box((value, sig));
                }
            } else {
                let value = STANDARD.encode(serde_json::to_vec(&map).expect("JSON"));
                let sig = sign(&value);
                for _ in 0..n {
                    let tag = URL_SAFE_NO_PAD.decode(black_box(&sig)).expect("b64");
                    let mut m = mac.clone();
                    m.update(b"session=");
                    m.update(value.as_bytes());
                    m.verify_slice(&tag).expect("verifies");
                    let json = STANDARD.decode(&value).expect("b64");
                    black_box(serde_json::from_slice::<Map<String, Value>>(&json).expect("JSON"));
                }
            }
        }
        ["xchacha", "ring"] => ring_seals(size, n, || xchacha_ring(&key, &[9u8; 24])),
        ["xchacha", "ring", "open"] => ring_opens(size, n, || xchacha_ring(&key, &[9u8; 24])),
        ["xaes", "ring"] => {
            let xaes = xaes::Xaes::new(&key);
            ring_seals(size, n, || xaes.ring(&[9u8; 24]));
        }
        ["xaes", "ring", "open"] => {
            let xaes = xaes::Xaes::new(&key);
            ring_opens(size, n, || xaes.ring(&[9u8; 24]));
        }
        ["xaes", "aesgcm"] => {
            let xaes = xaes::Xaes::new(&key);
            let mut buf = vec![0x41u8; size];
            for _ in 0..n {
                let c = xaes.aes_gcm(&[9u8; 24]);
                black_box(
                    c.encrypt_in_place_detached(&[9u8; 12].into(), b"aad", &mut buf)
                        .expect("seal"),
                );
            }
        }
        ["aesgcm", "ring"] => {
            let aead = ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key).expect("32 bytes"),
            );
            let mut buf = vec![0x41u8; size];
            for _ in 0..n {
                let tag = aead
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key([9u8; 12]),
                        Aad::from(b"aad"),
                        &mut buf,
                    )
                    .expect("seal");
                black_box(tag.as_ref());
            }
        }
        ["xchacha"] => {
            let c = XChaCha20Poly1305::new(&key.into());
            let mut buf = vec![0x41u8; size];
            for _ in 0..n {
                black_box(
                    c.encrypt_in_place_detached(&[9u8; 24].into(), b"aad", &mut buf)
                        .expect("seal"),
                );
            }
        }
        ["chacha"] => {
            let c = ChaCha20Poly1305::new(&key.into());
            let mut buf = vec![0x41u8; size];
            for _ in 0..n {
                black_box(
                    c.encrypt_in_place_detached(&[9u8; 12].into(), b"aad", &mut buf)
                        .expect("seal"),
                );
            }
        }
        ["aesgcm"] => {
            let c = Aes256Gcm::new(&key.into());
            let mut buf = vec![0x41u8; size];
            for _ in 0..n {
                black_box(
                    c.encrypt_in_place_detached(&[9u8; 12].into(), b"aad", &mut buf)
                        .expect("seal"),
                );
            }
        }
        ["hmac256", "ring"] => {
            let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
            let buf = vec![0x41u8; size];
            for _ in 0..n {
                black_box(ring::hmac::sign(&mac, black_box(&buf)));
            }
        }
        ["hmac256"] => {
            let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("key");
            let buf = vec![0x41u8; size];
            for _ in 0..n {
                let mut m = mac.clone();
                m.update(black_box(&buf));
                black_box(m.finalize().into_bytes());
            }
        }
        _ => {
            eprintln!("unknown op {op}");
            std::process::exit(2)
        }
    }
}

/// `n` seals of `size` bytes in place, each under the key and nonce `message_key` builds for
/// it: the per-message key setup of an extended-nonce AEAD is counted with the seal.
fn ring_seals(size: usize, n: u64, message_key: impl Fn() -> (LessSafeKey, Nonce)) {
    let mut buf = vec![0x41u8; size];
    for _ in 0..n {
        let (aead, inner) = message_key();
        let tag = aead
            .seal_in_place_separate_tag(inner, Aad::from(b"aad"), &mut buf)
            .expect("seal");
        black_box(tag.as_ref());
    }
}

/// `n` opens of one sealed `size`-byte message, each under a key and nonce from
/// `message_key` (a fresh copy of the value each time, as a request decodes its own).
fn ring_opens(size: usize, n: u64, message_key: impl Fn() -> (LessSafeKey, Nonce)) {
    let mut sealed = vec![0x41u8; size];
    let (aead, inner) = message_key();
    let tag = aead
        .seal_in_place_separate_tag(inner, Aad::from(b"aad"), &mut sealed)
        .expect("seal");
    sealed.extend_from_slice(tag.as_ref());
    for _ in 0..n {
        let mut buf = sealed.clone();
        let (aead, inner) = message_key();
        black_box(
            aead.open_in_place(inner, Aad::from(b"aad"), &mut buf)
                .expect("opens")
                .len(),
        );
    }
}
