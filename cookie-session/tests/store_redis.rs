//! Redis-specific tests for `RedisStore` (the shared behaviour is in `store_conformance.rs`):
//! what lands in Redis, TTLs, round trips per request measured on the wire, scripts forgotten
//! by the server, and an outage with a real server stopped and started again.
//!
//! Needs `REDIS_URL` (skips loudly when unset, fails under `CI=true`); the outage test also
//! starts its own `redis-server` (Debian package `redis-server`) on a free loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use cookie_session::store::{
    OutagePolicy, Patch, Record, RedisStore, SessionId, SessionStore, StoreError, Update,
};
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use http::{Request, Response, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

const KEY: &str = "redis-test-key-0123456789abcdef0123456789";

/// Held by the test that flushes the server's scripts and by the one that counts commands
/// (a flush in the middle would add reloads to the count).
static SCRIPT_CACHE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn server_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("REDIS_URL must be set under CI")
        }
        _ => {
            skip::skipped("REDIS_URL is not set");
            None
        }
    }
}

fn unique_prefix() -> String {
    format!("test:{}:", SessionId::generate().as_str())
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn keys_with_prefix(
    conn: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys
}

// ---------------------------------------------------------------------------------------
// An app over a store, with a clock moved by hand.

struct App {
    app: Router,
    layer: SessionLayer,
    clock: Arc<AtomicU64>,
}

impl App {
    fn new(store: Arc<dyn SessionStore>, ttl: u64) -> Self {
        Self::with_policy(store, ttl, OutagePolicy::Fail)
    }

    fn with_policy(store: Arc<dyn SessionStore>, ttl: u64, outage: OutagePolicy) -> Self {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let clock = Arc::new(AtomicU64::new(now));
        let c = clock.clone();
        let layer = SessionConfig::new(KeyRing::new([KEY]).unwrap())
            .shared_store(store)
            .store_outage(outage)
            .ttl(Duration::from_secs(ttl))
            .clock_skew(Duration::ZERO)
            .clock(move || SystemTime::UNIX_EPOCH + Duration::from_secs(c.load(Ordering::SeqCst)))
            .build()
            .unwrap();
        let app = Router::new()
            .route("/untouched", get(|| async { "plain" }))
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
                "/login/{user}",
                get(|s: Session, Path(user): Path<String>| async move {
                    s.regenerate();
                    s.insert("user", user).unwrap();
                    "ok"
                }),
            )
            .layer(layer.clone());
        App { app, layer, clock }
    }

    fn advance(&self, secs: u64) {
        self.clock.fetch_add(secs, Ordering::SeqCst);
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

    fn id_of(&self, cookie: &str) -> SessionId {
        let loaded = self.layer.decode([cookie]).unwrap();
        SessionId::parse(loaded.data["sid"].as_str().unwrap()).unwrap()
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

async fn body(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

// ---------------------------------------------------------------------------------------
// What lands in Redis.

#[tokio::test]
async fn redis_holds_no_session_id_only_hashed_keys() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let app = App::new(Arc::new(store), 3600);
    let anonymous = jar(&app.call("/set/cart/apple", None).await);
    let alice = jar(&app.call("/login/alice", None).await);
    let ids = [app.id_of(&anonymous), app.id_of(&alice)];

    let mut conn = raw(&url).await;
    let keys = keys_with_prefix(&mut conn, &prefix).await;
    let mut expected = vec![
        format!("{prefix}s:{{{}}}", ids[0].store_key().as_str()),
        format!("{prefix}s:{{{}}}", ids[1].store_key().as_str()),
        format!("{prefix}u:{{alice}}"),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    for key in &keys {
        let dump: Vec<String> = if key.contains(":u:{") {
            redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .unwrap()
        } else {
            let fields: Vec<(String, String)> = redis::cmd("HGETALL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap();
            fields.into_iter().flat_map(|(f, v)| [f, v]).collect()
        };
        for id in &ids {
            assert!(!key.contains(id.as_str()), "{key}");
            for value in &dump {
                assert!(!value.contains(id.as_str()), "{key}: {value}");
            }
        }
        for cookie in [&anonymous, &alice] {
            let sealed = cookie.split_once('=').unwrap().1;
            assert!(!dump.iter().any(|v| v.contains(sealed)));
        }
    }
    // The record is a hash: metadata, and each session key's JSON text in a field of its own.
    let record = if keys[0].contains(&ids[0].store_key().as_str()[..16]) {
        &keys[0]
    } else {
        &keys[1]
    };
    let mut fields: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(record)
        .query_async(&mut conn)
        .await
        .unwrap();
    fields.sort();
    let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["c", "d:cart", "e", "n", "v"], "{fields:?}");
    assert_eq!(fields[1].1, r#"1 "apple""#);
    assert_eq!(fields[4].1, "1");
}

#[tokio::test]
async fn every_key_has_a_ttl_that_follows_the_record() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let mut conn = raw(&url).await;
    let pttl = |key: String| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("PTTL")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
        }
    };
    // The app's clock is far from Redis's: TTLs are relative to the app's now.
    let now = 1_000_000;
    let key = SessionId::generate().store_key();
    let record = Record {
        data: Default::default(),
        version: 1,
        created_at: now,
        expires_at: now + 600,
        user: Some("bob".into()),
    };
    store.create(&key, &record).await.unwrap();
    let record_key = format!("{prefix}s:{{{}}}", key.as_str());
    let index_key = format!("{prefix}u:{{bob}}");
    let t = pttl(record_key.clone()).await;
    assert!((595_000..=600_000).contains(&t), "{t}");
    assert!(
        pttl(index_key.clone()).await >= t + 50_000,
        "the index outlives the record"
    );

    // A touch moves the TTL and the expiry inside the value; the index keeps up.
    assert!(store.touch(&key, now + 1800, now + 100).await.unwrap());
    let t = pttl(record_key.clone()).await;
    assert!((1_695_000..=1_700_000).contains(&t), "{t}");
    assert!(
        pttl(index_key.clone()).await >= t + 50_000,
        "the index outlives the record"
    );
    assert_eq!(
        store
            .load(&key, now + 100)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        now + 1800
    );
    // Expired by the app's clock while Redis still holds it.
    assert_eq!(store.load(&key, now + 1800).await.unwrap(), None);
    assert!(!store.touch(&key, now + 5000, now + 1800).await.unwrap());

    // Revocations expire at `until`, keep the largest `at`, and never shrink.
    store.revoke_user("bob", now, now + 900).await.unwrap();
    store.revoke_user("bob", now - 50, now + 300).await.unwrap();
    let revocation = format!("{prefix}r:{{bob}}");
    let t = pttl(revocation.clone()).await;
    assert!((895_000..=900_000).contains(&t), "{t}");
    assert_eq!(
        store.revoked_before("bob", now + 10).await.unwrap(),
        Some(now)
    );
    assert_eq!(store.revoked_before("bob", now + 900).await.unwrap(), None);
    // One meant to last for ever (rolling sessions without an absolute lifetime) does.
    store.revoke_user("eve", now, u64::MAX).await.unwrap();
    assert_eq!(pttl(format!("{prefix}r:{{eve}}")).await, -1);
    assert_eq!(
        store.revoked_before("eve", u64::MAX - 1).await.unwrap(),
        Some(now)
    );
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}r:{{eve}}"))
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_user_skips_sessions_whose_user_changed_and_prunes_the_index() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let now = 2_000_000;
    let record = |user: &str, version| Record {
        data: serde_json::json!({"user": user})
            .as_object()
            .unwrap()
            .clone(),
        version,
        created_at: now,
        expires_at: now + 600,
        user: Some(user.into()),
    };
    let keys: Vec<_> = (0..3).map(|_| SessionId::generate().store_key()).collect();
    for key in &keys {
        store.create(key, &record("al\"ice", 1)).await.unwrap();
    }
    // One of them is now bob's (logged in as someone else without regenerating).
    let to_bob = Patch::new(now + 600)
        .set("user", json!("bob"))
        .with_user(Some("bob".into()));
    assert_eq!(
        store.update(&keys[2], &to_bob, now).await.unwrap(),
        Update::Saved
    );
    assert_eq!(store.delete_user("al\"ice").await.unwrap(), 2);
    assert_eq!(store.load(&keys[0], now).await.unwrap(), None);
    assert_eq!(store.load(&keys[1], now).await.unwrap(), None);
    assert!(store.load(&keys[2], now).await.unwrap().is_some());
    assert_eq!(store.delete_user("al\"ice").await.unwrap(), 0);
    assert_eq!(store.delete_user("bob").await.unwrap(), 1);

    // Index entries are scored one lifetime past their record's expiry (so that most writes
    // need not write the index again), and pruned on the next index write once that passed.
    let mut conn = raw(&url).await;
    let old = SessionId::generate().store_key();
    store.create(&old, &record("carol", 1)).await.unwrap();
    let later = Record {
        created_at: now + 1300,
        expires_at: now + 1900,
        ..record("carol", 1)
    };
    let new = SessionId::generate().store_key();
    store.create(&new, &later).await.unwrap();
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}u:{{carol}}"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(members, [new.as_str()]);
    assert_eq!(store.delete_user("carol").await.unwrap(), 1);
    assert_eq!(store.delete(&old).await, Ok(()));
}

