//! The [`Session`] handle: Express's `req.session` and `req.sessionOptions`, in Rust.
//!
//! The handle is lazy: nothing is parsed, verified, decrypted or fetched until the session is
//! used, so a route that never touches it pays nothing. When the response leaves, the layer
//! asks the session what to send, following cookie-session's rules (docs/EXPRESS-COMPATIBILITY.md §3.3):
//!
//! | state at response time | `Set-Cookie` |
//! |---|---|
//! | never touched | none |
//! | new and empty | none |
//! | new and populated | written |
//! | loaded and unchanged | none (re-issued under the first key if an older key opened it, or always with `rolling`) |
//! | loaded and changed, including emptied | written |
//! | destroyed | a removal cookie with the same name, path, domain, secure and partitioned |

mod express_session;
mod limit;
mod migrate;
mod open;
mod persist;
mod pool;
mod shared;
mod state;
mod write;

use std::borrow::Borrow;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cookie::{utf8, CookieAttributes, CookieConfigError};
use crate::format::{express, Decoded, Format, Rejection, Timestamps};
use crate::store::StoreError;
use crate::time::from_unix_secs;

pub(crate) use express_session::ExpressBackend;
pub use express_session::ExpressSessionMode;
use migrate::Migration;
pub(crate) use migrate::{Opener, MAX_SOURCES};
pub(crate) use persist::{Backend, StoreBackend};
pub(crate) use pool::Pool;
use shared::utf8_headers;
pub(crate) use shared::{Parts, Shared};
use state::{Current, Origin};
use write::{Spare, Writer};

/// An error from the session. Its text never holds a key, a cookie value or session data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A value could not be turned into JSON (e.g. a map with non-string keys), or a session
    /// to store nests arrays and objects deeper than every store reads back (126 levels,
    /// the session's own map included): nothing was written.
    #[error("session value is not serializable as JSON: {0}")]
    Serialize(String),
    /// The sealed cookie is larger than the configured limit: nothing was sent, and the
    /// cookie the browser holds is still the previous, valid one.
    #[error("session cookie {name:?} would be {size} bytes, above the {limit}-byte limit; nothing was sent")]
    CookieTooLarge {
        /// The cookie's name.
        name: String,
        /// The size of its `name=value`.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The session is too large to store: its JSON text is longer than
    /// [`SessionConfig::max_session_size`](crate::SessionConfig::max_session_size). Nothing
    /// was written: the stored record and the browser's cookie are the previous ones.
    #[error("session data would be {size} bytes stored, above the {limit}-byte limit; nothing was written")]
    SessionTooLarge {
        /// The length of the session's JSON text.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The session store failed. Clients get an opaque 503; this text is for the logs.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A session backed by a store (or a revocation check) was used without
    /// [`Session::load`]: its record was never read, so nothing it held was seen and nothing
    /// written to it is kept. The layer answers 500 rather than silently losing the writes;
    /// call `load` first (the axum extractor does).
    #[error("session used before `Session::load` with a store: call `load().await` first")]
    NotLoaded,
}

/// A handle on the current request's session. Cheap to clone: every clone is the same session.
///
/// Get it from the request extensions (the layer puts it there), or with the axum extractor.
/// With a server-side store, or revocation checks, call [`Session::load`] once before use (the
/// axum extractor does it for you).
///
/// # Examples
///
/// ```
/// # use cookie_session::Session;
/// fn count_visit(session: &Session) -> u64 {
///     let views = session.get::<u64>("views").unwrap_or(0) + 1;
///     session.insert("views", views).expect("a u64 is JSON");
///     views
/// }
/// ```
///
/// # Errors
///
/// Reading never fails: a missing key, or a value of another type, is `None`
/// ([`try_get`](Self::try_get) tells the two apart). [`insert`](Self::insert) fails with
/// [`SessionError::Serialize`] when the value is not JSON (a map with non-string keys, say), and
/// [`load`](Self::load) with [`SessionError::Store`] when the store cannot be reached. A
/// session too large for its cookie is reported at the end of the request, by the layer (see
/// [`SessionError::CookieTooLarge`]).
#[derive(Clone)]
pub struct Session(Arc<Mutex<Inner>>);

impl std::fmt::Debug for Session {
    /// Prints the session's flags, never its data, id or cookie.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        let mut s = f.debug_struct("Session");
        match &inner.state {
            None => s.field("loaded", &false),
            Some(current) => s
                .field("loaded", &true)
                .field("new", &matches!(current.origin, Origin::New))
                .field("destroyed", &matches!(current.origin, Origin::Destroyed))
                .field("keys", &current.data.len()),
        };
        s.finish()
    }
}

