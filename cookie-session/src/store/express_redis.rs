//! express-session's sessions in Redis, in connect-redis 10's layout (feature `redis`).
//!
//! A session lives at `sess:<sid>` (the raw sid, as connect-redis keys it), its value the
//! record text express-session writes ([`Record`]), its TTL connect-redis's rule
//! ([`redis_ttl_secs`]). An Express app with connect-redis and this store share the same keys.
//! Why the raw sid, and what "no lost update" means against an app that overwrites whole
//! records, is in `docs/EXPRESS-SESSION.md` §3. Not wired into the session layer yet.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{RedisError, Script};

use super::express_outcome::{Loaded, Saved};
use super::redis::is_wrong_type;
use super::StoreError;
use crate::format::express_session::{
    redis_ttl_secs, CookieMeta, Record, RecordError, DEFAULT_STORE_TTL_SECS, REDIS_KEY_PREFIX,
};

/// Replace the value only if it is still exactly `ARGV[1]`: 1 saved, 0 gone, -1 changed.
/// `ARGV[3]` is the TTL in seconds; a TTL ≤ 0 deletes, as connect-redis does.
const SAVE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return -1 end
local ttl = tonumber(ARGV[3])
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
end
return 1
"#;

/// Sessions in connect-redis 10's layout, shared with an Express app.
///
/// # Examples
///
/// ```no_run
/// use cookie_session::format::express_session::{CookieMeta, Record};
/// use cookie_session::store::{ExpressLoaded, ExpressRedisStore};
/// # async fn run() -> Result<(), cookie_session::store::StoreError> {
/// let store = ExpressRedisStore::connect("redis://127.0.0.1:6379/").await?;
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
/// Redis failures are [`StoreError::Backend`], for the operator's logs only.
#[derive(Clone)]
pub struct ExpressRedisStore {
    manager: ConnectionManager,
    prefix: String,
    default_ttl_secs: i64,
    save_script: std::sync::Arc<Script>,
}

impl fmt::Debug for ExpressRedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpressRedisStore")
            .field("prefix", &self.prefix)
            .field("default_ttl_secs", &self.default_ttl_secs)
            .finish_non_exhaustive()
    }
}

