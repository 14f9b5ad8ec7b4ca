//! Live: one session shared by the real express-session 1.19 app
//! (`interop/express-session/server.js`) and this crate's express-session codecs and stores,
//! in both directions: connect-redis 10 with [`ExpressRedisStore`] on real Redis,
//! connect-pg-simple 10 with [`ExpressPgStore`] on real PostgreSQL.
//!
//! Needs `REDIS_URL` / `DATABASE_URL` and `npm ci` in `interop/express-session` (and `node`);
//! without them each test prints why it skips and passes, except under `CI=true`, where it
//! fails.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

#[path = "support/express_session_app.rs"]
mod express_session_app;
#[path = "support/http.rs"]
mod http;

use express_session_app::{ExpressApp, Reply};
use std::time::{Duration, SystemTime};

use cookie_session::format::express_session::{
    find_cookie, generate_sid, CookieMeta, Record, RecordError, SidSigner, DEFAULT_COOKIE_NAME,
};
use cookie_session::store::{ExpressLoaded, ExpressPgStore, ExpressRedisStore, ExpressSaved};
use cookie_session::KeyRing;
use serde_json::{json, Value};

const SECRETS: &str = "live-secret-new,live-secret-old";
const WAIT: Duration = Duration::from_secs(15);

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn skip(why: &str) {
    if ci() {
        panic!("{why}: under CI=true the live express-session test must run");
    }
    skip::skipped(why);
}

/// REDIS_URL, node and the app's node_modules, or why not.
fn ready() -> Option<String> {
    express_session_app::ready("REDIS_URL", skip)
}

/// `node server.js` with connect-redis, killed on drop (also when a test panics).
struct App {
    /// Kept for its `Drop`, which stops the app.
    _app: ExpressApp,
    port: u16,
}

impl App {
    fn start(redis_url: &str, env: &[(&str, &str)]) -> Self {
        let mut all = vec![("SESSION_STORE", "redis"), ("REDIS_URL", redis_url)];
        all.extend_from_slice(env);
        Self::start_with(&all)
    }

    fn start_with(env: &[(&str, &str)]) -> Self {
        let app = ExpressApp::start(SECRETS, env, WAIT);
        App {
            port: app.port,
            _app: app,
        }
    }

