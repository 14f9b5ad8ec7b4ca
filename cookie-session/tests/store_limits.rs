//! Stored sessions are bounded: a per-session size limit checked before any record is written
//! (on every backend), and a byte budget for the memory store.
#![cfg(all(feature = "axum", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/backends.rs"]
mod backends;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use cookie_session::store::{MemoryStore, Patch, Record, SessionId, SessionStore, Update};
use cookie_session::{
    ConfigError, KeyRing, Session, SessionConfig, SessionError, SessionLayer,
    DEFAULT_MAX_SESSION_SIZE,
};
use http::{Request, Response, StatusCode};
use serde_json::{json, Map, Value};
use tower::ServiceExt;

const KEY: &str = "store-limits-key-0123456789abcdef012345678";

fn layer(store: Arc<dyn SessionStore>, limit: usize) -> SessionLayer {
    SessionConfig::new(KeyRing::new([KEY]).unwrap())
        .shared_store(store)
        .max_session_size(limit)
        .build()
        .unwrap()
}

/// The demo API's shape: `POST /merge` sets every key of a JSON object.
fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/get",
            get(|s: Session| async move { Json(Value::Object(s.data())) }),
        )
        .route(
            "/merge",
            post(
                |s: Session, Json(body): Json<Map<String, Value>>| async move {
                    for (k, v) in body {
                        s.insert_value(k, v);
                    }
                },
            ),
        )
        .route(
            "/regenerate",
            post(
                |s: Session, Json(body): Json<Map<String, Value>>| async move {
                    s.regenerate();
                    for (k, v) in body {
                        s.insert_value(k, v);
                    }
                },
            ),
        )
        .route(
            "/remove/{key}",
            get(|s: Session, Path(key): Path<String>| async move {
                s.remove(&key);
            }),
        )
        .route(
            "/destroy",
            get(|s: Session| async move {
                s.destroy();
            }),
        )
        .layer(layer)
}

async fn send(app: &Router, method: &str, uri: &str, cookie: &str, body: Value) -> Response<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        req = req.header("content-type", "application/json");
        Body::from(body.to_string())
    };
    app.clone().oneshot(req.body(body).unwrap()).await.unwrap()
}

async fn merge(app: &Router, cookie: &str, body: Value) -> Response<Body> {
    send(app, "POST", "/merge", cookie, body).await
}

