//! [`SqliteStore`]: sessions in a SQLite file. Embedded, persistent, no server.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row as _;

use super::sql::{self, backend, Row};
use super::{BoxFuture, Patch, Record, SessionStore, StoreError, StoreKey, Update};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cookie_sessions (
    key        TEXT    NOT NULL PRIMARY KEY,
    data       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    user_id    TEXT
);
CREATE INDEX IF NOT EXISTS cookie_sessions_user_id ON cookie_sessions (user_id);
CREATE TABLE IF NOT EXISTS cookie_session_revocations (
    user_id        TEXT    NOT NULL PRIMARY KEY,
    revoked_before INTEGER NOT NULL,
    keep_until     INTEGER NOT NULL
);
";

/// Sessions in a SQLite database file: embedded, persistent across restarts, shared by the
/// processes on one machine that open the same file. No server to run.
///
/// # Schema
///
/// Created on [`open`](Self::open) when missing (`CREATE TABLE IF NOT EXISTS`), in two tables
/// with fixed names ([`SESSIONS_TABLE`](Self::SESSIONS_TABLE),
/// [`REVOCATIONS_TABLE`](Self::REVOCATIONS_TABLE)):
///
/// ```sql
/// CREATE TABLE cookie_sessions (
///     key        TEXT    NOT NULL PRIMARY KEY, -- hex SHA-256 of the session id, never the id
///     data       TEXT    NOT NULL,             -- JSON object, keys in the session's order
///     version    INTEGER NOT NULL,             -- bumped by every update (u64 bit for bit)
///     created_at INTEGER NOT NULL,             -- Unix seconds
///     expires_at INTEGER NOT NULL,             -- Unix seconds
///     user_id    TEXT                          -- for delete_user
/// );
/// CREATE INDEX cookie_sessions_user_id ON cookie_sessions (user_id);
/// CREATE TABLE cookie_session_revocations (
///     user_id        TEXT    NOT NULL PRIMARY KEY,
///     revoked_before INTEGER NOT NULL,
///     keep_until     INTEGER NOT NULL
/// );
/// ```
///
/// Times past `i64::MAX` seconds are stored as `i64::MAX` (and read back as it).
///
/// Every value JSON allows is stored as it is: the data is JSON text, and SQLite's `TEXT`
/// holds any string (NUL included, bound with its length) with no limit on an index entry,
/// so users of any content or length are stored, found and revoked (`tests/store_users.rs`).
///
/// # Promises and costs
///
/// Every method is one SQL statement, except [`cleanup`](SessionStore::cleanup) (two: sessions,
/// then revocations) and [`update`](SessionStore::update): one `BEGIN IMMEDIATE` transaction
/// that reads the live record, applies the [`Patch`] to it and writes it back, so concurrent
/// updates of one session wait for each other (the busy timeout below) and none is lost.
/// Expiry is in every query's `WHERE`, so an expired row is never
/// loaded, touched or updated, even before [`cleanup`](SessionStore::cleanup) deletes it;
/// `create` still refuses its key (an id is never reused). There is no index on `expires_at`
/// (a touch would have to update it): `cleanup` scans the table, so run it now and then, not
/// per request.
///
/// The file is opened in WAL mode (readers do not block the writer) with
/// `synchronous = NORMAL` and a 5-second busy timeout; writers take turns, which SQLite does
/// in microseconds for rows this small. A new file is created readable by its owner only
/// (on Unix).
///
/// ```
/// use cookie_session::store::{Record, SessionId, SessionStore, SqliteStore};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("doc-{}.sqlite", std::process::id()));
/// let store = SqliteStore::open(&path).await?;
/// let key = SessionId::generate().store_key();
/// let record = Record { data: Default::default(), version: 1, created_at: 0, expires_at: 100, user: None };
/// store.create(&key, &record).await?;
/// assert_eq!(store.load(&key, 50).await?, Some(record));
/// assert_eq!(store.load(&key, 101).await?, None); // expired on load
/// # drop(store);
/// # for suffix in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
/// # }
/// # Ok::<(), cookie_session::store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// The table of sessions.
    pub const SESSIONS_TABLE: &'static str = "cookie_sessions";
    /// The table of per-user revocations.
    pub const REVOCATIONS_TABLE: &'static str = "cookie_session_revocations";
    /// How many connections [`open`](Self::open) keeps at most.
    pub const MAX_CONNECTIONS: u32 = 4;

    /// Opens (creating it if missing) the database file at `path`, in WAL mode, with a pool of
    /// at most [`MAX_CONNECTIONS`](Self::MAX_CONNECTIONS), and creates the tables if missing.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), cookie_session::store::StoreError> {
    /// let store = cookie_session::store::SqliteStore::open("/var/lib/myapp/sessions.sqlite").await?;
    /// # Ok(()) }
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        create_private(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(Self::MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            // A local file does not drop connections: no ping before each use.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Self::from_pool(pool).await
    }

    /// A private database in memory, gone when the store is dropped: for tests. It lives on
    /// a single connection (an in-memory SQLite database belongs to its connection), so
    /// requests take turns.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = cookie_session::store::SqliteStore::in_memory().await?;
    /// # Ok::<(), cookie_session::store::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new().in_memory(true);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Self::from_pool(pool).await
    }

    /// Uses a pool the application already has (the tables go into its database, created if
    /// missing). Give its connections a busy timeout (`SqliteConnectOptions::busy_timeout`;
    /// sqlx's default is 5 seconds): concurrent updates wait for the write lock that long
    /// before failing.
    ///
    /// ```no_run
    /// use cookie_session::store::{sqlx::SqlitePool, SqliteStore};
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = SqlitePool::connect("sqlite://app.db").await?;
    /// let store = SqliteStore::from_pool(pool).await?;
    /// # Ok(()) }
    /// ```
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(backend)?;
        Ok(Self { pool })
    }

    /// The pool, for health checks or to close it on shutdown.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = cookie_session::store::SqliteStore::in_memory().await?;
    /// store.pool().close().await;
    /// # Ok::<(), cookie_session::store::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn live(&self, key: &StoreKey, now: u64) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(
            "SELECT data, version, created_at, expires_at, user_id FROM cookie_sessions \
             WHERE key = ?1 AND expires_at > ?2",
        )
        .bind(key.as_str())
        .bind(sql::time_to_db(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|row| read(&row)).transpose()
    }
}

