//! [`RedisStore`]: sessions in Redis (feature `redis`). The layout, the guarantees, the
//! trade-offs and the round trips of every method are documented on the type.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, Pipeline, RedisError, Script, ServerErrorKind, Value};
use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::{BoxFuture, Record, SessionStore, StoreError, StoreKey, Update};

/// The longest TTL given to a key (100 years); a revocation meant to last longer never expires.
const MAX_TTL_SECS: u64 = 100 * 365 * 24 * 3600;

/// How much longer than its records a user's index lives: it is written just before them,
/// so without a margin it could expire a few milliseconds earlier.
const INDEX_GRACE_MS: u64 = 60_000;

/// Lua: compares two decimal numbers given as strings without leading zeros, exactly (Lua
/// numbers are doubles: a `u64` would be rounded).
const LUA_GT: &str = r#"
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
"#;

/// Keeps `KEYS[1]` (a user's index) naming `ARGV[1]` (a store key) with a score of at least
/// `ARGV[2]` (its expiry) and a TTL of at least `ARGV[4]` ms; prunes entries that expired by
/// `ARGV[3]` (now).
const INDEX: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not old) or tonumber(old) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
local ttl = tonumber(ARGV[4])
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -1 or (pttl >= 0 and pttl < ttl) then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
"#;

/// Compare-and-swap: writes `ARGV[1]` (with a TTL of `ARGV[4]` ms) if the record is live at
/// `ARGV[3]` and its version is `ARGV[2]`. Returns 1 (saved), 0 (gone), -1 (corrupt) or the
/// current record (conflict).
const UPDATE: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ver, e = string.match(v, '^{"version":(%d+),"created_at":%d+,"expires_at":(%d+),"user":')
if not ver then return -1 end
if not gt(e, ARGV[3]) then return 0 end
if ver ~= ARGV[2] then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1
"#;

