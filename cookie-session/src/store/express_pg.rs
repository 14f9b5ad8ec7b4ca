//! express-session's sessions in PostgreSQL, in connect-pg-simple 10's layout (feature
//! `postgres`).
//!
//! connect-pg-simple's table (its `table.sql`): `session (sid varchar PRIMARY KEY, sess json,
//! expire timestamp(6))`, `sess` the record text express-session writes ([`Record`], kept
//! verbatim by the `json` type), `expire` its rule ([`pg_expire_unix_secs`]), written with
//! `to_timestamp()` as connect-pg-simple does, so both apps agree whatever the time zone is, as
//! long as their database sessions use the same one. Why the raw sid, and what "no lost
//! update" means against an app that overwrites whole records: `docs/EXPRESS-SESSION.md` §3.
//! Not wired into the session layer yet.

use std::fmt;

use sqlx::postgres::PgPool;
use sqlx::Row as _;

use super::express_outcome::{Loaded, Saved};
use super::StoreError;
use crate::format::express_session::{
    pg_expire_unix_secs, CookieMeta, Record, DEFAULT_STORE_TTL_SECS, PG_TABLE,
};

fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// connect-pg-simple's `currentTimestamp()`: `ceil(now / 1000)`, the time its reads compare
/// `expire` with.
fn now_secs(now_ms: i64) -> f64 {
    (now_ms.div_euclid(1000) + i64::from(now_ms.rem_euclid(1000) != 0)) as f64
}

/// Sessions in connect-pg-simple 10's table, shared with an Express app.
///
/// # Examples
///
/// ```no_run
/// use cookie_session::store::{sqlx::PgPool, ExpressLoaded, ExpressPgStore};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = ExpressPgStore::new(PgPool::connect("postgres://app:secret@localhost/app").await?);
/// let now_ms = 1_796_130_000_000;
/// if let ExpressLoaded::Live { mut record, text } = store.load("sid-from-the-cookie", now_ms).await? {
///     record.data_mut().insert("views".into(), 2.into());
///     store.save("sid-from-the-cookie", &text, &record, now_ms).await?;
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// Database failures are [`StoreError::Backend`], for the operator's logs only.
#[derive(Clone)]
pub struct ExpressPgStore {
    pool: PgPool,
    /// The table's name, unquoted.
    table: String,
    default_ttl_secs: i64,
}

impl fmt::Debug for ExpressPgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpressPgStore")
            .field("table", &self.table)
            .field("default_ttl_secs", &self.default_ttl_secs)
            .finish_non_exhaustive()
    }
}