#[tokio::test]
async fn corrupt_records_and_forgotten_scripts() {
    let Some(url) = server_url() else { return };
    let _cache = SCRIPT_CACHE.lock().await;
    let prefix = unique_prefix();
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let mut conn = raw(&url).await;
    let key = SessionId::generate().store_key();
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}s:{{{}}}", key.as_str()))
        .arg("not json")
        .arg("EX")
        .arg(60)
        .query_async(&mut conn)
        .await
        .unwrap();
    let record = Record {
        data: Default::default(),
        version: 2,
        created_at: 10,
        expires_at: 1000,
        user: None,
    };
    assert!(matches!(
        store.load(&key, 10).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.update(&key, &Patch::new(1000), 10).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.touch(&key, 2000, 10).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(store.create(&key, &record).await, Err(StoreError::Conflict));
    store.delete(&key).await.unwrap();
    // A hash that is not one of our records: corrupt, and left as it is.
    for fields in [
        &[("v", "1"), ("c", "0")][..],
        &[("v", "1"), ("c", "0"), ("e", "soon")],
        &[("v", "1"), ("c", "0"), ("e", "1000"), ("d:a", "no json")],
    ] {
        let record_key = format!("{prefix}s:{{{}}}", key.as_str());
        let _: () = redis::cmd("DEL")
            .arg(&record_key)
            .query_async(&mut conn)
            .await
            .unwrap();
        for (f, v) in fields {
            let _: () = redis::cmd("HSET")
                .arg(&record_key)
                .arg(f)
                .arg(v)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        assert!(
            matches!(store.load(&key, 10).await, Err(StoreError::Corrupt(_))),
            "{fields:?}"
        );
        if fields.len() < 4 {
            let patch = Patch::new(1000).set("a", json!(1));
            assert!(
                matches!(
                    store.update(&key, &patch, 10).await,
                    Err(StoreError::Corrupt(_))
                ),
                "{fields:?}"
            );
            assert!(
                matches!(
                    store.touch(&key, 2000, 10).await,
                    Err(StoreError::Corrupt(_))
                ),
                "{fields:?}"
            );
        }
        let left: usize = redis::cmd("HLEN")
            .arg(&record_key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, fields.len(), "nothing written");
    }
    store.delete(&key).await.unwrap();
    // A key of another type (another program's list or set): corrupt, not an outage, and
    // left as it is.
    let record_key = format!("{prefix}s:{{{}}}", key.as_str());
    for (kind, made) in [("RPUSH", "list"), ("SADD", "set")] {
        let _: () = redis::cmd(kind)
            .arg(&record_key)
            .arg("x")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            matches!(store.load(&key, 10).await, Err(StoreError::Corrupt(_))),
            "{kind}"
        );
        let patch = Patch::new(1000).set("a", json!(1));
        assert!(
            matches!(
                store.update(&key, &patch, 10).await,
                Err(StoreError::Corrupt(_))
            ),
            "{kind}"
        );
        assert!(
            matches!(
                store.touch(&key, 2000, 10).await,
                Err(StoreError::Corrupt(_))
            ),
            "{kind}"
        );
        let left: String = redis::cmd("TYPE")
            .arg(&record_key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, made, "{kind}: left as it is");
        store.delete(&key).await.unwrap();
    }

    // A server that forgot its scripts (restart, SCRIPT FLUSH): they are loaded again.
    let first = Record {
        version: 1,
        ..record.clone()
    };
    let with_user = Record {
        user: Some("dan".into()),
        ..record.clone()
    };
    store.create(&key, &first).await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        store
            .update(&key, &Patch::new(1000).with_user(Some("dan".into())), 10)
            .await
            .unwrap(),
        Update::Saved
    );
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(store.touch(&key, 1500, 10).await.unwrap());
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    store.revoke_user("dan", 10, 1000).await.unwrap();
    assert_eq!(store.revoked_before("dan", 11).await.unwrap(), Some(10));
    assert_eq!(
        store.load(&key, 10).await.unwrap().unwrap(),
        Record {
            expires_at: 1500,
            ..with_user
        }
    );
    assert_eq!(store.delete_user("dan").await.unwrap(), 1);
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}r:{{dan}}"))
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// The merge runs in a Lua script, whose JSON library would turn numbers into doubles and
/// reorder keys: the store never lets it touch the session's JSON. Numbers keep every digit,
/// keys keep their order (a key set again keeps its place, a new one goes last).
#[tokio::test]
async fn numbers_and_key_order_survive_the_server_side_merge() {
    let Some(url) = server_url() else { return };
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(unique_prefix());
    let key = SessionId::generate().store_key();
    let data = json!({
        "big": 12345678901234567890u64,
        "f": 0.30000000000000004,
        "neg": -1e-7,
        "s": "x",
        "o": {"b": 1, "a": [2, 1.5e300, -9007199254740993i64]},
        "": "empty key",
        "uni\u{0}code ü": "\u{1F600}"
    });
    let record = Record {
        data: data.as_object().cloned().unwrap(),
        version: 1,
        created_at: 10,
        expires_at: 1000,
        user: None,
    };
    store.create(&key, &record).await.unwrap();
    assert_eq!(store.load(&key, 10).await.unwrap().unwrap(), record);
    let patch = Patch::new(2000)
        .set("s", json!({"z": 1, "y": 18446744073709551615u64}))
        .remove("neg")
        .set("new", json!(-0.0))
        .set("neg", json!(1))
        .remove("neg");
    assert_eq!(store.update(&key, &patch, 10).await.unwrap(), Update::Saved);
    let after = store.load(&key, 10).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_string(&after.data).unwrap(),
        r#"{"big":12345678901234567890,"f":0.30000000000000004,"s":{"z":1,"y":18446744073709551615},"o":{"b":1,"a":[2,1.5e+300,-9007199254740993]},"":"empty key","uni\u0000code ü":"😀","new":-0.0}"#
    );
    assert_eq!((after.version, after.expires_at), (2, 2000));
    // A replacement, in its own order.
    let patch =
        Patch::new(2000).replace_with(json!({"q": 1, "b": 2}).as_object().cloned().unwrap());
    store.update(&key, &patch, 10).await.unwrap();
    let after = store.load(&key, 10).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_string(&after.data).unwrap(),
        r#"{"q":1,"b":2}"#
    );
    store.delete(&key).await.unwrap();
}

