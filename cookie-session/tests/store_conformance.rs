//! One conformance suite for every session store, run in both sealed formats.
//!
//! Each backend plugs in with `conformance!(name, feature, async { store })`; backends that
//! need a server read its URL from the environment (`REDIS_URL`, `REDIS_CLUSTER_URLS`,
//! `DATABASE_URL`) and skip
//! (loudly) when it is unset, except under `CI=true`, where a missing server is a failure.
//!
//! With the feature `actix`, every case runs a second time through the actix-web middleware
//! (the `*::actix` modules): the same suite, with its requests sent over loopback to a real
//! actix-web server holding the same routes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

#[cfg(feature = "actix")]
#[path = "support/actix_server.rs"]
mod actix_server;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use cookie_session::format::Format;
use cookie_session::store::{
    BoxFuture, Patch, Record, SessionId, SessionStore, StoreError, StoreKey, Update,
};
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use http::{Request, Response, StatusCode};
use tokio::sync::{Barrier, Notify};
use tower::ServiceExt;

const KEY: &str = "conformance-key-0123456789abcdef0123456789";

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> Self {
        TestClock(Arc::new(AtomicU64::new(1_800_000_000)))
    }
    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
    fn secs(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Counts the calls that reach the real store behind it (instrumentation, not a mock).
pub struct Counting {
    inner: Arc<dyn SessionStore>,
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl Counting {
    fn log(&self, call: &'static str) {
        self.calls.lock().unwrap().push(call);
    }
}

impl SessionStore for Counting {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.log("create");
        self.inner.create(key, record)
    }
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        self.log("load");
        self.inner.load(key, now)
    }
    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        self.log("update");
        self.inner.update(key, patch, now)
    }
    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.log("touch");
        self.inner.touch(key, expires_at, now)
    }
    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        self.log("delete");
        self.inner.delete(key)
    }
    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.log("delete_user");
        self.inner.delete_user(user)
    }
    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        at: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.log("revoke_user");
        self.inner.revoke_user(user, at, until)
    }
    fn revoked_before<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        self.log("revoked_before");
        self.inner.revoked_before(user, now)
    }
    fn cleanup(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.log("cleanup");
        self.inner.cleanup(now)
    }
}

/// One app over one store, with a clock, a call log and two barriers for the race tests.
pub struct Harness {
    pub app: Router,
    /// The same routes in actix-web, when the case runs through the actix middleware.
    #[cfg(feature = "actix")]
    actix: Option<actix_server::ActixServer>,
    pub layer: SessionLayer,
    pub store: Arc<dyn SessionStore>,
    pub clock: TestClock,
    calls: Arc<Mutex<Vec<&'static str>>>,
    gate: Arc<Mutex<Option<Arc<Barrier>>>>,
    /// `/held-set` signals this once it has loaded the session...
    pub loaded: Arc<Notify>,
    /// ...and waits for this before it writes.
    pub release: Arc<Notify>,
}

pub struct Options {
    pub format: Format,
    pub ttl: u64,
    pub absolute: Option<u64>,
    pub max_age: Option<u64>,
    pub max_lifetime: Option<u64>,
    pub ids: Option<Arc<dyn Fn() -> SessionId + Send + Sync>>,
}

impl Options {
    fn new(format: Format) -> Self {
        Options {
            format,
            ttl: 3600,
            absolute: None,
            max_age: None,
            max_lifetime: None,
            ids: None,
        }
    }
}