    /// One request (`Connection: close`): status, Set-Cookie headers, JSON body.
    fn call(&self, method: &str, path: &str, cookie: Option<&str>, body: Option<&Value>) -> Reply {
        express_session_app::call(self.port, WAIT, method, path, cookie, body)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn signer() -> SidSigner {
    SidSigner::new(&KeyRing::parse_list(SECRETS).unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn live(loaded: ExpressLoaded) -> (Record, String) {
    match loaded {
        ExpressLoaded::Live { record, text } => (*record, text),
        other => panic!("expected a live record, got {other:?}"),
    }
}

/// Express writes, Rust reads (byte for byte) and changes, Express reads the change; then a
/// write on each side while the other holds a stale copy, and destroy on each side.
#[test]
fn a_session_made_by_express_is_shared_with_rust() {
    let Some(url) = ready() else { return };
    let rt = runtime();
    let store = rt.block_on(ExpressRedisStore::connect(&url)).unwrap();
    let app = App::start(&url, &[("SESSION_MAX_AGE_MS", "3600000")]);
    let signer = signer();

    let data = json!({"views": 1, "user": "ann", "10": "ten", "nested": {"a": [1.5, "é", null]}});
    let created = app.call("POST", "/api/session", None, Some(&data));
    assert_eq!(created.status, 200);
    let cookie = created.cookie().expect("express-session set connect.sid");
    let value = find_cookie(&cookie, DEFAULT_COOKIE_NAME).unwrap();
    let (sid, index) = signer.open(&value).unwrap();
    assert_eq!(index, 0);

    // Rust reads what Express stored, and would write back the very same bytes.
    let (mut record, text) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    assert_eq!(Value::Object(record.data().clone()), created.body);
    assert_eq!(record.to_json(), text);
    // express-session 1.19 sets `originalMaxAge = this.maxAge`, the getter `expires - Date.now()`
    // (express-session 1.19.0, `session/cookie.js`), so a millisecond that ticks between
    // the two makes it 3 599 999.
    let max_age = record
        .cookie()
        .max_age_ms()
        .expect("a maxAge was configured");
    assert!((3_599_900..=3_600_000).contains(&max_age), "{max_age}");

    // Rust changes it; Express serves the change, and does not fail on what Rust wrote.
    record.data_mut().insert("views".into(), json!(2));
    record.data_mut().insert("from_rust".into(), json!(true));
    let saved = rt
        .block_on(store.save(&sid, &text, &record, now_ms()))
        .unwrap();
    assert_eq!(saved, ExpressSaved::Saved);
    let read = app.call("GET", "/api/session", Some(&cookie), None);
    assert_eq!(read.status, 200);
    assert_eq!(read.body["views"], 2);
    assert_eq!(read.body["from_rust"], true);
    assert_eq!(read.body["user"], "ann");

    // Express writes while Rust holds a stale copy: Rust's save is refused, nothing is lost.
    let (stale, stale_text) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    let changed = app.call(
        "POST",
        "/api/session",
        Some(&cookie),
        Some(&json!({"views": 3})),
    );
    assert_eq!(changed.status, 200);
    let mut mine = stale.clone();
    mine.data_mut().insert("cart".into(), json!(["book"]));
    let refused = rt
        .block_on(store.save(&sid, &stale_text, &mine, now_ms()))
        .unwrap();
    assert_eq!(refused, ExpressSaved::Changed);
    let (fresh, fresh_text) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    assert_eq!(fresh.data()["views"], 3);
    // Re-applied to the fresh record, it goes through.
    let mut merged = fresh.clone();
    merged.data_mut().insert("cart".into(), json!(["book"]));
    let saved = rt
        .block_on(store.save(&sid, &fresh_text, &merged, now_ms()))
        .unwrap();
    assert_eq!(saved, ExpressSaved::Saved);
    let read = app.call("GET", "/api/session", Some(&cookie), None);
    assert_eq!(read.body["views"], 3);
    assert_eq!(read.body["cart"], json!(["book"]));

    // Destroy on the Rust side ends it on the Express side.
    rt.block_on(store.destroy(&sid)).unwrap();
    let after = app.call("GET", "/api/session", Some(&cookie), None);
    assert_eq!(after.status, 200);
    assert_eq!(after.body, json!({}));
    // And a save from a request that loaded it before does not bring it back.
    let gone = rt
        .block_on(store.save(&sid, &fresh_text, &merged, now_ms()))
        .unwrap();
    assert_eq!(gone, ExpressSaved::Gone);
    assert_eq!(
        rt.block_on(store.load(&sid, now_ms())).unwrap(),
        ExpressLoaded::Missing
    );
}

/// Rust creates a session and its cookie; Express reads it, changes it, regenerates and
/// destroys it, and Rust sees each step.
#[test]
fn a_session_made_by_rust_is_shared_with_express() {
    let Some(url) = ready() else { return };
    let rt = runtime();
    let store = rt.block_on(ExpressRedisStore::connect(&url)).unwrap();
    let app = App::start(&url, &[]);
    let signer = signer();

    let sid = generate_sid();
    let mut record = Record::new(CookieMeta::express_default(None, now_ms()));
    record.data_mut().insert("user".into(), json!("bob"));
    record.data_mut().insert("2".into(), json!("two"));
    assert!(rt.block_on(store.create(&sid, &record, now_ms())).unwrap());
    // Never overwrites: the same sid again is refused.
    assert!(!rt.block_on(store.create(&sid, &record, now_ms())).unwrap());
    let cookie = format!("connect.sid={}", signer.cookie_value(&sid));

    let read = app.call("GET", "/api/session", Some(&cookie), None);
    assert_eq!(read.status, 200);
    assert_eq!(read.body, json!({"2": "two", "user": "bob"}));
    assert!(
        read.set_cookie.is_empty(),
        "express-session re-sent a cookie for an unchanged session"
    );
    // Express rewrote nothing on a read (resave: false): the bytes are still Rust's.
    let (_, text) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    assert_eq!(text, record.to_json());

    let changed = app.call(
        "POST",
        "/api/session",
        Some(&cookie),
        Some(&json!({"views": 5})),
    );
    assert_eq!(changed.status, 200);
    let (seen, _) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    assert_eq!(seen.data()["views"], 5);
    assert_eq!(seen.data()["user"], "bob");

    // Express regenerates (a login): the old sid is gone for Rust too, the new one is there.
    let regenerated = app.call(
        "POST",
        "/api/session/regenerate",
        Some(&cookie),
        Some(&json!({"user": "carol"})),
    );
    let new_cookie = regenerated.cookie().unwrap();
    let (new_sid, _) = signer
        .open(&find_cookie(&new_cookie, DEFAULT_COOKIE_NAME).unwrap())
        .unwrap();
    assert_ne!(new_sid, sid);
    assert_eq!(
        rt.block_on(store.load(&sid, now_ms())).unwrap(),
        ExpressLoaded::Missing
    );
    let (carol, _) = live(rt.block_on(store.load(&new_sid, now_ms())).unwrap());
    assert_eq!(carol.data()["user"], "carol");

    // Express destroys: Rust finds nothing.
    let destroyed = app.call("DELETE", "/api/session", Some(&new_cookie), None);
    assert_eq!(destroyed.status, 204);
    assert_eq!(
        rt.block_on(store.load(&new_sid, now_ms())).unwrap(),
        ExpressLoaded::Missing
    );
}

/// A record another program wrote: express-session answers 500; the Rust side refuses it with
/// a reason and leaves it as it is. A record whose own expiry has passed is served by Express
/// while Redis holds it; not by the Rust side.
#[test]
fn bad_and_expired_records() {
    let Some(url) = ready() else { return };
    let rt = runtime();
    let store = rt.block_on(ExpressRedisStore::connect(&url)).unwrap();
    let app = App::start(&url, &[]);
    let signer = signer();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();

    let sid = generate_sid();
    let key = format!("sess:{sid}");
    let cookie = format!("connect.sid={}", signer.cookie_value(&sid));
    let bad = r#"{"cookie":5,"views":1}"#;
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(bad)
        .arg("EX")
        .arg(600)
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        app.call("GET", "/api/session", Some(&cookie), None).status,
        500,
        "express-session with connect-redis fails on this record"
    );
    assert_eq!(
        rt.block_on(store.load(&sid, now_ms())).unwrap(),
        ExpressLoaded::Refused(RecordError::CookieNotAnObject)
    );
    let still: String = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
    assert_eq!(still, bad);

    let expired_sid = generate_sid();
    let mut record = Record::new(CookieMeta::express_default(
        Some(60_000),
        now_ms() - 3_600_000,
    ));
    record.data_mut().insert("views".into(), json!(1));
    let _: () = redis::cmd("SET")
        .arg(format!("sess:{expired_sid}"))
        .arg(record.to_json())
        .arg("EX")
        .arg(86_400)
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        rt.block_on(store.load(&expired_sid, now_ms())).unwrap(),
        ExpressLoaded::Expired
    );
    let cookie = format!("connect.sid={}", signer.cookie_value(&expired_sid));
    let served = app.call("GET", "/api/session", Some(&cookie), None);
    assert_eq!(served.body["views"], 1, "express-session serves it");
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .arg(format!("sess:{expired_sid}"))
        .query(&mut conn)
        .unwrap();
}

// ---- connect-pg-simple -------------------------------------------------------------------------

/// A table of its own per test run, created by connect-pg-simple itself
/// (`createTableIfMissing`), dropped at the end.
struct PgFixture {
    rt: tokio::runtime::Runtime,
    store: ExpressPgStore,
    pool: cookie_session::store::sqlx::PgPool,
    table: String,
}

impl PgFixture {
    fn new(url: &str, label: &str) -> Self {
        let rt = runtime();
        let pool = rt
            .block_on(cookie_session::store::sqlx::PgPool::connect(url))
            .unwrap();
        let table = format!("express_live_{label}_{}", std::process::id());
        let store = ExpressPgStore::new(pool.clone()).with_table(&table);
        PgFixture {
            rt,
            store,
            pool,
            table,
        }
    }
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        let sql = format!("DROP TABLE IF EXISTS \"{}\"", self.table);
        let _ = self
            .rt
            .block_on(cookie_session::store::sqlx::query(&sql).execute(&self.pool));
    }
}

/// Both directions on connect-pg-simple's table: Express writes, Rust reads byte for byte and
/// writes (compare-and-swap against Express's writes); Rust creates, Express reads and
/// changes; destroy on each side; a malformed row is refused and left alone.
#[test]
fn sessions_are_shared_through_connect_pg_simple() {
    let Some(url) = express_session_app::ready("DATABASE_URL", skip) else {
        return;
    };
    let pg = PgFixture::new(&url, "pg");
    let app = App::start_with(&[
        ("SESSION_STORE", "pg"),
        ("DATABASE_URL", url.as_str()),
        ("SESSION_PG_TABLE", pg.table.as_str()),
        ("SESSION_MAX_AGE_MS", "3600000"),
    ]);
    let signer = signer();
    let (rt, store) = (&pg.rt, &pg.store);

    // Express → Rust.
    let created = app.call(
        "POST",
        "/api/session",
        None,
        Some(&json!({"views": 1, "u": "ann"})),
    );
    assert_eq!(created.status, 200);
    let cookie = created.cookie().unwrap();
    let (sid, _) = signer
        .open(&find_cookie(&cookie, DEFAULT_COOKIE_NAME).unwrap())
        .unwrap();
    let (mut record, text) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    assert_eq!(Value::Object(record.data().clone()), created.body);
    assert_eq!(
        record.to_json(),
        text,
        "the json column keeps Express's bytes"
    );

    // Rust → Express, and a stale Rust copy never overwrites an Express write.
    record.data_mut().insert("views".into(), json!(2));
    assert_eq!(
        rt.block_on(store.save(&sid, &text, &record, now_ms()))
            .unwrap(),
        ExpressSaved::Saved
    );
    let read = app.call("GET", "/api/session", Some(&cookie), None);
    assert_eq!(read.body, json!({"views": 2, "u": "ann"}));
    let (_, stale_text) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    let changed = app.call(
        "POST",
        "/api/session",
        Some(&cookie),
        Some(&json!({"views": 3})),
    );
    assert_eq!(changed.status, 200);
    assert_eq!(
        rt.block_on(store.save(&sid, &stale_text, &record, now_ms()))
            .unwrap(),
        ExpressSaved::Changed
    );
    let (fresh, _) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    assert_eq!(fresh.data()["views"], 3);

    // Express destroys: gone for Rust, and a late Rust save does not bring it back.
    assert_eq!(
        app.call("DELETE", "/api/session", Some(&cookie), None)
            .status,
        204
    );
    assert_eq!(
        rt.block_on(store.load(&sid, now_ms())).unwrap(),
        ExpressLoaded::Missing
    );
    assert_eq!(
        rt.block_on(store.save(&sid, &stale_text, &record, now_ms()))
            .unwrap(),
        ExpressSaved::Gone
    );

    // Rust → Express: a session Rust creates is served by Express; Rust destroys it.
    let sid = generate_sid();
    let mut record = Record::new(CookieMeta::express_default(Some(3_600_000), now_ms()));
    record.data_mut().insert("user".into(), json!("bob"));
    assert!(rt.block_on(store.create(&sid, &record, now_ms())).unwrap());
    assert!(!rt.block_on(store.create(&sid, &record, now_ms())).unwrap());
    let cookie = format!("connect.sid={}", signer.cookie_value(&sid));
    let read = app.call("GET", "/api/session", Some(&cookie), None);
    assert_eq!(read.body, json!({"user": "bob"}));
    let changed = app.call(
        "POST",
        "/api/session",
        Some(&cookie),
        Some(&json!({"n": 1})),
    );
    assert_eq!(changed.status, 200);
    let (seen, _) = live(rt.block_on(store.load(&sid, now_ms())).unwrap());
    assert_eq!(seen.data()["n"], 1);
    rt.block_on(store.destroy(&sid)).unwrap();
    assert_eq!(
        app.call("GET", "/api/session", Some(&cookie), None).body,
        json!({})
    );

    // A row another program wrote: Express answers 500, Rust refuses it and leaves it.
    let bad_sid = generate_sid();
    let sql = format!(
        "INSERT INTO \"{}\" (sid, sess, expire) VALUES ($1, '{{\"views\":1}}', now() + interval '1 hour')",
        pg.table
    );
    rt.block_on(
        cookie_session::store::sqlx::query(&sql)
            .bind(&bad_sid)
            .execute(&pg.pool),
    )
    .unwrap();
    let bad_cookie = format!("connect.sid={}", signer.cookie_value(&bad_sid));
    assert_eq!(
        app.call("GET", "/api/session", Some(&bad_cookie), None)
            .status,
        500
    );
    assert_eq!(
        rt.block_on(store.load(&bad_sid, now_ms())).unwrap(),
        ExpressLoaded::Refused(RecordError::MissingCookie)
    );
}
