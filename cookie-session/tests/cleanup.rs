//! `store::spawn_cleanup`: the background task deletes expired records of the SQL stores (a
//! real SQLite file; PostgreSQL at `DATABASE_URL`), leaves live ones, and stops when asked.
#![cfg(any(feature = "sqlite", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cookie_session::store::{spawn_cleanup, Record, SessionId, SessionStore};
use cookie_session::unix_secs;
use serde_json::Map;

fn record(expires_at: u64) -> Record {
    Record {
        data: Map::new(),
        version: 1,
        created_at: 1,
        expires_at,
        user: None,
    }
}

/// Runs the task against `store`: one expired and one live record before, one expired record
/// after it stopped.
async fn deletes_expired_records_until_stopped(store: Arc<dyn SessionStore>) {
    let now = unix_secs(SystemTime::now());
    let (expired, live) = (
        SessionId::generate().store_key(),
        SessionId::generate().store_key(),
    );
    store.create(&expired, &record(2)).await.unwrap();
    store.create(&live, &record(now + 3600)).await.unwrap();

    let task = spawn_cleanup(store.clone(), Duration::from_secs(3600));
    // The first round runs at once; wait for it (bounded, so a broken task fails the test).
    for _ in 0..3000 {
        if task.deleted() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(task.stop().await, 1);
    assert!(store.load(&live, now).await.unwrap().is_some());
    // The expired record is gone: its key can be created again.
    store.create(&expired, &record(2)).await.unwrap();
    // Stopped means stopped: that record is still there for the next explicit cleanup.
    assert_eq!(store.cleanup(now).await.unwrap(), 1);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_expired_records_are_deleted_in_the_background() {
    // The database and its `-wal` and `-shm` files, removed with the directory.
    let dir = tempfile::Builder::new()
        .prefix("cookie-session-cleanup-")
        .tempdir()
        .unwrap();
    let store = cookie_session::store::SqliteStore::open(dir.path().join("sessions.db"))
        .await
        .unwrap();
    deletes_expired_records_until_stopped(Arc::new(store)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_expired_records_are_deleted_in_the_background() {
    use cookie_session::store::{sqlx::PgPool, PostgresStore};
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("DATABASE_URL must be set under CI")
        }
        _ => {
            eprintln!("skipping: DATABASE_URL is not set");
            return;
        }
    };
    // Tables of its own: a cleanup of the shared tables would delete other tests' records.
    let suffix = format!("{}_{}", std::process::id(), unix_secs(SystemTime::now()));
    let (sessions, revocations) = (format!("cleanup_s_{suffix}"), format!("cleanup_r_{suffix}"));
    let pool = PgPool::connect(&url).await.unwrap();
    let store = PostgresStore::from_pool_with_tables(pool.clone(), &sessions, &revocations)
        .await
        .unwrap();
    deletes_expired_records_until_stopped(Arc::new(store)).await;
    for table in [sessions, revocations] {
        sqlx_drop(&pool, &table).await;
    }
}

#[cfg(feature = "postgres")]
async fn sqlx_drop(pool: &cookie_session::store::sqlx::PgPool, table: &str) {
    cookie_session::store::sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
        .execute(pool)
        .await
        .unwrap();
}
