//! A planted cookie cannot shadow a valid one: among cookies of the session's name, the
//! session is the first that passes **every** check (authenticity, expiry, absolute lifetime,
//! issued-in-future, revocation, the store record), not the first that authenticates.
//!
//! Each check is tried in both positions — the refused cookie first and the valid one second,
//! and the reverse — in cookie mode and in store mode (`MemoryStore`; the same rule on Redis,
//! PostgreSQL and SQLite is in `store_conformance.rs`). Every case asserts the valid session is
//! the one served, that the refused cookie is counted under its reason only when it was
//! examined, that nothing is re-issued on a read, and that a write lands on the valid session
//! (same creation time in cookie mode, same id and record in store mode, no record revived).
#![cfg(all(feature = "axum", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use cookie_session::format::{Cipher, Format, SigAlgorithm};
use cookie_session::store::{
    BoxFuture, MemoryStore, Patch, Record, SessionId, SessionStore, StoreError, StoreKey, Update,
};
use cookie_session::{KeyRing, Rejection, Session, SessionConfig, SessionLayer};
use http::{Request, Response, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY: &str = "shadowing-key-0123456789abcdef0123456789";
/// Every native format; `encrypted` in both versions, each pinned so both run on any CPU.
const NATIVE: &[Native] = &[
    Native(Format::Encrypted, Cipher::XChaCha20Poly1305),
    Native(Format::Encrypted, Cipher::Xaes256Gcm),
    Native(Format::Signed, Cipher::Auto),
    #[cfg(feature = "jwt")]
    Native(Format::Jwt, Cipher::Auto),
];

/// A format and the cipher that seals it (`Auto` but for the pinned `encrypted` versions).
#[derive(Debug, Clone, Copy)]
struct Native(Format, Cipher);

impl From<Format> for Native {
    fn from(format: Format) -> Self {
        Native(format, Cipher::Auto)
    }
}

impl std::fmt::Display for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Cipher::Auto => write!(f, "{}", self.0),
            cipher => write!(f, "{} ({cipher:?})", self.0),
        }
    }
}
const HOUR: u64 = 3600;

/// A clock the test moves by hand (seconds since the epoch).
#[derive(Clone)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> Self {
        TestClock(Arc::new(AtomicU64::new(1_705_320_000)))
    }
    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

/// A store that counts the calls the layer makes, around a real `MemoryStore`.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    loads: AtomicUsize,
    creates: AtomicUsize,
    revocation_checks: AtomicUsize,
    /// Every key created, in order.
    created: std::sync::Mutex<Vec<StoreKey>>,
    /// Keys whose record loads as unreadable (`StoreError::Corrupt`), as a row another
    /// program wrote would.
    corrupt: std::sync::Mutex<Vec<StoreKey>>,
}

impl SessionStore for Counting {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        self.created.lock().unwrap().push(key.clone());
        self.inner.create(key, record)
    }
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.corrupt.lock().unwrap().contains(key) {
            return Box::pin(async { Err(StoreError::Corrupt("data is not JSON".into())) });
        }
        self.inner.load(key, now)
    }
    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        self.inner.update(key, patch, now)
    }
    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.touch(key, expires_at, now)
    }
    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.delete(key)
    }
    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.inner.delete_user(user)
    }
    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        at: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.revoke_user(user, at, until)
    }
    fn revoked_before<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        self.revocation_checks.fetch_add(1, Ordering::SeqCst);
        self.inner.revoked_before(user, now)
    }
    fn cleanup(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.cleanup(now)
    }
}

/// The store calls made so far, and a reset.
fn take(counter: &AtomicUsize) -> usize {
    counter.swap(0, Ordering::SeqCst)
}

/// An app: `/get` answers the session as JSON, `/set/{k}/{v}` sets a key, `/destroy` ends it.
struct App {
    app: Router,
    layer: SessionLayer,
}