/// Records written by the previous version (one JSON string per session) are still read,
/// and the first update or touch rewrites them as a hash, keeping their TTL.
#[tokio::test]
async fn records_of_the_older_layout_are_read_and_upgraded() {
    let Some(url) = server_url() else { return };
    let prefix = unique_prefix();
    let store = RedisStore::connect(&url)
        .await
        .unwrap()
        .with_prefix(&prefix);
    let conn = raw(&url).await;
    let old = |key: &cookie_session::store::StoreKey, user: &str| {
        let mut conn = conn.clone();
        let record_key = format!("{prefix}s:{{{}}}", key.as_str());
        let value = format!(
            r#"{{"version":3,"created_at":10,"expires_at":1000,"user":"{user}","data":{{"b":12345678901234567890,"a":1,"user":"{user}"}}}}"#
        );
        async move {
            let _: () = redis::cmd("SET")
                .arg(&record_key)
                .arg(value)
                .arg("EX")
                .arg(600)
                .query_async(&mut conn)
                .await
                .unwrap();
            record_key
        }
    };
    let kind = |record_key: String| {
        let mut conn = conn.clone();
        async move {
            let kind: String = redis::cmd("TYPE")
                .arg(&record_key)
                .query_async(&mut conn)
                .await
                .unwrap();
            let pttl: i64 = redis::cmd("PTTL")
                .arg(&record_key)
                .query_async(&mut conn)
                .await
                .unwrap();
            (kind, pttl)
        }
    };

    let key = SessionId::generate().store_key();
    let record_key = old(&key, "eve").await;
    let loaded = store.load(&key, 10).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_string(&loaded.data).unwrap(),
        r#"{"b":12345678901234567890,"a":1,"user":"eve"}"#
    );
    assert_eq!((loaded.version, loaded.user.as_deref()), (3, Some("eve")));
    let patch = Patch::new(1000).set("c", json!(2)).set("a", json!(0));
    assert_eq!(store.update(&key, &patch, 10).await.unwrap(), Update::Saved);
    let (kind_now, pttl) = kind(record_key.clone()).await;
    assert_eq!(kind_now, "hash");
    assert!(pttl > 0, "{pttl}");
    let after = store.load(&key, 10).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_string(&after.data).unwrap(),
        r#"{"b":12345678901234567890,"a":0,"user":"eve","c":2}"#
    );
    assert_eq!((after.version, after.user.as_deref()), (4, Some("eve")));

    // A touch upgrades too; delete_user still finds an old record of its user.
    let touched = SessionId::generate().store_key();
    let touched_key = old(&touched, "eve").await;
    assert!(store.touch(&touched, 1500, 10).await.unwrap());
    assert_eq!(kind(touched_key).await.0, "hash");
    assert_eq!(
        store.load(&touched, 10).await.unwrap().unwrap().expires_at,
        1500
    );
    let untouched = SessionId::generate().store_key();
    let untouched_key = old(&untouched, "mallory").await;
    let _: () = redis::cmd("ZADD")
        .arg(format!("{prefix}u:{{eve}}"))
        .arg(1000)
        .arg(untouched.as_str())
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    assert_eq!(kind(untouched_key.clone()).await.0, "string");
    assert_eq!(
        store.delete_user("mallory").await.unwrap(),
        0,
        "no index entry"
    );
    assert_eq!(
        store.delete_user("eve").await.unwrap(),
        2,
        "the two upgraded records were indexed as they were written; the old record listed \
         under eve is mallory's and stays"
    );
    assert_eq!(store.load(&key, 10).await.unwrap(), None);
    assert_eq!(store.load(&touched, 10).await.unwrap(), None);
    assert!(store.load(&untouched, 10).await.unwrap().is_some());
    for k in [&key, &touched, &untouched] {
        store.delete(k).await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Round trips, counted on the wire by a loopback proxy between the store and Redis.

#[derive(Default)]
struct Wire {
    /// Times the client spoke after the server had: network round trips.
    round_trips: AtomicU64,
    client_spoke_last: AtomicBool,
    /// Command names, in order.
    commands: Mutex<Vec<String>>,
}

impl Wire {
    fn take(&self) -> (u64, Vec<String>) {
        (
            self.round_trips.swap(0, Ordering::SeqCst),
            std::mem::take(&mut *self.commands.lock().unwrap()),
        )
    }
}

/// Parses complete RESP commands (arrays of bulk strings) off the front of `buf`.
fn parse_commands(buf: &mut Vec<u8>, out: &mut Vec<String>) {
    fn line(buf: &[u8], at: usize) -> Option<(i64, usize)> {
        let end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at;
        let n = std::str::from_utf8(&buf[at + 1..end]).ok()?.parse().ok()?;
        Some((n, end + 2))
    }
    loop {
        let Some((count, mut at)) = line(buf, 0) else {
            return;
        };
        let mut name = None;
        for _ in 0..count {
            let Some((len, start)) = line(buf, at) else {
                return;
            };
            let end = start + len as usize;
            if buf.len() < end + 2 {
                return;
            }
            name.get_or_insert_with(|| String::from_utf8_lossy(&buf[start..end]).to_uppercase());
            at = end + 2;
        }
        out.push(name.unwrap_or_default());
        buf.drain(..at);
    }
}

async fn proxy(upstream: SocketAddr) -> (SocketAddr, Arc<Wire>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let wire = Arc::new(Wire::default());
    let w = wire.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(upstream).await.unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = w.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 16384];
                let mut pending = Vec::new();
                while let Ok(n @ 1..) = cr.read(&mut buf).await {
                    if !up.client_spoke_last.swap(true, Ordering::SeqCst) {
                        up.round_trips.fetch_add(1, Ordering::SeqCst);
                    }
                    pending.extend_from_slice(&buf[..n]);
                    parse_commands(&mut pending, &mut up.commands.lock().unwrap());
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            let down = w.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 16384];
                while let Ok(n @ 1..) = sr.read(&mut buf).await {
                    down.client_spoke_last.store(false, Ordering::SeqCst);
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, wire)
}