/// Moves a live record's expiry to `ARGV[1]`, in the value and in its TTL (`ARGV[3]` ms).
/// `ARGV[2]` is now; `ARGV[4]` the `,"user":…,"data":` the index was just updated for (or
/// empty). Returns 1 (touched), 0 (gone), -1 (corrupt), or the record when it has a user whose
/// index must be updated first.
const TOUCH: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local head, e, rest = string.match(v, '^({"version":%d+,"created_at":%d+,"expires_at":)(%d+)(,"user":.*)$')
if not head then return -1 end
if not gt(e, ARGV[2]) then return 0 end
local anonymous = string.sub(rest, 1, 20) == ',"user":null,"data":'
local indexed = ARGV[4] ~= '' and string.sub(rest, 1, #ARGV[4]) == ARGV[4]
if not (anonymous or indexed) then return v end
redis.call('SET', KEYS[1], head .. ARGV[1] .. rest, 'PX', ARGV[3])
return 1
"#;

/// Deletes the record if it still belongs to the user whose `,"user":…,"data":` is `ARGV[1]`
/// (or is unreadable). Returns 1 when deleted.
const DELETE_IF_USER: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local rest = string.match(v, '^{"version":%d+,"created_at":%d+,"expires_at":%d+(,"user":.*)$')
if rest and string.sub(rest, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"#;

/// Records a revocation `"<at> <until>"`, keeping the largest of each, with a TTL of at least
/// `ARGV[3]` ms (0: never expires).
const REVOKE: &str = r#"
local at, untl, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local cur = redis.call('GET', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1])
if cur then
  local a, u = string.match(cur, '^(%d+) (%d+)$')
  if a then
    if gt(a, at) then at = a end
    if gt(u, untl) then untl = u end
  end
end
if ttl == 0 or pttl == -1 then
  redis.call('SET', KEYS[1], at .. ' ' .. untl)
else
  if pttl > ttl then ttl = pttl end
  redis.call('SET', KEYS[1], at .. ' ' .. untl, 'PX', ttl)
end
return 1
"#;

/// The Lua scripts, loaded lazily by `EVALSHA` (and reloaded after a restart).
struct Scripts {
    update: Script,
    touch: Script,
    revoke: Script,
    /// Sent as `EVAL` source in pipelines (which do not reload scripts by themselves).
    index: String,
    delete_if_user: String,
}

impl Scripts {
    fn new() -> Self {
        let with_gt = |body: &str| format!("{LUA_GT}{body}");
        Scripts {
            update: Script::new(&with_gt(UPDATE)),
            touch: Script::new(&with_gt(TOUCH)),
            revoke: Script::new(&with_gt(REVOKE)),
            index: INDEX.to_owned(),
            delete_if_user: DELETE_IF_USER.to_owned(),
        }
    }
}

/// Sessions in Redis (feature `redis`): shared by every process of the app,
/// evicted by Redis itself, one key per session, and laid out so that it works on a Redis
/// Cluster as well as on a single server.
///
/// # Keys
///
/// With the default prefix `cs:` (see [`RedisStore::with_prefix`]):
///
/// | key | type | holds | expires |
/// |---|---|---|---|
/// | `cs:s:{<store key>}` | string | one record, as JSON | with the record |
/// | `cs:u:{<user>}` | sorted set | the store keys of `<user>`'s records, scored by their expiry | with the user's last record |
/// | `cs:r:{<user>}` | string | `"<at> <until>"`: `<user>`'s cookie sessions from before `<at>` are revoked | at `<until>` |
///
/// The store key is the SHA-256 of the session id ([`StoreKey`]): nothing in Redis is a usable
/// cookie. The braces are Redis Cluster hash tags: every command and script touches one key
/// only, so a record, an index or a revocation can live on any node. (A prefix that itself
/// holds `{…}` puts every key in one slot.)
///
/// A user goes into its key names as it is: Redis keys are binary-safe (NUL, braces and any
/// unicode work) and may be far longer than any session the layer stores
/// ([`SessionConfig::max_session_size`](crate::SessionConfig::max_session_size)), so every
/// user is indexed and revoked (`tests/store_users.rs`). A user holding `{…}` only moves its
/// own keys to another slot.
///
/// A record is `{"version":…,"created_at":…,"expires_at":…,"user":…,"data":{…}}`, always in
/// that order, so the Lua scripts read the version and expiry with an anchored pattern and
/// rewrite the expiry in place: they never decode and re-encode the data (Lua's JSON would
/// round numbers and reorder keys).
///
/// # Expiry
///
/// Every key gets a Redis TTL of `expires_at - now` — relative to the app's clock, not
/// `EXPIREAT` on Redis's, so an app and a Redis whose clocks disagree (or an injected test
/// clock) still agree on when a record dies. The app's `now` is still checked on every load,
/// update and touch: a record Redis has not evicted yet is expired all the same. Nothing needs
/// [`cleanup`](SessionStore::cleanup) (it answers 0 without a round trip).
///
/// # The user index and its trade-off
///
/// [`delete_user`](SessionStore::delete_user) needs every record of a user, and a record and
/// its user's index are in different slots, so no single script may write both. The index is
/// therefore written *before* the record, in the same pipeline (one network round trip, two
/// commands, not atomic): a record is never live without its index entry, at worst the index
/// names a record that was never written, which `delete_user` skips. The index entry's score
/// and the index key's TTL only ever grow, and are at least the record's expiry (the TTL with a
/// minute to spare), so a record never outlives its index. Entries whose score has passed are pruned on every index write;
/// `delete_user` removes the entries it processed. `delete_user` deletes a record only if it
/// still belongs to that user (a session whose user changed is left alone).
///
/// A `touch` does not know the user. When the record has one, the first call returns the
/// record instead of touching it, and the store then sends the index update and the touch
/// together: two round trips for a logged-in session (once per half idle window), one for an
/// anonymous one.
///
/// # Round trips
///
/// | method | round trips | commands |
/// |---|---|---|
/// | `load` | 1 | `GET` |
/// | `create` | 1 | `SET NX PX` (pipelined after the index script when the record has a user) |
/// | `update` | 1 | compare-and-swap script (pipelined after the index script when the record has a user) |
/// | `touch` | 1; 2 with a user | script that moves the TTL and the `expires_at` inside the value |
/// | `delete` | 1 | `DEL` |
/// | `delete_user` | 2 | `ZRANGE`; then one pipeline: a check-user-and-delete script per record, `ZREM` |
/// | `revoke_user` | 1 | script keeping the largest `at` and `until` |
/// | `revoked_before` | 1 | `GET` |
/// | `cleanup` | 0 | — |
///
/// So a request that reads its session costs 1 round trip, one that changes it 2 (load,
/// update), and one that never touches it none. On a Redis Cluster, `delete_user`'s pipeline
/// goes to every node holding one of the user's records.
///
/// # Outages
///
/// [`RedisStore::connect`] uses an [`aio::ConnectionManager`](::redis::aio::ConnectionManager),
/// which reconnects by itself: while Redis is down every call fails fast with
/// [`StoreError::Backend`] (the layer answers an opaque 503, or goes on anonymously under
/// [`OutagePolicy::Anonymous`](super::OutagePolicy::Anonymous)), and once Redis is back the
/// same store works again — scripts are reloaded when a restarted server has forgotten them.
/// Redis errors become [`StoreError::Backend`] (for the logs only), unreadable records
/// [`StoreError::Corrupt`].
///
/// ```no_run
/// use std::sync::Arc;
/// use cookie_session::store::RedisStore;
/// use cookie_session::{KeyRing, SessionConfig};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?.with_prefix("myapp:");
/// let layer = SessionConfig::new(KeyRing::from_env()?)
///     .shared_store(Arc::new(store))
///     .build()?;
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    manager: ConnectionManager,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A record as stored: this field order is what the Lua scripts match.
#[derive(Serialize)]
struct StoredRef<'a> {
    version: u64,
    created_at: u64,
    expires_at: u64,
    user: &'a Option<String>,
    data: &'a Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Stored {
    version: u64,
    created_at: u64,
    expires_at: u64,
    user: Option<String>,
    data: Map<String, serde_json::Value>,
}