impl Harness {
    pub fn new(store: Arc<dyn SessionStore>, options: Options) -> Self {
        let clock = TestClock::new();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let counting: Arc<dyn SessionStore> = Arc::new(Counting {
            inner: store.clone(),
            calls: calls.clone(),
        });
        let c = clock.clone();
        let mut config = SessionConfig::new(KeyRing::new([KEY]).unwrap())
            .format(options.format)
            .shared_store(counting)
            .ttl(Duration::from_secs(options.ttl))
            .absolute_lifetime(options.absolute.map(Duration::from_secs))
            .max_age(options.max_age.map(Duration::from_secs))
            .clock_skew(Duration::ZERO)
            .clock(move || c.now());
        if let Some(max) = options.max_lifetime {
            config = config.max_lifetime(Duration::from_secs(max));
        }
        if let Some(ids) = options.ids {
            config = config.id_generator(move || ids());
        }
        let layer = config.build().unwrap();
        let gate: Arc<Mutex<Option<Arc<Barrier>>>> = Arc::new(Mutex::new(None));
        let wait = {
            let gate = gate.clone();
            move || {
                let barrier = gate.lock().unwrap().clone();
                async move {
                    if let Some(barrier) = barrier {
                        barrier.wait().await;
                    }
                }
            }
        };
        let (w1, w2, w3) = (wait.clone(), wait.clone(), wait);
        let (loaded, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (l, r) = (loaded.clone(), release.clone());
        let app = Router::new()
            .route("/untouched", get(|| async { "plain" }))
            .route("/get", get(|s: Session| async move { serde_json::to_string(&s.data()).unwrap() }))
            .route("/set/{key}/{value}", get(|s: Session, axum::extract::Path((k, v)): axum::extract::Path<(String, String)>| async move {
                s.insert(k, v).unwrap();
                "ok"
            }))
            .route("/login/{user}", get(|s: Session, axum::extract::Path(user): axum::extract::Path<String>| async move {
                s.regenerate();
                s.insert("user", user).unwrap();
                "ok"
            }))
            .route("/regenerate", get(|s: Session| async move { s.regenerate(); "ok" }))
            .route("/destroy", get(|s: Session| async move { s.destroy(); "ok" }))
            // A client-chosen lifetime, as an app passing `?max_age=` to `set_max_age` does
            // (0: a browser-session cookie), with a change so the session is written.
            .route("/lifetime/{secs}", get(|s: Session, axum::extract::Path(secs): axum::extract::Path<u64>| async move {
                s.set_max_age((secs > 0).then(|| Duration::from_secs(secs)));
                s.insert("asked", secs).unwrap();
                "ok"
            }))
            // Load, wait for the other request at the barrier, then act.
            .route("/slow-read", get(move |s: Session| async move {
                let seen = serde_json::to_string(&s.data()).unwrap();
                w1().await;
                seen
            }))
            .route("/slow-set/{key}/{value}", get(move |s: Session, axum::extract::Path((k, v)): axum::extract::Path<(String, String)>| async move {
                let _ = s.data();
                w2().await;
                s.insert(k, v).unwrap();
                "ok"
            }))
            .route("/slow-destroy", get(move |s: Session| async move {
                let _ = s.data();
                w3().await;
                s.destroy();
                "ok"
            }))
            // Load, say so, wait until the test releases it, then write.
            .route("/held-set/{key}/{value}", get(move |s: Session, axum::extract::Path((k, v)): axum::extract::Path<(String, String)>| async move {
                let _ = s.data();
                l.notify_one();
                r.notified().await;
                s.insert(k, v).unwrap();
                "ok"
            }))
            .layer(layer.clone());
        Harness {
            app,
            #[cfg(feature = "actix")]
            actix: THROUGH_ACTIX
                .try_with(|actix| *actix)
                .unwrap_or(false)
                .then(|| actix_routes::serve(&layer, &gate, &loaded, &release)),
            layer,
            store,
            clock,
            calls,
            gate,
            loaded,
            release,
        }
    }

    pub async fn call(&self, uri: &str, cookie: Option<&str>) -> Response<Body> {
        let mut req = Request::builder().uri(uri);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        #[cfg(feature = "actix")]
        if let Some(server) = &self.actix {
            return server.send(req.body(Body::empty()).unwrap()).await;
        }
        self.app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    /// Sends a request on a task of its own, to run alongside others.
    pub fn spawn(
        &self,
        uri: &str,
        cookie: Option<&str>,
    ) -> tokio::task::JoinHandle<Response<Body>> {
        let mut req = Request::builder().uri(uri);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        let req = req.body(Body::empty()).unwrap();
        #[cfg(feature = "actix")]
        if let Some(server) = &self.actix {
            let addr = server.addr();
            return tokio::spawn(async move { actix_server::send(addr, req).await });
        }
        let app = self.app.clone();
        tokio::spawn(async move { app.oneshot(req).await.unwrap() })
    }

    /// Makes the `slow-*` routes wait until `parties` of them have loaded.
    pub fn arm(&self, parties: usize) {
        *self.gate.lock().unwrap() = Some(Arc::new(Barrier::new(parties)));
    }

    pub fn calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    /// The session id a cookie carries (decoded with the layer, as the server does).
    pub fn id_of(&self, cookie: &str) -> SessionId {
        let loaded = self.layer.decode([cookie]).unwrap();
        SessionId::parse(loaded.data["sid"].as_str().unwrap()).unwrap()
    }

    pub async fn record(&self, cookie: &str) -> Option<Record> {
        self.store
            .load(&self.id_of(cookie).store_key(), self.clock.secs())
            .await
            .unwrap()
    }
}

fn jar(res: &Response<Body>) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn set_cookies(res: &Response<Body>) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn body(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

// ---------------------------------------------------------------------------------------
// The suite. Every function takes a fresh store.

pub async fn untouched_and_empty_sessions_create_nothing(
    store: Arc<dyn SessionStore>,
    format: Format,
) {
    let h = Harness::new(store, Options::new(format));
    let res = h.call("/untouched", None).await;
    assert!(set_cookies(&res).is_empty());
    let res = h.call("/get", None).await;
    assert!(set_cookies(&res).is_empty(), "new and empty: no cookie");
    assert!(
        !h.calls().contains(&"create"),
        "no record for an empty session"
    );
}

pub async fn lifecycle(store: Arc<dyn SessionStore>, format: Format) {
    let h = Harness::new(store, Options::new(format));
    let res = h.call("/set/a/1", None).await;
    let cookie = jar(&res);
    assert_eq!(h.calls(), ["create"]);
    // The cookie holds the sealed id only, never the data.
    let sealed = h.layer.decode([cookie.as_str()]).unwrap();
    assert_eq!(sealed.data.keys().collect::<Vec<_>>(), ["sid"]);
    let record = h.record(&cookie).await.unwrap();
    assert_eq!(
        serde_json::Value::Object(record.data.clone()),
        serde_json::json!({"a": "1"})
    );
    assert_eq!(record.version, 1);

    // A read is one load and no write.
    h.calls();
    assert_eq!(
        body(h.call("/get", Some(&cookie)).await).await,
        r#"{"a":"1"}"#
    );
    assert_eq!(h.calls(), ["load"]);
    // A change is one load and one update; the cookie (the id) does not change.
    let res = h.call("/set/b/2", Some(&cookie)).await;
    assert!(
        set_cookies(&res).is_empty(),
        "a browser-session cookie is not re-sent"
    );
    assert_eq!(h.calls(), ["load", "update"]);
    assert_eq!(h.record(&cookie).await.unwrap().version, 2);
    // Untouched: no store call at all.
    h.call("/untouched", Some(&cookie)).await;
    assert!(h.calls().is_empty());
}

pub async fn unknown_and_malformed_ids(store: Arc<dyn SessionStore>, format: Format) {
    let h = Harness::new(store.clone(), Options::new(format));
    // A correctly sealed cookie naming an id the store never held: a new session, new id.
    let other = Harness::new(
        Arc::new(cookie_session::store::MemoryStore::new()),
        Options::new(format),
    );
    let foreign = jar(&other.call("/set/a/1", None).await);
    h.calls();
    let res = h.call("/set/b/2", Some(&foreign)).await;
    let issued = jar(&res);
    assert_eq!(h.calls(), ["load", "create"]);
    assert_ne!(
        h.id_of(&issued),
        other.id_of(&foreign),
        "an unknown id is never adopted"
    );
    assert_eq!(
        body(h.call("/get", Some(&issued)).await).await,
        r#"{"b":"2"}"#
    );

    // Cookies that fail the seal never reach the store.
    for bad in ["session=garbage", "session=", "session=%27%20OR%201%3D1"] {
        h.calls();
        assert_eq!(body(h.call("/get", Some(bad)).await).await, "{}");
        assert!(h.calls().is_empty(), "{bad}");
    }
    // Nor do authentic cookies (sealed with the server's own key and format) whose payload is
    // not one of our ids: the id check runs before any store call.
    let c = h.clock.clone();
    let sealer = SessionConfig::new(KeyRing::new([KEY]).unwrap())
        .format(format)
        .clock(move || c.now())
        .build()
        .unwrap();
    let good = SessionId::generate();
    for payload in [
        serde_json::json!({"sid": "short"}),
        serde_json::json!({"sid": format!("{}A", good.as_str())}),
        serde_json::json!({"sid": &good.as_str()[1..]}),
        serde_json::json!({"sid": "' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaa"}),
        serde_json::json!({"sid": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}),
        serde_json::json!({"sid": 42}),
        serde_json::json!({"sid": null}),
        serde_json::json!({"sid": [good.as_str()]}),
        serde_json::json!({"id": good.as_str()}),
    ] {
        let data = payload.as_object().cloned().unwrap();
        let headers = sealer.encode(data.clone()).unwrap();
        let cookie = headers[0].split(';').next().unwrap().to_owned();
        assert_eq!(
            h.layer.decode([cookie.as_str()]).unwrap().data,
            data,
            "the seal holds: only the id check can refuse {payload}"
        );
        h.calls();
        let res = h.call("/get", Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::OK, "{payload}");
        assert_eq!(body(res).await, "{}", "{payload}");
        assert!(h.calls().is_empty(), "{payload} reached the store");
    }
}

pub async fn id_collisions_are_retried_never_overwritten(
    store: Arc<dyn SessionStore>,
    format: Format,
) {
    let fixed = SessionId::generate();
    let served = Arc::new(AtomicUsize::new(0));
    let ids: Arc<dyn Fn() -> SessionId + Send + Sync> = {
        let fixed = fixed.clone();
        let served = served.clone();
        // The first two ids are the same; then fresh ones.
        Arc::new(move || {
            if served.fetch_add(1, Ordering::SeqCst) < 2 {
                fixed.clone()
            } else {
                SessionId::generate()
            }
        })
    };
    let h = Harness::new(
        store,
        Options {
            ids: Some(ids),
            ..Options::new(format)
        },
    );
    let first = jar(&h.call("/set/owner/first", None).await);
    let second = jar(&h.call("/set/owner/second", None).await);
    assert_eq!(h.id_of(&first), fixed);
    assert_ne!(h.id_of(&second), fixed);
    assert_eq!(served.load(Ordering::SeqCst), 3);
    assert_eq!(
        body(h.call("/get", Some(&first)).await).await,
        r#"{"owner":"first"}"#
    );
    assert_eq!(
        body(h.call("/get", Some(&second)).await).await,
        r#"{"owner":"second"}"#
    );
}

pub async fn idle_expiry_touch_and_absolute_lifetime(store: Arc<dyn SessionStore>, format: Format) {
    let h = Harness::new(
        store,
        Options {
            ttl: 100,
            absolute: Some(250),
            ..Options::new(format)
        },
    );
    let cookie = jar(&h.call("/set/a/1", None).await);
    // Before half the idle window: a read does not touch.
    h.clock.advance(40);
    h.calls();
    h.call("/get", Some(&cookie)).await;
    assert_eq!(h.calls(), ["load"]);
    // Past half of it: one cheap touch, not a rewrite.
    h.clock.advance(20);
    h.call("/get", Some(&cookie)).await;
    assert_eq!(h.calls(), ["load", "touch"]);
    let record = h.record(&cookie).await.unwrap();
    assert_eq!(record.expires_at, h.clock.secs() + 100);
    assert_eq!(record.version, 1);
    // Kept alive by reads until the absolute lifetime, and not one second more.
    for step in 0..3 {
        h.clock.advance(60);
        let res = h.call("/get", Some(&cookie)).await;
        assert_eq!(
            body(res).await,
            r#"{"a":"1"}"#,
            "step {step}: {:?}",
            h.calls()
        );
    }
    assert!(h.clock.secs() - 1_800_000_000 == 240);
    h.clock.advance(11);
    assert_eq!(
        body(h.call("/get", Some(&cookie)).await).await,
        "{}",
        "past the absolute lifetime"
    );

    // Idle expiry: checked on load even if the backend still holds the record.
    let cookie = jar(&h.call("/set/b/2", None).await);
    h.clock.advance(101);
    assert_eq!(body(h.call("/get", Some(&cookie)).await).await, "{}");
}

pub async fn regenerate_moves_the_data_to_a_new_id(store: Arc<dyn SessionStore>, format: Format) {
    let h = Harness::new(store, Options::new(format));
    let before = jar(&h.call("/set/cart/apple", None).await);
    let res = h.call("/login/alice", Some(&before)).await;
    let after = jar(&res);
    assert_ne!(h.id_of(&before), h.id_of(&after));
    assert_eq!(
        body(h.call("/get", Some(&after)).await).await,
        r#"{"cart":"apple","user":"alice"}"#
    );
    assert_eq!(
        body(h.call("/get", Some(&before)).await).await,
        "{}",
        "the old id is dead"
    );
    assert!(h.record(&before).await.is_none());
}

pub async fn destroy_deletes_the_record(store: Arc<dyn SessionStore>, format: Format) {
    let h = Harness::new(store, Options::new(format));
    let cookie = jar(&h.call("/set/a/1", None).await);
    let res = h.call("/destroy", Some(&cookie)).await;
    assert!(
        set_cookies(&res)[0].starts_with("session=; "),
        "{:?}",
        set_cookies(&res)
    );
    assert!(h.record(&cookie).await.is_none());
    // Replaying the old cookie: an empty session.
    assert_eq!(body(h.call("/get", Some(&cookie)).await).await, "{}");
}

/// A cookie of a destroyed session, or of an expired record, sent before the valid one (a
/// planted cookie, or one left under another path) does not shadow it: each is looked up,
/// refused, and the valid session is served and written; nothing is created or revived.
pub async fn dead_sessions_sent_first_do_not_shadow_the_valid_one(
    store: Arc<dyn SessionStore>,
    format: Format,
) {
    let h = Harness::new(store, Options::new(format));
    let expired = jar(&h.call("/set/who/expired", None).await);
    h.clock.advance(2 * 3600);
    let destroyed = jar(&h.call("/set/who/destroyed", None).await);
    h.call("/destroy", Some(&destroyed)).await;
    let valid = jar(&h.call("/set/who/valid", None).await);
    h.calls();
    let header = format!("{expired}; {destroyed}; {valid}");
    let res = h.call("/get", Some(&header)).await;
    assert!(set_cookies(&res).is_empty(), "a read re-issues nothing");
    assert_eq!(body(res).await, r#"{"who":"valid"}"#);
    assert_eq!(h.calls(), ["load", "load", "load"]);
    let res = h.call("/set/k/v", Some(&header)).await;
    assert!(set_cookies(&res).is_empty(), "the id does not change");
    assert_eq!(h.calls(), ["load", "load", "load", "update"]);
    let record = h.record(&valid).await.unwrap();
    assert_eq!(
        serde_json::Value::Object(record.data),
        serde_json::json!({"who": "valid", "k": "v"})
    );
    assert!(h.record(&destroyed).await.is_none(), "not revived");
    assert!(h.record(&expired).await.is_none(), "not revived");
    // The valid cookie first: one lookup, the others are never examined.
    let res = h.call("/get", Some(&format!("{valid}; {destroyed}"))).await;
    let read: serde_json::Value = serde_json::from_str(&body(res).await).unwrap();
    assert_eq!(read, serde_json::json!({"who": "valid", "k": "v"}));
    assert_eq!(h.calls(), ["load"]);
}

/// How many requests write one session at once in the contention tests.
const WRITERS: usize = 200;

/// Waits for every response; each must be a 200.
async fn all_ok(requests: Vec<tokio::task::JoinHandle<Response<Body>>>) -> Vec<Response<Body>> {
    let mut responses = Vec::new();
    for (i, request) in requests.into_iter().enumerate() {
        let res = request.await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "request {i}");
        responses.push(res);
    }
    responses
}

pub async fn concurrent_writers_of_distinct_keys_all_survive(
    store: Arc<dyn SessionStore>,
    format: Format,
) {
    let h = Harness::new(store, Options::new(format));
    let cookie = jar(&h.call("/set/base/0", None).await);
    // Every writer loads version 1, then all write at once.
    h.arm(WRITERS);
    h.calls();
    let writers = (0..WRITERS)
        .map(|i| h.spawn(&format!("/slow-set/k{i}/{i}"), Some(&cookie)))
        .collect();
    for res in all_ok(writers).await {
        assert!(set_cookies(&res).is_empty(), "the id does not change");
    }
    let calls = h.calls();
    let updates = calls.iter().filter(|c| **c == "update").count();
    assert_eq!(updates, WRITERS, "one update per writer, no retries");
    assert!(!calls.contains(&"create"), "{calls:?}");
    let record = h.record(&cookie).await.unwrap();
    let mut expected = serde_json::json!({"base": "0"});
    for i in 0..WRITERS {
        expected[format!("k{i}")] = serde_json::json!(i.to_string());
    }
    assert_eq!(serde_json::Value::Object(record.data), expected);
    assert_eq!(record.version, 1 + WRITERS as u64);
}

pub async fn concurrent_writers_of_one_key_end_with_one_of_their_values(
    store: Arc<dyn SessionStore>,
    format: Format,
) {
    let h = Harness::new(store, Options::new(format));
    let cookie = jar(&h.call("/set/base/0", None).await);
    h.arm(WRITERS);
    let writers = (0..WRITERS)
        .map(|i| h.spawn(&format!("/slow-set/x/{i}"), Some(&cookie)))
        .collect();
    all_ok(writers).await;
    let record = h.record(&cookie).await.unwrap();
    assert_eq!(
        record.version,
        1 + WRITERS as u64,
        "every write was applied"
    );
    assert_eq!(record.data.len(), 2, "{:?}", record.data);
    assert_eq!(record.data["base"], "0");
    let last: usize = record.data["x"].as_str().unwrap().parse().unwrap();
    assert!(last < WRITERS, "a value one of the writers wrote");
}

pub async fn concurrent_writers_and_a_destroy(store: Arc<dyn SessionStore>, format: Format) {
    let h = Harness::new(store, Options::new(format));
    let cookie = jar(&h.call("/set/base/0", None).await);
    let writers = WRITERS / 4;
    h.arm(writers + 1);
    h.calls();
    let mut requests: Vec<_> = (0..writers)
        .map(|i| h.spawn(&format!("/slow-set/k{i}/{i}"), Some(&cookie)))
        .collect();
    requests.insert(writers / 2, h.spawn("/slow-destroy", Some(&cookie)));
    let responses = all_ok(requests).await;
    for (i, res) in responses.iter().enumerate() {
        let cookies = set_cookies(res);
        if i == writers / 2 {
            assert!(cookies[0].starts_with("session=; "), "{cookies:?}");
        } else {
            assert!(cookies.is_empty(), "writer {i}: {cookies:?}");
        }
    }
    let calls = h.calls();
    assert!(!calls.contains(&"create"), "nothing re-created: {calls:?}");
    assert!(h.record(&cookie).await.is_none(), "destroy wins");
    assert_eq!(body(h.call("/get", Some(&cookie)).await).await, "{}");
}

pub async fn a_reader_writes_nothing_back(store: Arc<dyn SessionStore>, format: Format) {
    let h = Harness::new(store, Options::new(format));
    let cookie = jar(&h.call("/set/x/old", None).await);
    h.arm(2);
    let (read, _) = tokio::join!(
        h.call("/slow-read", Some(&cookie)),
        h.call("/slow-set/x/new", Some(&cookie))
    );
    assert_eq!(body(read).await, r#"{"x":"old"}"#);
    assert_eq!(
        body(h.call("/get", Some(&cookie)).await).await,
        r#"{"x":"new"}"#
    );
}

pub async fn a_request_started_before_destroy_cannot_revive_it(
    store: Arc<dyn SessionStore>,
    format: Format,
) {
    // A persistent cookie: a write that is saved re-issues it, so a revival would show.
    let h = Harness::new(
        store,
        Options {
            max_age: Some(1000),
            ..Options::new(format)
        },
    );
    let cookie = jar(&h.call("/set/user/alice", None).await);

    // Control: a held write that is released without a destroy is saved and re-issued.
    let writer = h.spawn("/held-set/x/early", Some(&cookie));
    h.loaded.notified().await;
    h.release.notify_one();
    let res = writer.await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(h.id_of(&jar(&res)), h.id_of(&cookie), "saved, re-issued");

    // The writer loads; then the destroy runs to the end; then the writer writes.
    h.calls();
    let writer = h.spawn("/held-set/x/late", Some(&cookie));
    h.loaded.notified().await;
    let destroyed = h.call("/destroy", Some(&cookie)).await;
    assert!(set_cookies(&destroyed)[0].starts_with("session=; "));
    assert!(h.record(&cookie).await.is_none());
    h.release.notify_one();
    let late = writer.await.unwrap();
    assert_eq!(late.status(), StatusCode::OK);
    assert!(
        set_cookies(&late).is_empty(),
        "no live cookie for the late writer: {:?}",
        set_cookies(&late)
    );
    // Its update found the record gone, and nothing was created under any id.
    assert_eq!(h.calls(), ["load", "load", "delete", "update"]);
    assert!(
        h.record(&cookie).await.is_none(),
        "the record stays deleted"
    );
    assert_eq!(body(h.call("/get", Some(&cookie)).await).await, "{}");
}

pub async fn revoke_user_ends_every_session_of_that_user(
    store: Arc<dyn SessionStore>,
    format: Format,
) {
    let h = Harness::new(store, Options::new(format));
    let laptop = jar(&h.call("/login/alice", None).await);
    let phone = jar(&h.call("/login/alice", None).await);
    let bob = jar(&h.call("/login/bob", None).await);
    assert_eq!(h.layer.revoke_user("alice").await.unwrap(), 2);
    assert_eq!(body(h.call("/get", Some(&laptop)).await).await, "{}");
    assert_eq!(body(h.call("/get", Some(&phone)).await).await, "{}");
    assert_eq!(
        body(h.call("/get", Some(&bob)).await).await,
        r#"{"user":"bob"}"#
    );
}

pub async fn cookie_mode_revocation(store: Arc<dyn SessionStore>, format: Format) {
    let clock = TestClock::new();
    let c = clock.clone();
    let layer = SessionConfig::new(KeyRing::new([KEY]).unwrap())
        .format(format)
        .revocation(store)
        .clock(move || c.now())
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/login/{user}",
            get(
                |s: Session, axum::extract::Path(user): axum::extract::Path<String>| async move {
                    s.insert("user", user).unwrap();
                },
            ),
        )
        .route(
            "/get",
            get(|s: Session| async move { serde_json::to_string(&s.data()).unwrap() }),
        )
        .layer(layer.clone());
    let call = |uri: &'static str, cookie: Option<String>| {
        let app = app.clone();
        async move {
            let mut req = Request::builder().uri(uri);
            if let Some(cookie) = cookie {
                req = req.header("cookie", cookie);
            }
            app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
        }
    };
    let alice = jar(&call("/login/alice", None).await);
    let bob = jar(&call("/login/bob", None).await);
    clock.advance(5);
    layer.revoke_user("alice").await.unwrap();
    assert_eq!(
        body(call("/get", Some(alice.clone())).await).await,
        "{}",
        "revoked"
    );
    assert_eq!(
        body(call("/get", Some(bob)).await).await,
        r#"{"user":"bob"}"#
    );
    // Logging in again after the revocation works.
    clock.advance(1);
    let again = jar(&call("/login/alice", None).await);
    assert_eq!(
        body(call("/get", Some(again)).await).await,
        r#"{"user":"alice"}"#
    );
}

/// A per-request lifetime cannot push the record's expiry, nor the cookie's `Max-Age`, past
/// the configured lifetime (or an explicit `max_lifetime`); it can shorten them.
pub async fn per_request_lifetime_stays_within_the_ceiling(
    store: Arc<dyn SessionStore>,
    format: Format,
) {
    let h = Harness::new(
        store.clone(),
        Options {
            ttl: 3600,
            max_age: Some(600),
            ..Options::new(format)
        },
    );
    // 400 days asked, on a new session and on an existing one: the configured 600 s.
    let res = h.call("/lifetime/34560000", None).await;
    assert!(
        set_cookies(&res)[0].contains("; Max-Age=600;"),
        "{:?}",
        set_cookies(&res)
    );
    let cookie = jar(&res);
    assert_eq!(
        h.record(&cookie).await.unwrap().expires_at,
        h.clock.secs() + 600
    );
    h.clock.advance(10);
    let res = h.call("/lifetime/34560000", Some(&cookie)).await;
    assert!(
        set_cookies(&res)[0].contains("; Max-Age=600;"),
        "{:?}",
        set_cookies(&res)
    );
    assert_eq!(
        h.record(&cookie).await.unwrap().expires_at,
        h.clock.secs() + 600
    );
    // A browser-session cookie does not get the longer TTL either.
    let res = h.call("/lifetime/0", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        h.record(&cookie).await.unwrap().expires_at,
        h.clock.secs() + 600
    );
    // Shorter is allowed.
    let res = h.call("/lifetime/60", Some(&cookie)).await;
    assert!(
        set_cookies(&res)[0].contains("; Max-Age=60;"),
        "{:?}",
        set_cookies(&res)
    );
    assert_eq!(
        h.record(&cookie).await.unwrap().expires_at,
        h.clock.secs() + 60
    );

    // An explicit ceiling above the configured lifetime ("remember me" for 30 days).
    let h = Harness::new(
        store,
        Options {
            ttl: 3600,
            max_lifetime: Some(30 * 86400),
            ..Options::new(format)
        },
    );
    let res = h.call("/lifetime/34560000", None).await;
    assert!(
        set_cookies(&res)[0].contains("; Max-Age=2592000;"),
        "{:?}",
        set_cookies(&res)
    );
    let cookie = jar(&res);
    let remembered = h.clock.secs() + 30 * 86400;
    assert_eq!(h.record(&cookie).await.unwrap().expires_at, remembered);
    // A day later a write that chooses no lifetime keeps the 30 days (tests/remember.rs).
    h.clock.advance(86400);
    let res = h.call("/set/a/1", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let record = h.record(&cookie).await.unwrap();
    assert_eq!(record.data["a"], "1");
    assert_eq!(record.expires_at, remembered);
    // "Forget me": the configured TTL from now.
    let res = h.call("/lifetime/0", Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        h.record(&cookie).await.unwrap().expires_at,
        h.clock.secs() + 3600
    );
}

pub async fn persistent_cookies_follow_the_record(store: Arc<dyn SessionStore>, format: Format) {
    let h = Harness::new(
        store,
        Options {
            ttl: 100,
            max_age: Some(1000),
            ..Options::new(format)
        },
    );
    let res = h.call("/set/a/1", None).await;
    assert!(
        set_cookies(&res)[0].contains("Max-Age=1000"),
        "{:?}",
        set_cookies(&res)
    );
    let cookie = jar(&res);
    assert_eq!(
        h.record(&cookie).await.unwrap().expires_at,
        h.clock.secs() + 1000
    );
}

/// Measures writes per second to one session, through the layer: `WRITERS` requests that
/// all load, wait at a barrier and then write one key each (contended), and as many writes
/// one after another (uncontended). Prints the figures; asserts only that every write landed.
/// The command and the figures are in `docs/PERFORMANCE.md` ("Writes to one session under
/// contention").
pub async fn measure_contention(store: Arc<dyn SessionStore>, name: &str) {
    let h = Harness::new(store, Options::new(Format::Encrypted));
    for round in 0..3 {
        let cookie = jar(&h.call("/set/base/0", None).await);
        let started = std::time::Instant::now();
        for i in 0..WRITERS {
            let res = h.call(&format!("/set/s{i}/{i}"), Some(&cookie)).await;
            assert_eq!(res.status(), StatusCode::OK);
        }
        let sequential = started.elapsed();

        h.arm(WRITERS);
        let started = std::time::Instant::now();
        let writers = (0..WRITERS)
            .map(|i| h.spawn(&format!("/slow-set/c{i}/{i}"), Some(&cookie)))
            .collect();
        all_ok(writers).await;
        let contended = started.elapsed();
        let record = h.record(&cookie).await.unwrap();
        assert_eq!(record.data.len(), 1 + 2 * WRITERS, "every write landed");
        let rate = |d: Duration| WRITERS as f64 / d.as_secs_f64();
        eprintln!(
            "{name:>16} round {round}: {WRITERS} writers at once: {:>7.0} writes/s ({:>6.1} ms); \
             one after another: {:>7.0} writes/s",
            rate(contended),
            contended.as_secs_f64() * 1e3,
            rate(sequential),
        );
    }
}

macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            conformance!(@cases false, $make);

            /// The same cases through the actix-web middleware.
            #[cfg(feature = "actix")]
            mod actix {
                use super::*;

                conformance!(@cases true, $make);
            }
        }
    };
    (@cases $through_actix:expr, $make:expr) => {
        macro_rules! case {
            ($name:ident) => {
                #[tokio::test]
                async fn $name() {
                    for format in [Format::Encrypted, Format::Signed] {
                        let Some(store) = $make.await else { return };
                        THROUGH_ACTIX
                            .scope($through_actix, crate::$name(store, format))
                            .await;
                    }
                }
            };
        }

        case!(untouched_and_empty_sessions_create_nothing);
        case!(lifecycle);
        case!(unknown_and_malformed_ids);
        case!(id_collisions_are_retried_never_overwritten);
        case!(idle_expiry_touch_and_absolute_lifetime);
        case!(per_request_lifetime_stays_within_the_ceiling);
        case!(regenerate_moves_the_data_to_a_new_id);
        case!(destroy_deletes_the_record);
        case!(dead_sessions_sent_first_do_not_shadow_the_valid_one);
        case!(concurrent_writers_of_distinct_keys_all_survive);
        case!(concurrent_writers_of_one_key_end_with_one_of_their_values);
        case!(concurrent_writers_and_a_destroy);
        case!(a_reader_writes_nothing_back);
        case!(a_request_started_before_destroy_cannot_revive_it);
        case!(revoke_user_ends_every_session_of_that_user);
        case!(cookie_mode_revocation);
        case!(persistent_cookies_follow_the_record);

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "a measurement: run with --ignored --nocapture"]
        async fn contention_writes_per_second() {
            let Some(store) = $make.await else { return };
            THROUGH_ACTIX
                .scope(
                    $through_actix,
                    crate::measure_contention(store, module_path!()),
                )
                .await;
        }
    };
}

