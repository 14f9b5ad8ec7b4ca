//! Every store this build has, each fresh: memory, a SQLite temp file, and the PostgreSQL and
//! Redis servers named by `DATABASE_URL` and `REDIS_URL` (skipped when unset, except under
//! `CI=true`, where a missing server is a failure). Included with `#[path]` by the tests that
//! run one check against every backend.

use std::sync::Arc;

use cookie_session::store::{SessionId, SessionStore};

/// A fresh store and what to clean up after it.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn SessionStore>,
    /// The SQLite file's directory, removed on drop.
    #[allow(dead_code)]
    dir: Option<tempfile::TempDir>,
}

/// A fresh, random name (16 lowercase hex characters).
pub fn unique() -> String {
    SessionId::generate().store_key().as_str()[..16].to_owned()
}

#[allow(dead_code)]
fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("{var} must be set under CI"),
        _ => {
            eprintln!("skipping the {var} backend: {var} is not set");
            None
        }
    }
}

/// Every backend of this build, fresh.
pub async fn all() -> Vec<Backend> {
    let mut out = vec![Backend {
        name: "memory",
        store: Arc::new(cookie_session::store::MemoryStore::new()),
        dir: None,
    }];
    #[cfg(feature = "sqlite")]
    {
        let dir = tempfile::Builder::new()
            .prefix("cookie-session-test-")
            .tempdir()
            .expect("create a temp directory");
        let store = cookie_session::store::SqliteStore::open(dir.path().join("sessions.sqlite"))
            .await
            .expect("open a SQLite temp file");
        out.push(Backend {
            name: "sqlite",
            store: Arc::new(store),
            dir: Some(dir),
        });
    }
    #[cfg(feature = "postgres")]
    if let Some(url) = server_url("DATABASE_URL") {
        use cookie_session::store::PostgresStore;
        let pool = PostgresStore::pool_options()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("connect to DATABASE_URL");
        // Fresh tables (tests run in parallel against one throwaway database).
        let name = format!("t_{}", unique());
        let store =
            PostgresStore::from_pool_with_tables(pool, &format!("{name}_s"), &format!("{name}_r"))
                .await
                .expect("create tables");
        out.push(Backend {
            name: "postgres",
            store: Arc::new(store),
            dir: None,
        });
    }
    #[cfg(feature = "redis")]
    if let Some(url) = server_url("REDIS_URL") {
        let store = cookie_session::store::RedisStore::connect(&url)
            .await
            .expect("connect to REDIS_URL")
            .with_prefix(format!("test:{}:", unique()));
        out.push(Backend {
            name: "redis",
            store: Arc::new(store),
            dir: None,
        });
    }
    out
}