/// Creates a missing database file readable by its owner only (SQLite gives its `-wal` and
/// `-shm` files the same mode).
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(format!(
            "creating {}: {e}",
            path.display()
        ))),
    }
}

fn read(row: &SqliteRow) -> Result<Record, StoreError> {
    Row {
        data: row.try_get(0).map_err(backend)?,
        version: row.try_get(1).map_err(backend)?,
        created_at: row.try_get(2).map_err(backend)?,
        expires_at: row.try_get(3).map_err(backend)?,
        user: row.try_get(4).map_err(backend)?,
    }
    .into_record()
}

impl SessionStore for SqliteStore {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let done = sqlx::query(
                "INSERT INTO cookie_sessions (key, data, version, created_at, expires_at, user_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key.as_str())
            .bind(sql::data_to_db(&record.data)?)
            .bind(sql::version_to_db(record.version))
            .bind(sql::time_to_db(record.created_at))
            .bind(sql::time_to_db(record.expires_at))
            .bind(record.user.as_deref())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict);
            }
            Ok(())
        })
    }

    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(self.live(key, now))
    }

    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        Box::pin(async move {
            // `BEGIN IMMEDIATE` takes the database's write lock before reading, so no other
            // writer can change the record between this load and this write; writers that
            // find it taken wait (the busy timeout) instead of failing. Dropped before the
            // commit (an error, a cancelled request), the transaction rolls back.
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(backend)?;
            let row = sqlx::query(
                "SELECT data, version, created_at, expires_at, user_id FROM cookie_sessions \
                 WHERE key = ?1 AND expires_at > ?2",
            )
            .bind(key.as_str())
            .bind(sql::time_to_db(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            let Some(row) = row else {
                tx.rollback().await.map_err(backend)?;
                return Ok(Update::Gone);
            };
            let mut record = read(&row)?;
            patch.apply(&mut record);
            if let Some(size) = patch.oversize(&record.data) {
                tx.rollback().await.map_err(backend)?;
                return Ok(Update::TooLarge { size });
            }
            sqlx::query(
                "UPDATE cookie_sessions \
                 SET data = ?1, version = ?2, expires_at = ?3, user_id = ?4 WHERE key = ?5",
            )
            .bind(sql::data_to_db(&record.data)?)
            .bind(sql::version_to_db(record.version))
            .bind(sql::time_to_db(record.expires_at))
            .bind(record.user.as_deref())
            .bind(key.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(Update::Saved)
        })
    }

    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE cookie_sessions SET expires_at = ?1 WHERE key = ?2 AND expires_at > ?3",
            )
            .bind(sql::time_to_db(expires_at))
            .bind(key.as_str())
            .bind(sql::time_to_db(now))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            Ok(done.rows_affected() > 0)
        })
    }

    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM cookie_sessions WHERE key = ?1")
                .bind(key.as_str())
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            Ok(())
        })
    }

    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM cookie_sessions WHERE user_id = ?1")
                .bind(user)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            Ok(done.rows_affected())
        })
    }

    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        at: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO cookie_session_revocations (user_id, revoked_before, keep_until) \
                 VALUES (?1, ?2, ?3) ON CONFLICT (user_id) DO UPDATE SET \
                 revoked_before = max(revoked_before, excluded.revoked_before), \
                 keep_until = max(keep_until, excluded.keep_until)",
            )
            .bind(user)
            .bind(sql::time_to_db(at))
            .bind(sql::time_to_db(until))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            Ok(())
        })
    }

    fn revoked_before<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async move {
            let at: Option<i64> = sqlx::query_scalar(
                "SELECT revoked_before FROM cookie_session_revocations \
                 WHERE user_id = ?1 AND keep_until > ?2",
            )
            .bind(user)
            .bind(sql::time_to_db(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
            at.map(|at| sql::time_from_db(at, "revoked_before"))
                .transpose()
        })
    }

    fn cleanup(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let now = sql::time_to_db(now);
            let done = sqlx::query("DELETE FROM cookie_sessions WHERE expires_at <= ?1")
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            sqlx::query("DELETE FROM cookie_session_revocations WHERE keep_until <= ?1")
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            Ok(done.rows_affected())
        })
    }
}
