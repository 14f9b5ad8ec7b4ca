//! What the SQL stores promise beyond the conformance suite: the same answers as the memory
//! store for any sequence of calls, concurrent updates that all land, no session id at rest,
//! persistence across reopening, limits at the edges of the integer types, corrupt rows, and
//! (PostgreSQL) the round trips of every call, counted on the wire.
#![cfg(any(feature = "sqlite", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use cookie_session::store::{
    MemoryStore, Patch, Record, SessionId, SessionStore, StoreError, Update,
};
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use http::Request;
use serde_json::json;
use tower::ServiceExt;

const KEY: &str = "sql-store-test-key-0123456789abcdef0123456789";

fn app(store: Arc<dyn SessionStore>) -> (Router, SessionLayer) {
    let layer = SessionConfig::new(KeyRing::new([KEY]).unwrap())
        .shared_store(store)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/get",
            get(|s: Session| async move { serde_json::to_string(&s.data()).unwrap() }),
        )
        .route(
            "/login/{user}",
            get(
                |s: Session, axum::extract::Path(user): axum::extract::Path<String>| async move {
                    s.regenerate();
                    s.insert("user", user).unwrap();
                    s.insert("secret", "hunter2").unwrap();
                    "ok"
                },
            ),
        )
        .layer(layer.clone());
    (app, layer)
}

async fn call(app: &Router, uri: &str, cookie: Option<&str>) -> (http::StatusCode, String, String) {
    let mut req = Request::builder().uri(uri);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let jar = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, jar, String::from_utf8(body.to_vec()).unwrap())
}

fn id_of(layer: &SessionLayer, cookie: &str) -> SessionId {
    let loaded = layer.decode([cookie]).unwrap();
    SessionId::parse(loaded.data["sid"].as_str().unwrap()).unwrap()
}

fn record(data: serde_json::Value, version: u64, expires_at: u64, user: Option<&str>) -> Record {
    let serde_json::Value::Object(data) = data else {
        panic!("not an object")
    };
    Record {
        data,
        version,
        created_at: 1_000,
        expires_at,
        user: user.map(str::to_owned),
    }
}

/// A small deterministic generator (no dependency, same sequence every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// Runs the same pseudo-random calls against `store` and a [`MemoryStore`] and compares every
/// answer: the memory store is the reference.
async fn same_answers_as_memory(store: Arc<dyn SessionStore>, seed: u64) {
    let memory = MemoryStore::new();
    let keys: Vec<_> = (0..4).map(|_| SessionId::generate().store_key()).collect();
    let users = ["alice", "bob", "42"];
    let mut rng = Lcg(seed);
    let mut now = 10_000u64;
    for step in 0..600 {
        now += rng.next(30);
        let key = &keys[rng.next(keys.len() as u64) as usize];
        let user = users[rng.next(users.len() as u64) as usize];
        let op = rng.next(10);
        let what = format!("step {step} op {op} now {now}");
        match op {
            0 | 1 => {
                let r = record(
                    json!({"z": step, "a": [1, {"y": null, "b": true}], "n": 1.5}),
                    1,
                    now + rng.next(200),
                    (rng.next(3) > 0).then_some(user),
                );
                assert_eq!(
                    store.create(key, &r).await,
                    memory.create(key, &r).await,
                    "{what}"
                );
            }
            2 => assert_eq!(
                store.load(key, now).await,
                memory.load(key, now).await,
                "{what}"
            ),
            3 | 4 => {
                let current = memory.load(key, now).await.unwrap();
                let mut patch = Patch::new(now + rng.next(200));
                if rng.next(5) == 0 {
                    patch = patch.replace_with(record(json!({"r": step}), 1, 0, None).data);
                }
                for _ in 0..rng.next(4) {
                    let k = ["k", "step", "z", "user"][rng.next(4) as usize];
                    patch = match rng.next(3) {
                        0 => patch.remove(k),
                        _ => patch.set(k, json!({"step": step, "n": 12345678901234567890u64})),
                    };
                }
                if rng.next(3) == 0 {
                    patch = patch.with_user((rng.next(3) > 0).then(|| user.to_owned()));
                }
                // Sometimes offer the outcome for a compare-and-swap: right, or stale.
                if let (Some(mut outcome), 0) = (current, rng.next(2)) {
                    patch.apply(&mut outcome);
                    outcome.version = match rng.next(3) {
                        0 => outcome.version.wrapping_sub(2),
                        _ => outcome.version.wrapping_sub(1),
                    };
                    patch = patch.with_if_unchanged(outcome);
                }
                assert_eq!(
                    store.update(key, &patch, now).await,
                    memory.update(key, &patch, now).await,
                    "{what}"
                );
            }
            5 => {
                let until = now + rng.next(200);
                assert_eq!(
                    store.touch(key, until, now).await,
                    memory.touch(key, until, now).await,
                    "{what}"
                );
            }
            6 => match rng.next(3) {
                0 => assert_eq!(store.delete(key).await, memory.delete(key).await, "{what}"),
                _ => assert_eq!(
                    store.delete_user(user).await,
                    memory.delete_user(user).await,
                    "{what}"
                ),
            },
            7 => {
                let (at, until) = (now - rng.next(50), now + rng.next(100));
                assert_eq!(
                    store.revoke_user(user, at, until).await,
                    memory.revoke_user(user, at, until).await,
                    "{what}"
                );
            }
            8 => assert_eq!(
                store.revoked_before(user, now).await,
                memory.revoked_before(user, now).await,
                "{what}"
            ),
            _ => {
                if rng.next(4) == 0 {
                    assert_eq!(
                        store.cleanup(now).await,
                        memory.cleanup(now).await,
                        "{what}"
                    );
                }
            }
        }
    }
}