impl App {
    fn new(config: SessionConfig) -> Self {
        let layer = config.build().unwrap();
        let app = Router::new()
            .route(
                "/get",
                get(|s: Session| async move { serde_json::to_string(&s.data()).unwrap() }),
            )
            .route(
                "/set/{key}/{value}",
                get(
                    |s: Session, Path((k, v)): Path<(String, String)>| async move {
                        s.insert(k, v).unwrap();
                        "ok"
                    },
                ),
            )
            .route(
                "/destroy",
                get(|s: Session| async move {
                    s.destroy();
                    "bye"
                }),
            )
            .layer(layer.clone());
        App { app, layer }
    }

    async fn call(&self, uri: &str, cookie: Option<&str>) -> Response<Body> {
        let mut req = Request::builder().uri(uri);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        self.app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    /// Starts a session holding `who` and returns its cookie (`name=value`).
    async fn mint(&self, who: &str) -> String {
        let cookie = jar(&self.call(&format!("/set/who/{who}"), None).await);
        assert!(cookie.starts_with("session="), "{cookie}");
        cookie
    }

    fn rejected(&self, reason: Rejection) -> u64 {
        self.layer.metrics().count(reason)
    }
}

fn set_cookies(res: &Response<Body>) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn jar(res: &Response<Body>) -> String {
    set_cookies(res)
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn varies(res: &Response<Body>) -> bool {
    res.headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().eq_ignore_ascii_case("cookie"))
}

async fn body(res: Response<Body>) -> Value {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn clocked(format: impl Into<Native>, clock: &TestClock) -> SessionConfig {
    let Native(format, cipher) = format.into();
    let c = clock.clone();
    SessionConfig::new(KeyRing::new([KEY]).unwrap())
        .format(format)
        .cipher(cipher)
        .clock(move || c.now())
}

/// One refused cookie and one valid cookie of the same app.
struct Case {
    what: &'static str,
    app: App,
    store: Option<Arc<Counting>>,
    stale: String,
    valid: String,
    reason: Rejection,
    /// Store lookups the refused cookie costs when examined (0: refused before the store).
    stale_loads: usize,
}

/// Reads with the refused cookie first, then second: the valid session is served either way,
/// nothing is re-issued, and the refused cookie is counted only when it was examined.
async fn reads(case: &Case, format: Native) {
    let ctx = format!("{format} {}", case.what);
    let before = case.app.rejected(case.reason);
    for (header, examined) in [
        (format!("{}; {}", case.stale, case.valid), true),
        (format!("{}; {}", case.valid, case.stale), false),
    ] {
        if let Some(store) = &case.store {
            take(&store.loads);
        }
        let counted = case.app.rejected(case.reason);
        let res = case.app.call("/get", Some(&header)).await;
        assert!(set_cookies(&res).is_empty(), "{ctx}: a read re-issued");
        assert!(varies(&res), "{ctx}: no Vary: Cookie");
        assert_eq!(body(res).await, json!({"who": "valid"}), "{ctx}: {header}");
        assert_eq!(
            case.app.rejected(case.reason) - counted,
            u64::from(examined),
            "{ctx}: rejection count, refused cookie examined: {examined}"
        );
        if let Some(store) = &case.store {
            let loads = if examined { case.stale_loads + 1 } else { 1 };
            assert_eq!(take(&store.loads), loads, "{ctx}: store lookups");
        }
    }
    assert_eq!(case.app.rejected(case.reason) - before, 1, "{ctx}");
}

/// A write with the refused cookie first lands on the valid session: cookie mode re-seals it
/// with its creation time, store mode updates its record and creates none.
async fn writes(case: &Case, format: Native) {
    let ctx = format!("{format} {}", case.what);
    let header = format!("{}; {}", case.stale, case.valid);
    let res = case.app.call("/set/k/v", Some(&header)).await;
    let sent = jar(&res);
    let valid = case.app.layer.decode([case.valid.as_str()]).unwrap();
    match &case.store {
        None => {
            assert_eq!(set_cookies(&res).len(), 1, "{ctx}");
            let written = case.app.layer.decode([sent.as_str()]).unwrap();
            assert_eq!(
                serde_json::to_value(&written.data).unwrap(),
                json!({"who": "valid", "k": "v"}),
                "{ctx}"
            );
            let (was, now) = (valid.times.unwrap(), written.times.unwrap());
            assert_eq!(was.created_at, now.created_at, "{ctx}: a new session");
        }
        Some(store) => {
            assert_eq!(take(&store.creates), 0, "{ctx}: a record was created");
            // A cookie, when one is sent, still names the valid session.
            if !sent.is_empty() {
                let written = case.app.layer.decode([sent.as_str()]).unwrap();
                assert_eq!(written.data, valid.data, "{ctx}: another id issued");
            }
            let id = SessionId::parse(valid.data["sid"].as_str().unwrap()).unwrap();
            let record = store.load(&id.store_key(), 0).await.unwrap().unwrap();
            assert_eq!(
                serde_json::to_value(&record.data).unwrap(),
                json!({"who": "valid", "k": "v"}),
                "{ctx}"
            );
            // The refused cookie's record (if it had one) is not brought back.
            if let Ok(stale) = case.app.layer.decode([case.stale.as_str()]) {
                if let Some(id) = stale.data.get("sid").and_then(Value::as_str) {
                    if let Some(id) = SessionId::parse(id) {
                        let found = store.inner.load(&id.store_key(), 0).await.unwrap();
                        if let Some(record) = found {
                            assert_eq!(
                                serde_json::to_value(&record.data).unwrap(),
                                json!({"who": "stale"}),
                                "{ctx}: the refused session was written to"
                            );
                        }
                    }
                }
            }
        }
    }
    assert!(varies(&res), "{ctx}");
}

async fn check(case: Case, format: Native) {
    reads(&case, format).await;
    writes(&case, format).await;
}

// ---------------------------------------------------------------------------------------
// Cookie mode.

#[tokio::test]
async fn cookie_mode_expired_cookie_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let app = App::new(clocked(format, &clock).ttl(Duration::from_secs(HOUR)));
        let stale = app.mint("stale").await;
        clock.advance(2 * HOUR);
        let valid = app.mint("valid").await;
        let case = Case {
            what: "expired",
            app,
            store: None,
            stale,
            valid,
            reason: Rejection::Expired,
            stale_loads: 0,
        };
        check(case, format).await;
    }
}