async fn data(app: &Router, cookie: &str) -> Value {
    let res = send(app, "GET", "/get", cookie, Value::Null).await;
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn jar(res: &Response<Body>) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The response of a refused write: 500, the typed error with the exact sizes, no cookie.
fn assert_refused(res: &Response<Body>, size: usize, limit: usize, what: &str) {
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{what}");
    assert_eq!(
        res.extensions().get::<SessionError>(),
        Some(&SessionError::SessionTooLarge { size, limit }),
        "{what}"
    );
    assert!(res.headers().get("set-cookie").is_none(), "{what}");
    assert_eq!(res.headers()["vary"], "cookie", "{what}");
}

/// A session whose JSON text is exactly `len` bytes: `{"p":"xxx…"}` (8 bytes of frame).
fn sized(key: &str, len: usize) -> Value {
    json!({ key: "x".repeat(len - 7 - key.len()) })
}

/// The stored record's version, read from the store itself.
async fn version(
    store: &Arc<dyn SessionStore>,
    layer: &SessionLayer,
    cookie: &str,
    now: u64,
) -> u64 {
    let loaded = layer.decode([cookie]).unwrap();
    let id = SessionId::parse(loaded.data["sid"].as_str().unwrap()).unwrap();
    store
        .load(&id.store_key(), now)
        .await
        .unwrap()
        .unwrap()
        .version
}

fn now() -> u64 {
    cookie_session::unix_secs(std::time::SystemTime::now())
}

#[tokio::test]
async fn a_session_over_the_limit_is_refused_and_nothing_is_written() {
    const LIMIT: usize = 1_000;
    for backend in backends::all().await {
        let name = backend.name;
        let store = backend.store.clone();
        let layer = layer(store.clone(), LIMIT);
        let app = app(layer.clone());

        // Exactly the limit is stored; one byte more is refused, and nothing is created
        // (its user has no record to delete).
        assert_eq!(sized("p", LIMIT).to_string().len(), LIMIT);
        let user = format!("u{}", backends::unique());
        let mut over = sized("p", LIMIT + 1 - user.len() - 10);
        over["user"] = json!(user);
        assert_eq!(over.to_string().len(), LIMIT + 1);
        let res = merge(&app, "", over).await;
        assert_refused(&res, LIMIT + 1, LIMIT, name);
        assert_eq!(store.delete_user(&user).await.unwrap(), 0, "{name}");

        let res = merge(&app, "", sized("p", LIMIT)).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        let cookie = jar(&res);
        assert_eq!(data(&app, &cookie).await, sized("p", LIMIT), "{name}");

        // Growing a stored session past the limit: refused, the record as it was.
        let res = merge(&app, "", sized("a", 400)).await;
        let cookie = jar(&res);
        let v = version(&store, &layer, &cookie, now()).await;
        let res = merge(&app, &cookie, sized("b", 400)).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(version(&store, &layer, &cookie, now()).await, v + 1);
        let res = merge(&app, &cookie, sized("c", 400)).await;
        // Three objects of 400 bytes merged: 3 × 399 + 1.
        assert_refused(&res, 1_198, LIMIT, name);
        assert_eq!(
            version(&store, &layer, &cookie, now()).await,
            v + 1,
            "{name}"
        );
        let both = json!({"a": sized("a", 400)["a"], "b": sized("b", 400)["b"]});
        assert_eq!(data(&app, &cookie).await, both, "{name}");

        // Regenerating into an oversized session keeps the old record (checked before the
        // old one is deleted).
        let res = send(&app, "POST", "/regenerate", &cookie, sized("c", 400)).await;
        assert_refused(&res, 1_198, LIMIT, name);
        assert_eq!(data(&app, &cookie).await, both, "{name}: not lost");

        // Shrinking is always allowed.
        let res = send(&app, "GET", "/remove/a", &cookie, Value::Null).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(
            version(&store, &layer, &cookie, now()).await,
            v + 2,
            "{name}"
        );

        // Counted with the oversized cookies.
        assert_eq!(layer.metrics().oversized, 3, "{name}");
    }
}

#[tokio::test]
async fn a_record_stored_under_a_higher_limit_stays_readable_and_unchanged() {
    for backend in backends::all().await {
        let name = backend.name;
        let store = backend.store.clone();
        let generous = app(layer(store.clone(), 10_000));
        let strict_layer = layer(store.clone(), 1_000);
        let strict = app(strict_layer.clone());

        let res = merge(&generous, "", json!({"big": "x".repeat(5_000), "n": 1})).await;
        let cookie = jar(&res);
        let before = data(&generous, &cookie).await;

        // Read under the lower limit: the whole session.
        assert_eq!(data(&strict, &cookie).await, before, "{name}");
        // A change that leaves it too large: refused, the record unchanged.
        let v = version(&store, &strict_layer, &cookie, now()).await;
        let res = merge(&strict, &cookie, json!({"n": 2})).await;
        let size = json!({"big": "x".repeat(5_000), "n": 2}).to_string().len();
        assert_refused(&res, size, 1_000, name);
        assert_eq!(data(&strict, &cookie).await, before, "{name}");
        assert_eq!(version(&store, &strict_layer, &cookie, now()).await, v);
        // A change that brings it within the limit is saved.
        let res = send(&strict, "GET", "/remove/big", &cookie, Value::Null).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(data(&strict, &cookie).await, json!({"n": 1}), "{name}");
        // And destroying works whatever the size.
        let res = merge(&generous, &cookie, json!({"big": "y".repeat(5_000)})).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        let res = send(&strict, "GET", "/destroy", &cookie, Value::Null).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(data(&strict, &cookie).await, json!({}), "{name}");
    }
}

#[tokio::test]
async fn the_limit_is_for_stores_and_has_a_sane_default() {
    // Cookie mode is bounded by the cookie size instead: a 1 000-byte session is sent.
    let cookie_mode = SessionConfig::new(KeyRing::new([KEY]).unwrap())
        .max_session_size(64)
        .build()
        .unwrap();
    let res = merge(&app(cookie_mode), "", sized("p", 1_000)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_some());

    assert_eq!(DEFAULT_MAX_SESSION_SIZE, 64 * 1024);
    for bad in [0, 63] {
        let err = SessionConfig::new(KeyRing::new([KEY]).unwrap())
            .max_session_size(bad)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::MaxSessionSize(bad));
    }

    // The default: 30 posts of 60 KB to one session (1.8 MB before) stop at the first one.
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let app = app(SessionConfig::new(KeyRing::new([KEY]).unwrap())
        .shared_store(store)
        .build()
        .unwrap());
    let res = merge(&app, "", sized("k0", 60_000)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = jar(&res);
    for i in 1..30 {
        let res = merge(&app, &cookie, sized(&format!("k{i}"), 60_000)).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "post {i}");
    }
    assert_eq!(data(&app, &cookie).await, sized("k0", 60_000));
}

