//! Server-side session stores: the cookie carries only a sealed session id, the data lives in a
//! [`SessionStore`]. The [`Session`](crate::Session) API, its flags, per-request options and
//! `Set-Cookie` rules are the same as in cookie mode; handlers do not change.
//!
//! # What every store promises
//!
//! - **Ids** are 192 bits from the operating system's CSPRNG ([`SessionId::generate`]); records
//!   are keyed by the SHA-256 of the id ([`StoreKey`]), so a dump of the store holds no usable
//!   cookie. A cookie whose id has no live record starts a new session under a *new* id: an id
//!   the server never issued is never adopted.
//! - **Create is not save:** [`SessionStore::create`] refuses an existing key
//!   ([`StoreError::Conflict`]); the layer retries with a fresh id and never overwrites.
//! - **No lost updates:** a request hands the store only what it changed (a [`Patch`]: keys
//!   set or removed, or a whole replacement) and the store applies it to the record as it is
//!   *now*, atomically ([`SessionStore::update`]): concurrent requests changing different keys
//!   all keep their changes, and contention costs waiting, never an error. A request that only
//!   read writes nothing. A request that started before `destroy()` finds the record gone and
//!   does not bring it back.
//! - **Expiry** is checked on every load (a record the backend has not evicted yet is still
//!   expired). The idle expiry is refreshed by [`SessionStore::touch`], and never past the
//!   absolute lifetime.
//! - **Revocation:** [`SessionStore::delete_user`] ends every session of a user, and
//!   [`SessionStore::revoke_user`]/[`SessionStore::revoked_before`] give cookie-mode sessions a
//!   per-user not-before time.
//!
//! # Writing a backend
//!
//! Implement [`SessionStore`]; map the backend's errors to [`StoreError::Backend`] (their text
//! goes to the operator's logs, never to the client); check it in your tests with
//! `testing::check_store` (feature `testing`), the contract every store here passes
//! (`tests/store_check.rs`). This repository's own stores also run the layer-level suite of
//! `tests/store_conformance.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use base64::Engine as _;
use rand::RngCore as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

mod patch;
pub(crate) use patch::json_len;
pub use patch::Patch;

#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "memory")]
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
mod express_outcome;
pub use self::express_outcome::{Loaded as ExpressLoaded, Saved as ExpressSaved};
mod express_store;
pub use self::express_store::ExpressSessionStore;
#[cfg(feature = "postgres")]
mod express_pg;
#[cfg(feature = "postgres")]
pub use self::express_pg::ExpressPgStore;
#[cfg(feature = "redis")]
mod express_redis;
#[cfg(feature = "redis")]
pub use self::express_redis::ExpressRedisStore;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod cleanup;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use cleanup::{spawn_cleanup, CleanupTask};

/// A boxed future, as the store trait returns (so stores can be used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The length of a session id in bytes before encoding: 192 bits (ASVS 7.2.3 asks ≥ 128).
pub const SESSION_ID_BYTES: usize = 24;
/// The length of an encoded session id: base64url without padding.
pub const SESSION_ID_LEN: usize = 32;