#[tokio::test]
async fn cookie_mode_cookie_beyond_the_absolute_lifetime_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        // Sealed before the operator set an absolute lifetime: its own expiry is a day away.
        let before = App::new(clocked(format, &clock).ttl(Duration::from_secs(24 * HOUR)));
        let stale = before.mint("stale").await;
        let app = App::new(
            clocked(format, &clock)
                .ttl(Duration::from_secs(24 * HOUR))
                .absolute_lifetime(Some(Duration::from_secs(HOUR))),
        );
        clock.advance(2 * HOUR);
        let valid = app.mint("valid").await;
        let case = Case {
            what: "too old",
            app,
            store: None,
            stale,
            valid,
            reason: Rejection::TooOld,
            stale_loads: 0,
        };
        check(case, format).await;
    }
}

#[tokio::test]
async fn cookie_mode_cookie_issued_in_the_future_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let ahead = TestClock::new();
        ahead.advance(2 * HOUR);
        // Sealed by a server whose clock ran two hours ahead.
        let skewed = App::new(clocked(format, &ahead));
        let stale = skewed.mint("stale").await;
        let app = App::new(clocked(format, &clock));
        let valid = app.mint("valid").await;
        let case = Case {
            what: "issued in the future",
            app,
            store: None,
            stale,
            valid,
            reason: Rejection::IssuedInFuture,
            stale_loads: 0,
        };
        check(case, format).await;
    }
}

