//! Every value JSON allows stores in every backend: users with NUL, of 9 000 and 100 000
//! characters, or any unicode, are stored, found by `delete_user` and revoked; the data
//! round-trips exactly. Run against the real servers (`scripts/test`).
#![cfg(all(feature = "axum", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/backends.rs"]
mod backends;

use axum::body::Body;
use axum::routing::{get, post};
use axum::{Json, Router};
use cookie_session::store::{Patch, Record, SessionId, Update};
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use http::{Request, Response, StatusCode};
use serde_json::{json, Map, Value};
use tower::ServiceExt;

const KEY: &str = "store-users-key-0123456789abcdef0123456789";

/// The users that broke a backend, and their neighbours.
fn users() -> Vec<String> {
    vec![
        "\u{0}x".to_owned(),
        "x".repeat(9_000),
        "y".repeat(100_000),
        // Differs from the previous one only in its last character: a bound that truncated
        // the user would merge the two.
        format!("{}z", "y".repeat(99_999)),
        "日本語 ✓ 🎉 \u{10FFFF} \u{FEFF}".to_owned(),
        "a}b{c} \"q\" \\ \n\t\u{7f} \u{1}".to_owned(),
        "42".to_owned(),
    ]
}

/// Data holding what text columns and naive escaping trip over.
fn data(user: &str) -> Map<String, Value> {
    let value = json!({
        "user": user,
        "nul": "a\u{0}b",
        "controls": "\u{1}\u{1f}\u{7f}\n\r\t",
        "unicode": "é ü 日本 🎉 \u{10FFFF} \u{FEFF} \u{2028}\u{2029}",
        "escapes": "\"\\/ \\u0000",
        "nested": {"\u{0}key": [null, true, 1.5, -0.0, 18446744073709551615u64, -9223372036854775808i64]},
    });
    value.as_object().cloned().unwrap()
}

#[tokio::test]
async fn every_user_value_stores_and_is_found_in_every_backend() {
    let now = 1_800_000_000;
    for backend in backends::all().await {
        let (name, store) = (backend.name, backend.store.clone());
        let users = users();
        let mut keys = Vec::new();
        for (i, user) in users.iter().enumerate() {
            let what = format!("{name}, user {i} ({} bytes)", user.len());
            let key = SessionId::generate().store_key();
            let record = Record {
                data: data(user),
                version: 1,
                created_at: now,
                expires_at: now + 600,
                user: Some(user.clone()),
            };
            store.create(&key, &record).await.expect(&what);
            assert_eq!(
                store.load(&key, now).await.expect(&what),
                Some(record.clone()),
                "{what}"
            );
            let patch = Patch::new(now + 600).set("more", json!(user));
            let mut changed = record;
            patch.apply(&mut changed);
            assert_eq!(
                store.update(&key, &patch, now).await.expect(&what),
                Update::Saved,
                "{what}"
            );
            assert!(
                store.touch(&key, now + 900, now).await.expect(&what),
                "{what}"
            );
            changed.expires_at = now + 900;
            assert_eq!(
                store.load(&key, now).await.expect(&what),
                Some(changed),
                "{what}"
            );
            keys.push(key);

            store
                .revoke_user(user, now - 5, now + 100)
                .await
                .expect(&what);
            assert_eq!(
                store.revoked_before(user, now).await.expect(&what),
                Some(now - 5),
                "{what}"
            );
        }
        // Each user's sessions, and only theirs, are found: one per user, in order, so a
        // wrong match deletes another user's session and shows up here.
        for (i, user) in users.iter().enumerate() {
            let what = format!("{name}, user {i}");
            assert_eq!(store.delete_user(user).await.expect(&what), 1, "{what}");
            assert_eq!(
                store.load(&keys[i], now).await.expect(&what),
                None,
                "{what}"
            );
            for later in &keys[i + 1..] {
                assert!(
                    store.load(later, now).await.expect(&what).is_some(),
                    "{what}"
                );
            }
        }
        assert_eq!(store.revoked_before("nobody", now).await.unwrap(), None);
    }
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/get",
            get(|s: Session| async move { Json(Value::Object(s.data())) }),
        )
        .route(
            "/login",
            post(
                |s: Session, Json(body): Json<Map<String, Value>>| async move {
                    s.regenerate();
                    for (k, v) in body {
                        s.insert_value(k, v);
                    }
                },
            ),
        )
        .layer(layer)
}

