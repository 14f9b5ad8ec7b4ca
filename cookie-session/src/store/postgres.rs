//! [`PostgresStore`]: sessions in PostgreSQL, shared by every instance of the application.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, Row as _};

use super::sql::{self, backend, Row};
use super::{BoxFuture, Patch, Record, SessionStore, StoreError, StoreKey, Update};

/// Sessions in PostgreSQL: one store for every instance of the application, persistent, with
/// the database's own durability and backups.
///
/// # Schema
///
/// Created when the store is made ([`connect`](Self::connect), [`from_pool`](Self::from_pool))
/// if missing (`CREATE TABLE IF NOT EXISTS`, under an advisory lock so that instances starting
/// together do not race), in two tables named [`SESSIONS_TABLE`](Self::SESSIONS_TABLE) and
/// [`REVOCATIONS_TABLE`](Self::REVOCATIONS_TABLE) unless
/// [`from_pool_with_tables`](Self::from_pool_with_tables) names others:
///
/// ```sql
/// CREATE TABLE cookie_sessions (
///     key        text   PRIMARY KEY,  -- hex SHA-256 of the session id, never the id
///     data       text   NOT NULL,     -- JSON object as text (jsonb would reorder its keys)
///     version    bigint NOT NULL,     -- bumped by every update (u64 bit for bit)
///     created_at bigint NOT NULL,     -- Unix seconds
///     expires_at bigint NOT NULL,     -- Unix seconds
///     user_id    text,                -- hex SHA-256 of the user, for delete_user
///     user_name  bytea                -- the user itself (UTF-8)
/// );
/// CREATE INDEX cookie_sessions_user_id ON cookie_sessions (user_id);
/// CREATE TABLE cookie_session_revocations (
///     user_id        text   PRIMARY KEY, -- hex SHA-256 of the user
///     revoked_before bigint NOT NULL,
///     keep_until     bigint NOT NULL
/// );
/// ```
///
/// Times past `i64::MAX` seconds are stored as `i64::MAX` (and read back as it).
///
/// Every value JSON allows is stored: the data is JSON text (a NUL is the escape `\u0000`),
/// and users are indexed by their SHA-256, so a user holding NUL (not valid in `text`) or
/// thousands of characters (past the size of a btree index entry) is stored, found and
/// revoked like any other. The user itself is kept as bytes, to read the record back exactly.
///
/// # Upgrading from the previous layout
///
/// Tables made by earlier versions kept the user as plain text in `user_id`. The first store
/// made on such a database migrates them, in the transaction that holds the schema lock: it
/// adds `user_name`, and replaces every `user_id` (in both tables) by its SHA-256 — with
/// PostgreSQL's `sha256()`, so version 11 or later. Nothing is lost: sessions and revocations
/// stay valid. Run one version at a time: rows a previous version writes after the migration
/// (plain `user_id`) are still loaded, but `delete_user` and `revoked_before` of this version
/// look for the digest and do not find them.
///
/// # Promises and costs
///
/// Every method is **one statement, one round trip**: `create` is an
/// `INSERT … ON CONFLICT DO NOTHING` (no row inserted: [`StoreError::Conflict`], never an
/// overwrite, even of an expired row); `cleanup` deletes expired sessions and revocations in
/// one statement. [`update`](SessionStore::update) is one round trip when nobody wrote the
/// session since the request loaded it: a compare-and-swap
/// `UPDATE … WHERE key = $ AND version = $ AND expires_at > $now` writes the outcome the
/// request already computed ([`Patch::if_unchanged`]). When that changes no row (another
/// request wrote first, or the record is gone), a transaction locks the row with
/// `SELECT … FOR UPDATE`, applies the [`Patch`] to what the row holds now and writes it back
/// (four more round trips): concurrent writers queue on the row lock, and none is lost.
///
/// Expiry is in every query's `WHERE`, so an expired row is never loaded, touched or updated,
/// even before [`cleanup`](SessionStore::cleanup) deletes it. There is no index on
/// `expires_at`: touches and updates then change no indexed column and stay HOT updates, and
/// `cleanup` scans the table, so run it now and then (say, hourly), not per request.
///
/// # Outages
///
/// [`connect`](Self::connect) uses [`pool_options`](Self::pool_options): a store call waits at
/// most 3 seconds for a connection, then fails with [`StoreError::Backend`] (an opaque 503 for
/// the request, by default). Once the server is back, the pool reconnects by itself: no
/// restart. Connections are not pinged before each use (that would double every round trip),
/// only after being idle for a second or more; a connection that fails is dropped.
///
/// The connection is plain TCP unless the application enables one of sqlx's TLS features
/// (`sqlx/tls-rustls` or `sqlx/tls-native-tls`) and asks for it in the URL (`sslmode=require`).
///
/// ```no_run
/// use cookie_session::store::{PostgresStore, SessionStore};
/// # async fn example() -> Result<(), cookie_session::store::StoreError> {
/// let store = PostgresStore::connect("postgres://app:secret@localhost/app").await?;
/// // Now and then, from a background task:
/// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
/// let removed = store.cleanup(now).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    sql: Arc<Queries>,
}