/// The harness's routes in actix-web, handler for handler, behind the actix middleware built
/// from the same layer.
#[cfg(feature = "actix")]
mod actix_routes {
    use super::*;
    use actix_web::{web, App};
    use cookie_session::actix::SessionMiddleware;

    type Gate = Arc<Mutex<Option<Arc<Barrier>>>>;

    async fn wait(gate: &Gate) {
        let barrier = gate.lock().unwrap().clone();
        if let Some(barrier) = barrier {
            barrier.wait().await;
        }
    }

    pub fn serve(
        layer: &SessionLayer,
        gate: &Gate,
        loaded: &Arc<Notify>,
        release: &Arc<Notify>,
    ) -> actix_server::ActixServer {
        let middleware = SessionMiddleware::new(layer.clone());
        let (gate, loaded, release) = (gate.clone(), loaded.clone(), release.clone());
        actix_server::ActixServer::start(move || {
            let (g1, g2, g3) = (gate.clone(), gate.clone(), gate.clone());
            let (l, r) = (loaded.clone(), release.clone());
            App::new()
                .wrap(middleware.clone())
                .route("/untouched", web::get().to(|| async { "plain" }))
                .route(
                    "/get",
                    web::get()
                        .to(|s: Session| async move { serde_json::to_string(&s.data()).unwrap() }),
                )
                .route(
                    "/set/{key}/{value}",
                    web::get().to(|s: Session, p: web::Path<(String, String)>| async move {
                        let (k, v) = p.into_inner();
                        s.insert(k, v).unwrap();
                        "ok"
                    }),
                )
                .route(
                    "/login/{user}",
                    web::get().to(|s: Session, p: web::Path<String>| async move {
                        s.regenerate();
                        s.insert("user", p.into_inner()).unwrap();
                        "ok"
                    }),
                )
                .route(
                    "/regenerate",
                    web::get().to(|s: Session| async move {
                        s.regenerate();
                        "ok"
                    }),
                )
                .route(
                    "/destroy",
                    web::get().to(|s: Session| async move {
                        s.destroy();
                        "ok"
                    }),
                )
                .route(
                    "/lifetime/{secs}",
                    web::get().to(|s: Session, p: web::Path<u64>| async move {
                        let secs = p.into_inner();
                        s.set_max_age((secs > 0).then(|| Duration::from_secs(secs)));
                        s.insert("asked", secs).unwrap();
                        "ok"
                    }),
                )
                .route(
                    "/slow-read",
                    web::get().to(move |s: Session| {
                        let g = g1.clone();
                        async move {
                            let seen = serde_json::to_string(&s.data()).unwrap();
                            wait(&g).await;
                            seen
                        }
                    }),
                )
                .route(
                    "/slow-set/{key}/{value}",
                    web::get().to(move |s: Session, p: web::Path<(String, String)>| {
                        let g = g2.clone();
                        async move {
                            let _ = s.data();
                            wait(&g).await;
                            let (k, v) = p.into_inner();
                            s.insert(k, v).unwrap();
                            "ok"
                        }
                    }),
                )
                .route(
                    "/slow-destroy",
                    web::get().to(move |s: Session| {
                        let g = g3.clone();
                        async move {
                            let _ = s.data();
                            wait(&g).await;
                            s.destroy();
                            "ok"
                        }
                    }),
                )
                .route(
                    "/held-set/{key}/{value}",
                    web::get().to(move |s: Session, p: web::Path<(String, String)>| {
                        let (l, r) = (l.clone(), r.clone());
                        async move {
                            let _ = s.data();
                            l.notify_one();
                            r.notified().await;
                            let (k, v) = p.into_inner();
                            s.insert(k, v).unwrap();
                            "ok"
                        }
                    }),
                )
        })
    }
}