#[tokio::test]
async fn cookie_mode_revoked_cookie_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let store = Arc::new(Counting::default());
        let app = App::new(clocked(format, &clock).revocation(store.clone()));
        let stale = jar(&app.call("/set/user/alice", None).await);
        let stale = jar(&app.call("/set/who/stale", Some(&stale)).await);
        clock.advance(5);
        app.layer.revoke_user("alice").await.unwrap();
        clock.advance(1);
        let valid = jar(&app.call("/set/user/alice", None).await);
        let valid = jar(&app.call("/set/who/valid", Some(&valid)).await);
        take(&store.revocation_checks);
        // The cookie carries `user` too: the body compares the whole session.
        let header = format!("{stale}; {valid}");
        let counted = app.rejected(Rejection::Revoked);
        let res = app.call("/get", Some(&header)).await;
        assert!(set_cookies(&res).is_empty(), "{format}");
        assert_eq!(body(res).await, json!({"user": "alice", "who": "valid"}));
        assert_eq!(app.rejected(Rejection::Revoked) - counted, 1, "{format}");
        assert_eq!(take(&store.revocation_checks), 2, "{format}");
        let header = format!("{valid}; {stale}");
        let res = app.call("/get", Some(&header)).await;
        assert_eq!(body(res).await, json!({"user": "alice", "who": "valid"}));
        assert_eq!(app.rejected(Rejection::Revoked) - counted, 1, "{format}");
        assert_eq!(take(&store.revocation_checks), 1, "{format}");
        // A write continues the valid session (its creation time), never the revoked one.
        let res = app
            .call("/set/k/v", Some(&format!("{stale}; {valid}")))
            .await;
        let written = app.layer.decode([jar(&res).as_str()]).unwrap();
        assert_eq!(
            serde_json::to_value(&written.data).unwrap(),
            json!({"user": "alice", "who": "valid", "k": "v"})
        );
        let valid_times = app.layer.decode([valid.as_str()]).unwrap().times.unwrap();
        assert_eq!(written.times.unwrap().created_at, valid_times.created_at);
    }
}

/// Forged and empty values before ours were always skipped; they still are, and are counted
/// (once per reason per request).
#[tokio::test]
async fn cookie_mode_forged_and_empty_values_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let app = App::new(clocked(format, &clock));
        let valid = app.mint("valid").await;
        let header = format!("session=; session=forged; session=AAAA; {valid}");
        let res = app.call("/get", Some(&header)).await;
        assert_eq!(body(res).await, json!({"who": "valid"}), "{format}");
        // Two malformed values, one request: counted once.
        assert_eq!(app.rejected(Rejection::Malformed), 1, "{format}");
    }
}

// ---------------------------------------------------------------------------------------
// Store mode (the cookie holds a sealed id).

fn store_app(format: impl Into<Native>, clock: &TestClock, store: &Arc<Counting>) -> App {
    App::new(
        clocked(format, clock)
            .shared_store(store.clone())
            .ttl(Duration::from_secs(HOUR))
            .clock_skew(Duration::ZERO),
    )
}

#[tokio::test]
async fn store_mode_destroyed_record_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let store = Arc::new(Counting::default());
        let app = store_app(format, &clock, &store);
        let stale = app.mint("stale").await;
        app.call("/destroy", Some(&stale)).await;
        let valid = app.mint("valid").await;
        take(&store.creates);
        let case = Case {
            what: "destroyed record",
            app,
            store: Some(store),
            stale,
            valid,
            reason: Rejection::UnknownSession,
            stale_loads: 1,
        };
        check(case, format).await;
    }
}

#[tokio::test]
async fn store_mode_unknown_record_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        // Same key, another store: an authentic cookie naming a record this store never held.
        let elsewhere = store_app(format, &clock, &Arc::new(Counting::default()));
        let stale = elsewhere.mint("stale").await;
        let store = Arc::new(Counting::default());
        let app = store_app(format, &clock, &store);
        let valid = app.mint("valid").await;
        take(&store.creates);
        let case = Case {
            what: "unknown record",
            app,
            store: Some(store),
            stale,
            valid,
            reason: Rejection::UnknownSession,
            stale_loads: 1,
        };
        check(case, format).await;
    }
}

