//! Live: leaving express-session with `migrate_from(Legacy::express_session(..))`. A user logs
//! in on the real express-session 1.19 app (`interop/express-session/server.js`), on real
//! Redis (connect-redis 10's layout) and real PostgreSQL (connect-pg-simple 10's); the Rust
//! layer, in its own `encrypted` format, then receives that browser's `connect.sid`: the user
//! is still logged in, gets the new cookie, and `connect.sid` is cleared. The old record is
//! only read, never written, touched or deleted.
//!
//! Needs `REDIS_URL` / `DATABASE_URL` and `npm ci` in `interop/express-session` (and `node`);
//! without them each test prints why it skips and passes, except under `CI=true`, where it
//! fails.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "skip/mod.rs"]
mod skip;

#[path = "support/express_session_app.rs"]
mod express_session_app;
#[path = "support/http.rs"]
mod http;

use express_session_app::{Backend, ExpressApp, Kind, Raw};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Request};
use axum::routing::get;
use axum::{Json, Router};
use cookie_session::format::express_session::{find_cookie, SidSigner};
use cookie_session::migrate::Legacy;
use cookie_session::store::{ExpressSessionStore, MemoryStore};
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// The Express app's secrets (short, as Express allows), and the new layer's key.
const SECRETS: &str = "old-secret-new,old-secret-old";
const NEW_KEY: &str = "the new layer's key, at least 32 bytes long";
const WAIT: Duration = Duration::from_secs(15);

fn skip(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}: under CI=true the live express-session tests must run");
    }
    skip::skipped(why);
}

/// Logs `body` in on the Express app: POST /api/session, and the `connect.sid=…` pair the
/// browser keeps.
fn login(express: &ExpressApp, body: &Value) -> String {
    let reply =
        express_session_app::call(express.port, WAIT, "POST", "/api/session", None, Some(body));
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
        .cookie()
        .expect("express-session sets connect.sid on a login")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The Rust app: GET the session's data (the extractor loads it).
fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/api/session",
            get(|s: Session| async move { Json(Value::Object(s.data())) }),
        )
        .layer(layer)
}

struct Reply {
    status: u16,
    set_cookie: Vec<String>,
    body: Value,
}

impl Reply {
    /// The `Set-Cookie` for cookie `name`.
    fn cookie(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.set_cookie
            .iter()
            .find(|c| c.starts_with(&prefix))
            .map(String::as_str)
    }
}

fn call(rt: &tokio::runtime::Runtime, app: &Router, cookie: Option<&str>) -> Reply {
    let mut req = Request::builder().uri("/api/session");
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let req = req.body(axum::body::Body::empty()).unwrap();
    rt.block_on(async {
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let set_cookie = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            set_cookie,
            body,
        }
    })
}

/// A store, with the Express app on it, and the raw record reader.
struct Setup {
    rt: tokio::runtime::Runtime,
    express: ExpressApp,
    store: Arc<dyn ExpressSessionStore>,
    raw: Raw,
}

impl Setup {
    /// The record text under `sid`, as another program reads it, with its store expiry.
    fn raw(&self, sid: &str) -> Option<String> {
        match &self.raw {
            Raw::Redis(client) => {
                let mut conn = client.get_connection().unwrap();
                redis::cmd("GET")
                    .arg(format!("sess:{sid}"))
                    .query(&mut conn)
                    .unwrap()
            }
            Raw::Pg { pool, table } => {
                let sql = format!(
                    "SELECT sess::text || ' ' || expire::text FROM \"{table}\" WHERE sid = $1"
                );
                self.rt
                    .block_on(
                        cookie_session::store::sqlx::query_scalar::<_, String>(&sql)
                            .bind(sid)
                            .fetch_optional(pool),
                    )
                    .unwrap()
            }
        }
    }