tokio::task_local! {
    /// Set for a case that runs through the actix-web middleware: `Harness::new` then
    /// serves its routes from a real actix-web server.
    static THROUGH_ACTIX: bool;
}

/// The URL of a test server from the environment; `None` (skip) outside CI when unset.
#[allow(dead_code)]
fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("{var} must be set under CI"),
        _ => {
            skip::skipped(&format!("{var} is not set"));
            None
        }
    }
}

conformance!(memory, async {
    Some(Arc::new(cookie_session::store::MemoryStore::new()) as Arc<dyn SessionStore>)
});

/// A store that deletes its SQLite file when dropped (open connections keep it readable).
#[cfg(feature = "sqlite")]
struct TempSqlite {
    store: cookie_session::store::SqliteStore,
    path: std::path::PathBuf,
}

#[cfg(feature = "sqlite")]
impl TempSqlite {
    async fn open() -> Arc<dyn SessionStore> {
        let path = std::env::temp_dir().join(format!(
            "cookie-session-test-{}.sqlite",
            &SessionId::generate().store_key().as_str()[..24]
        ));
        let store = cookie_session::store::SqliteStore::open(&path)
            .await
            .unwrap();
        Arc::new(TempSqlite { store, path })
    }
}

#[cfg(feature = "sqlite")]
impl Drop for TempSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