#[tokio::test]
async fn a_flood_of_new_sessions_stays_within_the_memory_budget() {
    const BUDGET: usize = 4 * 1024 * 1024;
    let memory = Arc::new(MemoryStore::new().with_budget(BUDGET));
    let app = app(layer(memory.clone(), DEFAULT_MAX_SESSION_SIZE));
    let mut cookies = Vec::new();
    // 400 posts of 60 KB without a cookie: 24 MB offered (28 MiB held, before the budget).
    for i in 0..400 {
        let res = merge(&app, "", sized("p", 60_000 + i)).await;
        assert_eq!(res.status(), StatusCode::OK, "post {i}");
        cookies.push(jar(&res));
        assert!(
            memory.bytes() <= BUDGET,
            "post {i}: {} bytes",
            memory.bytes()
        );
    }
    // About 69 sessions of 60 KB fit; the most recent are the ones kept.
    let kept = memory.len();
    assert!((60..=70).contains(&kept), "{kept}");
    assert!(memory.bytes() > BUDGET - 70_000, "{}", memory.bytes());
    for (i, cookie) in cookies.iter().enumerate() {
        let expected = if i >= 400 - kept {
            sized("p", 60_000 + i)
        } else {
            json!({})
        };
        assert_eq!(data(&app, cookie).await, expected, "session {i}");
    }
}

/// Collects what the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_refused_session_is_logged_with_its_size_and_never_its_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded: the layer's events happen on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = app(layer(Arc::new(MemoryStore::new()), 1_000));
    let secret = "secret-session-value-".repeat(60);
    let res = merge(&app, "", json!({ "p": secret })).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("ERROR"), "{logs}");
    assert!(logs.contains("session not sent"), "{logs}");
    assert!(
        logs.contains("1268 bytes stored, above the 1000-byte limit"),
        "{logs}"
    );
    assert!(!logs.contains("secret-session-value"), "{logs}");
}

/// A request whose own change fits, but not on top of what a concurrent request wrote in the
/// meantime: refused, and the record is the other request's.
#[tokio::test]
async fn a_merge_with_a_concurrent_write_is_checked_too() {
    use tokio::sync::Notify;
    const LIMIT: usize = 1_000;
    for backend in backends::all().await {
        let name = backend.name;
        let store = backend.store.clone();
        let layer = layer(store.clone(), LIMIT);
        let (loaded, go) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (l, g) = (loaded.clone(), go.clone());
        let slow = Router::new()
            .route(
                "/slow-merge",
                post(
                    move |s: Session, Json(body): Json<Map<String, Value>>| async move {
                        for (k, v) in body {
                            s.insert_value(k, v);
                        }
                        l.notify_one();
                        g.notified().await;
                    },
                ),
            )
            .layer(layer.clone());
        let app = app(layer.clone());

        let cookie = jar(&merge(&app, "", sized("a", 400)).await);
        let v = version(&store, &layer, &cookie, now()).await;
        let request = {
            let (slow, cookie) = (slow.clone(), cookie.clone());
            tokio::spawn(async move {
                send(&slow, "POST", "/slow-merge", &cookie, sized("c", 400)).await
            })
        };
        loaded.notified().await;
        let res = merge(&app, &cookie, sized("b", 400)).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        go.notify_one();
        let res = request.await.unwrap();
        assert_refused(&res, 1_198, LIMIT, name);
        let both = json!({"a": sized("a", 400)["a"], "b": sized("b", 400)["b"]});
        assert_eq!(data(&app, &cookie).await, both, "{name}");
        assert_eq!(
            version(&store, &layer, &cookie, now()).await,
            v + 1,
            "{name}"
        );
    }
}