/// A record the store cannot read (another program wrote it) is bad input, not an outage: the
/// request goes on to the next cookie, or to a new session, never a 503 (which would lock the
/// visitor out, logout included); the record is left as it is.
#[tokio::test]
async fn store_mode_unreadable_record_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let store = Arc::new(Counting::default());
        let app = store_app(format, &clock, &store);
        let stale = app.mint("stale").await;
        let key = store.created.lock().unwrap()[0].clone();
        store.corrupt.lock().unwrap().push(key.clone());
        let valid = app.mint("valid").await;
        take(&store.creates);
        // Alone: an empty session, not a 503, and a write starts a new record.
        let res = app.call("/get", Some(&stale)).await;
        assert_eq!(res.status(), StatusCode::OK, "{format}");
        assert_eq!(body(res).await, json!({}), "{format}");
        let res = app.call("/destroy", Some(&stale)).await;
        assert_eq!(res.status(), StatusCode::OK, "{format}: logout works");
        let res = app.call("/set/a/b", Some(&stale)).await;
        assert_eq!(res.status(), StatusCode::OK, "{format}");
        assert_eq!(take(&store.creates), 1, "{format}: a new record");
        // The unreadable record is still there, untouched.
        let record = store.inner.load(&key, 0).await.unwrap().unwrap();
        assert_eq!(record.data["who"], "stale", "{format}");
        let case = Case {
            what: "unreadable record",
            app,
            store: Some(store),
            stale,
            valid,
            reason: Rejection::UnknownSession,
            stale_loads: 1,
        };
        check(case, format).await;
    }
}

#[tokio::test]
async fn store_mode_expired_record_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let store = Arc::new(Counting::default());
        let app = store_app(format, &clock, &store);
        let stale = app.mint("stale").await;
        // The record's idle expiry passes; the cookie itself (sealed id) is still unexpired.
        clock.advance(2 * HOUR);
        let valid = app.mint("valid").await;
        take(&store.creates);
        let case = Case {
            what: "expired record",
            app,
            store: Some(store),
            stale,
            valid,
            reason: Rejection::UnknownSession,
            stale_loads: 1,
        };
        check(case, format).await;
    }
}

#[tokio::test]
async fn store_mode_cookie_beyond_the_absolute_lifetime_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let store = Arc::new(Counting::default());
        // Sealed before the absolute lifetime was configured (its cookie expiry is 400 days).
        let before = store_app(format, &clock, &store);
        let stale = before.mint("stale").await;
        let app = App::new(
            clocked(format, &clock)
                .shared_store(store.clone())
                .ttl(Duration::from_secs(24 * HOUR))
                .absolute_lifetime(Some(Duration::from_secs(HOUR)))
                .clock_skew(Duration::ZERO),
        );
        clock.advance(2 * HOUR);
        let valid = app.mint("valid").await;
        take(&store.creates);
        let case = Case {
            what: "too old",
            app,
            store: Some(store),
            stale,
            valid,
            reason: Rejection::TooOld,
            stale_loads: 0,
        };
        check(case, format).await;
    }
}

#[tokio::test]
async fn store_mode_revoked_user_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let store = Arc::new(Counting::default());
        let app = store_app(format, &clock, &store);
        let stale = jar(&app.call("/set/user/alice", None).await);
        app.call("/set/who/stale", Some(&stale)).await;
        clock.advance(5);
        app.layer.revoke_user("alice").await.unwrap();
        clock.advance(1);
        let valid = app.mint("valid").await;
        take(&store.creates);
        let case = Case {
            what: "revoked user",
            app,
            store: Some(store),
            stale,
            valid,
            reason: Rejection::UnknownSession,
            stale_loads: 1,
        };
        check(case, format).await;
    }
}

#[tokio::test]
async fn store_mode_authentic_cookie_without_an_id_first() {
    for &format in NATIVE {
        let clock = TestClock::new();
        // A cookie-mode session under the same key and name: authentic, but no session id.
        let cookie_mode = App::new(clocked(format, &clock));
        let stale = jar(&cookie_mode.call("/set/sid/not-an-id", None).await);
        let store = Arc::new(Counting::default());
        let app = store_app(format, &clock, &store);
        let valid = app.mint("valid").await;
        take(&store.creates);
        let case = Case {
            what: "no id",
            app,
            store: Some(store),
            stale,
            valid,
            reason: Rejection::BadPayload,
            stale_loads: 0,
        };
        check(case, format).await;
    }
}

// ---------------------------------------------------------------------------------------
// The bound, and the Express format.