#[cfg(feature = "sqlite")]
impl SessionStore for TempSqlite {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.create(key, record)
    }
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        self.store.load(key, now)
    }
    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        self.store.update(key, patch, now)
    }
    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.store.touch(key, expires_at, now)
    }
    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.delete(key)
    }
    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.store.delete_user(user)
    }
    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        at: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.revoke_user(user, at, until)
    }
    fn revoked_before<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        self.store.revoked_before(user, now)
    }
    fn cleanup(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.store.cleanup(now)
    }
}

// A fresh database file per store.
#[cfg(feature = "sqlite")]
conformance!(sqlite, async { Some(TempSqlite::open().await) });

// The in-memory variant (one shared connection).
#[cfg(feature = "sqlite")]
conformance!(sqlite_in_memory, async {
    Some(Arc::new(
        cookie_session::store::SqliteStore::in_memory()
            .await
            .unwrap(),
    ) as Arc<dyn SessionStore>)
});

// Fresh tables per store (tests run in parallel against one database). They are left behind:
// the test database is throwaway.
#[cfg(feature = "postgres")]
conformance!(postgres, async {
    use cookie_session::store::PostgresStore;
    let url = server_url("DATABASE_URL")?;
    let pool = PostgresStore::pool_options()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap();
    let name = format!("t_{}", &SessionId::generate().store_key().as_str()[..16]);
    let store =
        PostgresStore::from_pool_with_tables(pool, &format!("{name}_s"), &format!("{name}_r"))
            .await
            .unwrap();
    Some(Arc::new(store) as Arc<dyn SessionStore>)
});

#[cfg(feature = "redis")]
conformance!(redis, async {
    let url = server_url("REDIS_URL")?;
    // A fresh prefix per store: tests run in parallel against one server.
    let prefix = format!("test:{}:", SessionId::generate().as_str());
    let store = cookie_session::store::RedisStore::connect(&url)
        .await
        .expect("connect to REDIS_URL")
        .with_prefix(prefix);
    Some(Arc::new(store) as Arc<dyn SessionStore>)
});

// The same suite on a Redis Cluster (3 masters + 3 replicas, scripts/services.sh): every
// record, index and revocation in its own slot, on whichever node holds it.
#[cfg(feature = "redis")]
conformance!(redis_cluster, async {
    let urls = server_url("REDIS_CLUSTER_URLS")?;
    let seeds: Vec<&str> = urls.split(',').collect();
    let prefix = format!("test:{}:", SessionId::generate().as_str());
    let store = cookie_session::store::RedisStore::connect_cluster(&seeds)
        .await
        .expect("connect to REDIS_CLUSTER_URLS")
        .with_prefix(prefix);
    Some(Arc::new(store) as Arc<dyn SessionStore>)
});