/// The edges: huge times are clamped to `i64::MAX`, every version round-trips, an expired row
/// still blocks its key, version 0 never matches.
async fn edges(store: Arc<dyn SessionStore>) {
    let key = SessionId::generate().store_key();
    let forever = record(json!({"a": 1}), u64::MAX - 1, u64::MAX, Some("u"));
    store.create(&key, &forever).await.unwrap();
    let back = store.load(&key, 5).await.unwrap().unwrap();
    assert_eq!(back.expires_at, i64::MAX as u64, "clamped");
    assert_eq!(back.version, u64::MAX - 1, "versions are kept bit for bit");
    let next = Patch::new(u64::MAX).set("a", json!(2));
    assert_eq!(store.update(&key, &next, 5).await.unwrap(), Update::Saved);
    assert_eq!(
        store.load(&key, 5).await.unwrap().unwrap().version,
        u64::MAX
    );
    assert_eq!(store.update(&key, &next, 5).await.unwrap(), Update::Saved);
    assert_eq!(
        store.load(&key, 5).await.unwrap().unwrap().version,
        0,
        "versions wrap"
    );

    let expired = SessionId::generate().store_key();
    store
        .create(&expired, &record(json!({}), 1, 100, None))
        .await
        .unwrap();
    assert_eq!(store.load(&expired, 100).await.unwrap(), None);
    assert_eq!(
        store
            .create(&expired, &record(json!({"new": 1}), 1, 500, None))
            .await,
        Err(StoreError::Conflict),
        "an expired row still holds its key"
    );
    assert!(!store.touch(&expired, 900, 100).await.unwrap());
    assert_eq!(
        store
            .update(&expired, &Patch::new(900).set("a", json!(1)), 100)
            .await
            .unwrap(),
        Update::Gone
    );
    let live = SessionId::generate().store_key();
    store
        .create(&live, &record(json!({}), 1, 100, None))
        .await
        .unwrap();
    // A stale compare-and-swap offer is not written over the record: the patch is merged.
    let stale = Patch::new(100).set("b", json!(2)).with_if_unchanged(record(
        json!({"b": 2, "lost": true}),
        0,
        100,
        None,
    ));
    assert_eq!(
        store.update(&live, &stale, 50).await.unwrap(),
        Update::Saved
    );
    assert_eq!(
        store.load(&live, 50).await.unwrap().unwrap(),
        record(json!({"b": 2}), 2, 100, None)
    );
    assert_eq!(store.cleanup(100).await.unwrap(), 2, "both expired rows");
    assert_eq!(store.load(&key, 5).await.unwrap().unwrap().version, 0);
    assert_eq!(store.delete_user("u").await.unwrap(), 1);

    store.revoke_user("r", 10, 20).await.unwrap();
    store.revoke_user("r", 5, 30).await.unwrap();
    assert_eq!(store.revoked_before("r", 25).await.unwrap(), Some(10));
    assert_eq!(store.revoked_before("r", 30).await.unwrap(), None);
}

