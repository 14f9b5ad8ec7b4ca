//! Sessions backed by a [`SessionStore`]: store mode (the cookie holds only a sealed id) and
//! cookie mode with a revocation check, or migrating from an express-session store.
//! Everything here is asynchronous; cookie mode without a store never comes here.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use serde_json::Value;

use super::express_session::{self, ExpressBackend};
use super::migrate::{self, Migration};
use super::state::{Current, Origin, RecordMeta};
use super::write::Writer;
use super::{finish_cookie, limit, utf8_headers, Outcome, SessionError, Shared};
use crate::cookie::{CookieAttributes, MAX_COOKIE_LIFETIME};
use crate::format::{Data, Rejection, Timestamps, Unsealed};
use crate::store::{OutagePolicy, Record, SessionId, SessionStore, StoreError, Update};
use crate::time::unix_secs;

/// How many times `create` is retried with a fresh id after a collision.
const CREATE_ATTEMPTS: usize = 4;
/// The key of the session id inside a store-mode cookie.
const ID_FIELD: &str = "sid";

/// Where sessions live.
pub(crate) enum Backend {
    /// In the cookie.
    Cookie,
    /// In the cookie, with a per-user not-before time kept in a store.
    Revocable(StoreBackend),
    /// In a store; the cookie holds the sealed id.
    Store(StoreBackend),
    /// In an express-session store; the cookie is express-session's signed sid.
    ExpressSession(Box<ExpressBackend>),
}

/// A store and how to use it.
pub(crate) struct StoreBackend {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) outage: OutagePolicy,
    pub(crate) ids: Arc<dyn Fn() -> SessionId + Send + Sync>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Cookie => f.write_str("Cookie"),
            Backend::Revocable(b) => write!(f, "Revocable({:?})", b.outage),
            Backend::Store(b) => write!(f, "Store({:?})", b.outage),
            Backend::ExpressSession(b) => write!(f, "ExpressSession({:?})", b.outage),
        }
    }
}

impl Backend {
    /// Whether loading needs a store round trip (and so `Session::load`).
    pub(crate) fn is_async(&self) -> bool {
        !matches!(self, Backend::Cookie)
    }
}