struct Inner {
    shared: Arc<Shared>,
    /// The request's `Cookie` header values, kept unparsed until first use.
    cookies: CookieHeaders,
    secure_request: bool,
    /// `None` until the session is first touched.
    state: Option<Current>,
    /// This response's cookie attributes, when the handler changed any.
    overrides: Option<CookieAttributes>,
    /// The handler chose this response's lifetime ([`Session::set_max_age`], or an
    /// [`Session::update_cookie`] that changed `max_age` or `expires`): the write does not keep
    /// a longer one an earlier response chose (see `Writer::kept_expiry`).
    lifetime_set: bool,
    /// `load` failed (store outage): the response depended on the cookie all the same.
    load_failed: bool,
    /// A store-backed session was read or written before `load`.
    used_unloaded: bool,
    /// How many times `destroy` was called in this request (see [`Session::destroys`]).
    destroys: u32,
    /// Buffers of the last cookie written through this handle (see [`Pool`]).
    spare: Spare,
}

/// What the layer must do to the response.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The session was read or written: the response varies with the `Cookie` header.
    pub(crate) touched: bool,
    /// `Set-Cookie` values, in order.
    pub(crate) set_cookies: Vec<String>,
    /// A cookie could not be sent, or the store failed.
    pub(crate) error: Option<SessionError>,
}

impl Outcome {
    fn touched() -> Self {
        Outcome {
            touched: true,
            ..Outcome::default()
        }
    }
}

/// How the session finishes: at once (cookie mode) or after store round trips.
pub(crate) enum Finish {
    Ready(Outcome),
    Pending(Pin<Box<dyn Future<Output = Outcome> + Send>>),
}

/// A request's `Cookie` header values (reference-counted, not copied). Almost every request
/// has at most one `Cookie` line, which is kept without allocating a vector.
#[derive(Clone, Default)]
pub(crate) enum CookieHeaders {
    /// No `Cookie` header.
    #[default]
    None,
    /// One `Cookie` header.
    One(HeaderValue),
    /// Several `Cookie` headers, in order.
    Many(Vec<HeaderValue>),
}

impl CookieHeaders {
    /// The `Cookie` header values of a request.
    pub(crate) fn of(headers: &http::HeaderMap) -> Self {
        let mut values = headers.get_all(http::header::COOKIE).iter();
        match (values.next(), values.next()) {
            (None, _) => CookieHeaders::None,
            (Some(one), None) => CookieHeaders::One(one.clone()),
            (Some(first), Some(second)) => {
                CookieHeaders::Many([first, second].into_iter().chain(values).cloned().collect())
            }
        }
    }