/// A client's JSON, stored one level down by the application, can nest deeper than a store
/// reads back: such a session is refused when written (500), instead of being written and
/// then failing every load (a 503 until it expires).
#[tokio::test]
async fn a_session_too_deep_to_read_back_is_never_written() {
    fn arrays(depth: usize) -> Value {
        let mut value = json!(1);
        for _ in 0..depth {
            value = json!([value]);
        }
        json!({ "x": value })
    }
    for backend in backends::all().await {
        let name = backend.name;
        let layer = layer(backend.store.clone(), DEFAULT_MAX_SESSION_SIZE);
        let profile = Router::new()
            .route(
                "/profile",
                post(|s: Session, Json(body): Json<Value>| async move {
                    s.insert_value("profile", body);
                }),
            )
            .layer(layer.clone());
        let app = app(layer);
        let cookie = jar(&merge(&app, "", json!({"a": 1})).await);

        // 127 levels: read back by serde_json, but not inside the Redis store's record.
        let res = send(&profile, "POST", "/profile", &cookie, arrays(125)).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{name}");
        assert!(
            matches!(
                res.extensions().get::<SessionError>(),
                Some(SessionError::Serialize(_))
            ),
            "{name}: {:?}",
            res.extensions().get::<SessionError>()
        );
        assert_eq!(data(&app, &cookie).await, json!({"a": 1}), "{name}");

        // One level less is stored and read back by every store.
        let res = send(&profile, "POST", "/profile", &cookie, arrays(124)).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(
            data(&app, &cookie).await,
            json!({"a": 1, "profile": arrays(124)}),
            "{name}"
        );
    }
}

/// The store itself refuses a patch whose merged record is over `Patch::max_size`, counting
/// exactly serde_json's text of the merged map (keys and values with every kind of escape;
/// Redis counts it in its Lua script), and writes nothing: one byte over is refused, exactly
/// the limit is saved — with no, a stale and the right compare-and-swap offer (PostgreSQL
/// takes a different path for each).
#[tokio::test]
async fn a_store_refuses_a_merged_record_over_the_patch_limit() {
    let now = 1_800_000_000;
    let stored = json!({
        "a": "plain",
        "quote\"d": 1.5,
        "nul\u{0}": "\u{0}\u{1f}",
        "line\nfeed\r\t\u{8}\u{c}": {"deep": ["\\", "/", "\u{7f}"]},
        "back\\slash": -12345678901234567_i64,
        "ü/é\u{1}": null,
    });
    for backend in backends::all().await {
        let (name, store) = (backend.name, backend.store.clone());
        let key = SessionId::generate().store_key();
        let mut record = Record {
            data: stored.as_object().cloned().unwrap(),
            version: 1,
            created_at: now,
            expires_at: now + 600,
            user: Some("alice".into()),
        };
        store.create(&key, &record).await.unwrap();
        let patches = [
            Patch::new(now + 700)
                .set("new\u{2}key\"", json!("v\n\u{0}"))
                .remove("a")
                .set("quote\"d", json!([1, {"x": "\u{1b}"}])),
            Patch::new(now + 800)
                .replace_with(json!({"z\u{0}": "é", "": 0}).as_object().cloned().unwrap())
                .with_user(None),
            Patch::new(now + 900).remove("z\u{0}").remove(""),
        ];
        for (i, patch) in patches.into_iter().enumerate() {
            let what = format!("{name}, patch {i}");
            let mut merged = record.clone();
            patch.apply(&mut merged);
            let size = serde_json::to_string(&merged.data).unwrap().len();
            let offers = [
                None,
                // A stale offer (another writer got there first) and the right one.
                Some(Record {
                    version: record.version.wrapping_sub(1),
                    ..merged.clone()
                }),
                Some(Record {
                    version: record.version,
                    ..merged.clone()
                }),
            ];
            for offer in offers {
                let mut over = patch.clone().with_max_size(size - 1);
                over.if_unchanged = offer;
                assert_eq!(
                    store.update(&key, &over, now).await,
                    Ok(Update::TooLarge { size }),
                    "{what}"
                );
                assert_eq!(
                    store.load(&key, now).await.unwrap().as_ref(),
                    Some(&record),
                    "{what}: nothing written"
                );
            }
            // Saved with the right offer: PostgreSQL's compare-and-swap path.
            let exact = patch.clone().with_max_size(size).with_if_unchanged(Record {
                version: record.version,
                ..merged.clone()
            });
            assert_eq!(
                store.update(&key, &exact, now).await,
                Ok(Update::Saved),
                "{what}"
            );
            assert_eq!(
                store.load(&key, now).await.unwrap().as_ref(),
                Some(&merged),
                "{what}"
            );
            record = merged;
        }
        assert!(record.data.is_empty() && record.version == 4, "{name}");
    }
}