/// The user a session belongs to: the string or number at the configured key.
pub(crate) fn user_of(data: &Data, user_key: &str) -> Option<String> {
    match data.get_value(user_key)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a store failure does to the request, by policy: fail (503), or go on anonymously.
pub(super) fn outage(
    shared: &Shared,
    backend: &StoreBackend,
    error: StoreError,
) -> Result<Current, SessionError> {
    // The operator sees the backend's words; the client never does.
    shared.metrics.store_error();
    tracing::error!(%error, "session store unavailable");
    match backend.outage {
        OutagePolicy::Fail => Err(SessionError::Store(error)),
        OutagePolicy::Anonymous => Ok(Current {
            anonymous: true,
            ..Current::fresh()
        }),
    }
}

/// Loads the session of a request: the cookies first (no store call for a missing, forged,
/// malformed or expired cookie), then the record or the revocation time. Among cookies of the
/// name, the first that passes every check serves (see [`super::open`]): one refused here is
/// skipped for the next, so a planted cookie of a destroyed or revoked session cannot shadow
/// a valid one. At most [`MAX_CANDIDATES`](super::open::MAX_CANDIDATES) authentic cookies are
/// examined, so at most that many store round trips are made.
pub(crate) async fn load(
    shared: &Shared,
    cookies: &[HeaderValue],
) -> Result<Current, SessionError> {
    if let Backend::ExpressSession(backend) = &shared.backend {
        return express_session::load(shared, backend, cookies).await;
    }
    let headers = utf8_headers(cookies);
    let mut opening = shared.opening(headers.clone());
    while let Some(loaded) = opening.next_valid() {
        match check(shared, loaded).await? {
            Ok(current) => return Ok(shared.served(current, headers)),
            Err(reason) => opening.reject(reason),
        }
    }
    let current = shared.migrate(headers.clone(), opening.rejection());
    let current = migrate::migrate_stored(shared, headers, current).await?;
    migrate::check_revocation(shared, current).await
}

/// The store's checks of one authentic, unexpired cookie: its session, why it does not serve,
/// or a store failure the outage policy did not absorb.
async fn check(
    shared: &Shared,
    loaded: Unsealed,
) -> Result<Result<Current, Rejection>, SessionError> {
    let now = unix_secs(shared.now());
    match &shared.backend {
        // express-session mode never comes here: `load` hands it over first.
        Backend::Cookie | Backend::ExpressSession(_) => Ok(Ok(Current::from_cookie(loaded))),
        Backend::Revocable(backend) => {
            let (Some(user), Some(times)) = (user_of(&loaded.data, &shared.user_key), loaded.times)
            else {
                return Ok(Ok(Current::from_cookie(loaded)));
            };
            match backend.store.revoked_before(&user, now).await {
                Ok(Some(at)) if times.created_at < at => Ok(Err(Rejection::Revoked)),
                Ok(_) => Ok(Ok(Current::from_cookie(loaded))),
                Err(error) => outage(shared, backend, error).map(Ok),
            }
        }
        Backend::Store(backend) => {
            // The id was sealed by us, but is still checked before any store call
            // (docs/SECURITY-CHECKLIST.md item 44).
            let Some(id) = loaded
                .data
                .get::<String>(ID_FIELD)
                .and_then(Result::ok)
                .as_deref()
                .and_then(SessionId::parse)
            else {
                return Ok(Err(Rejection::BadPayload));
            };
            match backend.store.load(&id.store_key(), now).await {
                Ok(Some(record)) => Ok(Ok(Current::from_record(&loaded, id, record))),
                // Expired, destroyed or revoked: a new session, under a new id when written.
                Ok(None) => Ok(Err(Rejection::UnknownSession)),
                // A record the store holds but cannot read (written by hand, or by another
                // program) is bad input, not an outage: answering 503 would lock the visitor
                // out, logout included, until the cookie expires. The session starts afresh
                // under a new id, and the record is left as it is for the operator.
                Err(StoreError::Corrupt(reason)) => {
                    shared.metrics.store_error();
                    tracing::error!(
                        %reason,
                        "unreadable session record: a new session is started, the record is left as it is"
                    );
                    Ok(Err(Rejection::UnknownSession))
                }
                Err(error) => outage(shared, backend, error).map(Ok),
            }
        }
    }
}

/// Finishes a store-backed or revocable session when the response leaves.
pub(crate) async fn finish(
    shared: Arc<Shared>,
    state: Option<Current>,
    cookies: Vec<HeaderValue>,
    attrs: CookieAttributes,
    lifetime_set: bool,
    secure: bool,
) -> Outcome {
    let current = match state {
        Some(current) => current,
        // `rolling`: load the session the handler never touched, to re-issue it.
        None => match load(&shared, &cookies).await {
            Ok(current) => current,
            Err(error) => return failed(error),
        },
    };
    if current.anonymous {
        return Outcome::touched();
    }
    // Cookie mode comes here when a source to migrate from is in a store.
    let present = match shared.backend {
        Backend::Cookie => shared.present(&cookies),
        _ => Default::default(),
    };
    let writer = Writer::new(&shared, &attrs, lifetime_set, secure, present);
    let migration = Migration::at_finish(&current);
    let mut outcome = match &shared.backend {
        Backend::Store(backend) => finish_store(&shared, backend, &writer, current).await,
        // express-session mode is finished by `express_session::finish_request`, never here.
        Backend::ExpressSession(_) => Outcome::touched(),
        Backend::Cookie | Backend::Revocable(_) => finish_cookie(&shared, &writer, &current),
    };
    shared.clear_legacy(migration, &attrs, secure, &mut outcome);
    outcome
}

fn failed(error: SessionError) -> Outcome {
    Outcome {
        touched: true,
        set_cookies: Vec::new(),
        error: Some(error),
    }
}

async fn finish_store(
    shared: &Shared,
    backend: &StoreBackend,
    writer: &Writer<'_>,
    current: Current,
) -> Outcome {
    let store = &backend.store;
    let now = writer.now_secs();
    // Before anything is deleted: a session too large to store leaves every record as it is.
    if let Err(error) = check_size(shared, &current) {
        return failed(error);
    }
    for key in &current.doomed {
        if let Err(error) = store.delete(key).await {
            return store_failed(shared, error);
        }
    }
    match &current.origin {
        Origin::Destroyed => writer.clear(),
        Origin::New if current.data.is_empty() => Outcome::touched(),
        Origin::New => {
            for _ in 0..CREATE_ATTEMPTS {
                let id = (backend.ids)();
                let record = Record {
                    data: current.data.to_map(),
                    version: 1,
                    created_at: now,
                    expires_at: writer.fresh_expiry(now),
                    user: user_of(&current.data, &shared.user_key),
                };
                match store.create(&id.store_key(), &record).await {
                    Ok(()) => return issue(shared, writer, &id, now, record.expires_at),
                    // Never an overwrite: another id (docs/SECURITY-CHECKLIST.md item 45).
                    Err(StoreError::Conflict) => {
                        tracing::warn!("session id collision; retrying with a fresh id")
                    }
                    Err(error) => return write_failed(shared, backend, error),
                }
            }
            store_failed(
                shared,
                StoreError::Backend("no free session id after retries".into()),
            )
        }
        Origin::Cookie {
            key_index,
            record: Some(meta),
            ..
        } => {
            let reissue = *key_index > 0 || shared.rolling;
            if current.changes.is_empty() {
                return refresh(shared, store, writer, meta, reissue).await;
            }
            let expires_at = writer.expiry_after(meta.expires_at, meta.created_at);
            // Only this request's changes go to the store, which applies them to the record
            // as it is then, atomically: a concurrent write is waited for, never lost.
            let patch = current
                .changes
                .patch(&current.data, &shared.user_key, expires_at)
                .with_if_unchanged(Record {
                    data: current.data.to_map(),
                    version: meta.version,
                    created_at: meta.created_at,
                    expires_at,
                    user: user_of(&current.data, &shared.user_key),
                })
                // The store merges other writers' keys in: the merged record is checked too.
                .with_max_size(shared.max_session_size);
            match store.update(&meta.id.store_key(), &patch, now).await {
                Ok(Update::Saved) if reissue || writer.has_lifetime() => {
                    issue(shared, writer, &meta.id, meta.created_at, expires_at)
                }
                Ok(Update::Saved) => Outcome::touched(),
                // Destroyed or expired meanwhile: a request that started before the logout
                // must not bring the session back (rack-session CVE-2025-46336).
                Ok(Update::Gone) => Outcome::touched(),
                // Our changes on top of another writer's did not fit: nothing was written.
                Ok(Update::TooLarge { size }) => {
                    shared.metrics.oversized();
                    failed(SessionError::SessionTooLarge {
                        size,
                        limit: shared.max_session_size,
                    })
                }
                Err(error) => write_failed(shared, backend, error),
            }
        }
        Origin::Cookie { record: None, .. } => Outcome::touched(),
    }
}

/// The size check of a session that will write its data to a record: a new, populated one,
/// or a loaded one with changes (an unchanged one is only touched, never rewritten).
fn check_size(shared: &Shared, current: &Current) -> Result<(), SessionError> {
    let writes = match &current.origin {
        Origin::New => !current.data.is_empty(),
        Origin::Cookie {
            record: Some(_), ..
        } => !current.changes.is_empty(),
        Origin::Cookie { record: None, .. } | Origin::Destroyed => false,
    };
    if writes {
        limit::check(shared, &current.data.as_map())
    } else {
        Ok(())
    }
}

/// An unchanged session: refresh its idle expiry with a `touch` once half of it has passed
/// (so a busy session costs one touch per half-window, not one per request), and re-issue the
/// cookie when the key rotated or `rolling` asks.
async fn refresh(
    shared: &Shared,
    store: &Arc<dyn SessionStore>,
    writer: &Writer<'_>,
    meta: &RecordMeta,
    reissue: bool,
) -> Outcome {
    let now = writer.now_secs();
    let fresh = writer.fresh_expiry(meta.created_at);
    let left = meta.expires_at.saturating_sub(now);
    let mut touched = false;
    let mut expires_at = meta.expires_at;
    if fresh > meta.expires_at && left < writer.idle_secs() / 2 {
        match store.touch(&meta.id.store_key(), fresh, now).await {
            Ok(true) => {
                touched = true;
                expires_at = fresh;
            }
            Ok(false) => return Outcome::touched(),
            Err(error) => return store_failed(shared, error),
        }
    }
    if reissue || (touched && writer.has_lifetime()) {
        issue(shared, writer, &meta.id, meta.created_at, expires_at)
    } else {
        Outcome::touched()
    }
}

/// A failed create or update: under [`OutagePolicy::Anonymous`] the response goes on without
/// the write (and without a cookie), as a request that could not load goes on anonymously.
/// Deletes (`destroy`, `regenerate`) are not covered: a logout that did not happen must not
/// look like one.
fn write_failed(shared: &Shared, backend: &StoreBackend, error: StoreError) -> Outcome {
    match backend.outage {
        OutagePolicy::Fail => store_failed(shared, error),
        OutagePolicy::Anonymous => {
            shared.metrics.store_error();
            tracing::error!(%error, "session store unavailable; the change is not saved");
            Outcome::touched()
        }
    }
}

fn store_failed(shared: &Shared, error: StoreError) -> Outcome {
    shared.metrics.store_error();
    tracing::error!(%error, "session store unavailable");
    failed(error.into())
}

/// The cookie of a store-mode session: the sealed id. Its own expiry is generous (the
/// absolute deadline, or the 400-day cookie cap): the record's expiry (`record_expires_at`)
/// is the one that counts, and the browser keeps the cookie as long as a lifetime an earlier
/// response chose keeps the record (`Writer::kept_expiry`).
fn issue(
    shared: &Shared,
    writer: &Writer<'_>,
    id: &SessionId,
    created_at: u64,
    record_expires_at: u64,
) -> Outcome {
    let now = writer.now_secs();
    let payload = serde_json::json!({ ID_FIELD: id.as_str() });
    let canonical = serde_json::to_vec(&payload).unwrap_or_default();
    let cap = now.saturating_add(MAX_COOKIE_LIFETIME.as_secs());
    let expires_at = shared.time.deadline(created_at).min(cap);
    let previous = Timestamps {
        created_at,
        issued_at: now,
        expires_at: record_expires_at,
    };
    writer.write(&canonical, Some(previous), Some(expires_at))
}