    /// `Cookie` header values given as bytes, such as another `http` version's header
    /// values (actix-web's). Header values have the same rules in every version, so none is
    /// dropped in practice; one that did not fit would be skipped, never a panic.
    #[cfg(feature = "actix")]
    pub(crate) fn from_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut values = values
            .into_iter()
            .filter_map(|value| HeaderValue::from_bytes(value).ok());
        match (values.next(), values.next()) {
            (None, _) => CookieHeaders::None,
            (Some(one), None) => CookieHeaders::One(one),
            (Some(first), Some(second)) => {
                CookieHeaders::Many([first, second].into_iter().chain(values).collect())
            }
        }
    }

    fn as_slice(&self) -> &[HeaderValue] {
        match self {
            CookieHeaders::None => &[],
            CookieHeaders::One(value) => std::slice::from_ref(value),
            CookieHeaders::Many(values) => values,
        }
    }

    fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    fn into_vec(self) -> Vec<HeaderValue> {
        match self {
            CookieHeaders::None => Vec::new(),
            CookieHeaders::One(value) => vec![value],
            CookieHeaders::Many(values) => values,
        }
    }
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, cookies: CookieHeaders, secure_request: bool) -> Self {
        Session(Arc::new(Mutex::new(Inner::new(
            shared,
            cookies,
            secure_request,
        ))))
    }

    /// Readies an idle handle (see [`Pool`]) for a new request. An idle handle is unshared,
    /// so it is reached directly, without its lock.
    fn restart(&mut self, cookies: CookieHeaders, secure_request: bool) {
        let mut guard;
        let inner = match Arc::get_mut(&mut self.0) {
            Some(mutex) => mutex.get_mut().unwrap_or_else(PoisonError::into_inner),
            None => {
                guard = self.lock();
                &mut *guard
            }
        };
        inner.cookies = cookies;
        inner.secure_request = secure_request;
    }

    /// Drops what the finished request held, when this is the only handle on the session
    /// (no clone alive, the lock not poisoned): it can then serve another request. The
    /// emptied list of `Set-Cookie` values the layer was given is kept for the next response,
    /// unless the handle already keeps a larger one (a response that wrote nothing gives back
    /// an empty list).
    fn clear_if_unshared(&mut self, mut set_cookies: Vec<String>) -> bool {
        let Some(Ok(inner)) = Arc::get_mut(&mut self.0).map(Mutex::get_mut) else {
            return false;
        };
        // Field by field (cheaper than a new `Inner`); keeps `shared` and `spare`.
        let Inner {
            shared: _,
            cookies,
            secure_request,
            state,
            overrides,
            lifetime_set,
            load_failed,
            used_unloaded,
            destroys,
            spare,
        } = inner;
        *cookies = CookieHeaders::None;
        *secure_request = false;
        if set_cookies.capacity() > spare.cookies.capacity() {
            set_cookies.clear();
            spare.cookies = set_cookies;
        }
        if let Some(current) = state {
            spare.decoded.keep(std::mem::take(&mut current.data));
        }
        *state = None;
        // What the next request finds holds nothing of this one's session.
        spare.wipe();
        *overrides = None;
        *lifetime_set = false;
        *load_failed = false;
        *used_unloaded = false;
        *destroys = 0;
        true
    }

    #[inline]
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A handler that panicked while holding the lock left consistent data behind: every
        // mutation is a single call on the map.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Current) -> R) -> R {
        let mut inner = self.lock();
        f(inner.current())
    }

    /// Loads the session now: verifies the cookie and, with a server-side store or revocation
    /// checks, fetches the record. Idempotent. The axum extractor calls it; plain tower users
    /// call it before reading a store-backed session.
    ///
    /// Fails only when the store is unreachable and the layer is configured to fail closed
    /// (the default); the layer then answers 503.
    pub async fn load(&self) -> Result<(), SessionError> {
        if self.load_without_store() {
            return Ok(());
        }
        let (shared, cookies) = {
            let inner = self.lock();
            (inner.shared.clone(), inner.cookies.clone())
        };
        // Boxed: the store's load is a large future (2 KB with its stores' states), and
        // unboxed it would sit in the future of every handler that extracts a session —
        // cookie mode too, where it never runs — copied each time axum boxes that future
        // (docs/PERFORMANCE.md, round five). With a store it is one allocation beside a
        // round trip.
        let current = match Box::pin(persist::load(&shared, cookies.as_slice())).await {
            Ok(current) => current,
            Err(error) => {
                self.lock().load_failed = true;
                return Err(error);
            }
        };
        let mut inner = self.lock();
        if inner.state.is_none() {
            inner.state = Some(current);
        }
        Ok(())
    }

    /// [`Session::load`] when it needs no store round trip: in cookie mode the session is
    /// loaded now (the decode is synchronous, under the lock). Returns whether the session is
    /// loaded; `false` leaves it to `load`.
    pub(crate) fn load_without_store(&self) -> bool {
        let mut inner = self.lock();
        if inner.state.is_some() {
            return true;
        }
        if inner.shared.is_async() {
            return false;
        }
        inner.current();
        true
    }

    /// The value at `key` as a `T`; `None` when absent or not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.with(|c| c.data.get(key).and_then(Result::ok))
    }

    /// The value at `key` as a `T`: `Ok(None)` when absent, an error when it is not a `T`.
    pub fn try_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, serde_json::Error> {
        self.with(|c| c.data.get(key).transpose())
    }

    /// The JSON value at `key`.
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.with(|c| c.data.get_value(key))
    }

    /// Stores `value` at `key`, replacing what was there. The key is any string type, copied
    /// into a `String` only when the session does not hold it yet.
    pub fn insert<T: Serialize>(
        &self,
        key: impl AsRef<str> + Into<String>,
        value: T,
    ) -> Result<(), SessionError> {
        let value =
            serde_json::to_value(value).map_err(|e| SessionError::Serialize(e.to_string()))?;
        self.insert_value(key, value);
        Ok(())
    }

    /// Stores a JSON value at `key`, replacing what was there. The key is copied into a
    /// `String` only when the session did not hold it yet.
    pub fn insert_value(&self, key: impl AsRef<str> + Into<String>, value: Value) {
        self.with(|c| {
            c.revive();
            c.dirty = true;
            c.track(key.as_ref());
            c.data.insert(key, value);
        })
    }

    /// Removes `key`, returning its value. Later keys keep their order (what JavaScript's
    /// `delete` does, so the Express format stays byte-identical).
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.with(|c| {
            let removed = c.data.shift_remove(key);
            if removed.is_some() {
                c.dirty = true;
                c.track(key);
            }
            removed
        })
    }

    /// Removes every key. A loaded session is then written back empty; the cookie stays.
    pub fn clear(&self) {
        self.with(|c| {
            if !c.data.is_empty() {
                c.dirty = true;
                c.changes.replaced = true;
            }
            c.data.clear();
        })
    }

    /// Replaces the whole session with `data` (Express's `req.session = {…}`; the Express
    /// format drops the keys cookie-session never loads, docs/EXPRESS-COMPATIBILITY.md §1.2).
    pub fn replace(&self, data: Map<String, Value>) {
        let mut inner = self.lock();
        let express_session = matches!(inner.shared.backend, Backend::ExpressSession(_));
        let express = matches!(inner.shared.codec.format(), Format::Express(_)) && !express_session;
        let c = inner.current();
        c.revive();
        c.dirty = true;
        c.changes.replaced = true;
        c.data.set_map(if express {
            express::filter_reserved(data)
        } else if express_session {
            express_session::filter_reserved(data)
        } else {
            data
        });
    }

    /// Ends the session: the response clears the cookie (Express's `req.session = null`), and
    /// a store deletes the record. Writing to the session afterwards starts a new one, which
    /// is then sent instead (a flash message after logging out, say).
    pub fn destroy(&self) {
        let mut inner = self.lock();
        inner.destroys = inner.destroys.wrapping_add(1);
        let c = inner.current();
        {
            if let Some(record) = c.record() {
                let key = record.id.store_key();
                c.doomed.push(key);
            }
            c.data.clear();
            c.origin = Origin::Destroyed;
            c.dirty = true;
            c.changes = state::Changes::default();
        }
    }

    /// How many times [`destroy`](Self::destroy) was called in this request: a value read
    /// before a destroy belongs to the session that ended (see `extract::Typed`).
    #[cfg(any(feature = "axum", feature = "actix"))]
    pub(crate) fn destroys(&self) -> u32 {
        self.lock().destroys
    }

    /// Gives the session a new identity and keeps its data: call it when privileges change
    /// (at login) against session fixation. With a store, the data moves to a new id and the
    /// old record is deleted; in cookie mode a fresh cookie is issued (the previous cookie stays
    /// valid until it expires — cookie mode has no server state to revoke it without the
    /// revocation check).
    ///
    /// The CSRF token ([`Session::csrf_token`]) is dropped too, so the next one is new.
    pub fn regenerate(&self) {
        self.with(|c| {
            if let Some(record) = c.record() {
                let key = record.id.store_key();
                c.doomed.push(key);
            }
            c.data.shift_remove(crate::csrf::CSRF_KEY);
            c.origin = Origin::New;
            c.dirty = true;
            c.changes.replaced = true;
        })
    }

    /// The whole session as a `T` (a typed view), or `None` when it does not fit `T`.
    pub fn get_as<T: DeserializeOwned>(&self) -> Option<T> {
        self.with(|c| T::deserialize(&*c.data.as_map()).ok())
    }

    /// Replaces the whole session with `value`, which must serialize to a JSON object.
    /// Nothing is marked changed when the value equals the session.
    ///
    /// Keys `value` does not hold are removed, and with a store the whole record wins over a
    /// concurrent request's changes: to keep one typed value beside the session's other keys,
    /// use [`insert`](Self::insert) under a key of its own (what `extract::Typed` does).
    pub fn set_as<T: Serialize>(&self, value: &T) -> Result<(), SessionError> {
        match serde_json::to_value(value).map_err(|e| SessionError::Serialize(e.to_string()))? {
            Value::Object(map) => {
                if !self.with(|c| *c.data.as_map() == map) {
                    self.replace(map);
                }
                Ok(())
            }
            _ => Err(SessionError::Serialize(
                "a session must be a JSON object".to_owned(),
            )),
        }
    }

    /// A copy of the whole session.
    pub fn data(&self) -> Map<String, Value> {
        self.with(|c| c.data.to_map())
    }

    /// The keys, in order.
    pub fn keys(&self) -> Vec<String> {
        self.with(|c| c.data.keys())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.with(|c| c.data.contains_key(key))
    }

    /// How many keys the session holds.
    pub fn len(&self) -> usize {
        self.with(|c| c.data.len())
    }

    /// Whether the session holds no key.
    pub fn is_empty(&self) -> bool {
        self.with(|c| c.data.is_empty())
    }

    /// Express's `isNew`: no valid cookie came with the request (or the session was started
    /// again after `destroy` or `regenerate`).
    pub fn is_new(&self) -> bool {
        self.with(|c| matches!(c.origin, Origin::New))
    }

    /// Express's `isPopulated`: the session holds at least one key.
    pub fn is_populated(&self) -> bool {
        !self.is_empty()
    }

    /// Whether `destroy` was called (and nothing written since).
    pub fn is_destroyed(&self) -> bool {
        self.with(|c| matches!(c.origin, Origin::Destroyed))
    }

    /// Express's `isChanged`: new, destroyed, or different from what was loaded.
    pub fn is_changed(&self) -> bool {
        let mut inner = self.lock();
        // The shared configuration, not a copy of the codec (which holds every key's state).
        let shared = inner.shared.clone();
        let c = inner.current();
        if let Some(changed) = c.express_changed() {
            return changed;
        }
        match &c.origin {
            Origin::New | Origin::Destroyed => true,
            Origin::Cookie {
                record: Some(_), ..
            } => !c.changes.is_empty(),
            Origin::Cookie { .. } => shared.codec.canonical_of(&c.data) != c.loaded_canonical(),
        }
    }

    /// Which key of the ring opened the request's cookie (0 = the current one).
    pub fn key_index(&self) -> Option<usize> {
        self.with(|c| match c.origin {
            Origin::Cookie { key_index, .. } => Some(key_index),
            _ => None,
        })
    }

    /// When the request's cookie was sealed (native formats).
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.times().map(|t| from_unix_secs(t.issued_at))
    }

    /// When the session stops being accepted by the server: the cookie's authenticated expiry
    /// (native formats), the record's idle expiry (store mode), or the record's
    /// `cookie.expires` (express-session mode, as loaded; `None` for a browser-session
    /// cookie, which its store's TTL alone ends).
    pub fn expires_at(&self) -> Option<SystemTime> {
        match self.times() {
            Some(times) => Some(from_unix_secs(times.expires_at)),
            None => self.with(|c| c.express_expires_at()),
        }
    }

    /// When the session was first issued (native formats and store mode; express-session
    /// records do not keep it).
    pub fn created_at(&self) -> Option<SystemTime> {
        self.times().map(|t| from_unix_secs(t.created_at))
    }

    fn times(&self) -> Option<Timestamps> {
        self.with(|c| match &c.origin {
            Origin::Cookie {
                record: Some(record),
                times,
                ..
            } => Some(Timestamps {
                created_at: record.created_at,
                issued_at: times.map_or(record.created_at, |t| t.issued_at),
                expires_at: record.expires_at,
            }),
            Origin::Cookie { times, .. } => *times,
            _ => None,
        })
    }

    /// Why the request's cookie was refused (tampered, expired, unknown key…), if it was.
    pub fn rejection(&self) -> Option<Rejection> {
        self.with(|c| c.rejection)
    }

    /// The cookie attributes this response will use.
    pub fn cookie_attributes(&self) -> CookieAttributes {
        let inner = self.lock();
        inner
            .overrides
            .clone()
            .unwrap_or_else(|| inner.shared.attributes.clone())
    }

    /// Changes the cookie's attributes for this response only (Express's `req.sessionOptions`):
    /// the next response that writes the session goes back to the configuration, except a
    /// longer lifetime (`max_age`, `expires`) chosen here, which lasts as
    /// [`set_max_age`](Self::set_max_age) says.
    /// The change is checked with the same rules as the configuration; an invalid one is
    /// refused and nothing changes. An override alone does not cause a write (as in Express):
    /// it applies when the session is written. A lifetime (`max_age`, `expires`) longer than
    /// the layer's [`max_lifetime`](crate::SessionConfig::max_lifetime) is cut to it.
    pub fn update_cookie(
        &self,
        f: impl FnOnce(&mut CookieAttributes),
    ) -> Result<(), CookieConfigError> {
        let mut inner = self.lock();
        let mut attrs = inner
            .overrides
            .clone()
            .unwrap_or_else(|| inner.shared.attributes.clone());
        let lifetime = (attrs.max_age, attrs.expires);
        f(&mut attrs);
        attrs.validate(inner.shared.codec.name())?;
        inner.lifetime_set |= (attrs.max_age, attrs.expires) != lifetime;
        inner.overrides = Some(attrs);
        Ok(())
    }

    /// This response's `Max-Age` (`None`: a browser-session cookie), clamped to 400 days and
    /// to the layer's [`max_lifetime`](crate::SessionConfig::max_lifetime) (by default the
    /// configured lifetime: an override can shorten a session, never lengthen it).
    ///
    /// **A lifetime longer than the configured one lasts** (native formats): a later response
    /// that writes the session without choosing one — a changed value, a flash message taken,
    /// a CSRF token made, a key rotation, a `rolling` refresh — keeps the session's expiry
    /// (sealed in the cookie, or the store record's) and sends the cookie with a `Max-Age`
    /// that runs to it. It neither shortens nor extends it; once less than the configured
    /// lifetime is left, the configuration applies again. `set_max_age(None)` ends it
    /// ("forget me"): a browser-session cookie and the configured expiry from this response
    /// on. A shorter lifetime applies to this response only, and the Express format keeps
    /// Express's rule for every lifetime (`req.sessionOptions`: each response has its own).
    ///
    /// So "remember me" is one call at login, on a layer whose `max_lifetime` allows 30 days;
    /// a middleware that calls it again on every request makes the 30 days slide from the last
    /// visit instead of the login:
    ///
    /// ```
    /// # #[cfg(feature = "axum")] {
    /// use std::time::Duration;
    /// use axum::{extract::Request, middleware::{self, Next}, response::Response};
    /// use axum::{routing::get, Router};
    /// use cookie_session::{KeyRing, Session, SessionConfig};
    ///
    /// const REMEMBER_FOR: Duration = Duration::from_secs(30 * 86400);
    ///
    /// async fn login(session: Session) -> &'static str {
    ///     session.regenerate();
    ///     session.insert("user", "ada").unwrap();
    ///     // The "remember me" box was ticked: 30 days from now, kept by later writes (and the
    ///     // flag, for the middleware that slides them).
    ///     session.insert("remember", true).unwrap();
    ///     session.set_max_age(Some(REMEMBER_FOR));
    ///     "welcome"
    /// }
    ///
    /// /// Every response that writes a remembered session gives it 30 days from now.
    /// async fn keep_remembered(session: Session, request: Request, next: Next) -> Response {
    ///     if session.get::<bool>("remember") == Some(true) {
    ///         session.set_max_age(Some(REMEMBER_FOR));
    ///     }
    ///     next.run(request).await
    /// }
    ///
    /// async fn visit(session: Session) -> String {
    ///     let views = session.get::<u64>("views").unwrap_or(0) + 1;
    ///     session.insert("views", views).unwrap(); // a write: the cookie is sent again
    ///     format!("views={views}")
    /// }
    ///
    /// let keys = KeyRing::new(["a secret of at least thirty-two bytes!"]).unwrap();
    /// let sessions = SessionConfig::new(keys).max_lifetime(REMEMBER_FOR).build().unwrap();
    /// let app: Router = Router::new()
    ///     .route("/login", get(login))
    ///     .route("/visit", get(visit))
    ///     .layer(middleware::from_fn(keep_remembered))
    ///     .layer(sessions); // outside the middleware, so that it finds the session
    /// # use tower::ServiceExt as _;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let get = |path: &str, cookie: Option<&str>| {
    /// #     let mut request = http::Request::get(path);
    /// #     if let Some(cookie) = cookie { request = request.header("cookie", cookie); }
    /// #     app.clone().oneshot(request.body(axum::body::Body::empty()).unwrap())
    /// # };
    /// # let set_cookie = |response: &Response| response.headers()["set-cookie"].to_str().unwrap().to_owned();
    /// # let login = set_cookie(&get("/login", None).await.unwrap());
    /// # assert!(login.contains("Max-Age=2592000"), "{login}");
    /// # let pair = login.split(';').next().unwrap().to_owned();
    /// # let visit = set_cookie(&get("/visit", Some(&pair)).await.unwrap());
    /// # assert!(visit.contains("Max-Age=2592000"), "{visit}");
    /// # });
    /// # }
    /// ```
    pub fn set_max_age(&self, max_age: Option<Duration>) {
        // Changing only the lifetime cannot break an attribute rule.
        let _ = self.update_cookie(|attrs| attrs.max_age = max_age);
        // Chosen even when it equals the current one: `set_max_age(None)` forgets a lifetime
        // an earlier response chose.
        self.lock().lifetime_set = true;
    }

    /// Decides the response's `Set-Cookie` headers. Called once, by the layer.
    pub(crate) fn finish(&self) -> Finish {
        let mut inner = self.lock();
        let rolling_load =
            inner.state.is_none() && inner.shared.rolling && !inner.cookies.is_empty();
        // An untouched session costs nothing more: no clone, no allocation. One whose load
        // failed still varies with the cookie that caused the store call.
        if inner.state.is_none() && !rolling_load {
            return Finish::Ready(Outcome {
                touched: inner.load_failed,
                ..Outcome::default()
            });
        }
        if inner.used_unloaded {
            // Never saved, never silent: the handler's writes are lost, so the response is
            // refused (500) and the typed error goes to the logs and the extensions.
            return Finish::Ready(Outcome {
                touched: true,
                set_cookies: Vec::new(),
                error: Some(SessionError::NotLoaded),
            });
        }
        if inner.shared.is_async() {
            return Finish::Pending(inner.finish_stored());
        }
        if inner.state.is_none() {
            // With `rolling`, a valid cookie is re-issued even on routes that never read it.
            inner.current();
        }
        // Borrowed field by field from the guard, and finished where it lies: `Current` is a
        // few hundred bytes, which taking it out of `state` would copy.
        let Inner {
            shared,
            cookies,
            secure_request,
            state,
            overrides,
            lifetime_set,
            spare,
            ..
        } = &mut *inner;
        let Some(current) = state.as_mut() else {
            return Finish::Ready(Outcome::default());
        };
        let overrides = overrides.take();
        let attrs = overrides.as_ref().unwrap_or(&shared.attributes);
        let secure = attrs.secure.unwrap_or(*secure_request);
        // Made only when a cookie is written: a session read and left as it was needs no
        // clock and no look at which cookies are present.
        let present = || shared.present(cookies.as_slice());
        let writer = || Writer::new(shared, attrs, *lifetime_set, secure, present());
        let mut outcome = finish_cookie_in(shared, writer, current, spare);
        if !current.migration.clears_nothing() {
            shared.clear_legacy(Migration::at_finish(current), attrs, secure, &mut outcome);
        }
        // The session's text goes back to the decode buffer for the next request.
        spare.decoded.keep(std::mem::take(&mut current.data));
        *state = None;
        Finish::Ready(outcome)
    }
}