async fn send(app: &Router, uri: &str, cookie: &str, body: Option<&Value>) -> Response<Body> {
    let mut req = Request::builder().uri(uri);
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    let body = match body {
        Some(body) => {
            req = req
                .method("POST")
                .header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    app.clone().oneshot(req.body(body).unwrap()).await.unwrap()
}

async fn read(app: &Router, cookie: &str) -> Value {
    let res = send(app, "/get", cookie, None).await;
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

/// The replay's requests: `POST {"user": …}` answers 200 (it was a 503 on PostgreSQL), the
/// session reads back exactly, and `revoke_user` ends it — in store mode and, with a
/// revocation store, in cookie mode.
#[tokio::test]
async fn the_layer_stores_and_revokes_sessions_of_any_user() {
    for backend in backends::all().await {
        let (name, store) = (backend.name, backend.store.clone());
        let stored = SessionConfig::new(KeyRing::new([KEY]).unwrap())
            .shared_store(store.clone())
            .max_session_size(256 * 1024)
            .build()
            .unwrap();
        let revocable = SessionConfig::new(KeyRing::new([KEY]).unwrap())
            .revocation(store.clone())
            .build()
            .unwrap();
        for user in users() {
            let what = format!("{name}, a user of {} bytes", user.len());
            let body = Value::Object(data(&user));
            let app = app(stored.clone());
            let res = send(&app, "/login", "", Some(&body)).await;
            assert_eq!(res.status(), StatusCode::OK, "{what}");
            let cookie = jar(&res);
            assert_eq!(read(&app, &cookie).await, body, "{what}");
            assert_eq!(stored.revoke_user(&user).await.unwrap(), 1, "{what}");
            assert_eq!(read(&app, &cookie).await, json!({}), "{what}: revoked");

            // Cookie mode holds what fits in a cookie; the revocation check reads the store
            // for every user.
            if user.len() > 1_000 {
                continue;
            }
            let app = app_revocable(&revocable);
            let res = send(&app, "/login", "", Some(&body)).await;
            assert_eq!(res.status(), StatusCode::OK, "{what}: cookie mode");
            let cookie = jar(&res);
            assert_eq!(read(&app, &cookie).await, body, "{what}: cookie mode");
            // Revocation compares whole seconds (a cookie created in the second of the
            // revocation stays valid): it is made by a layer whose clock is ahead.
            let later = SessionConfig::new(KeyRing::new([KEY]).unwrap())
                .revocation(store.clone())
                .clock(Later)
                .build()
                .unwrap();
            later.revoke_user(&user).await.unwrap();
            assert_eq!(
                read(&app_revocable(&later), &cookie).await,
                json!({}),
                "{what}: cookie mode, revoked"
            );
        }
    }
}

fn app_revocable(layer: &SessionLayer) -> Router {
    app(layer.clone())
}

/// The system clock, two seconds ahead.
struct Later;

impl cookie_session::Clock for Later {
    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now() + std::time::Duration::from_secs(2)
    }
}

/// Tables made by the previous version (users in plain text) are migrated when the store is
/// made: their sessions and revocations stay valid and are found by digest; a second start
/// changes nothing.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_tables_of_the_previous_layout_are_migrated() {
    use cookie_session::store::{sqlx, PostgresStore, SessionStore};
    let Ok(url) = std::env::var("DATABASE_URL") else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "DATABASE_URL under CI"
        );
        eprintln!("skipping: DATABASE_URL is not set");
        return;
    };
    let pool = PostgresStore::pool_options()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    let name = format!("v1_{}", backends::unique());
    let (sessions, revocations) = (format!("{name}_s"), format!("{name}_r"));
    // The previous version's schema, verbatim.
    sqlx::raw_sql(&format!(
        "CREATE TABLE {sessions} (
            key        text   PRIMARY KEY,
            data       text   NOT NULL,
            version    bigint NOT NULL,
            created_at bigint NOT NULL,
            expires_at bigint NOT NULL,
            user_id    text
        );
        CREATE INDEX {sessions}_user_id ON {sessions} (user_id);
        CREATE TABLE {revocations} (
            user_id        text   PRIMARY KEY,
            revoked_before bigint NOT NULL,
            keep_until     bigint NOT NULL
        );"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let now = 1_800_000_000u64;
    let alice = SessionId::generate().store_key();
    let anonymous = SessionId::generate().store_key();
    // A plain user that is another user's digest: rebuilt, not colliding.
    let digest_of_alice = "fc84e77df604fe0b79185ac03666340daa3afc24db509094c2ee48f91822bfd3";
    for (key, user) in [(&alice, Some("älice")), (&anonymous, None)] {
        sqlx::query(&format!(
            "INSERT INTO {sessions} VALUES ($1, '{{\"user\":\"älice\",\"n\":1}}', 3, $2, $3, $4)"
        ))
        .bind(key.as_str())
        .bind(now as i64)
        .bind((now + 600) as i64)
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
    }
    for (user, at) in [("älice", now - 10), (digest_of_alice, now - 20)] {
        sqlx::query(&format!("INSERT INTO {revocations} VALUES ($1, $2, $3)"))
            .bind(user)
            .bind(at as i64)
            .bind((now + 100) as i64)
            .execute(&pool)
            .await
            .unwrap();
    }

    for start in 0..2 {
        let store = PostgresStore::from_pool_with_tables(pool.clone(), &sessions, &revocations)
            .await
            .unwrap();
        let record = store.load(&alice, now).await.unwrap().unwrap();
        assert_eq!(record.user.as_deref(), Some("älice"), "start {start}");
        assert_eq!(record.version, 3);
        assert_eq!(record.data["n"], 1);
        assert_eq!(
            store.load(&anonymous, now).await.unwrap().unwrap().user,
            None
        );
        assert_eq!(
            store.revoked_before("älice", now).await.unwrap(),
            Some(now - 10),
            "start {start}"
        );
        assert_eq!(
            store.revoked_before(digest_of_alice, now).await.unwrap(),
            Some(now - 20),
            "start {start}"
        );
    }
    let digests: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT user_id FROM {sessions} WHERE user_id IS NOT NULL"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(digests, [digest_of_alice], "stored as the digest, once");
    let store = PostgresStore::from_pool_with_tables(pool, &sessions, &revocations)
        .await
        .unwrap();
    assert_eq!(store.delete_user("älice").await.unwrap(), 1);
    assert!(store.load(&anonymous, now).await.unwrap().is_some());
}
