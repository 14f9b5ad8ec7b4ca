//! The cookie codecs alone (docs/PERFORMANCE.md): each format's encode and decode at session sizes from
//! 66 bytes to 3.5 KB, beside the floor measured in the same run.
//!
//! - `encode/<format>/<size>`: [`Codec::canonical`] (JSON) + [`Codec::seal`] (AEAD or HMAC,
//!   base64, and for `encrypted` a fresh random nonce) — what a write costs;
//! - `decode/<format>/<size>`: [`Codec::open`] on a `Cookie` header (find the cookie, base64,
//!   verify, parse the JSON into a map) — what a read costs;
//! - `floor/<format>/{encode,decode}/<size>`: the same work done bare, with the same crates and
//!   a prebuilt cipher or keyed MAC: serde_json each way, the AEAD (fixed nonce, no random
//!   draw) or HMAC of the payload, and base64 of the bytes, which the format requires. No
//!   header, key id, timestamps, AAD or cookie lookup;
//! - `cipher/*`: the AEADs and MACs alone on 20 B, 66 B and 1 KiB (XChaCha20-Poly1305 as the
//!   format's version 1 computes it — HChaCha20 + `ring`'s ChaCha20-Poly1305 — beside the
//!   `chacha20poly1305` crate's; XAES-256-GCM as version 2 computes it — the `aes` block for
//!   the key derivation + `ring`'s AES-256-GCM — beside the same with RustCrypto's `aes-gcm`;
//!   and AES-256-GCM on this CPU), and the nonce draw.
//!
//! `encrypted` is pinned to version 1 (XChaCha20-Poly1305), as in the figures recorded before
//! version 2; `encrypted-xaes` is version 2 (XAES-256-GCM).
//!
//! `cargo bench -p cookie-session --bench codec` (pin it: `taskset -c 1 cargo bench …`).

#[path = "support/xaes.rs"]
mod xaes;
#[path = "support/xchacha_ring.rs"]
mod xchacha_floor;

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use cookie_session::format::{Cipher, Codec, Format, SigAlgorithm, Timestamps};
use cookie_session::KeyRing;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use rand::RngCore;
use ring::aead::{Aad, Tag};
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
/// JSON sizes of the session: the 66-byte session, then padded ones.
const SIZES: [usize; 4] = [66, 256, 1024, 3500];

/// `{"views":7,"user_id":42,"csrf":"<32 hex>"}` (66 bytes), padded to `size` bytes of JSON.
fn session(size: usize) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("views".into(), 7.into());
    map.insert("user_id".into(), 42.into());
    map.insert("csrf".into(), "0123456789abcdef0123456789abcdef".into());
    if size > 66 {
        map.insert("pad".into(), "x".repeat(size - 75).into());
    }
    let json = serde_json::to_vec(&map).expect("JSON");
    assert_eq!(json.len(), size, "session size");
    map
}