/// Cookie mode: the whole session is the cookie.
fn finish_cookie(shared: &Shared, writer: &Writer<'_>, current: &Current) -> Outcome {
    finish_cookie_in(shared, || writer, current, &mut Spare::default())
}

/// [`finish_cookie`] reusing the buffers of an earlier write.
fn finish_cookie_in<'w, W: Borrow<Writer<'w>>>(
    shared: &Shared,
    writer: impl FnOnce() -> W,
    current: &Current,
    spare: &mut Spare,
) -> Outcome {
    let codec = &shared.codec;
    // The plans: the buffer to seal, the times it replaces, and whether `spare.index` is its
    // index.
    let plan = match &current.origin {
        Origin::Destroyed => return writer().borrow().clear(),
        Origin::New if current.data.is_empty() => None,
        Origin::New => Some((
            codec.canonical_buffer_in(
                &current.data,
                std::mem::take(&mut spare.json),
                &mut spare.index,
            ),
            None,
            true,
        )),
        Origin::Cookie {
            key_index, times, ..
        } => {
            let canonical = current.loaded_canonical();
            // Express compares every loaded session (a non-canonical cookie is rewritten,
            // docs/EXPRESS-COMPATIBILITY.md §3.2); a native session can only differ after a mutation.
            let express = matches!(shared.codec.format(), Format::Express(_));
            let start = shared.codec.json_start();
            let fresh = (current.dirty || express).then(|| {
                codec.canonical_buffer_in(
                    &current.data,
                    std::mem::take(&mut spare.json),
                    &mut spare.index,
                )
            });
            let changed = match fresh {
                Some(fresh) if fresh.get(start..) != Some(canonical) => Some(fresh),
                Some(same) => {
                    spare.json = same;
                    None
                }
                None => None,
            };
            match changed {
                Some(fresh) => Some((fresh, *times, true)),
                // A native session is written again from its data, which gives its
                // canonical text back (unchanged entries are copied) with the entry index.
                None if shared.rolling && start > 0 => Some((
                    codec.canonical_buffer_in(
                        &current.data,
                        std::mem::take(&mut spare.json),
                        &mut spare.index,
                    ),
                    *times,
                    true,
                )),
                None if shared.rolling => {
                    Some((shared.codec.canonical_buffer_from(canonical), *times, false))
                }
                // Rotation: re-issue under the first key, keeping the expiry.
                None if *key_index > 0 => {
                    return writer()
                        .borrow()
                        .write(canonical, *times, times.map(|t| t.expires_at));
                }
                None => None,
            }
        }
    };
    match plan {
        None => Outcome::touched(),
        Some((buffer, times, indexed)) => writer()
            .borrow()
            .write_buffer(buffer, indexed, times, None, spare),
    }
}