/// At most four authentic cookies are examined per request: three destroyed sessions before
/// ours cost three lookups and ours is found; with four, ours is never reached and the store
/// sees exactly four lookups, whatever else the header carries.
#[tokio::test]
async fn at_most_four_authentic_cookies_are_examined() {
    let clock = TestClock::new();
    let store = Arc::new(Counting::default());
    let app = store_app(Format::Encrypted, &clock, &store);
    let mut destroyed = Vec::new();
    for i in 0..6 {
        let cookie = app.mint(&format!("stale{i}")).await;
        app.call("/destroy", Some(&cookie)).await;
        destroyed.push(cookie);
    }
    let valid = app.mint("valid").await;
    take(&store.loads);
    let three = format!("{}; {valid}", destroyed[..3].join("; "));
    let res = app.call("/get", Some(&three)).await;
    assert_eq!(body(res).await, json!({"who": "valid"}));
    assert_eq!(take(&store.loads), 4);
    let before = app.rejected(Rejection::UnknownSession);
    let six = format!("{}; {valid}", destroyed.join("; "));
    let res = app.call("/get", Some(&six)).await;
    assert!(set_cookies(&res).is_empty());
    assert_eq!(body(res).await, json!({}));
    assert_eq!(take(&store.loads), 4);
    // Counted once per reason per request, however many cookies it refused for it.
    assert_eq!(app.rejected(Rejection::UnknownSession) - before, 1);
}

/// The Express format reads the first `session`/`session.sig` pair, as Express does: its
/// cookies carry no time, so an older authentic pair planted first is, to Express and to us,
/// a valid session, and a forged first pair is not skipped (Express would not skip it).
#[tokio::test]
async fn express_reads_the_first_pair_as_express_does() {
    let clock = TestClock::new();
    let app = App::new(clocked(Format::Express(SigAlgorithm::Sha1), &clock));
    let older = app.mint("older").await;
    let newer = app.mint("newer").await;
    assert!(older.contains("session.sig="), "{older}");
    let res = app.call("/get", Some(&format!("{older}; {newer}"))).await;
    assert_eq!(body(res).await, json!({"who": "older"}));
    let res = app.call("/get", Some(&format!("{newer}; {older}"))).await;
    assert_eq!(body(res).await, json!({"who": "newer"}));
    let forged = "session=eyJ3aG8iOiJmb3JnZWQifQ==; session.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let res = app.call("/get", Some(&format!("{forged}; {newer}"))).await;
    assert_eq!(body(res).await, json!({}));
    assert_eq!(app.rejected(Rejection::BadSignature), 1);
}

/// After a key rotation, the valid session behind an expired one is re-issued under the new
/// key — its own data and creation time, never the expired cookie's.
#[tokio::test]
async fn rotation_reissues_the_valid_session_not_the_stale_one() {
    const NEW: &str = "shadowing-new-key-0123456789abcdef0123456";
    for &format in NATIVE {
        let clock = TestClock::new();
        let ttl = Duration::from_secs(HOUR);
        let old = App::new(clocked(format, &clock).ttl(ttl));
        let stale = old.mint("stale").await;
        clock.advance(2 * HOUR);
        let valid = old.mint("valid").await;
        let c = clock.clone();
        let rotated = App::new(
            SessionConfig::new(KeyRing::new([NEW, KEY]).unwrap())
                .format(format.0)
                .cipher(format.1)
                .ttl(ttl)
                .clock(move || c.now()),
        );
        let res = rotated
            .call("/get", Some(&format!("{stale}; {valid}")))
            .await;
        let reissued = jar(&res);
        assert_eq!(body(res).await, json!({"who": "valid"}), "{format}");
        let loaded = rotated.layer.decode([reissued.as_str()]).unwrap();
        assert_eq!(loaded.key_index, 0, "{format}: under the new key");
        assert_eq!(
            serde_json::to_value(&loaded.data).unwrap(),
            json!({"who": "valid"})
        );
        let was = old.layer.decode([valid.as_str()]).unwrap().times.unwrap();
        assert_eq!(loaded.times.unwrap().created_at, was.created_at, "{format}");
        assert_eq!(rotated.rejected(Rejection::Expired), 1, "{format}");
    }
}