fn backend(error: RedisError) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl ExpressRedisStore {
    /// Connects to the Redis at `url`, with connect-redis's defaults: prefix `sess:`, TTL
    /// 86400 s for sessions without an expiry. Same connection settings as
    /// [`RedisStore::connect`](super::RedisStore::connect): fail fast while Redis is down,
    /// reconnect by itself.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the URL is invalid or Redis cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = ::redis::Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(backend)?;
        Ok(Self {
            manager,
            prefix: REDIS_KEY_PREFIX.to_owned(),
            default_ttl_secs: DEFAULT_STORE_TTL_SECS,
            save_script: std::sync::Arc::new(Script::new(SAVE)),
        })
    }

    /// Another key prefix (connect-redis's `prefix` option).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Another TTL for sessions without an expiry (connect-redis's `ttl` option, seconds).
    pub fn with_default_ttl(mut self, secs: i64) -> Self {
        self.default_ttl_secs = secs;
        self
    }

    fn key(&self, sid: &str) -> String {
        format!("{}{sid}", self.prefix)
    }

    /// The session under `sid` at `now_ms`: one round trip (`GET` and `PTTL` pipelined).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a Redis failure. A value that is not a record is not an
    /// error but [`Loaded::Refused`].
    pub async fn load(&self, sid: &str, now_ms: i64) -> Result<Loaded, StoreError> {
        let key = self.key(sid);
        let reply: Result<(Option<Vec<u8>>, i64), _> = ::redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut self.manager.clone())
            .await;
        // Another program's value under the key (not a string, or not UTF-8) is refused like
        // any value that is not a record: an empty session, the key left as it is.
        let (bytes, pttl) = match reply {
            Ok(reply) => reply,
            Err(error) if is_wrong_type(&error) => {
                return Ok(Loaded::Refused(RecordError::NotText))
            }
            Err(error) => return Err(backend(error)),
        };
        let Some(bytes) = bytes else {
            return Ok(Loaded::Missing);
        };
        let Ok(text) = String::from_utf8(bytes) else {
            return Ok(Loaded::Refused(RecordError::NotText));
        };
        // PTTL: -1 no expiry, -2 gone between the two commands (cannot happen in a pipeline
        // on one connection, but costs nothing to handle).
        let store_expires = match pttl {
            -2 => return Ok(Loaded::Missing),
            ms if ms < 0 => None,
            ms => Some(now_ms.saturating_add(ms)),
        };
        Ok(Loaded::from_stored(text, now_ms, store_expires))
    }

    /// Stores a new session under `sid`, only if the key is free (`SET … EX ttl NX`).
    /// `false` when it exists: the caller picks another sid, never overwrites.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a Redis failure.
    pub async fn create(
        &self,
        sid: &str,
        record: &Record,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let Some(ttl) = redis_ttl_secs(record.cookie(), now_ms, self.default_ttl_secs) else {
            // Already past its own expiry: connect-redis would not write it either.
            return Ok(false);
        };
        let reply: Option<String> = ::redis::cmd("SET")
            .arg(self.key(sid))
            .arg(record.to_json())
            .arg("EX")
            .arg(ttl)
            .arg("NX")
            .query_async(&mut self.manager.clone())
            .await
            .map_err(backend)?;
        Ok(reply.is_some())
    }

    /// Writes `record` under `sid` if the value is still `loaded` (the text [`load`](Self::load)
    /// returned), with connect-redis's TTL: a compare-and-swap, so a write made meanwhile by
    /// anyone (the Express app included) is never lost, and a destroyed session never comes
    /// back.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a Redis failure.
    pub async fn save(
        &self,
        sid: &str,
        loaded: &str,
        record: &Record,
        now_ms: i64,
    ) -> Result<Saved, StoreError> {
        let ttl = redis_ttl_secs(record.cookie(), now_ms, self.default_ttl_secs)
            .map_or(0, |ttl| i64::try_from(ttl).unwrap_or(i64::MAX));
        let reply: i64 = self
            .save_script
            .key(self.key(sid))
            .arg(loaded)
            .arg(record.to_json_over(loaded))
            .arg(ttl)
            .invoke_async(&mut self.manager.clone())
            .await
            .map_err(backend)?;
        Ok(match reply {
            1 => Saved::Saved,
            0 => Saved::Gone,
            _ => Saved::Changed,
        })
    }

    /// express-session's touch: moves the key's expiry to what `cookie` says (after
    /// [`CookieMeta::touch`]) without rewriting the record, as connect-redis does with
    /// `EXPIRE`. `false` when the key is gone (it is not recreated).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a Redis failure.
    pub async fn touch(
        &self,
        sid: &str,
        cookie: &CookieMeta,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        // A TTL ≤ 0 makes Redis delete the key, which is what connect-redis's EXPIRE does too.
        let ttl = redis_ttl_secs(cookie, now_ms, self.default_ttl_secs)
            .map_or(0, |ttl| i64::try_from(ttl).unwrap_or(i64::MAX));
        let reply: i64 = ::redis::cmd("EXPIRE")
            .arg(self.key(sid))
            .arg(ttl)
            .query_async(&mut self.manager.clone())
            .await
            .map_err(backend)?;
        Ok(reply == 1 && ttl > 0)
    }

    /// Deletes the session (`DEL`): the Express app finds nothing under that sid either.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on a Redis failure.
    pub async fn destroy(&self, sid: &str) -> Result<(), StoreError> {
        let _: i64 = ::redis::cmd("DEL")
            .arg(self.key(sid))
            .query_async(&mut self.manager.clone())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