fn host_port(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    std::net::ToSocketAddrs::to_socket_addrs(host_port)
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
async fn round_trips_per_request_measured_on_the_wire() {
    let Some(url) = server_url() else { return };
    let _cache = SCRIPT_CACHE.lock().await;
    let (addr, wire) = proxy(host_port(&url)).await;
    let db = url.rsplit_once('/').map(|(_, db)| db).unwrap_or("");
    let proxied = format!("redis://{addr}/{db}");
    let store = RedisStore::connect(&proxied)
        .await
        .unwrap()
        .with_prefix(unique_prefix());
    let app = App::new(Arc::new(store), 100);

    // Once through every path, so that the server knows the scripts.
    let warm = jar(&app.call("/login/warm", None).await);
    app.call("/set/a/1", Some(&warm)).await;
    app.advance(60);
    app.call("/get", Some(&warm)).await;
    let anonymous = jar(&app.call("/set/a/1", None).await);
    app.advance(60);
    app.call("/get", Some(&anonymous)).await;
    wire.take();

    let mut seen = Vec::new();
    let mut step = |what: &'static str, (trips, commands): (u64, Vec<String>)| {
        seen.push(format!("{what}: {trips} round trips {commands:?}"));
        (trips, commands)
    };
    let cookie = jar(&app.call("/set/a/1", None).await);
    assert_eq!(
        step("new session", wire.take()),
        (1, vec!["EVALSHA".into()])
    );
    app.call("/get", Some(&cookie)).await;
    assert_eq!(step("read", wire.take()), (1, vec!["HGETALL".into()]));
    app.call("/set/b/2", Some(&cookie)).await;
    assert_eq!(
        step("write", wire.take()),
        (2, vec!["HGETALL".into(), "EVALSHA".into()])
    );
    app.call("/untouched", Some(&cookie)).await;
    assert_eq!(step("untouched", wire.take()), (0, vec![]));
    app.advance(60);
    app.call("/get", Some(&cookie)).await;
    assert_eq!(
        step("read + touch", wire.take()),
        (2, vec!["HGETALL".into(), "EVALSHA".into()])
    );

    let login = jar(&app.call("/login/alice", Some(&cookie)).await);
    assert_eq!(
        step("login (regenerate)", wire.take()),
        (
            3,
            ["HGETALL", "DEL", "EVAL", "EVALSHA"]
                .map(String::from)
                .to_vec()
        )
    );
    app.call("/get", Some(&login)).await;
    assert_eq!(
        step("read, logged in", wire.take()),
        (1, vec!["HGETALL".into()])
    );
    // The user index was written at login, scored one lifetime past the expiry: the writes
    // and touches that follow do not write it again.
    app.call("/set/c/3", Some(&login)).await;
    assert_eq!(
        step("write, logged in", wire.take()),
        (2, ["HGETALL", "EVALSHA"].map(String::from).to_vec())
    );
    app.advance(60);
    app.call("/get", Some(&login)).await;
    assert_eq!(
        step("read + touch, logged in", wire.take()),
        (2, ["HGETALL", "EVALSHA"].map(String::from).to_vec())
    );
    // Once the expiry moves past what the index covers, the script says so and the index is
    // written before the record (once per lifetime).
    app.advance(60);
    app.call("/set/d/4", Some(&login)).await;
    assert_eq!(
        step("write, logged in, past the index", wire.take()),
        (
            3,
            ["HGETALL", "EVALSHA", "EVAL", "EVALSHA"]
                .map(String::from)
                .to_vec()
        )
    );
    app.call("/set/e/5", Some(&login)).await;
    assert_eq!(
        step("write, logged in, re-indexed", wire.take()),
        (2, ["HGETALL", "EVALSHA"].map(String::from).to_vec())
    );
    app.layer.revoke_user("alice").await.unwrap();
    assert_eq!(
        step("revoke_user (delete_user)", wire.take()),
        (3, ["ZRANGE", "EVAL", "ZREM"].map(String::from).to_vec())
    );
    eprintln!("{}", seen.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Outage: a real server stopped mid-run and started again on the same port.

/// A `redis-server` of our own; killed when dropped.
struct Server {
    child: Option<Child>,
    port: u16,
}

impl Server {
    fn start(port: u16, dir: &std::path::Path) -> Option<Child> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(child)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = format!("redis://127.0.0.1:{}/", self.port);
        while Instant::now() < deadline {
            if let Ok(client) = redis::Client::open(url.as_str()) {
                if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                    if redis::cmd("PING")
                        .query_async::<String>(&mut conn)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    async fn stop(&mut self) {
        self.shutdown("NOSAVE").await;
    }

    /// `SHUTDOWN SAVE|NOSAVE`: with `SAVE`, the next start in the same directory has the data.
    async fn shutdown(&mut self, save: &str) {
        let url = format!("redis://127.0.0.1:{}/", self.port);
        let mut conn = raw(&url).await;
        // The server closes the connection instead of answering.
        let _ = redis::cmd("SHUTDOWN")
            .arg(save)
            .query_async::<()>(&mut conn)
            .await;
        if let Some(mut child) = self.child.take() {
            child.wait().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_an_opaque_503_and_the_same_app_recovers() {
    if server_url().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Redis's working directory, removed when the test ends (after the server: declared first).
    let dir = tempfile::Builder::new()
        .prefix("cookie-session-outage-")
        .tempdir()
        .unwrap();
    let Some(child) = Server::start(port, dir.path()) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("redis-server must be installed under CI");
        }
        skip::skipped("no redis-server binary");
        return;
    };
    let mut server = Server {
        child: Some(child),
        port,
    };
    server.wait_ready().await;
    let url = format!("redis://127.0.0.1:{port}/");
    let app = App::new(Arc::new(RedisStore::connect(&url).await.unwrap()), 3600);
    let cookie = jar(&app.call("/set/a/1", None).await);
    assert_eq!(
        body(app.call("/get", Some(&cookie)).await).await,
        r#"{"a":"1"}"#
    );

    server.stop().await;
    for uri in ["/get", "/set/b/2"] {
        let started = Instant::now();
        let res = app.call(uri, Some(&cookie)).await;
        let took = started.elapsed();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert!(res.headers().get("set-cookie").is_none());
        // The answer depends on the cookie (without one, no store call is made).
        assert_eq!(
            res.headers().get("vary").map(|v| v.to_str().unwrap()),
            Some("cookie"),
            "{uri}: Vary on a 503"
        );
        let text = body(res).await;
        assert!(
            ["", "Service Unavailable"].contains(&text.as_str()),
            "opaque, nothing about Redis: {text:?}"
        );
        assert!(took < Duration::from_secs(3), "{uri} took {took:?}");
        eprintln!("{uri} during the outage: 503 in {took:?}");
    }
    let res = app.call("/set/b/2", None).await;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a new session"
    );
    let res = app.call("/untouched", Some(&cookie)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "pages that never touch the session"
    );

    // Same port, empty data (the server saved nothing), scripts forgotten.
    server.child = Some(Server::start(port, dir.path()).unwrap());
    server.wait_ready().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failures = 0;
    let fresh = loop {
        let res = app.call("/set/c/3", None).await;
        if res.status() == StatusCode::OK {
            break jar(&res);
        }
        failures += 1;
        assert!(Instant::now() < deadline, "the store never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("after the restart: {failures} request(s) failed before the store was back");
    assert!(failures <= 1, "{failures}");
    assert_eq!(
        app.call("/set/d/4", Some(&fresh)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        body(app.call("/get", Some(&fresh)).await).await,
        r#"{"c":"3","d":"4"}"#
    );
    // The old session died with the server's data: a new, empty one.
    assert_eq!(body(app.call("/get", Some(&cookie)).await).await, "{}");
}

/// `OutagePolicy::Anonymous` against a real outage: while Redis is down, requests go on with
/// an empty session that is never saved (200, no `Set-Cookie`); once it is back, the
/// visitor's stored session is there, untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_under_the_anonymous_policy_serves_empty_sessions_and_overwrites_nothing() {
    if server_url().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Redis's working directory, removed when the test ends (after the server: declared first).
    let dir = tempfile::Builder::new()
        .prefix("cookie-session-anonymous-")
        .tempdir()
        .unwrap();
    let Some(child) = Server::start(port, dir.path()) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("redis-server must be installed under CI");
        }
        eprintln!("skipping: no redis-server binary");
        return;
    };
    let mut server = Server {
        child: Some(child),
        port,
    };
    server.wait_ready().await;
    let url = format!("redis://127.0.0.1:{port}/");
    let store = Arc::new(RedisStore::connect(&url).await.unwrap());
    let app = App::with_policy(store, 3600, OutagePolicy::Anonymous);
    let cookie = jar(&app.call("/login/alice", None).await);
    assert_eq!(
        body(app.call("/get", Some(&cookie)).await).await,
        r#"{"user":"alice"}"#
    );

    // Saved to disk on the way down, so that the restarted server has the session.
    server.shutdown("SAVE").await;
    if let Some(mut child) = server.child.take() {
        child.wait().unwrap();
    }
    for (uri, cookie) in [
        ("/get", Some(cookie.as_str())),
        ("/set/user/mallory", Some(cookie.as_str())),
        ("/login/bob", Some(cookie.as_str())),
        ("/set/a/1", None),
    ] {
        let res = app.call(uri, cookie).await;
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
        assert!(
            res.headers().get("set-cookie").is_none(),
            "{uri}: nothing issued, nothing overwritten"
        );
        if uri == "/get" {
            assert_eq!(body(res).await, "{}", "an empty session, not an error");
        }
    }
    assert_eq!(
        app.layer.metrics().store_errors,
        4,
        "every failure is counted for the operator"
    );

    server.child = Some(Server::start(port, dir.path()).unwrap());
    server.wait_ready().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = app.call("/get", Some(&cookie)).await;
        let text = body(res).await;
        if text != "{}" {
            assert_eq!(
                text, r#"{"user":"alice"}"#,
                "the stored session is untouched"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the store never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