// ---------------------------------------------------------------------------------------
// A session split over `session.0`, `session.1`, … (`split_oversized`).

/// An app that splits oversized sessions.
fn splitting(format: Native, clock: &TestClock) -> App {
    App::new(clocked(format, clock).split_oversized(4))
}

/// The chunks (`session.0=…; session.1=…`) of a new session of `app` holding `who` and a
/// value too large for one cookie.
async fn chunked(app: &App, who: &str) -> String {
    let first = app.mint(who).await;
    let big = "x".repeat(6000);
    let pairs = jar(&app.call(&format!("/set/big/{big}"), Some(&first)).await);
    assert!(
        pairs.contains("session.0=") && pairs.contains("; session.1="),
        "{pairs}"
    );
    chunks_of(&pairs)
}

/// The chunk cookies a response set (not the ones it cleared).
fn chunks_of(pairs: &str) -> String {
    pairs
        .split("; ")
        .filter(|pair| pair.starts_with("session.") && !pair.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Values planted under the session's name or its chunks' names — forged (no key needed), or
/// authentic but expired — before or after the browser's chunks never hide them: reads serve
/// the split session, and a write keeps it (re-split, nothing of it cleared).
#[tokio::test]
async fn planted_values_never_hide_a_split_session() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let app = splitting(format, &clock);
        // An authentic single cookie of this app, expired by the time the victim's is made.
        let expired = app.mint("attacker").await;
        clock.advance(2 * 86400);
        let chunks = chunked(&app, "victim").await;
        let chunk0 = chunks.split("; ").next().unwrap();
        let last = chunks
            .split("; ")
            .filter(|p| p.starts_with("session."))
            .count();
        for (what, header) in [
            (
                "a forged single cookie first",
                format!("session=forged; {chunks}"),
            ),
            (
                "an expired single cookie first",
                format!("{expired}; {chunks}"),
            ),
            (
                "a forged chunk 0 first",
                format!("session.0=forged; {chunks}"),
            ),
            (
                "a forged chunk 1 first",
                format!("session.1=AAAAAAAAAAAAAAAA; {chunks}"),
            ),
            (
                "one chunk more than ours",
                format!("{chunks}; session.{last}=AAAAAAAA"),
            ),
            ("chunk 0 copied to the end", format!("{chunks}; {chunk0}")),
            (
                "everything at once",
                format!("session=forged; {expired}; session.0=forged; {chunks}; session.{last}=x"),
            ),
        ] {
            let served = body(app.call("/get", Some(&header)).await).await;
            assert_eq!(served["who"], "victim", "{format}, {what}: {served}");
            assert_eq!(
                served["big"].as_str().map(str::len),
                Some(6000),
                "{format}, {what}"
            );
            // A write keeps the session: the next request (its chunks only) still has it.
            let kept = chunks_of(&jar(&app.call("/set/k/v", Some(&header)).await));
            let served = body(app.call("/get", Some(&kept)).await).await;
            assert_eq!(
                served["who"], "victim",
                "{format}, {what}, after a write: {served}"
            );
            assert_eq!(served["k"], "v", "{format}, {what}");
        }
    }
}

/// The chunk attempts are bounded: with every chunk name planted four times before ours, the
/// request gets an empty session rather than an unbounded number of opens.
#[tokio::test]
async fn chunk_attempts_are_bounded() {
    let format = NATIVE[0];
    let clock = TestClock::new();
    let app = splitting(format, &clock);
    let chunks = chunked(&app, "victim").await;
    let planted = (0..4)
        .flat_map(|_| ["session.0=AAAA", "session.1=AAAA"])
        .collect::<Vec<_>>()
        .join("; ");
    let served = body(
        app.call("/get", Some(&format!("{planted}; {chunks}")))
            .await,
    )
    .await;
    assert_eq!(served, json!({}), "{served}");
    // Fewer planted values: found within the bound.
    let served = body(
        app.call(
            "/get",
            Some(&format!("session.0=AAAA; session.1=AAAA; {chunks}")),
        )
        .await,
    )
    .await;
    assert_eq!(served["who"], "victim");
}