fn encode(record: &Record) -> Result<String, StoreError> {
    serde_json::to_string(&StoredRef {
        version: record.version,
        created_at: record.created_at,
        expires_at: record.expires_at,
        user: &record.user,
        data: &record.data,
    })
    .map_err(|e| StoreError::Backend(format!("cannot encode a session record: {e}")))
}

fn decode(bytes: &[u8]) -> Result<Record, StoreError> {
    let stored: Stored =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Record {
        data: stored.data,
        version: stored.version,
        created_at: stored.created_at,
        expires_at: stored.expires_at,
        user: stored.user,
    })
}

/// What follows `expires_at` in a record of `user`: how the scripts recognise its owner.
fn user_marker(user: &str) -> String {
    // A JSON string cannot fail to encode.
    let quoted = serde_json::to_string(user).unwrap_or_default();
    format!(",\"user\":{quoted},\"data\":")
}

/// A key's TTL in milliseconds: from `now` (the app's clock) to `expires_at`, at least 1 s
/// (`PX 0` is refused) and at most [`MAX_TTL_SECS`].
fn ttl_ms(expires_at: u64, now: u64) -> u64 {
    expires_at.saturating_sub(now).clamp(1, MAX_TTL_SECS) * 1000
}

fn backend(error: RedisError) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn unexpected(what: &str, value: &Value) -> StoreError {
    StoreError::Backend(format!("unexpected reply to {what}: {value:?}"))
}

fn corrupt() -> StoreError {
    StoreError::Corrupt("the record does not have the expected layout".into())
}

impl RedisStore {
    /// The key prefix used unless [`RedisStore::with_prefix`] says otherwise.
    pub const DEFAULT_PREFIX: &'static str = "cs:";

    /// Connects to the Redis at `url` (`redis://[user:password@]host:port/db`, or `rediss://`
    /// when the `redis` crate is built with TLS), with the default prefix [`RedisStore::DEFAULT_PREFIX`].
    ///
    /// The connection is re-established by itself after an outage. Calls time out after
    /// 500 ms without an answer, and reconnecting gives up after one retry, so that requests
    /// fail fast (503) while Redis is down rather than pile up; use
    /// [`RedisStore::from_manager`] for other settings.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cookie_session::store::StoreError> {
    /// let store = cookie_session::store::RedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// # let _ = store; Ok(()) }
    /// ```
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
        Ok(Self::from_manager(manager))
    }

    /// A store over a connection manager configured by the caller (timeouts, retries, TLS).
    ///
    /// ```no_run
    /// use redis::aio::{ConnectionManager, ConnectionManagerConfig};
    /// # async fn run() -> Result<(), redis::RedisError> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// let config = ConnectionManagerConfig::new().set_number_of_retries(3);
    /// let manager = ConnectionManager::new_with_config(client, config).await?;
    /// let store = cookie_session::store::RedisStore::from_manager(manager);
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn from_manager(manager: ConnectionManager) -> Self {
        RedisStore {
            manager,
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            scripts: std::sync::Arc::new(Scripts::new()),
        }
    }

    /// Uses `prefix` in front of every key (default [`RedisStore::DEFAULT_PREFIX`]), to share a Redis
    /// between apps or environments.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cookie_session::store::StoreError> {
    /// use cookie_session::store::RedisStore;
    /// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?.with_prefix("shop:");
    /// assert_eq!(store.prefix(), "shop:");
    /// # Ok(()) }
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The prefix in front of every key.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cookie_session::store::StoreError> {
    /// let store = cookie_session::store::RedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// assert_eq!(store.prefix(), cookie_session::store::RedisStore::DEFAULT_PREFIX);
    /// # Ok(()) }
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}s:{<store key>}`.
    fn record_key(&self, key: &str) -> String {
        format!("{}s:{{{key}}}", self.prefix)
    }

    /// `{prefix}u:{<user>}`.
    fn user_key(&self, user: &str) -> String {
        format!("{}u:{{{user}}}", self.prefix)
    }

    /// `{prefix}r:{<user>}`.
    fn revocation_key(&self, user: &str) -> String {
        format!("{}r:{{{user}}}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// Appends the index update for `key` of `user` (expiring at `expires_at`) to `pipe`.
    fn push_index(
        &self,
        pipe: &mut Pipeline,
        user: &str,
        key: &StoreKey,
        expires_at: u64,
        now: u64,
    ) {
        pipe.cmd("EVAL")
            .arg(&self.scripts.index)
            .arg(1)
            .arg(self.user_key(user))
            .arg(key.as_str())
            .arg(expires_at)
            .arg(now)
            .arg(ttl_ms(expires_at, now) + INDEX_GRACE_MS);
    }

    /// Sends `pipe`; `EVALSHA`s in it that the server has forgotten (a restart, `SCRIPT
    /// FLUSH`) are loaded and the pipeline sent again. Only for pipelines whose commands can
    /// be repeated: the forgotten script did not run, the others are idempotent.
    async fn send(&self, pipe: &Pipeline, scripts: &[&Script]) -> Result<Vec<Value>, StoreError> {
        let mut conn = self.conn();
        match pipe.query_async::<Vec<Value>>(&mut conn).await {
            Err(error) if is_noscript(&error) => {
                for script in scripts {
                    script.load_async(&mut conn).await.map_err(backend)?;
                }
                pipe.query_async(&mut conn).await.map_err(backend)
            }
            other => other.map_err(backend),
        }
    }
}