/// The statements, with the table names filled in.
#[derive(Debug)]
struct Queries {
    schema: String,
    /// Which tables exist, and whether the sessions table has this version's layout.
    layout: &'static str,
    /// From the previous layout (plain users) to this one (digests).
    migrate: String,
    create: String,
    load: String,
    swap: String,
    lock: String,
    write: String,
    touch: String,
    delete: String,
    delete_user: String,
    revoke_user: String,
    revoked_before: String,
    cleanup: String,
}

impl Queries {
    fn new(sessions: &str, revocations: &str) -> Self {
        // An index name takes the table's schema: only the table's own name goes into it.
        let bare = sessions.rsplit('.').next().unwrap_or(sessions);
        let columns = "data, version, created_at, expires_at, user_name, user_id";
        let digest = |column: &str| format!("encode(sha256(convert_to({column}, 'UTF8')), 'hex')");
        let user_digest = digest("user_id");
        Queries {
            layout: "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL, \
                     EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) \
                             AND attname = 'user_name' AND NOT attisdropped)",
            // Revocations are rebuilt, not updated in place: a plain user that happens to
            // be another user's digest must not collide with it halfway through.
            migrate: format!(
                "ALTER TABLE {sessions} ADD COLUMN user_name bytea;
                UPDATE {sessions} SET user_name = convert_to(user_id, 'UTF8'),
                                      user_id = {user_digest}
                WHERE user_id IS NOT NULL;
                CREATE TEMPORARY TABLE cookie_session_revocations_v1 ON COMMIT DROP AS
                    SELECT user_id, revoked_before, keep_until FROM {revocations};
                DELETE FROM {revocations};
                INSERT INTO {revocations} (user_id, revoked_before, keep_until)
                    SELECT {user_digest}, max(revoked_before), max(keep_until)
                    FROM cookie_session_revocations_v1 GROUP BY 1;"
            ),
            schema: format!(
                "CREATE TABLE IF NOT EXISTS {sessions} (
                    key        text   PRIMARY KEY,
                    data       text   NOT NULL,
                    version    bigint NOT NULL,
                    created_at bigint NOT NULL,
                    expires_at bigint NOT NULL,
                    user_id    text,
                    user_name  bytea
                );
                CREATE INDEX IF NOT EXISTS {bare}_user_id ON {sessions} (user_id);
                CREATE TABLE IF NOT EXISTS {revocations} (
                    user_id        text   PRIMARY KEY,
                    revoked_before bigint NOT NULL,
                    keep_until     bigint NOT NULL
                );"
            ),
            create: format!(
                "INSERT INTO {sessions} (key, {columns}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (key) DO NOTHING"
            ),
            load: format!("SELECT {columns} FROM {sessions} WHERE key = $1 AND expires_at > $2"),
            swap: format!(
                "UPDATE {sessions} SET data = $1, version = $2, expires_at = $3, \
                 user_name = $4, user_id = $5 \
                 WHERE key = $6 AND version = $7 AND expires_at > $8"
            ),
            lock: format!(
                "SELECT {columns} FROM {sessions} WHERE key = $1 AND expires_at > $2 FOR UPDATE"
            ),
            write: format!(
                "UPDATE {sessions} SET data = $1, version = $2, expires_at = $3, \
                 user_name = $4, user_id = $5 WHERE key = $6"
            ),
            touch: format!(
                "UPDATE {sessions} SET expires_at = $1 WHERE key = $2 AND expires_at > $3"
            ),
            delete: format!("DELETE FROM {sessions} WHERE key = $1"),
            delete_user: format!("DELETE FROM {sessions} WHERE user_id = $1"),
            revoke_user: format!(
                "INSERT INTO {revocations} AS r (user_id, revoked_before, keep_until) \
                 VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET \
                 revoked_before = GREATEST(r.revoked_before, EXCLUDED.revoked_before), \
                 keep_until = GREATEST(r.keep_until, EXCLUDED.keep_until)"
            ),
            revoked_before: format!(
                "SELECT revoked_before FROM {revocations} WHERE user_id = $1 AND keep_until > $2"
            ),
            cleanup: format!(
                "WITH gone AS (DELETE FROM {sessions} WHERE expires_at <= $1 RETURNING 1),
                      old AS (DELETE FROM {revocations} WHERE keep_until <= $1 RETURNING 1)
                 SELECT count(*) FROM gone"
            ),
        }
    }
}

