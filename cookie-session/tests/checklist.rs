//! Items of the security checklist (docs/SECURITY-CHECKLIST.md) not already covered by a format's or the
//! layer's own tests. Each test names its item.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cookie_session::format::{Cipher, Codec, Format};
use cookie_session::{KeyRing, Rejection, Session, SessionConfig, SessionLayer};
use serde_json::json;

const OLD: &str = "checklist-old-key-0123456789abcdef0123456";
const NEW: &str = "checklist-new-key-0123456789abcdef0123456";
/// The native formats, `encrypted` in both versions (each pinned, so both run on any CPU).
const NATIVE: [(Format, Cipher); 3] = [
    (Format::Encrypted, Cipher::XChaCha20Poly1305),
    (Format::Encrypted, Cipher::Xaes256Gcm),
    (Format::Signed, Cipher::Auto),
];

fn clocked(
    (format, cipher): (Format, Cipher),
    keys: &[&str],
    clock: &Arc<AtomicU64>,
) -> SessionConfig {
    let clock = clock.clone();
    SessionConfig::new(KeyRing::new(keys).unwrap())
        .format(format)
        .cipher(cipher)
        .clock_skew(Duration::from_secs(5))
        .clock(move || SystemTime::UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst)))
}

fn cookie_of(layer: &SessionLayer, data: serde_json::Value) -> String {
    let headers = layer.encode(data.as_object().cloned().unwrap()).unwrap();
    headers
        .iter()
        .map(|h| h.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ")
}

/// §8.3 item 27: an expired cookie under a fallback key is not rescued by another key.
#[test]
fn expired_under_a_fallback_key_stays_expired() {
    for format @ (name, cipher) in NATIVE {
        let clock = Arc::new(AtomicU64::new(1_000_000));
        let old = clocked(format, &[OLD], &clock)
            .max_age(Some(Duration::from_secs(60)))
            .build()
            .unwrap();
        let cookie = cookie_of(&old, json!({"user": "alice"}));
        clock.fetch_add(120, Ordering::SeqCst);
        let rotated = clocked(format, &[NEW, OLD], &clock).build().unwrap();
        assert_eq!(
            rotated.decode([cookie.as_str()]).unwrap_err(),
            Rejection::Expired,
            "{name} {cipher:?}"
        );
    }
}

/// §8.2 item 15 and item 66: issued in the future beyond the skew is refused; within it, fine.
#[test]
fn future_issued_at_beyond_the_skew_is_refused() {
    for format @ (name, cipher) in NATIVE {
        let clock = Arc::new(AtomicU64::new(2_000_000));
        let ahead = clocked(format, &[NEW], &clock).build().unwrap();
        let cookie = cookie_of(&ahead, json!({"a": 1}));
        // The clock steps back by less than the skew: still accepted.
        clock.fetch_sub(5, Ordering::SeqCst);
        assert!(ahead.decode([cookie.as_str()]).is_ok(), "{name} {cipher:?}");
        // More than the skew: refused, fail closed.
        clock.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(
            ahead.decode([cookie.as_str()]).unwrap_err(),
            Rejection::IssuedInFuture,
            "{name} {cipher:?}"
        );
    }
}

/// §8.2 item 21: without revocation, a cookie captured before logout still opens afterwards
/// until it expires — the documented limit of cookie sessions (the README and
/// `SessionConfig::revocation` say so). This test pins that documented behaviour.
#[tokio::test]
async fn without_revocation_a_captured_cookie_outlives_logout() {
    use axum::{body::Body, routing::get, Router};
    use http::Request;
    use tower::ServiceExt;

    let layer = SessionConfig::new(KeyRing::new([NEW]).unwrap())
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/login",
            get(|s: Session| async move { s.insert("user", "alice").unwrap() }),
        )
        .route("/logout", get(|s: Session| async move { s.destroy() }))
        .layer(layer.clone());
    let res = app
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let captured = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = app
        .clone()
        .oneshot(
            Request::get("/logout")
                .header("cookie", &captured)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // Replayed after the logout: still valid (no server state to say otherwise).
    assert_eq!(
        layer.decode([captured.as_str()]).unwrap().data["user"],
        "alice"
    );
}

/// §8.9 item 67: codecs, layers and sessions can be shared across threads.
#[test]
fn shared_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<KeyRing>();
    assert_send_sync::<Codec>();
    assert_send_sync::<SessionLayer>();
    assert_send_sync::<Session>();
    assert_send_sync::<cookie_session::store::MemoryStore>();
}

/// §8.9 item 67: hot use from many threads at once gives consistent results.
#[test]
fn concurrent_use_of_one_layer() {
    let layer = SessionConfig::new(KeyRing::new([NEW, OLD]).unwrap())
        .build()
        .unwrap();
    let cookie = cookie_of(&layer, json!({"n": 7}));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..200 {
                    assert_eq!(layer.decode([cookie.as_str()]).unwrap().data["n"], 7);
                    let fresh = cookie_of(&layer, json!({"m": 1}));
                    assert!(layer.decode([fresh.as_str()]).is_ok());
                }
            });
        }
    });
}
