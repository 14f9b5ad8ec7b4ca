//! [`RedisStore`]: sessions in Redis (feature `redis`). The layout, the guarantees, the
//! trade-offs and the round trips of every method are documented on the type.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Script, ServerErrorKind, Value};
use serde::Deserialize;
use serde_json::Map;

use super::{BoxFuture, Patch, Record, SessionStore, StoreError, StoreKey, Update};

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

/// Lua: `v` plus one, for a decimal `u64` given as a string (wrapping, as versions do).
const LUA_INC: &str = r#"
local function inc(v)
  if v == '18446744073709551615' then return '0' end
  local i = #v
  while i > 0 and string.sub(v, i, i) == '9' do i = i - 1 end
  if i == 0 then return '1' .. string.rep('0', #v) end
  return string.sub(v, 1, i - 1) .. string.char(string.byte(v, i) + 1) .. string.rep('0', #v - i)
end
"#;

/// Creates the record `KEYS[1]` from the field/value pairs from `ARGV[2]` on, with a TTL of
/// `ARGV[1]` ms, unless the key exists. Returns 1 (created) or 0 (exists).
const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"#;

/// Lua: the length of the session `KEYS[1]` would have as JSON text (serde_json's compact
/// encoding of the map) once the pairs of a session key and its JSON value (`''`: remove)
/// from `ARGV[first]` on are applied, after dropping every stored key when `replace`: `{`
/// and `}`, a comma between members, and per member the key as a JSON string (quotes, and
/// serde_json's escapes: two bytes for `"`, `\`, backspace, tab, newline, form feed and
/// carriage return, six for the other control characters), a colon, and the value's JSON
/// text as stored (after `<seq> `). `nil` when a stored field is not `<seq> <json>`.
const LUA_SIZE: &str = r#"
local function keylen(k)
  local _, all = string.gsub(k, '[%z\1-\31"\\]', '')
  local _, short = string.gsub(k, '[\8\9\10\12\13"\\]', '')
  return #k + 2 + short + 5 * (all - short)
end
local function size(replace, first)
  local lens = {}
  if not replace then
    local all = redis.call('HGETALL', KEYS[1])
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 'd:' then
        local space = string.find(all[i + 1], ' ', 1, true)
        if not space then return nil end
        lens[string.sub(all[i], 3)] = #all[i + 1] - space
      end
    end
  end
  for i = first, #ARGV, 2 do
    if ARGV[i + 1] == '' then lens[ARGV[i]] = nil else lens[ARGV[i]] = #ARGV[i + 1] end
  end
  local total, n = 2, 0
  for k, len in pairs(lens) do
    total = total + keylen(k) + 1 + len
    n = n + 1
  end
  if n > 1 then total = total + n - 1 end
  return total
end
"#;

/// Lua: whether the user index named in field `i` of the record (a decimal score, kept with
/// the user `u` it belongs to) still covers an expiry of `e`: the record's user is `u`, and
/// the index entry's score is at least `e`.
const LUA_COVERED: &str = r#"
local function covered(stored_u, i, u, e)
  return stored_u == u and i and string.match(i, '^%d+$') and not gt(e, i)
end
"#;

/// Applies a patch to the live record `KEYS[1]`. `ARGV`: now, new expiry, TTL in ms, `1` to
/// replace the data whole, the user (`''` keep, `-` none, `=<user>`), the user whose index
/// was just updated (`''` none, `=<user>`), the score that index entry was given, the most
/// bytes the merged data may take as JSON text (`''`: no limit; measured as `LUA_SIZE`
/// does), then pairs of a session key and its JSON value (`''`: remove). Each data field holds `<seq> <json>`: a key keeps its `seq`
/// (its place) when set again, a new key takes the next one from `n`. Nothing is written
/// unless it returns 1 (saved); otherwise 0 (gone), -1 (corrupt), -2 (not a hash: an older
/// layout), `{size}` (the merged data would be `size` bytes, over the limit), or the
/// session's user when its index does not cover the new expiry (index it, then call again).
const UPDATE: &str = r#"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return 0 end
if t ~= 'hash' then return -2 end
local meta = redis.call('HMGET', KEYS[1], 'v', 'e', 'u', 'i')
local v, e, u, i = meta[1], meta[2], meta[3], meta[4]
local stored_u = u
if not (v and e and string.match(v, '^%d+$') and string.match(e, '^%d+$')) then return -1 end
if not gt(e, ARGV[1]) then return 0 end
if ARGV[5] == '-' then u = false elseif ARGV[5] ~= '' then u = string.sub(ARGV[5], 2) end
if u then
  if ARGV[6] == '=' .. u then i = ARGV[7]
  elseif not covered(stored_u, i, u, ARGV[2]) then return u end
end
if ARGV[8] ~= '' then
  local merged = size(ARGV[4] == '1', 9)
  if not merged then return -1 end
  if merged > tonumber(ARGV[8]) then return {merged} end
end
if ARGV[4] == '1' then
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 2) == 'd:' then redis.call('HDEL', KEYS[1], f) end
  end
  redis.call('HSET', KEYS[1], 'n', '0')
end
for j = 9, #ARGV, 2 do
  local f = 'd:' .. ARGV[j]
  if ARGV[j + 1] == '' then
    redis.call('HDEL', KEYS[1], f)
  else
    local old = redis.call('HGET', KEYS[1], f)
    local seq = old and string.match(old, '^(%d+) ')
    if not seq then seq = tostring(redis.call('HINCRBY', KEYS[1], 'n', 1)) end
    redis.call('HSET', KEYS[1], f, seq .. ' ' .. ARGV[j + 1])
  end
end
if u then
  redis.call('HSET', KEYS[1], 'u', u, 'i', i)
else
  redis.call('HDEL', KEYS[1], 'u', 'i')
end
redis.call('HSET', KEYS[1], 'v', inc(v), 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"#;

/// Moves a live record's expiry to `ARGV[1]`, in the `e` field and in its TTL (`ARGV[3]` ms).
/// `ARGV[2]` is now; `ARGV[4]` the user the index was just updated for (`=<user>`, or empty)
/// and `ARGV[5]` the score it was given. Returns 1 (touched), 0 (gone), -1 (corrupt), -2 (an
/// older layout), or the record's user when its index must be updated first.
const TOUCH: &str = r#"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return 0 end
if t ~= 'hash' then return -2 end
local meta = redis.call('HMGET', KEYS[1], 'e', 'u', 'i')
local e, u, i = meta[1], meta[2], meta[3]
if not (e and string.match(e, '^%d+$')) then return -1 end
if not gt(e, ARGV[2]) then return 0 end
if u then
  if ARGV[4] == '=' .. u then redis.call('HSET', KEYS[1], 'i', ARGV[5])
  elseif not covered(u, i, u, ARGV[1]) then return u end
end
redis.call('HSET', KEYS[1], 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"#;

/// Deletes the record if it still belongs to the user `ARGV[1]` (a record in the older
/// layout: whose `,"user":…,"data":` is `ARGV[2]`, or that is unreadable). Returns 1 when
/// deleted.
const DELETE_IF_USER: &str = r#"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'hash' then
  if redis.call('HGET', KEYS[1], 'u') ~= ARGV[1] then return 0 end
elseif t == 'string' then
  local v = redis.call('GET', KEYS[1])
  local rest = string.match(v, '^{"version":%d+,"created_at":%d+,"expires_at":%d+(,"user":.*)$')
  if rest and string.sub(rest, 1, #ARGV[2]) ~= ARGV[2] then return 0 end
else
  return 0
end
redis.call('DEL', KEYS[1])
return 1
"#;

/// Rewrites a record of the older layout (a JSON string, exactly `ARGV[1]`) as a hash of the
/// field/value pairs from `ARGV[2]` on, keeping its TTL. Returns 1, or 0 when it changed.
const MIGRATE: &str = r#"
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local pttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if pttl > 0 then redis.call('PEXPIRE', KEYS[1], pttl) end
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
    create: Script,
    update: Script,
    touch: Script,
    revoke: Script,
    migrate: Script,
    /// Sent as `EVAL` source in pipelines (which do not reload scripts by themselves).
    index: String,
    delete_if_user: String,
}

impl Scripts {
    fn new() -> Self {
        let with_gt = |body: &str| format!("{LUA_GT}{body}");
        Scripts {
            create: Script::new(CREATE),
            update: Script::new(&format!("{LUA_GT}{LUA_COVERED}{LUA_INC}{LUA_SIZE}{UPDATE}")),
            touch: Script::new(&format!("{LUA_GT}{LUA_COVERED}{TOUCH}")),
            revoke: Script::new(&with_gt(REVOKE)),
            migrate: Script::new(MIGRATE),
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
/// | `cs:s:{<store key>}` | hash | one record (fields below) | with the record |
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
/// A record is a hash: `v` (version), `c` (created at), `e` (expires at), `u` (the user, absent
/// when none), `n` (the last sequence number given), and one field `d:<key>` per session key
/// holding `<seq> <JSON value>`. The JSON text of each value is written and read by the
/// application only: the scripts move it as opaque bytes and never decode it (Lua's JSON
/// would turn numbers into doubles and reorder keys). Sessions are read back in `seq` order,
/// so the session keeps its key order; a key set again keeps its `seq` (its place), a new
/// key takes the next one.
///
/// # Concurrent updates
///
/// [`update`](SessionStore::update) sends the request's [`Patch`] (each changed key's new
/// JSON text, or its removal, or a whole replacement) to a Lua script that applies it to the
/// record as Redis holds it at that moment. Redis runs scripts one at a time, so concurrent
/// requests changing different keys of one session all keep their changes, and none fails
/// because another wrote first; a record that is gone (destroyed, expired) is not written.
///
/// Records written by earlier versions of this store (one JSON string per session) are
/// still read (one extra `GET`), and the first update or touch rewrites them as a hash,
/// keeping their TTL.
///
/// # Size limit
///
/// An update carrying a [`Patch::max_size`] is refused inside the script, before anything
/// is written ([`Update::TooLarge`]), when the merged session would be longer than that as
/// JSON text. The script measures exactly what serde_json's compact encoding of the merged
/// map takes: each `d:<key>` value's JSON text as stored, the key as a JSON string (with
/// serde_json's escapes), a colon per key, commas between keys and the two braces. Reading
/// every field to count them costs the script time in proportion to the session's size.
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
/// therefore written *before* the record (on one server in the same pipeline: one round
/// trip, two commands, not atomic; on a cluster one after the other, since the two keys may
/// be on different nodes): a record is never live without its index entry, at worst the index
/// names a record that was never written, which `delete_user` skips. The index entry's score
/// and the index key's TTL only ever grow, and the score is one whole lifetime past the
/// record's expiry when it is written (the key's TTL a minute more), so a record never
/// outlives its index. Entries whose score has passed are pruned on every index write.
///
/// The record keeps that score in its field `i`, next to its user `u`. The update and touch
/// scripts write the record only if its index still covers the new expiry (same user, `i`
/// at least the new expiry); otherwise they write nothing and return the user, and the store
/// writes the index and sends the script again. So a logged-in session's index is written at
/// login and then about once per lifetime, not on every write: a write or a touch is one
/// command, whether or not the session has a user. A login (the patch sets a user) writes
/// the index first, with the update. A record without `i` (written by an earlier version) is
/// indexed again on its first write.
///
/// `delete_user` deletes a record only if it still belongs to that user (a session whose
/// user changed is left alone), and then removes from the index only the entries of the
/// records it deleted: an entry whose record was missing or another user's may belong to a
/// record being written for this user at that moment (its entry is written just before it),
/// so it stays until its score passes. On a cluster the records, in their own slots, are
/// checked and deleted one at a time, each on its node: no script may span slots, and each
/// step is safe alone (a check-and-delete of one record, then the removal of entries whose
/// records are gone for good, since a store key is never reused).
///
/// # Round trips
///
/// | method | round trips | commands |
/// |---|---|---|
/// | `load` | 1 | `HGETALL` |
/// | `create` | 1; 2 on a cluster with a user | script: create unless the key exists (after the index script when the record has a user) |
/// | `update` | 1 | script applying the patch; after the index script at a login (2 round trips on a cluster), or when the index no longer covers the new expiry (once per lifetime: 2 round trips, 3 on a cluster) |
/// | `touch` | 1 | script that moves the TTL and the `e` field (same index rule as `update`) |
/// | `delete` | 1 | `DEL` |
/// | `delete_user` | 3 (cluster: 2 + one per record) | `ZRANGE`; a check-user-and-delete script per record (one pipeline on one server); `ZREM` of the deleted ones |
/// | `revoke_user` | 1 | script keeping the largest `at` and `until` |
/// | `revoked_before` | 1 | `GET` |
/// | `cleanup` | 0 | — |
///
/// So a request that reads its session costs 1 round trip, one that changes it 2 (load,
/// update), and one that never touches it none, logged in or not
/// (`tests/store_redis.rs` counts them on the wire). With
/// [`RedisStore::wait_for_replicas`], every write carries a `WAIT` in the same round trip.
///
/// # Redis Cluster
///
/// [`RedisStore::connect_cluster`] speaks to a Redis Cluster: every command and script
/// touches one key, so it goes to the master of that key's slot, and the braces around the
/// store key or the user (hash tags) choose the slot. Records, indexes and revocations spread
/// over the masters. What differs from one server: the index is written in its own round
/// trip before a record at a login (see the table), `delete_user` visits the records one by
/// one, and a failover loses the writes the dead master had not yet replicated (Redis
/// replicates asynchronously; [`RedisStore::wait_for_replicas`] narrows that window).
/// While a slot has no master (the seconds of a failover), the calls on its keys fail with
/// [`StoreError::Backend`] as in an outage, and work again once a replica took over, without
/// a restart (`tests/redis_cluster.rs`).
///
/// Every answer comes from a master, never a replica: the redis crate marks its cluster
/// connections `READONLY`, so the store sends `READWRITE` ahead of each command, in the same
/// round trip. A replica that a stale slot map reaches (the old master, after a failover)
/// then redirects to the new master instead of answering from a copy that may be behind: a
/// logout or a revocation undone.
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
    conn: Connection,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
    /// `WAIT <replicas> <ms>` after every write (see [`RedisStore::wait_for_replicas`]).
    wait: Option<(usize, u64)>,
}

/// The connection kinds the store speaks through: both reconnect by themselves.
#[derive(Clone)]
enum Connection {
    /// One server.
    Single(ConnectionManager),
    /// A Redis Cluster: each command goes to the master of its key's slot, and the client
    /// follows `MOVED` redirections and refreshes its slot map after a failover. Every
    /// command that names a key is sent after a `READWRITE`, in the same round trip (see
    /// [`on_master`]).
    Cluster(ClusterConnection),
}

/// A pipeline that starts with `READWRITE`, for the commands of one key's slot on a
/// cluster.
///
/// redis-rs (1.2.2, `cluster_handling/async_connection/mod.rs` `connect_and_check`) sends
/// `READONLY` on every cluster connection it opens, whether or not the client reads from
/// replicas. A replica answers a `READONLY` connection's reads of its master's slots from
/// its own copy, and a client whose slot map is stale sends commands for a slot to the node
/// that was its master: after a failover that node may be a replica, behind the new master
/// or still empty (a crashed master that rejoined as a replica and is syncing). A logout, a
/// revocation or an acknowledged write would then read as undone. After `READWRITE` (it
/// only clears that flag, and is routed to no node of its own, so the pipeline still goes
/// to the key's node) a replica answers `MOVED` instead, and the client follows it to the
/// master. `tests/redis_cluster.rs` `a_stale_slot_map_never_reads_a_replica` shows it.
fn on_master<'a>(commands: impl Iterator<Item = &'a Cmd>) -> Pipeline {
    let mut pipe = Pipeline::new();
    pipe.cmd("READWRITE");
    for cmd in commands {
        pipe.add_command(cmd.clone());
    }
    pipe
}

/// Whether `cmd` names no key: `SCRIPT LOAD`, which redis-rs sends to every node, is the
/// only such command the store sends.
fn names_no_key(cmd: &Cmd) -> bool {
    matches!(
        cmd.args_iter().next(),
        Some(::redis::Arg::Simple(b"SCRIPT"))
    )
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => {
                if names_no_key(cmd) {
                    return c.req_packed_command(cmd);
                }
                Box::pin(async move {
                    let pipe = on_master(std::iter::once(cmd));
                    let mut replies = c.req_packed_commands(&pipe, 1, 1).await?;
                    replies.pop().ok_or_else(|| {
                        RedisError::from((ErrorKind::Client, "no reply to a command"))
                    })
                })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(cmd, offset, count),
            // An atomic pipeline would queue `READWRITE` among its results; the store sends
            // none.
            Connection::Cluster(c) => {
                if cmd.is_transaction() {
                    return c.req_packed_commands(cmd, offset, count);
                }
                Box::pin(async move {
                    let pipe = on_master(cmd.cmd_iter());
                    c.req_packed_commands(&pipe, offset + 1, count).await
                })
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.conn {
            Connection::Single(_) => "single",
            Connection::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("connection", &kind)
            .field("prefix", &self.prefix)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// A record as the hash's field/value pairs: `v`, `c`, `e`, `n`, `u` (when it has a user),
/// then `d:<key>` = `<seq> <json>` per session key, numbered in the session's order.
fn encode(record: &Record) -> Result<Vec<(String, String)>, StoreError> {
    let mut fields = Vec::with_capacity(record.data.len() + 5);
    fields.push(("v".to_owned(), record.version.to_string()));
    fields.push(("c".to_owned(), record.created_at.to_string()));
    fields.push(("e".to_owned(), record.expires_at.to_string()));
    fields.push(("n".to_owned(), record.data.len().to_string()));
    if let Some(user) = &record.user {
        fields.push(("u".to_owned(), user.clone()));
    }
    for (seq, (key, value)) in record.data.iter().enumerate() {
        fields.push((format!("d:{key}"), format!("{} {}", seq + 1, json(value)?)));
    }
    Ok(fields)
}

/// One session value as JSON text: kept as this text in Redis, never re-encoded by a script.
fn json(value: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode a session value: {e}")))
}

/// The record in a hash's fields (`HGETALL`); `None` when there are none (no such key).
fn decode(fields: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Option<Record>, StoreError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|_| corrupt());
    let number = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .ok()
            .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(corrupt)
    };
    let (mut version, mut created_at, mut expires_at, mut user) = (None, None, None, None);
    let mut entries = Vec::with_capacity(fields.len());
    for (field, value) in fields {
        match field.as_slice() {
            b"v" => version = Some(number(&value)?),
            b"c" => created_at = Some(number(&value)?),
            b"e" => expires_at = Some(number(&value)?),
            b"u" => user = Some(text(value)?),
            // `n`: the last sequence number given; `i`: how far the user's index covers.
            b"n" | b"i" => {}
            [b'd', b':', key @ ..] => {
                let key = text(key.to_vec())?;
                let (seq, json) = value
                    .iter()
                    .position(|&b| b == b' ')
                    .map(|at| value.split_at(at))
                    .ok_or_else(corrupt)?;
                // serde_json's message names a line and column, never the content.
                let value = serde_json::from_slice(&json[1..])
                    .map_err(|e| StoreError::Corrupt(format!("session value: {e}")))?;
                entries.push((number(seq)?, key, value));
            }
            _ => return Err(corrupt()),
        }
    }
    entries.sort_by_key(|(seq, _, _)| *seq);
    Ok(Some(Record {
        data: entries.into_iter().map(|(_, k, v)| (k, v)).collect(),
        version: version.ok_or_else(corrupt)?,
        created_at: created_at.ok_or_else(corrupt)?,
        expires_at: expires_at.ok_or_else(corrupt)?,
        user,
    }))
}

/// A record in the older layout (before each session key had its own field): one JSON
/// string. Read so that sessions written by an older version survive the upgrade; the first
/// update or touch rewrites it as a hash.
#[derive(Deserialize)]
struct Legacy {
    version: u64,
    created_at: u64,
    expires_at: u64,
    user: Option<String>,
    data: Map<String, serde_json::Value>,
}

fn decode_legacy(bytes: &[u8]) -> Result<Record, StoreError> {
    let stored: Legacy =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Record {
        data: stored.data,
        version: stored.version,
        created_at: stored.created_at,
        expires_at: stored.expires_at,
        user: stored.user,
    })
}

/// What follows `expires_at` in a record of `user` in the older layout: how
/// `DELETE_IF_USER` recognises its owner there.
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

/// The error of a `GET` of a record that is not a hash (the older layout): `WRONGTYPE` means
/// the key is neither a hash nor a string (a list, a set: another program's key), an
/// unreadable record rather than an outage.
fn legacy_read(error: RedisError) -> StoreError {
    if is_wrong_type(&error) {
        corrupt()
    } else {
        backend(error)
    }
}

/// Whether Redis answered `WRONGTYPE` (the key holds another type than the command reads),
/// alone or inside a pipeline's failure: redis-rs 1.2.2 reports a failed command of a
/// pipeline as a pipeline error with no code of its own (`RedisError::into_server_errors`).
pub(super) fn is_wrong_type(error: &RedisError) -> bool {
    error.code() == Some("WRONGTYPE")
        || error
            .clone()
            .into_server_errors()
            .is_some_and(|errors| errors.iter().any(|(_, e)| e.code() == "WRONGTYPE"))
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
        Self::with_connection(Connection::Single(manager))
    }

    /// Connects to the Redis Cluster that the seed nodes `urls` belong to (`redis://host:port/`
    /// each; one reachable node is enough, the client learns the others from it), with the
    /// default prefix [`RedisStore::DEFAULT_PREFIX`].
    ///
    /// Every command and script touches one key, so each goes to the master of its key's
    /// slot; see [the type's documentation](RedisStore#redis-cluster) for what differs from
    /// one server. As with [`RedisStore::connect`], calls time out after 500 ms without an
    /// answer and are retried twice (following `MOVED` redirections and a failover's new
    /// slot map), so that requests fail fast while a slot has no master; use
    /// [`RedisStore::from_cluster`] for other settings.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when a URL is malformed or no seed node answers.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cookie_session::store::StoreError> {
    /// use cookie_session::store::RedisStore;
    /// let store = RedisStore::connect_cluster(&[
    ///     "redis://127.0.0.1:7000/",
    ///     "redis://127.0.0.1:7001/",
    ///     "redis://127.0.0.1:7002/",
    /// ])
    /// .await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect_cluster<S: AsRef<str>>(urls: &[S]) -> Result<Self, StoreError> {
        let client = ClusterClient::builder(urls.iter().map(|u| u.as_ref().to_owned()))
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_millis(500))
            .retries(2)
            .min_retry_wait(50)
            .max_retry_wait(200)
            .build()
            .map_err(backend)?;
        let conn = client.get_async_connection().await.map_err(backend)?;
        Ok(Self::from_cluster(conn))
    }

    /// A store over a cluster connection configured by the caller (timeouts, retries, TLS,
    /// reading from replicas is not advised: a replica may lag behind its master).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), redis::RedisError> {
    /// let client = redis::cluster::ClusterClient::builder(["redis://127.0.0.1:7000/"])
    ///     .retries(5)
    ///     .build()?;
    /// let conn = client.get_async_connection().await?;
    /// let store = cookie_session::store::RedisStore::from_cluster(conn);
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn from_cluster(conn: ClusterConnection) -> Self {
        Self::with_connection(Connection::Cluster(conn))
    }

    fn with_connection(conn: Connection) -> Self {
        RedisStore {
            conn,
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            scripts: std::sync::Arc::new(Scripts::new()),
            wait: None,
        }
    }

    /// After every write (create, update, touch, delete, revocation), waits until `replicas`
    /// replicas of the written key's master have acknowledged it, or `timeout` passed
    /// (`WAIT replicas timeout`, in the same round trip as the write).
    ///
    /// Redis replicates asynchronously: a master that dies takes with it the writes its
    /// replica had not received yet, and a failover then serves the session as it was a
    /// moment before (a logout undone, a counter one step back). With this option a write
    /// succeeds only once `replicas` replicas hold it, so a write the app saw succeed survives
    /// the failover to one of them. It does not make Redis strongly consistent: a write the
    /// replicas did not acknowledge in time still stays on the master (and reaches them
    /// later), but the call fails with [`StoreError::Backend`], as a write whose answer was
    /// lost would. Its cost is measured in docs/SCALING.md.
    ///
    /// # Errors
    ///
    /// Writes fail with [`StoreError::Backend`] when fewer replicas acknowledge them in time,
    /// so a master without replicas (or a single server) fails every write: use it only
    /// where each master has `replicas` replicas.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cookie_session::store::StoreError> {
    /// use std::time::Duration;
    /// use cookie_session::store::RedisStore;
    /// let store = RedisStore::connect_cluster(&["redis://127.0.0.1:7000/"])
    ///     .await?
    ///     .wait_for_replicas(1, Duration::from_millis(100));
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn wait_for_replicas(mut self, replicas: usize, timeout: Duration) -> Self {
        let ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.wait = (replicas > 0).then_some((replicas, ms));
        self
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

    fn conn(&self) -> Connection {
        self.conn.clone()
    }

    /// The index update for `key` of `user`, with the entry's score `score` (see
    /// [`index_score`]).
    fn index_cmd(&self, user: &str, key: &StoreKey, score: u64, now: u64) -> Cmd {
        let mut cmd = ::redis::cmd("EVAL");
        cmd.arg(&self.scripts.index)
            .arg(1)
            .arg(self.user_key(user))
            .arg(key.as_str())
            .arg(score)
            .arg(now)
            .arg(ttl_ms(score, now) + INDEX_GRACE_MS);
        cmd
    }

    /// Sends `op` (one command on one record), after `index` (its user's index update) when
    /// given, and followed by `WAIT` when [`RedisStore::wait_for_replicas`] asked for it;
    /// returns `op`'s reply. On one server it is one round trip (a pipeline); on a cluster
    /// the index (another slot, maybe another node) is written first, then `op`: the order
    /// that keeps a record from ever being live without its index entry. A `script` that the
    /// server has forgotten (a restart, `SCRIPT FLUSH`, a promoted replica) is loaded and
    /// `op` sent again: the forgotten script did not run, the index update is idempotent.
    async fn write(
        &self,
        index: Option<Cmd>,
        op: Cmd,
        script: Option<&Script>,
    ) -> Result<Value, StoreError> {
        let mut conn = self.conn();
        let mut pipe = ::redis::pipe();
        if let Some(index) = index {
            match conn {
                Connection::Single(_) => {
                    pipe.add_command(index);
                }
                Connection::Cluster(_) => {
                    index
                        .query_async::<Value>(&mut conn)
                        .await
                        .map_err(backend)?;
                }
            }
        }
        pipe.add_command(op);
        if let Some((replicas, ms)) = self.wait {
            pipe.cmd("WAIT").arg(replicas).arg(ms);
        }
        let mut replies = match pipe.query_async::<Vec<Value>>(&mut conn).await {
            Err(error) if is_noscript(&error) && script.is_some() => {
                if let Some(script) = script {
                    script.load_async(&mut conn).await.map_err(backend)?;
                }
                pipe.query_async::<Vec<Value>>(&mut conn)
                    .await
                    .map_err(backend)?
            }
            other => other.map_err(backend)?,
        };
        if let Some((replicas, ms)) = self.wait {
            match replies.pop() {
                Some(Value::Int(acked)) if usize::try_from(acked).is_ok_and(|a| a >= replicas) => {}
                Some(Value::Int(acked)) => {
                    return Err(StoreError::Backend(format!(
                        "a write reached {acked} replicas of the {replicas} asked for \
                         within {ms} ms"
                    )))
                }
                other => return Err(unexpected("WAIT", &other.unwrap_or(Value::Nil))),
            }
        }
        replies
            .pop()
            .ok_or_else(|| StoreError::Backend("no reply to a write".into()))
    }
}

/// The score a user's index entry is given when a record of `expires_at` is indexed at
/// `now`: one more lifetime beyond its expiry. The record keeps it in its `i` field, and
/// later writes that do not move the expiry past it (most of them: a rolling session moves
/// it by the time since the previous write) need not write the index again.
fn index_score(expires_at: u64, now: u64) -> u64 {
    expires_at.saturating_add(expires_at.saturating_sub(now))
}

fn is_noscript(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}

fn evalsha(script: &Script, key: String) -> Cmd {
    let mut cmd = ::redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(1).arg(key);
    cmd
}

/// How often an update or touch is sent again after the record's user turned out to differ
/// from the one indexed (a concurrent login) or its layout was upgraded.
const ATTEMPTS: usize = 8;

/// A user as the scripts take it: `=<user>`, or empty for none.
fn user_arg(user: Option<&str>) -> String {
    user.map(|u| format!("={u}")).unwrap_or_default()
}

impl RedisStore {
    /// Rewrites a record of the older layout as a hash (see [`decode_legacy`]). A record that
    /// changed meanwhile is left to the caller's next attempt.
    async fn migrate(&self, key: &StoreKey) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let record_key = self.record_key(key.as_str());
        let value: Option<Vec<u8>> = ::redis::cmd("GET")
            .arg(&record_key)
            .query_async(&mut conn)
            .await
            .map_err(legacy_read)?;
        let Some(value) = value else { return Ok(()) };
        let record = decode_legacy(&value)?;
        let mut invocation = self.scripts.migrate.key(record_key);
        invocation.arg(value);
        for (field, value) in encode(&record)? {
            invocation.arg(field).arg(value);
        }
        invocation
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

impl SessionStore for RedisStore {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let now = record.created_at;
            let mut fields = encode(record)?;
            let index = record.user.as_ref().map(|user| {
                let score = index_score(record.expires_at, now);
                fields.push(("i".to_owned(), score.to_string()));
                self.index_cmd(user, key, score, now)
            });
            let mut call = evalsha(&self.scripts.create, self.record_key(key.as_str()));
            call.arg(ttl_ms(record.expires_at, now));
            for (field, value) in &fields {
                call.arg(field).arg(value);
            }
            match self.write(index, call, Some(&self.scripts.create)).await? {
                Value::Int(1) => Ok(()),
                Value::Int(0) => Err(StoreError::Conflict),
                other => Err(unexpected("create", &other)),
            }
        })
    }

    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(async move {
            let record_key = self.record_key(key.as_str());
            let fields: Result<Vec<(Vec<u8>, Vec<u8>)>, _> = ::redis::cmd("HGETALL")
                .arg(&record_key)
                .query_async(&mut self.conn())
                .await;
            let record = match fields {
                Ok(fields) => decode(fields)?,
                // Written by an older version: one more round trip, until its next write.
                Err(error) if is_wrong_type(&error) => {
                    let value: Option<Vec<u8>> = ::redis::cmd("GET")
                        .arg(&record_key)
                        .query_async(&mut self.conn())
                        .await
                        .map_err(legacy_read)?;
                    value.map(|v| decode_legacy(&v)).transpose()?
                }
                Err(error) => return Err(backend(error)),
            };
            Ok(record.filter(|r| r.expires_at > now))
        })
    }

    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        Box::pin(async move {
            let user = match &patch.user {
                None => String::new(),
                Some(None) => "-".to_owned(),
                Some(Some(user)) => format!("={user}"),
            };
            let mut values = Vec::with_capacity(patch.entries.len());
            for (key, value) in &patch.entries {
                values.push((
                    key,
                    value.as_ref().map(json).transpose()?.unwrap_or_default(),
                ));
            }
            // The user to index before writing: the one the patch sets (a login); otherwise
            // none, unless the script says the record's index does not cover the new expiry.
            let mut indexed = patch.user.clone().flatten();
            let ttl = ttl_ms(patch.expires_at, now);
            let score = index_score(patch.expires_at, now);
            for _ in 0..ATTEMPTS {
                let index = indexed
                    .as_deref()
                    .map(|user| self.index_cmd(user, key, score, now));
                let mut call = evalsha(&self.scripts.update, self.record_key(key.as_str()));
                call.arg(now)
                    .arg(patch.expires_at)
                    .arg(ttl)
                    .arg(if patch.replace { "1" } else { "0" })
                    .arg(&user)
                    .arg(user_arg(indexed.as_deref()))
                    .arg(score)
                    .arg(
                        patch
                            .max_size
                            .map(|max| max.to_string())
                            .unwrap_or_default(),
                    );
                for (key, value) in &values {
                    call.arg(key.as_str()).arg(value);
                }
                match self.write(index, call, Some(&self.scripts.update)).await? {
                    Value::Int(1) => return Ok(Update::Saved),
                    Value::Int(0) => return Ok(Update::Gone),
                    Value::Int(-1) => return Err(corrupt()),
                    Value::Int(-2) => self.migrate(key).await?,
                    Value::Array(reply) => match reply.as_slice() {
                        [Value::Int(size)] => {
                            let size = usize::try_from(*size).map_err(|_| corrupt())?;
                            return Ok(Update::TooLarge { size });
                        }
                        _ => return Err(unexpected("update", &Value::Array(reply))),
                    },
                    Value::BulkString(bytes) => {
                        indexed = Some(String::from_utf8(bytes).map_err(|_| corrupt())?);
                    }
                    other => return Err(unexpected("update", &other)),
                }
            }
            Err(StoreError::Backend(
                "the session's user kept changing during an update".into(),
            ))
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
            let score = index_score(expires_at, now);
            // First try without a user: touches an anonymous record, or one whose index
            // covers the new expiry; returns the user of one whose index does not,
            // untouched, so that its index is updated first.
            let mut indexed: Option<String> = None;
            for _ in 0..ATTEMPTS {
                let index = indexed
                    .as_deref()
                    .map(|user| self.index_cmd(user, key, score, now));
                let mut call = evalsha(&self.scripts.touch, self.record_key(key.as_str()));
                call.arg(expires_at)
                    .arg(now)
                    .arg(ttl)
                    .arg(user_arg(indexed.as_deref()))
                    .arg(score);
                match self.write(index, call, Some(&self.scripts.touch)).await? {
                    Value::Int(1) => return Ok(true),
                    Value::Int(0) => return Ok(false),
                    Value::Int(-1) => return Err(corrupt()),
                    Value::Int(-2) => self.migrate(key).await?,
                    Value::BulkString(bytes) => {
                        indexed = Some(String::from_utf8(bytes).map_err(|_| corrupt())?);
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
            let mut del = ::redis::cmd("DEL");
            del.arg(self.record_key(key.as_str()));
            match self.write(None, del, None).await? {
                Value::Int(_) => Ok(()),
                other => Err(unexpected("delete", &other)),
            }
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
            let delete = |key: &str| {
                let mut cmd = ::redis::cmd("EVAL");
                cmd.arg(&self.scripts.delete_if_user)
                    .arg(1)
                    .arg(self.record_key(key))
                    .arg(user)
                    .arg(&marker);
                cmd
            };
            // The records live in other slots than the index (and than each other): on one
            // server they go in one pipeline, on a cluster one by one, each to its own node.
            let replies: Vec<Value> = match conn {
                Connection::Single(_) => {
                    let mut pipe = ::redis::pipe();
                    for key in &keys {
                        pipe.add_command(delete(key));
                    }
                    pipe.query_async(&mut conn).await.map_err(backend)?
                }
                Connection::Cluster(_) => {
                    let mut replies = Vec::with_capacity(keys.len());
                    for key in &keys {
                        replies.push(delete(key).query_async(&mut conn).await.map_err(backend)?);
                    }
                    replies
                }
            };
            let mut gone = Vec::new();
            for (key, reply) in keys.iter().zip(&replies) {
                match reply {
                    Value::Int(1) => gone.push(key),
                    Value::Int(_) => {}
                    other => return Err(unexpected("delete", other)),
                }
            }
            // Only the entries of records this call deleted leave the index, after the
            // deletes: a record that was missing or had another user may be (re)written for
            // this user meanwhile, with its entry written just before it, which must stay.
            // Those entries leave when their score passes (pruned on every index write).
            if !gone.is_empty() {
                ::redis::cmd("ZREM")
                    .arg(&index)
                    .arg(&gone)
                    .query_async::<i64>(&mut conn)
                    .await
                    .map_err(backend)?;
            }
            Ok(gone.len() as u64)
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
            let mut call = evalsha(&self.scripts.revoke, self.revocation_key(user));
            call.arg(at).arg(until).arg(ttl);
            match self.write(None, call, Some(&self.scripts.revoke)).await? {
                Value::Int(1) => Ok(()),
                other => Err(unexpected("revoke", &other)),
            }
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

    fn bytes(fields: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        fields
            .iter()
            .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn records_keep_the_layout_the_scripts_match() {
        let record = Record {
            data: serde_json::json!({"b": 1, "a": {"expires_at": 0}, "n": 18446744073709551615u64, "f": 0.1})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            version: 7,
            created_at: 10,
            expires_at: 20,
            user: Some("al\"ice".into()),
        };
        let fields = encode(&record).unwrap_or_default();
        let shown: Vec<(&str, &str)> = fields
            .iter()
            .map(|(f, v)| (f.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("v", "7"),
                ("c", "10"),
                ("e", "20"),
                ("n", "4"),
                ("u", "al\"ice"),
                ("d:b", "1 1"),
                ("d:a", r#"2 {"expires_at":0}"#),
                ("d:n", "3 18446744073709551615"),
                ("d:f", "4 0.1"),
            ]
        );
        // Read back in the session's order, whatever order the hash gives its fields in.
        let mut shuffled = bytes(&shown);
        shuffled.reverse();
        assert_eq!(decode(shuffled).ok(), Some(Some(record)));
        assert_eq!(decode(Vec::new()).ok(), Some(None));
        for bad in [
            &[("v", "1"), ("c", "0")][..],
            &[("v", "x"), ("c", "0"), ("e", "1")],
            &[("v", "1"), ("c", "0"), ("e", "1"), ("d:a", "1")],
            &[("v", "1"), ("c", "0"), ("e", "1"), ("d:a", "1 {")],
            &[("v", "1"), ("c", "0"), ("e", "1"), ("zz", "1")],
        ] {
            assert!(
                matches!(decode(bytes(bad)), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn records_of_the_older_layout_are_read() {
        let text = r#"{"version":7,"created_at":10,"expires_at":20,"user":"al\"ice","data":{"b":1,"a":2}}"#;
        let Ok(record) = decode_legacy(text.as_bytes()) else {
            panic!("an older record is read")
        };
        assert_eq!(record.data.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(record.user.as_deref(), Some("al\"ice"));
        assert!(
            text[r#"{"version":7,"created_at":10,"expires_at":20"#.len()..]
                .starts_with(&user_marker("al\"ice"))
        );
        assert!(matches!(
            decode_legacy(b"{\"version\":1"),
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