/// A table name: an unquoted identifier (lowercase ASCII letters, digits, `_`; not starting
/// with a digit; at most 63 bytes), optionally qualified by a schema the same way.
fn valid_table_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && !p.starts_with(|c: char| c.is_ascii_digit())
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    match name.split_once('.') {
        Some((schema, table)) => part(schema) && part(table),
        None => part(name),
    }
}

/// The lock that serializes schema creation (any constant would do; this is "cksessn\0").
const SCHEMA_LOCK: i64 = 0x636b_7365_7373_6e00;

impl PostgresStore {
    /// The default table of sessions.
    pub const SESSIONS_TABLE: &'static str = "cookie_sessions";
    /// The default table of per-user revocations.
    pub const REVOCATIONS_TABLE: &'static str = "cookie_session_revocations";

    /// The pool settings [`connect`](Self::connect) uses, to adjust and pass to
    /// [`from_pool`](Self::from_pool): at most 10 connections; a 3-second wait for one before
    /// the call fails; a ping only for a connection idle for a second or more.
    ///
    /// ```no_run
    /// use cookie_session::store::PostgresStore;
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = PostgresStore::pool_options()
    ///     .max_connections(32)
    ///     .connect("postgres://app:secret@localhost/app")
    ///     .await?;
    /// let store = PostgresStore::from_pool(pool).await?;
    /// # Ok(()) }
    /// ```
    pub fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(3))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= Duration::from_secs(1) {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
    }

    /// Connects to the database at `url` with [`pool_options`](Self::pool_options) and creates
    /// the tables if missing.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), cookie_session::store::StoreError> {
    /// let store = cookie_session::store::PostgresStore::connect("postgres://app:secret@localhost/app").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = Self::pool_options().connect(url).await.map_err(backend)?;
        Self::from_pool(pool).await
    }

    /// Uses a pool the application already has, with the default table names; creates the
    /// tables if missing.
    ///
    /// ```no_run
    /// use cookie_session::store::{sqlx::PgPool, PostgresStore};
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = PgPool::connect("postgres://app:secret@localhost/app").await?;
    /// let store = PostgresStore::from_pool(pool).await?;
    /// # Ok(()) }
    /// ```
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        Self::from_pool_with_tables(pool, Self::SESSIONS_TABLE, Self::REVOCATIONS_TABLE).await
    }

    /// Uses a pool and the named tables (created if missing). Names are unquoted identifiers:
    /// lowercase ASCII letters, digits and `_`, optionally after a schema and a dot
    /// (`sessions.cookie_sessions`); anything else is refused with [`StoreError::Backend`].
    ///
    /// ```no_run
    /// use cookie_session::store::{sqlx::PgPool, PostgresStore};
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = PgPool::connect("postgres://app:secret@localhost/app").await?;
    /// let store = PostgresStore::from_pool_with_tables(pool, "auth.sessions", "auth.revocations").await?;
    /// # Ok(()) }
    /// ```
    pub async fn from_pool_with_tables(
        pool: PgPool,
        sessions: &str,
        revocations: &str,
    ) -> Result<Self, StoreError> {
        for name in [sessions, revocations] {
            if !valid_table_name(name) {
                return Err(StoreError::Backend(format!(
                    "invalid table name {name:?}: use lowercase letters, digits and _"
                )));
            }
        }
        if sessions == revocations {
            return Err(StoreError::Backend(
                "the sessions and revocations tables must differ".into(),
            ));
        }
        let sql = Queries::new(sessions, revocations);
        let mut tx = pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let (sessions_exist, revocations_exist, current): (bool, bool, bool) =
            sqlx::query_as(sql.layout)
                .bind(sessions)
                .bind(revocations)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        if sessions_exist && !current {
            if !revocations_exist {
                return Err(StoreError::Backend(format!(
                    "{sessions} has the previous layout but {revocations} is missing: \
                     migrate by hand or name both tables of the earlier version"
                )));
            }
            tracing::info!(
                table = sessions,
                "migrating session tables: users become digests"
            );
            sqlx::raw_sql(&sql.migrate)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        sqlx::raw_sql(&sql.schema)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(Self {
            pool,
            sql: Arc::new(sql),
        })
    }

    /// The pool, for health checks or to close it on shutdown.
    ///
    /// ```no_run
    /// # async fn example(store: cookie_session::store::PostgresStore) {
    /// store.pool().close().await;
    /// # }
    /// ```
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn live(&self, key: &StoreKey, now: u64) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&self.sql.load)
            .bind(key.as_str())
            .bind(sql::time_to_db(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|row| read(&row, 0)).transpose()
    }
}