    /// The Redis TTL (or nothing, for PostgreSQL, whose expiry `raw` already shows).
    fn ttl(&self, sid: &str) -> Option<i64> {
        match &self.raw {
            Raw::Redis(client) => {
                let mut conn = client.get_connection().unwrap();
                redis::cmd("PTTL")
                    .arg(format!("sess:{sid}"))
                    .query(&mut conn)
                    .ok()
            }
            Raw::Pg { .. } => None,
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.raw.drop_table(&self.rt);
    }
}

fn setup(kind: &Kind, label: &str, cookie_options: &str) -> Option<Setup> {
    let rt = runtime();
    let table = format!("xsmigrate_{label}_{}", std::process::id());
    let backend = Backend::open(*kind, &rt, &table, skip)?;
    let mut env = backend.env();
    env.push(("SESSION_MAX_AGE_MS", "3600000"));
    env.push(("SESSION_COOKIE", cookie_options));
    let express = ExpressApp::start(SECRETS, &env, WAIT);
    let Backend { store, raw, .. } = backend;
    Some(Setup {
        rt,
        express,
        store,
        raw,
    })
}

fn old_source(s: &Setup) -> Legacy {
    Legacy::express_session_shared(KeyRing::parse_list(SECRETS).unwrap(), s.store.clone())
}

fn new_keys() -> KeyRing {
    KeyRing::new([NEW_KEY]).unwrap()
}

/// How one run is set up: the store, the cookie options the Express app was given (and so
/// the `Path` / `Domain` its records keep), and whether the new layer is in store mode.
fn migrates(kind: Kind, label: &str, cookie_options: &str, store_mode: bool) {
    let Some(s) = setup(&kind, label, cookie_options) else {
        return;
    };
    let old_cookie = login(&s.express, &json!({"user": "ann", "views": 1}));
    let value = find_cookie(&old_cookie, "connect.sid").unwrap();
    let signer = SidSigner::new(&KeyRing::parse_list(SECRETS).unwrap());
    let sid = signer.open(&value).unwrap().0;
    let record = s.raw(&sid).expect("the Express app stored the login");
    let ttl = s.ttl(&sid);

    let config = SessionConfig::new(new_keys()).migrate_from(old_source(&s));
    let config = if store_mode {
        config.store(MemoryStore::new())
    } else {
        config
    };
    let layer = config.build().unwrap();
    let rust = app(layer.clone());

    // 1. Only connect.sid: logged in, the new cookie issued, connect.sid cleared.
    let first = call(&s.rt, &rust, Some(&old_cookie));
    assert_eq!(first.status, 200, "{label}");
    assert_eq!(first.body, json!({"user": "ann", "views": 1}), "{label}");
    let new_cookie = first
        .cookie("session")
        .expect("the session re-issued in the layer's format")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let cleared = first.cookie("connect.sid").expect("connect.sid cleared");
    let expected_path = if cookie_options.contains("/api") {
        "; path=/api;"
    } else {
        "; path=/;"
    };
    assert!(cleared.starts_with("connect.sid=;"), "{cleared}");
    assert!(cleared.contains(expected_path), "{label}: {cleared}");
    assert!(
        cleared.contains("Max-Age=0") || cleared.contains("1970"),
        "{cleared}"
    );
    assert_eq!(first.set_cookie.len(), 2, "{:?}", first.set_cookie);
    let metrics = layer.metrics();
    assert_eq!(metrics.opened_count("express-session"), 1, "{label}");
    assert_eq!(metrics.opened_count("encrypted"), 0, "{label}");
    // The old record is kept exactly as it was, expiry included: the Express app may still
    // serve that browser.
    assert_eq!(s.raw(&sid).as_deref(), Some(record.as_str()), "{label}");
    if let (Some(before), Some(after)) = (ttl, s.ttl(&sid)) {
        assert!(after <= before && after > 0, "{label}: untouched TTL");
    }

    // 2. The new cookie alone: the same session, in the new format.
    let next = call(&s.rt, &rust, Some(&new_cookie));
    assert_eq!(next.body, json!({"user": "ann", "views": 1}), "{label}");
    assert!(next.cookie("connect.sid").is_none());

    // 3. Both: the new one wins, connect.sid is cleared (with the source's configured path:
    // the record is not loaded for that), nothing migrated again.
    let both = call(&s.rt, &rust, Some(&format!("{new_cookie}; {old_cookie}")));
    assert_eq!(both.body, json!({"user": "ann", "views": 1}), "{label}");
    let cleared = both.cookie("connect.sid").expect("connect.sid cleared");
    assert!(cleared.starts_with("connect.sid=;"), "{cleared}");
    assert!(cleared.contains("; path=/;"), "{label}: {cleared}");
    assert_eq!(layer.metrics().opened_count("express-session"), 1);
    assert_eq!(layer.metrics().opened_count("encrypted"), 2);

    // 4. A forged connect.sid (the same sid, signed with another secret): empty, nothing
    // re-issued, nothing cleared.
    let forger = SidSigner::new(&KeyRing::new(["not the Express secret"]).unwrap());
    let forged = format!("connect.sid={}", forger.cookie_value(&sid));
    let reply = call(&s.rt, &rust, Some(&forged));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({}), "{label}: a forged connect.sid");
    assert!(reply.set_cookie.is_empty(), "{:?}", reply.set_cookie);

    // 5. A genuine signature over a sid with no record: empty, nothing re-issued or cleared.
    let unknown = format!(
        "connect.sid={}",
        signer.cookie_value("no-such-session-in-this-store-xx")
    );
    let reply = call(&s.rt, &rust, Some(&unknown));
    assert_eq!(reply.body, json!({}), "{label}: no live record");
    assert!(reply.set_cookie.is_empty(), "{:?}", reply.set_cookie);
    assert_eq!(layer.metrics().opened_count("express-session"), 1);

    // Nothing was written to the old store by any of this.
    assert_eq!(s.raw(&sid).as_deref(), Some(record.as_str()), "{label}");
    drop(s);
}

#[test]
fn a_login_on_express_session_moves_to_cookie_mode_redis() {
    migrates(Kind::Redis, "cookie_redis", "{}", false);
}

#[test]
fn a_login_on_express_session_moves_to_cookie_mode_pg() {
    // The record's own `path` clears connect.sid.
    migrates(Kind::Pg, "cookie_pg", r#"{"path":"/api"}"#, false);
}

#[test]
fn a_login_on_express_session_moves_to_store_mode() {
    migrates(Kind::Redis, "store_redis", r#"{"path":"/api"}"#, true);
    migrates(Kind::Pg, "store_pg", "{}", true);
}