impl Inner {
    /// [`Session::finish`] with a store: the record is written (or deleted) by the returned
    /// future, which owns everything it needs.
    fn finish_stored(&mut self) -> Pin<Box<dyn Future<Output = Outcome> + Send>> {
        let shared = self.shared.clone();
        let overrides = self.overrides.take();
        let attrs = overrides.unwrap_or_else(|| shared.attributes.clone());
        let secure = attrs.secure.unwrap_or(self.secure_request);
        let state = self.state.take();
        let cookies = std::mem::take(&mut self.cookies).into_vec();
        if let Backend::ExpressSession(_) = &shared.backend {
            let secure_request = self.secure_request;
            return Box::pin(express_session::finish_request(
                shared,
                state,
                cookies,
                attrs,
                secure_request,
            ));
        }
        let lifetime_set = self.lifetime_set;
        Box::pin(persist::finish(
            shared,
            state,
            cookies,
            attrs,
            lifetime_set,
            secure,
        ))
    }

    fn new(shared: Arc<Shared>, cookies: CookieHeaders, secure_request: bool) -> Self {
        Inner {
            shared,
            cookies,
            secure_request,
            state: None,
            overrides: None,
            lifetime_set: false,
            load_failed: false,
            used_unloaded: false,
            destroys: 0,
            spare: Spare::default(),
        }
    }