/// Many updates race from the same loaded version, each setting its own key (and offering a
/// compare-and-swap that only the first can win): every one is saved, every key is kept.
async fn racing_updates(store: Arc<dyn SessionStore>) {
    const WRITERS: u64 = 16;
    for round in 0..5 {
        let key = SessionId::generate().store_key();
        let loaded = record(json!({"n": 0}), 1, 1_000, None);
        store.create(&key, &loaded).await.unwrap();
        let results = futures_join(
            (0..WRITERS)
                .map(|i| {
                    let store = store.clone();
                    let key = key.clone();
                    let loaded = loaded.clone();
                    tokio::spawn(async move {
                        let patch = Patch::new(1_000).set(format!("k{i}"), json!(i));
                        let mut outcome = loaded;
                        patch.apply(&mut outcome);
                        outcome.version = 1;
                        let patch = patch.with_if_unchanged(outcome);
                        store.update(&key, &patch, 5).await.unwrap()
                    })
                })
                .collect(),
        )
        .await;
        assert!(
            results.iter().all(|r| *r == Update::Saved),
            "round {round}: {results:?}"
        );
        let now = store.load(&key, 5).await.unwrap().unwrap();
        assert_eq!(now.version, 1 + WRITERS, "round {round}");
        assert_eq!(now.data.len() as u64, 1 + WRITERS, "round {round}: {now:?}");
        for i in 0..WRITERS {
            assert_eq!(now.data[&format!("k{i}")], json!(i), "round {round}");
        }
    }
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Update>>) -> Vec<Update> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Logs in through the layer, then checks what is at rest: the key (SHA-256 of the id) is
/// there, the id is not, anywhere in `dump`.
async fn no_session_id_at_rest<F, Fut>(store: Arc<dyn SessionStore>, dump: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let (app, layer) = app(store);
    let (_, cookie, _) = call(&app, "/login/alice", None).await;
    let id = id_of(&layer, &cookie);
    let text = dump().await;
    assert!(text.contains(id.store_key().as_str()), "{text}");
    assert!(text.contains("hunter2"), "the dump has the data: {text}");
    assert!(
        !text.contains(id.as_str()),
        "the session id is at rest: {text}"
    );
    let value = cookie.split_once('=').unwrap().1;
    assert!(!text.contains(value), "the cookie is at rest");
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use cookie_session::store::SqliteStore;
    use std::path::PathBuf;

    /// A database file in a fresh directory of its own, removed with its WAL files when
    /// dropped.
    struct TempPath(PathBuf, #[allow(dead_code)] tempfile::TempDir);

    impl TempPath {
        fn new() -> Self {
            let dir = tempfile::Builder::new()
                .prefix("cookie-session-sql-")
                .tempdir()
                .unwrap();
            TempPath(dir.path().join("sessions.sqlite"), dir)
        }
        fn with(&self, suffix: &str) -> PathBuf {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            name.into()
        }
    }

    #[tokio::test]
    async fn same_answers_as_the_memory_store() {
        let path = TempPath::new();
        for seed in [1, 2, 3] {
            let store = Arc::new(SqliteStore::open(&path.0).await.unwrap());
            same_answers_as_memory(store.clone(), seed).await;
            // Start the next seed from an empty table.
            sqlx_clear(&store).await;
        }
    }

    async fn sqlx_clear(store: &SqliteStore) {
        use cookie_session::store::sqlx;
        sqlx::raw_sql("DELETE FROM cookie_sessions; DELETE FROM cookie_session_revocations")
            .execute(store.pool())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn edges_and_limits() {
        let path = TempPath::new();
        edges(Arc::new(SqliteStore::open(&path.0).await.unwrap())).await;
        edges(Arc::new(SqliteStore::in_memory().await.unwrap())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_updates_all_land() {
        let path = TempPath::new();
        racing_updates(Arc::new(SqliteStore::open(&path.0).await.unwrap())).await;
    }

    #[tokio::test]
    async fn the_file_holds_no_session_id() {
        let path = TempPath::new();
        let store = SqliteStore::open(&path.0).await.unwrap();
        let pool = store.pool().clone();
        no_session_id_at_rest(Arc::new(store), || async {
            use cookie_session::store::sqlx::{self, Row};
            let rows = sqlx::query(
                "SELECT key || ' ' || data || ' ' || coalesce(user_id, '') FROM cookie_sessions",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            let mut text: String = rows
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect::<Vec<_>>()
                .join("\n");
            // And the raw bytes of the database and its WAL.
            for suffix in ["", "-wal"] {
                if let Ok(bytes) = std::fs::read(path.with(suffix)) {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            text
        })
        .await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path.0).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "owner only");
        }
    }

    #[tokio::test]
    async fn sessions_survive_reopening_the_file() {
        let path = TempPath::new();
        let store = SqliteStore::open(&path.0).await.unwrap();
        let (app1, _) = app(Arc::new(store.clone()));
        let (_, cookie, _) = call(&app1, "/login/alice", None).await;
        store.pool().close().await;
        drop((app1, store));

        let reopened = SqliteStore::open(&path.0).await.unwrap();
        let (app2, _) = app(Arc::new(reopened));
        let (status, _, body) = call(&app2, "/get", Some(&cookie)).await;
        assert_eq!(status, 200);
        assert_eq!(body, r#"{"user":"alice","secret":"hunter2"}"#);
    }

    #[tokio::test]
    async fn corrupt_rows_are_reported_as_corrupt() {
        use cookie_session::store::sqlx;
        let store = SqliteStore::in_memory().await.unwrap();
        let key = SessionId::generate().store_key();
        for (data, created) in [("not json", 1), ("[1,2]", 1), ("{}", -1)] {
            sqlx::query("DELETE FROM cookie_sessions")
                .execute(store.pool())
                .await
                .unwrap();
            sqlx::query("INSERT INTO cookie_sessions VALUES (?1, ?2, 1, ?3, 100, NULL)")
                .bind(key.as_str())
                .bind(data)
                .bind(created)
                .execute(store.pool())
                .await
                .unwrap();
            assert!(
                matches!(store.load(&key, 5).await, Err(StoreError::Corrupt(_))),
                "{data} {created}"
            );
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use cookie_session::store::sqlx::{self, Row};
    use cookie_session::store::PostgresStore;

    fn url() -> Option<String> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("DATABASE_URL must be set under CI")
            }
            _ => {
                super::skip::skipped("DATABASE_URL is not set");
                None
            }
        }
    }

    fn table() -> String {
        format!("x_{}", &SessionId::generate().store_key().as_str()[..16])
    }

    async fn store(url: &str, max: u32) -> (PostgresStore, String) {
        let pool = PostgresStore::pool_options()
            .max_connections(max)
            .connect(url)
            .await
            .unwrap();
        let name = table();
        let store = PostgresStore::from_pool_with_tables(pool, &name, &format!("{name}_r"))
            .await
            .unwrap();
        (store, name)
    }

    #[tokio::test]
    async fn same_answers_as_the_memory_store() {
        let Some(url) = url() else { return };
        for seed in [1, 2, 3] {
            let (store, _) = store(&url, 2).await;
            same_answers_as_memory(Arc::new(store), seed).await;
        }
    }

    #[tokio::test]
    async fn edges_and_limits() {
        let Some(url) = url() else { return };
        edges(Arc::new(store(&url, 2).await.0)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_updates_all_land() {
        let Some(url) = url() else { return };
        racing_updates(Arc::new(store(&url, 8).await.0)).await;
    }

    /// An update that waits for a row lock while another transaction changes or deletes the
    /// row: it applies its patch to the record as that commit left it (or finds it gone),
    /// never to the one it loaded, and never writes its stale compare-and-swap offer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_update_waiting_for_a_row_lock_merges_into_the_commit() {
        let Some(url) = url() else { return };
        let (store, name) = store(&url, 4).await;
        for delete in [false, true] {
            let key = SessionId::generate().store_key();
            store
                .create(&key, &record(json!({"by": "first"}), 1, 1_000, None))
                .await
                .unwrap();
            let mut tx = store.pool().begin().await.unwrap();
            let other = if delete {
                format!("DELETE FROM {name} WHERE key = $1")
            } else {
                format!(
                    "UPDATE {name} SET version = 2, data = '{{\"by\":\"other\",\"x\":1}}' WHERE key = $1"
                )
            };
            sqlx::query(&other)
                .bind(key.as_str())
                .execute(&mut *tx)
                .await
                .unwrap();
            let waiting = {
                let (store, key) = (store.clone(), key.clone());
                tokio::spawn(async move {
                    let patch = Patch::new(1_000)
                        .set("by", json!("us"))
                        .with_if_unchanged(record(json!({"by": "us"}), 1, 1_000, None));
                    store.update(&key, &patch, 5).await.unwrap()
                })
            };
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert!(!waiting.is_finished(), "the update waits for the row lock");
            tx.commit().await.unwrap();
            let result = waiting.await.unwrap();
            if delete {
                assert_eq!(result, Update::Gone);
                assert_eq!(store.load(&key, 5).await.unwrap(), None);
            } else {
                assert_eq!(result, Update::Saved);
                let now = store.load(&key, 5).await.unwrap().unwrap();
                assert_eq!(
                    (now.version, serde_json::Value::Object(now.data)),
                    (3, json!({"by": "us", "x": 1}))
                );
            }
        }
    }

    #[tokio::test]
    async fn the_table_holds_no_session_id() {
        let Some(url) = url() else { return };
        let (store, name) = store(&url, 2).await;
        let pool = store.pool().clone();
        no_session_id_at_rest(Arc::new(store), || async {
            let rows = sqlx::query(&format!("SELECT t::text FROM {name} t"))
                .fetch_all(&pool)
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.get::<String, _>(0))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .await;
    }

    #[tokio::test]
    async fn the_default_tables_and_a_schema() {
        let Some(url) = url() else { return };
        // Twice: creating the tables is idempotent.
        for _ in 0..2 {
            let store = PostgresStore::connect(&url).await.unwrap();
            let key = SessionId::generate().store_key();
            store
                .create(&key, &record(json!({"a": 1}), 1, u64::MAX, None))
                .await
                .unwrap();
            assert!(store.load(&key, 1).await.unwrap().is_some());
            store.delete(&key).await.unwrap();
        }
        let pool = PostgresStore::pool_options().connect(&url).await.unwrap();
        let schema = table();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&pool)
            .await
            .unwrap();
        let store = PostgresStore::from_pool_with_tables(
            pool.clone(),
            &format!("{schema}.sessions"),
            &format!("{schema}.revocations"),
        )
        .await
        .unwrap();
        edges(Arc::new(store)).await;
        for bad in ["Sessions", "a;b", "x.y.z", ""] {
            assert!(matches!(
                PostgresStore::from_pool_with_tables(pool.clone(), bad, "r").await,
                Err(StoreError::Backend(_))
            ));
        }
    }

    #[tokio::test]
    async fn corrupt_rows_are_reported_as_corrupt() {
        let Some(url) = url() else { return };
        let (store, name) = store(&url, 2).await;
        let key = SessionId::generate().store_key();
        for (data, created) in [("not json", 1i64), ("[1,2]", 1), ("{}", -1)] {
            sqlx::query(&format!("DELETE FROM {name}"))
                .execute(store.pool())
                .await
                .unwrap();
            sqlx::query(&format!(
                "INSERT INTO {name} VALUES ($1, $2, 1, $3, 100, NULL)"
            ))
            .bind(key.as_str())
            .bind(data)
            .bind(created)
            .execute(store.pool())
            .await
            .unwrap();
            assert!(
                matches!(store.load(&key, 5).await, Err(StoreError::Corrupt(_))),
                "{data} {created}"
            );
        }
    }

    /// Counts what the client sends through a loopback proxy: statements (`Execute`) and
    /// round trips (`Sync`: each one waits for the server's `ReadyForQuery`).
    mod wire {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;

        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpStream};

        #[derive(Default)]
        pub struct Counts {
            pub executes: AtomicU64,
            pub syncs: AtomicU64,
        }

        impl Counts {
            pub fn take(&self) -> (u64, u64) {
                (
                    self.executes.swap(0, Ordering::SeqCst),
                    self.syncs.swap(0, Ordering::SeqCst),
                )
            }
        }

        /// Starts the proxy to `target`; returns its port.
        pub async fn proxy(target: String, counts: Arc<Counts>) -> u16 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let server = TcpStream::connect(&target).await.unwrap();
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    });
                    let counts = counts.clone();
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        let mut typed = false;
                        let mut chunk = [0u8; 8192];
                        loop {
                            let n = match cr.read(&mut chunk).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if sw.write_all(&chunk[..n]).await.is_err() {
                                break;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                            // Whole messages: untyped (length, code) until the startup
                            // message, then (type, length).
                            loop {
                                let head = usize::from(typed);
                                if buf.len() < head + 4 {
                                    break;
                                }
                                let len =
                                    u32::from_be_bytes(buf[head..head + 4].try_into().unwrap())
                                        as usize;
                                if buf.len() < head + len {
                                    break;
                                }
                                if typed {
                                    match buf[0] {
                                        b'E' => counts.executes.fetch_add(1, Ordering::SeqCst),
                                        // A sync ends an extended-protocol exchange; a
                                        // simple query (`BEGIN`, `COMMIT`) is one by itself.
                                        b'S' | b'Q' => counts.syncs.fetch_add(1, Ordering::SeqCst),
                                        _ => 0,
                                    };
                                } else {
                                    let code = u32::from_be_bytes(buf[4..8].try_into().unwrap());
                                    // SSL or GSSAPI request: still untyped after it.
                                    typed = code != 80_877_103 && code != 80_877_104;
                                }
                                buf.drain(..head + len);
                            }
                        }
                    });
                }
            });
            port
        }
    }

    #[tokio::test]
    async fn round_trips_per_call_on_the_wire() {
        let Some(url) = url() else { return };
        let target = url
            .split('@')
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let counts = Arc::new(wire::Counts::default());
        let port = wire::proxy(target.clone(), counts.clone()).await;
        let proxied = url.replace(&target, &format!("127.0.0.1:{port}"));
        let (store, _) = store(&proxied, 1).await;

        let key = SessionId::generate().store_key();
        let other = SessionId::generate().store_key();
        let r1 = record(json!({"a": 1}), 1, 1_000, Some("alice"));
        // Offers the right outcome for version 1: one compare-and-swap.
        let r2 = Patch::new(1_000)
            .set("a", json!(2))
            .with_if_unchanged(record(json!({"a": 2}), 1, 1_000, Some("alice")));
        // Offers an outcome for version 1 again, which is stale by then: merged.
        let stale = Patch::new(1_000)
            .set("b", json!(3))
            .with_if_unchanged(record(json!({"a": 1, "b": 3}), 1, 1_000, Some("alice")));

        // Every call, twice: the first prepares its statement on the connection.
        let mut measured = Vec::new();
        for round in 0..2 {
            let mut step = |name: &'static str, expected: (u64, u64), counts: (u64, u64)| {
                if round == 1 {
                    measured.push((name, expected, counts));
                }
            };
            let settle = || tokio::time::sleep(std::time::Duration::from_millis(100));
            let _ = store.delete(&key).await;
            settle().await;
            counts.take();
            macro_rules! measure {
                ($name:literal, $call:expr) => {
                    measure!($name, (1, 1), $call)
                };
                ($name:literal, $expected:expr, $call:expr) => {{
                    let out = $call;
                    let on_path = counts.take();
                    // Let the pool's ping on release finish before reading the counters.
                    settle().await;
                    let after = counts.take();
                    step($name, $expected, (on_path.0 + after.0, on_path.1 + after.1));
                    if round == 1 {
                        // The test runs on one thread: the pool's release task cannot have
                        // sent its ping before this point.
                        assert_eq!(
                            on_path, $expected,
                            "{}: (statements, round trips) on the path",
                            $name
                        );
                        eprintln!(
                            "{:>18}: when the call returned {on_path:?}, after {after:?}",
                            $name
                        );
                    }
                    out
                }};
            }
            measure!("create", store.create(&key, &r1).await.unwrap());
            measure!("create (conflict)", {
                assert_eq!(store.create(&key, &r1).await, Err(StoreError::Conflict))
            });
            measure!("load", store.load(&key, 5).await.unwrap());
            measure!("update (saved)", {
                assert_eq!(store.update(&key, &r2, 5).await.unwrap(), Update::Saved)
            });
            // Someone wrote since: the compare-and-swap, then BEGIN, SELECT … FOR UPDATE,
            // UPDATE, COMMIT.
            measure!("update (merged)", (3, 5), {
                assert_eq!(store.update(&key, &stale, 5).await.unwrap(), Update::Saved)
            });
            // The compare-and-swap, then BEGIN, SELECT … FOR UPDATE (no row), ROLLBACK.
            measure!("update (gone)", (2, 4), {
                assert_eq!(store.update(&other, &r2, 5).await.unwrap(), Update::Gone)
            });
            measure!("touch", store.touch(&key, 2_000, 5).await.unwrap());
            measure!(
                "revoke_user",
                store.revoke_user("alice", 5, 10).await.unwrap()
            );
            measure!(
                "revoked_before",
                store.revoked_before("alice", 5).await.unwrap()
            );
            measure!("delete_user", store.delete_user("alice").await.unwrap());
            measure!("delete", store.delete(&key).await.unwrap());
            measure!("cleanup", store.cleanup(5).await.unwrap());
        }
        for (name, (statements, trips), (executes, syncs)) in &measured {
            eprintln!("{name:>18}: {executes} statement(s), {syncs} sync(s)");
            assert_eq!(executes, statements, "{name}: statements");
            // The call's round trips, plus (off the request path) sqlx's ping when the
            // connection goes back to the pool.
            assert!(*syncs <= trips + 1, "{name}: {syncs} round trips");
        }
    }
}