/// A session id, as the cookie carries it (inside the sealed cookie value). Never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// A new id from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SESSION_ID_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SessionId(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Parses an id, refusing anything that is not exactly [`SESSION_ID_LEN`] base64url
    /// characters — before any store is asked (docs/SECURITY-CHECKLIST.md item 44).
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == SESSION_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .is_ok();
        well_formed.then(|| SessionId(text.to_owned()))
    }

    /// The id's text, for sealing into the cookie.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key its record is stored under.
    pub fn store_key(&self) -> StoreKey {
        StoreKey(hex(&Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SessionId {
    /// Never prints the id: it is as good as the cookie.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

/// The key a record is stored under: the lowercase hex SHA-256 of the session id (64 chars).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey(String);

impl StoreKey {
    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// A stored session.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The session data.
    pub data: Map<String, Value>,
    /// Bumped (wrapping) by every update: how many writes the record has seen.
    pub version: u64,
    /// When the session was created (Unix seconds).
    pub created_at: u64,
    /// When it expires unless touched (Unix seconds). Loads after it find nothing.
    pub expires_at: u64,
    /// Whose session it is, for [`SessionStore::delete_user`] (taken from the session key
    /// configured with `SessionConfig::user_key`).
    pub user: Option<String>,
}

/// The result of [`SessionStore::update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The patch was applied.
    Saved,
    /// The record is gone (destroyed, revoked or expired): nothing was written.
    Gone,
    /// The merged record's data would be larger than [`Patch::max_size`]: nothing was
    /// written. `size` is its length as JSON text (as [`Patch::oversize`] counts it).
    TooLarge {
        /// The merged data's length in bytes.
        size: usize,
    },
}

/// What a request does when the store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutagePolicy {
    /// Answer an opaque 503 (and log the error for the operator). The default: a session that
    /// cannot be read must not be mistaken for no session.
    #[default]
    Fail,
    /// Go on with an anonymous session that is never saved: pages that work without a login
    /// keep working; nothing the visitor had is overwritten. A write that fails (a new
    /// session, a change) is dropped, logged and counted, and no cookie is sent; a `destroy`
    /// or `regenerate` whose delete fails still answers 503, so that a logout that did not
    /// happen never looks like one.
    Anonymous,
}

/// A store failure. Its text is for the operator's logs; clients only ever see an opaque 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `create` found a record under that key already.
    #[error("a session record with that key exists")]
    Conflict,
    /// The backend failed (unreachable, timed out, refused).
    #[error("session store failure: {0}")]
    Backend(String),
    /// A stored record could not be read back.
    #[error("corrupt session record: {0}")]
    Corrupt(String),
}

/// A place to keep sessions. Every method is one round trip to the backend where the backend
/// allows it. `now` is Unix seconds, passed in so an injected clock drives expiry in tests.
///
/// Applications choose a store and hand it to [`SessionConfig::store`](crate::SessionConfig::store);
/// the layer calls these methods. Implement the trait to keep sessions elsewhere: records are
/// keyed by [`StoreKey`] (a hash of the session id, never the id), and `testing::check_store`
/// (feature `testing`) checks an implementation against this contract, as every store here is
/// checked.
///
/// # Examples
///
/// ```
/// use cookie_session::store::MemoryStore;
/// use cookie_session::{KeyRing, SessionConfig};
///
/// let keys = KeyRing::new(["a secret of at least thirty-two bytes!"])?;
/// // The cookie now holds a sealed session id; the data stays in the store.
/// let layer = SessionConfig::new(keys).store(MemoryStore::new()).build()?;
/// # let _ = layer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Every method returns a [`StoreError`]: [`StoreError::Backend`] when the backend cannot be
/// reached or refuses, [`StoreError::Corrupt`] when a stored record cannot be read back, and
/// from [`create`](Self::create), [`StoreError::Conflict`] when the key is taken. The layer
/// turns them into an opaque 503 (or an anonymous session, per [`OutagePolicy`]) and logs the
/// text for the operator; clients never see it.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new record; [`StoreError::Conflict`] when the key exists (live or expired but
    /// not evicted: an id is never reused).
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The live record under `key`: `None` when absent or expired at `now`.
    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>>;

    /// Applies `patch` to the record under `key` if it is live at `now`, **atomically**: the
    /// patch goes onto the record as it is at that moment (not as the request loaded it), as
    /// [`Patch::apply`] does — the keys set or removed, or the whole data replaced; the user
    /// set when the patch decides it; the expiry moved to `patch.expires_at`; the version
    /// bumped. Concurrent updates of one record take turns inside the store (a lock, a
    /// transaction, a server-side script): none is lost, none fails because another won.
    /// A record that is absent or expired is not written ([`Update::Gone`]): a session
    /// destroyed while a request ran stays destroyed. A merged record whose data is larger
    /// than [`Patch::max_size`] is not written either ([`Update::TooLarge`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when the stored
    /// record cannot be read; nothing is written then.
    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>>;

    /// Moves a live record's expiry to `expires_at` without rewriting it. `false` when gone.
    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Deletes the record (no error when absent).
    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Deletes every record of `user`; returns how many.
    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Records that every session of `user` issued before `at` is revoked (cookie mode), kept
    /// until `until` (when the longest such cookie has expired anyway).
    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        at: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The time before which `user`'s sessions are revoked, if any.
    fn revoked_before<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>>;

    /// Removes expired records for backends that do not evict by themselves; returns how many.
    fn cleanup(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_and_parse_back() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), SESSION_ID_LEN);
        assert_eq!(SessionId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.store_key().as_str().len(), 64);
        assert_ne!(a.store_key().as_str(), a.as_str());
        assert_eq!(format!("{a:?}"), "SessionId(..)");
    }

    #[test]
    fn malformed_ids_are_refused() {
        let good = SessionId::generate();
        for bad in [
            "",
            "short",
            &format!("{}A", good.as_str()),
            &good.as_str()[1..],
            "' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaa",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
            "ÀAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
    }
}