/// The record in the six columns from `first` on.
fn read(row: &PgRow, first: usize) -> Result<Record, StoreError> {
    let name: Option<Vec<u8>> = row.try_get(first + 4).map_err(backend)?;
    let user = match name {
        Some(bytes) => Some(
            String::from_utf8(bytes)
                .map_err(|_| StoreError::Corrupt("user_name is not UTF-8".into()))?,
        ),
        // Written by the previous version after the migration: the user in plain text.
        None => row.try_get(first + 5).map_err(backend)?,
    };
    Row {
        data: row.try_get(first).map_err(backend)?,
        version: row.try_get(first + 1).map_err(backend)?,
        created_at: row.try_get(first + 2).map_err(backend)?,
        expires_at: row.try_get(first + 3).map_err(backend)?,
        user,
    }
    .into_record()
}

/// How a user is indexed: the lowercase hex SHA-256 of its UTF-8 bytes, 64 characters
/// whatever the user holds (the migration computes the same in SQL).
fn user_digest(user: &str) -> String {
    super::hex(&Sha256::digest(user.as_bytes()))
}

impl SessionStore for PostgresStore {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let done = sqlx::query(&self.sql.create)
                .bind(key.as_str())
                .bind(sql::data_to_db(&record.data)?)
                .bind(sql::version_to_db(record.version))
                .bind(sql::time_to_db(record.created_at))
                .bind(sql::time_to_db(record.expires_at))
                .bind(record.user.as_deref().map(str::as_bytes))
                .bind(record.user.as_deref().map(user_digest))
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
            // One connection for both steps: no second trip through the pool.
            let mut conn = self.pool.acquire().await.map_err(backend)?;
            // Uncontended, the record is still as the request loaded it: one compare-and-swap
            // writes the outcome the request already knows. An outcome over the size limit
            // is not offered: the locked merge below decides on the record as it is.
            let offer = patch
                .if_unchanged
                .as_ref()
                .filter(|outcome| patch.oversize(&outcome.data).is_none());
            if let Some(outcome) = offer {
                let user = patch
                    .user
                    .as_ref()
                    .map_or(outcome.user.as_deref(), Option::as_deref);
                let done = sqlx::query(&self.sql.swap)
                    .bind(sql::data_to_db(&outcome.data)?)
                    .bind(sql::version_to_db(outcome.version.wrapping_add(1)))
                    .bind(sql::time_to_db(patch.expires_at))
                    .bind(user.map(str::as_bytes))
                    .bind(user.map(user_digest))
                    .bind(key.as_str())
                    .bind(sql::version_to_db(outcome.version))
                    .bind(sql::time_to_db(now))
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() > 0 {
                    return Ok(Update::Saved);
                }
            }
            // Someone wrote since (or gone): lock the row, apply the patch to what it holds
            // now, write it back. Concurrent writers queue on the row lock; none is lost.
            let mut tx = conn.begin().await.map_err(backend)?;
            let row = sqlx::query(&self.sql.lock)
                .bind(key.as_str())
                .bind(sql::time_to_db(now))
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            let Some(row) = row else {
                tx.rollback().await.map_err(backend)?;
                return Ok(Update::Gone);
            };
            let mut record = read(&row, 0)?;
            patch.apply(&mut record);
            if let Some(size) = patch.oversize(&record.data) {
                tx.rollback().await.map_err(backend)?;
                return Ok(Update::TooLarge { size });
            }
            sqlx::query(&self.sql.write)
                .bind(sql::data_to_db(&record.data)?)
                .bind(sql::version_to_db(record.version))
                .bind(sql::time_to_db(record.expires_at))
                .bind(record.user.as_deref().map(str::as_bytes))
                .bind(record.user.as_deref().map(user_digest))
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
            let done = sqlx::query(&self.sql.touch)
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
            sqlx::query(&self.sql.delete)
                .bind(key.as_str())
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            Ok(())
        })
    }

    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let done = sqlx::query(&self.sql.delete_user)
                .bind(user_digest(user))
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
            sqlx::query(&self.sql.revoke_user)
                .bind(user_digest(user))
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
            let at: Option<i64> = sqlx::query_scalar(&self.sql.revoked_before)
                .bind(user_digest(user))
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
            let removed: i64 = sqlx::query_scalar(&self.sql.cleanup)
                .bind(sql::time_to_db(now))
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
            Ok(u64::try_from(removed).unwrap_or(0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        for good in ["cookie_sessions", "s1", "_x", "auth.sessions"] {
            assert!(valid_table_name(good), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "Sessions",
            "a-b",
            "a.b.c",
            ".a",
            "a.",
            "x; DROP TABLE users",
            "\"quoted\"",
            &"a".repeat(64),
        ] {
            assert!(!valid_table_name(bad), "{bad}");
        }
    }
}