fn is_noscript(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}

/// The last reply of a pipeline.
fn last(values: Vec<Value>, what: &str) -> Result<Value, StoreError> {
    values
        .into_iter()
        .last()
        .ok_or_else(|| StoreError::Backend(format!("no reply to {what}")))
}

fn evalsha<'p>(pipe: &'p mut Pipeline, script: &Script, key: String) -> &'p mut Pipeline {
    pipe.cmd("EVALSHA").arg(script.get_hash()).arg(1).arg(key)
}

impl SessionStore for RedisStore {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let now = record.created_at;
            let value = encode(record)?;
            let mut pipe = ::redis::pipe();
            if let Some(user) = &record.user {
                self.push_index(&mut pipe, user, key, record.expires_at, now);
            }
            pipe.cmd("SET")
                .arg(self.record_key(key.as_str()))
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms(record.expires_at, now));
            match last(self.send(&pipe, &[]).await?, "SET")? {
                Value::Okay => Ok(()),
                Value::Nil => Err(StoreError::Conflict),
                other => Err(unexpected("SET", &other)),
            }
        })
    }

    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(async move {
            let value: Option<Vec<u8>> = ::redis::cmd("GET")
                .arg(self.record_key(key.as_str()))
                .query_async(&mut self.conn())
                .await
                .map_err(backend)?;
            match value {
                None => Ok(None),
                Some(bytes) => Ok(Some(decode(&bytes)?).filter(|r| r.expires_at > now)),
            }
        })
    }

    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        Box::pin(async move {
            let value = encode(record)?;
            let mut pipe = ::redis::pipe();
            if let Some(user) = &record.user {
                self.push_index(&mut pipe, user, key, record.expires_at, now);
            }
            // Version 0 has no predecessor: no stored version matches "".
            let expected = record
                .version
                .checked_sub(1)
                .map(|v| v.to_string())
                .unwrap_or_default();
            evalsha(
                &mut pipe,
                &self.scripts.update,
                self.record_key(key.as_str()),
            )
            .arg(value)
            .arg(expected)
            .arg(now)
            .arg(ttl_ms(record.expires_at, now));
            match last(self.send(&pipe, &[&self.scripts.update]).await?, "update")? {
                Value::Int(1) => Ok(Update::Saved),
                Value::Int(0) => Ok(Update::Gone),
                Value::Int(-1) => Err(corrupt()),
                Value::BulkString(bytes) => {
                    let current = decode(&bytes)?;
                    Ok(Update::Conflict(current))
                }
                other => Err(unexpected("update", &other)),
            }
        })
    }

    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let ttl = ttl_ms(expires_at, now);
            // First try: touches an anonymous record; returns one with a user untouched.
            let mut conn = self.conn();
            let mut reply: Value = self
                .scripts
                .touch
                .key(self.record_key(key.as_str()))
                .arg(expires_at)
                .arg(now)
                .arg(ttl)
                .arg("")
                .invoke_async(&mut conn)
                .await
                .map_err(backend)?;
            // The user can change between tries (a concurrent login): index again, boundedly.
            for _ in 0..4 {
                match reply {
                    Value::Int(1) => return Ok(true),
                    Value::Int(0) => return Ok(false),
                    Value::Int(-1) => return Err(corrupt()),
                    Value::BulkString(bytes) => {
                        let user = decode(&bytes)?.user.ok_or_else(corrupt)?;
                        let mut pipe = ::redis::pipe();
                        self.push_index(&mut pipe, &user, key, expires_at, now);
                        evalsha(
                            &mut pipe,
                            &self.scripts.touch,
                            self.record_key(key.as_str()),
                        )
                        .arg(expires_at)
                        .arg(now)
                        .arg(ttl)
                        .arg(user_marker(&user));
                        reply = last(self.send(&pipe, &[&self.scripts.touch]).await?, "touch")?;
                    }
                    other => return Err(unexpected("touch", &other)),
                }
            }
            Err(StoreError::Backend(
                "the session's user kept changing during a touch".into(),
            ))
        })
    }

    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            ::redis::cmd("DEL")
                .arg(self.record_key(key.as_str()))
                .query_async::<i64>(&mut self.conn())
                .await
                .map_err(backend)?;
            Ok(())
        })
    }

    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let index = self.user_key(user);
            let mut conn = self.conn();
            let keys: Vec<String> = ::redis::cmd("ZRANGE")
                .arg(&index)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            if keys.is_empty() {
                return Ok(0);
            }
            let marker = user_marker(user);
            let mut pipe = ::redis::pipe();
            for key in &keys {
                pipe.cmd("EVAL")
                    .arg(&self.scripts.delete_if_user)
                    .arg(1)
                    .arg(self.record_key(key))
                    .arg(&marker);
            }
            // Last, so that it runs only after every delete before it did.
            pipe.cmd("ZREM").arg(&index).arg(&keys);
            let replies = self.send(&pipe, &[]).await?;
            let mut deleted = 0;
            for reply in &replies[..keys.len().min(replies.len())] {
                match reply {
                    Value::Int(n) => deleted += u64::try_from(*n).unwrap_or(0),
                    other => return Err(unexpected("delete", other)),
                }
            }
            Ok(deleted)
        })
    }

    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        at: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // `at` is the app's now; beyond MAX_TTL_SECS the mark is kept for ever.
            let left = until.saturating_sub(at);
            let ttl = if left > MAX_TTL_SECS {
                0
            } else {
                ttl_ms(until, at)
            };
            self.scripts
                .revoke
                .key(self.revocation_key(user))
                .arg(at)
                .arg(until)
                .arg(ttl)
                .invoke_async::<i64>(&mut self.conn())
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
            let value: Option<String> = ::redis::cmd("GET")
                .arg(self.revocation_key(user))
                .query_async(&mut self.conn())
                .await
                .map_err(backend)?;
            let Some(value) = value else { return Ok(None) };
            let parsed = value.split_once(' ').and_then(|(at, until)| {
                Some((at.parse::<u64>().ok()?, until.parse::<u64>().ok()?))
            });
            match parsed {
                Some((at, until)) => Ok((until > now).then_some(at)),
                None => Err(StoreError::Corrupt("unreadable revocation".into())),
            }
        })
    }

    fn cleanup(&self, _now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        // Redis evicts records, indexes and revocations by their TTLs.
        Box::pin(async { Ok(0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_the_layout_the_scripts_match() {
        let record = Record {
            data: serde_json::json!({"b": 1, "a": {"expires_at": 0}, "n": 18446744073709551615u64})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            version: 7,
            created_at: 10,
            expires_at: 20,
            user: Some("al\"ice".into()),
        };
        let text = encode(&record).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"version":7,"created_at":10,"expires_at":20,"user":"al\"ice","data":{"b":1,"a":{"expires_at":0},"n":18446744073709551615}}"#
        );
        assert!(
            text[r#"{"version":7,"created_at":10,"expires_at":20"#.len()..]
                .starts_with(&user_marker("al\"ice"))
        );
        assert_eq!(decode(text.as_bytes()).ok(), Some(record));
        assert!(matches!(
            decode(b"{\"version\":1"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn ttls_are_relative_to_the_app_clock_and_bounded() {
        assert_eq!(ttl_ms(1_100, 1_000), 100_000);
        assert_eq!(ttl_ms(1_000, 1_000), 1_000);
        assert_eq!(ttl_ms(u64::MAX, 0), MAX_TTL_SECS * 1000);
    }
}