    /// The loaded session, reading the request's cookie on first use.
    ///
    /// Inlined, and the load kept out of line: every read and write of the session comes
    /// here, and all but the first find it loaded.
    #[inline]
    fn current(&mut self) -> &mut Current {
        if self.state.is_none() {
            self.load_now();
        }
        self.state.get_or_insert_with(fresh_current)
    }

    /// Reads the request's cookie into `state` (cookie mode). The session is built where it
    /// stays, in `state`: `Current` is a few hundred bytes, and returning it through the
    /// opening's `Result`s and `Option`s copied it several times per request.
    #[inline(never)]
    fn load_now(&mut self) {
        let Inner {
            shared,
            cookies,
            state,
            used_unloaded,
            spare,
            ..
        } = self;
        if shared.is_async() {
            // A store-backed session read without `load()`: it cannot be fetched here
            // without blocking. It reads as empty, and the response fails (see `finish`).
            tracing::error!(
                "session used before `Session::load` with a store: the response will be a 500"
            );
            *used_unloaded = true;
            let current = state.insert(Current::fresh());
            current.anonymous = true;
            return;
        }
        // The usual request: one `Cookie` header, all UTF-8. Read as that one text, it is
        // checked once, and the opening's iterators are a fraction of the general ones' size.
        if let [one] = cookies.as_slice() {
            if let Some(text) = utf8(one.as_bytes()) {
                return load_cookie(shared, state, &mut spare.decoded, [text]);
            }
        }
        load_cookie(
            shared,
            state,
            &mut spare.decoded,
            utf8_headers(cookies.as_slice()),
        );
    }
}

/// An empty session, where [`Inner::current`] finds none after loading (never: the load
/// always leaves one), out of the way of its inlined callers.
#[cold]
fn fresh_current() -> Current {
    Current::fresh()
}

/// Opens the session cookie of `headers` (cookie mode) into `state`, decoding into `buffer`.
fn load_cookie<'h, I>(
    shared: &Shared,
    state: &mut Option<Current>,
    decoded: &mut Decoded,
    headers: I,
) where
    I: IntoIterator<Item = &'h str> + Clone,
{
    let mut opening = shared.opening(headers.clone());
    match opening.next_valid_in(decoded) {
        Some(loaded) => {
            let current = state.insert(Current::from_cookie(loaded));
            shared.note_served(current, headers);
        }
        None => *state = Some(shared.migrate(headers, opening.rejection())),
    }
}