impl ExpressPgStore {
    /// A store over `pool`, with connect-pg-simple's defaults: table `session`, 86400 s for
    /// sessions without an expiry. The table is the Express app's; see
    /// [`create_table_if_missing`](Self::create_table_if_missing).
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            table: PG_TABLE.to_owned(),
            default_ttl_secs: DEFAULT_STORE_TTL_SECS,
        }
    }

    /// Another table (connect-pg-simple's `tableName`), quoted as connect-pg-simple quotes it.
    pub fn with_table(mut self, table: &str) -> Self {
        self.table = table.to_owned();
        self
    }

    /// Another TTL for sessions without an expiry (connect-pg-simple's `ttl`, seconds).
    pub fn with_default_ttl(mut self, secs: i64) -> Self {
        self.default_ttl_secs = secs;
        self
    }

    /// Creates the table as connect-pg-simple's `table.sql` does, when it does not exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a database failure.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let t = quote(&self.table);
        let index = quote(&format!("IDX_{}_expire", self.table));
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {t} (\"sid\" varchar NOT NULL COLLATE \"default\" PRIMARY KEY, \
             \"sess\" json NOT NULL, \"expire\" timestamp(6) NOT NULL); \
             CREATE INDEX IF NOT EXISTS {index} ON {t} (\"expire\")"
        );
        sqlx::raw_sql(&sql)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// The session under `sid` at `now_ms`, as connect-pg-simple reads it (rows whose
    /// `expire` has passed are not found), then checked with [`is_live`](crate::format::express_session::is_live). One query.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a database failure. A `sess` that is not a record is not an
    /// error but [`Loaded::Refused`], and the row is left as it is.
    pub async fn load(&self, sid: &str, now_ms: i64) -> Result<Loaded, StoreError> {
        // PostgreSQL text cannot hold NUL (the query would fail): no row has such a sid.
        if sid.contains('\0') {
            return Ok(Loaded::Missing);
        }
        let sql = format!(
            "SELECT sess::text AS sess, \
             (extract(epoch from expire::timestamptz) * 1000)::float8 AS expire_ms \
             FROM {} WHERE sid = $1 AND expire >= to_timestamp($2)",
            quote(&self.table)
        );
        let row = sqlx::query(&sql)
            .bind(sid)
            .bind(now_secs(now_ms))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(Loaded::Missing);
        };
        let text: String = row.try_get("sess").map_err(backend)?;
        let expire_ms: f64 = row.try_get("expire_ms").map_err(backend)?;
        Ok(Loaded::from_stored(text, now_ms, Some(expire_ms as i64)))
    }

    /// Stores a new session under `sid`, only if no row has that sid
    /// (`INSERT … ON CONFLICT DO NOTHING`). `false` when one exists: the caller picks another
    /// sid, never overwrites.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a database failure.
    pub async fn create(
        &self,
        sid: &str,
        record: &Record,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO {} (sess, expire, sid) VALUES ($1::json, to_timestamp($2), $3) \
             ON CONFLICT (sid) DO NOTHING",
            quote(&self.table)
        );
        let expire = pg_expire_unix_secs(record.cookie(), now_ms, self.default_ttl_secs);
        let done = sqlx::query(&sql)
            .bind(record.to_json())
            .bind(expire as f64)
            .bind(sid)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes `record` under `sid` if its `sess` is still exactly `loaded` (the text
    /// [`load`](Self::load) returned) and the row has not expired: a compare-and-swap, so a
    /// write made meanwhile by anyone (the Express app included) is never lost, and a
    /// destroyed session never comes back.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a database failure.
    pub async fn save(
        &self,
        sid: &str,
        loaded: &str,
        record: &Record,
        now_ms: i64,
    ) -> Result<Saved, StoreError> {
        let sql = format!(
            "UPDATE {} SET sess = $1::json, expire = to_timestamp($2) \
             WHERE sid = $3 AND sess::text = $4 AND expire >= to_timestamp($5)",
            quote(&self.table)
        );
        let expire = pg_expire_unix_secs(record.cookie(), now_ms, self.default_ttl_secs);
        let done = sqlx::query(&sql)
            .bind(record.to_json_over(loaded))
            .bind(expire as f64)
            .bind(sid)
            .bind(loaded)
            .bind(now_secs(now_ms))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 1 {
            return Ok(Saved::Saved);
        }
        // Only on a refusal: was it changed, or is it gone?
        let sql = format!(
            "SELECT 1 AS one FROM {} WHERE sid = $1 AND expire >= to_timestamp($2)",
            quote(&self.table)
        );
        let exists = sqlx::query(&sql)
            .bind(sid)
            .bind(now_secs(now_ms))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .is_some();
        Ok(if exists { Saved::Changed } else { Saved::Gone })
    }

    /// express-session's touch: moves `expire` to what `cookie` says (after
    /// [`CookieMeta::touch`]) without rewriting `sess`, as connect-pg-simple does. `false`
    /// when the row is gone (it is not recreated).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a database failure.
    pub async fn touch(
        &self,
        sid: &str,
        cookie: &CookieMeta,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {} SET expire = to_timestamp($1) WHERE sid = $2",
            quote(&self.table)
        );
        let expire = pg_expire_unix_secs(cookie, now_ms, self.default_ttl_secs);
        let done = sqlx::query(&sql)
            .bind(expire as f64)
            .bind(sid)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the session: the Express app finds nothing under that sid either.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a database failure.
    pub async fn destroy(&self, sid: &str) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {} WHERE sid = $1", quote(&self.table));
        sqlx::query(&sql)
            .bind(sid)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// An identifier quoted as connect-pg-simple quotes table names: in `"`, with `"` doubled.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