fn formats() -> [(&'static str, Format, Cipher); 4] {
    [
        ("encrypted", Format::Encrypted, Cipher::XChaCha20Poly1305),
        ("encrypted-xaes", Format::Encrypted, Cipher::Xaes256Gcm),
        ("signed", Format::Signed, Cipher::Auto),
        ("express", Format::Express(SigAlgorithm::Sha1), Cipher::Auto),
    ]
}

/// The `Cookie` header a browser sends back for a sealed session.
fn cookie_header(codec: &Codec, map: &Map<String, Value>) -> String {
    let sealed = codec.seal(&codec.canonical(map), TIMES);
    match sealed.sig {
        Some(sig) => format!("session={}; session.sig={sig}", sealed.value),
        None => format!("session={}", sealed.value),
    }
}

fn codecs(c: &mut Criterion) {
    let ring = KeyRing::new([SECRET]).expect("a key");
    for (name, format, cipher) in formats() {
        let codec = Codec::new(format, &ring, "session")
            .expect("a codec")
            .with_cipher(cipher);
        let mut encode = c.benchmark_group(format!("encode/{name}"));
        for size in SIZES {
            let map = session(size);
            encode.throughput(Throughput::Bytes(size as u64));
            encode.bench_with_input(BenchmarkId::from_parameter(size), &map, |b, map| {
                b.iter(|| codec.seal(&codec.canonical(black_box(map)), TIMES))
            });
        }
        encode.finish();
        let mut decode = c.benchmark_group(format!("decode/{name}"));
        for size in SIZES {
            let header = cookie_header(&codec, &session(size));
            decode.throughput(Throughput::Bytes(size as u64));
            decode.bench_with_input(BenchmarkId::from_parameter(size), &header, |b, header| {
                b.iter(|| codec.open([black_box(header.as_str())]).expect("opens"))
            });
        }
        decode.finish();
    }
}

/// Seals `buf` in place with [`xchacha_ring`]; returns the tag.
fn xchacha_ring_seal(key: &[u8; 32], nonce: &[u8; 24], aad: &[u8], buf: &mut [u8]) -> Tag {
    let (aead, nonce) = xchacha_ring(key, nonce);
    aead.seal_in_place_separate_tag(nonce, Aad::from(aad), buf)
        .expect("seal")
}

/// The floor: the same primitives, bare.
fn floors(c: &mut Criterion) {
    let key = [7u8; 32];
    let nonce = [9u8; 24];
    let hmac256 = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key");
    let hmac1 = <Hmac<Sha1> as Mac>::new_from_slice(SECRET.as_bytes()).expect("any key");

    for size in SIZES {
        let map = session(size);
        let mut group = c.benchmark_group("floor");
        group.throughput(Throughput::Bytes(size as u64));

        // encrypted: JSON → AEAD → base64url, and back.
        group.bench_with_input(
            BenchmarkId::new("encrypted/encode", size),
            &map,
            |b, map| {
                b.iter(|| {
                    let mut buf = serde_json::to_vec(black_box(map)).expect("JSON");
                    let tag = xchacha_ring_seal(&key, &nonce, b"", &mut buf);
                    buf.extend_from_slice(tag.as_ref());
                    URL_SAFE_NO_PAD.encode(&buf)
                })
            },
        );
        let sealed = {
            let mut buf = serde_json::to_vec(&map).expect("JSON");
            let tag = xchacha_ring_seal(&key, &nonce, b"", &mut buf);
            buf.extend_from_slice(tag.as_ref());
            URL_SAFE_NO_PAD.encode(&buf)
        };
        group.bench_with_input(
            BenchmarkId::new("encrypted/decode", size),
            &sealed,
            |b, text| {
                b.iter(|| {
                    let mut buf = URL_SAFE_NO_PAD.decode(black_box(text)).expect("base64");
                    let (aead, nonce) = xchacha_ring(&key, &nonce);
                    let msg = aead
                        .open_in_place(nonce, Aad::empty(), &mut buf)
                        .expect("opens");
                    serde_json::from_slice::<Map<String, Value>>(msg).expect("JSON")
                })
            },
        );

        // signed: JSON → HMAC-SHA256 → base64url of both, and back.
        group.bench_with_input(BenchmarkId::new("signed/encode", size), &map, |b, map| {
            b.iter(|| {
                let json = serde_json::to_vec(black_box(map)).expect("JSON");
                let mut mac = hmac256.clone();
                mac.update(&json);
                let tag = mac.finalize().into_bytes();
                let mut out = URL_SAFE_NO_PAD.encode(&json);
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(tag, &mut out);
                out
            })
        });
        let signed = {
            let json = serde_json::to_vec(&map).expect("JSON");
            let mut mac = hmac256.clone();
            mac.update(&json);
            let tag = mac.finalize().into_bytes();
            format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(&json),
                URL_SAFE_NO_PAD.encode(tag)
            )
        };
        group.bench_with_input(
            BenchmarkId::new("signed/decode", size),
            &signed,
            |b, text| {
                b.iter(|| {
                    let (body, tag) = black_box(text).split_once('.').expect("a dot");
                    let json = URL_SAFE_NO_PAD.decode(body).expect("base64");
                    let tag = URL_SAFE_NO_PAD.decode(tag).expect("base64");
                    let mut mac = hmac256.clone();
                    mac.update(&json);
                    mac.verify_slice(&tag).expect("verifies");
                    serde_json::from_slice::<Map<String, Value>>(&json).expect("JSON")
                })
            },
        );

        // express: JSON → base64 → HMAC-SHA1 of "session=<value>" → base64url, and back.
        group.bench_with_input(BenchmarkId::new("express/encode", size), &map, |b, map| {
            b.iter(|| {
                let value = STANDARD.encode(serde_json::to_vec(black_box(map)).expect("JSON"));
                let mut mac = hmac1.clone();
                mac.update(b"session=");
                mac.update(value.as_bytes());
                (value, URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
            })
        });
        let value = STANDARD.encode(serde_json::to_vec(&map).expect("JSON"));
        let sig = {
            let mut mac = hmac1.clone();
            mac.update(b"session=");
            mac.update(value.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        };
        group.bench_with_input(
            BenchmarkId::new("express/decode", size),
            &(value, sig),
            |b, (value, sig)| {
                b.iter(|| {
                    let tag = URL_SAFE_NO_PAD.decode(black_box(sig)).expect("base64");
                    let mut mac = hmac1.clone();
                    mac.update(b"session=");
                    mac.update(value.as_bytes());
                    mac.verify_slice(&tag).expect("verifies");
                    let json = STANDARD.decode(value).expect("base64");
                    serde_json::from_slice::<Map<String, Value>>(&json).expect("JSON")
                })
            },
        );
        group.finish();
    }
}

/// The primitives alone: which AEAD costs what on this CPU.
fn ciphers(c: &mut Criterion) {
    let key = [7u8; 32];
    let xchacha = XChaCha20Poly1305::new(&key.into());
    let chacha = ChaCha20Poly1305::new(&key.into());
    let aes = Aes256Gcm::new(&key.into());
    let xaes = xaes::Xaes::new(&key);
    let hmac256 = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key");
    let hmac256_ring = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut group = c.benchmark_group("cipher");
    for len in [20usize, 66, 1024] {
        let mut buf = vec![0x41u8; len];
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("xchacha20poly1305_ring_seal", len), |b| {
            b.iter(|| xchacha_ring_seal(&key, &[9u8; 24], b"aad", black_box(&mut buf)))
        });
        group.bench_function(BenchmarkId::new("xaes256gcm_ring_seal", len), |b| {
            b.iter(|| {
                let (aead, nonce) = xaes.ring(&[9u8; 24]);
                aead.seal_in_place_separate_tag(nonce, Aad::from(b"aad"), black_box(&mut buf))
                    .expect("seal")
            })
        });
        group.bench_function(BenchmarkId::new("xaes256gcm_aesgcm_seal", len), |b| {
            b.iter(|| {
                xaes.aes_gcm(&[9u8; 24])
                    .encrypt_in_place_detached(&[9u8; 12].into(), b"aad", black_box(&mut buf))
                    .expect("seal")
            })
        });
        group.bench_function(BenchmarkId::new("xchacha20poly1305_seal", len), |b| {
            b.iter(|| {
                xchacha
                    .encrypt_in_place_detached(&[9u8; 24].into(), b"aad", black_box(&mut buf))
                    .expect("seal")
            })
        });
        group.bench_function(BenchmarkId::new("chacha20poly1305_seal", len), |b| {
            b.iter(|| {
                chacha
                    .encrypt_in_place_detached(&[9u8; 12].into(), b"aad", black_box(&mut buf))
                    .expect("seal")
            })
        });
        group.bench_function(BenchmarkId::new("aes256gcm_seal", len), |b| {
            b.iter(|| {
                aes.encrypt_in_place_detached(&[9u8; 12].into(), b"aad", black_box(&mut buf))
                    .expect("seal")
            })
        });
        group.bench_function(BenchmarkId::new("hmac_sha256", len), |b| {
            b.iter(|| {
                let mut mac = hmac256.clone();
                mac.update(black_box(&buf));
                mac.finalize().into_bytes()
            })
        });
        // `ring`'s HMAC-SHA256, measured against the `hmac` + `sha2` the `signed` format uses
        // (docs/PERFORMANCE.md, round four).
        group.bench_function(BenchmarkId::new("hmac_sha256_ring", len), |b| {
            b.iter(|| ring::hmac::sign(&hmac256_ring, black_box(&buf)))
        });
    }
    group.bench_function("nonce_thread_rng_24B", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 24];
            rand::thread_rng().fill_bytes(&mut nonce);
            nonce
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = codecs, floors, ciphers
}
criterion_main!(benches);
