//! The layer's express-session mode: the session is an express-session 1.19 record in
//! connect-redis's or connect-pg-simple's layout, named by a signed `connect.sid` cookie, and
//! shared with a running Express app (`docs/EXPRESS-SESSION.md` §1 is the behaviour measured,
//! §3 the design followed here).
//!
//! The decisions at the end of a request are express-session's `shouldSave`, `shouldTouch` and
//! `shouldSetCookie` (express-session 1.19.0 `index.js`):
//!
//! | session | saved | `Set-Cookie` |
//! |---|---|---|
//! | new | when it holds data, or `save_uninitialized` | when saved |
//! | loaded, data changed | yes (compare-and-swap) | with `rolling`, or when the cookie has an expiry |
//! | loaded, unchanged | with `resave`; else only `touch`ed | with `rolling` |
//! | regenerated | old record deleted, new one created | yes |
//! | destroyed | record deleted | none (the browser keeps a dead cookie, as with Express) |

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use serde_json::{Map, Value};

use super::state::{Current, Origin};
use super::{limit, Backend, Outcome, SessionError, Shared};
use crate::cookie::{CookieAttributes, Priority, SameSite as CookieSameSite};
use crate::format::express_session::{
    find_cookie, generate_sid, CookieMeta, Record, SameSite, SidSigner, RESERVED_KEYS,
};
use crate::format::Data;
use crate::rejection::Rejection;
use crate::store::{ExpressLoaded, ExpressSaved, ExpressSessionStore, OutagePolicy, StoreError};

/// How many fresh sids `create` tries before giving up (a collision of 192 random bits means
/// a broken generator, not bad luck).
const CREATE_ATTEMPTS: usize = 4;
/// How many times a save that lost a race reloads the record and re-applies its changes.
const SAVE_ATTEMPTS: usize = 4;
/// The longest sid looked up in the store. uid-safe's are 32 characters; express-session's
/// `genid` option lets apps choose others, so some room is left, but a megabyte-long "sid"
/// signed with a leaked secret still costs no store round trip.
pub(crate) const MAX_SID_LEN: usize = 256;

/// The express-session mode of a layer: the store holding the records and express-session's
/// `resave` / `saveUninitialized` options. Give it to
/// [`SessionConfig::express_session`](crate::SessionConfig::express_session).
///
/// Both options default to `false`, the settings express-session's own documentation
/// recommends (its built-in defaults are `true`, deprecated), and the ones the Express app in
/// `interop/express-session/` records by default. `rolling` and the cookie's `maxAge`, `name`
/// and attributes are the layer's own settings ([`SessionConfig::rolling`](crate::SessionConfig::rolling),
/// [`max_age`](crate::SessionConfig::max_age), [`name`](crate::SessionConfig::name), ...).
///
/// # Examples
///
/// ```no_run
/// # #[cfg(feature = "redis")]
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use cookie_session::{ExpressSessionMode, KeyRing, SessionConfig};
/// use cookie_session::store::ExpressRedisStore;
///
/// // The Express app's `secret` list: the first signs, every one verifies.
/// let secrets = KeyRing::new(["keyboard cat", "an older secret"])?;
/// let store = ExpressRedisStore::connect("redis://127.0.0.1:6379/").await?;
/// // session({ store, secret, resave: false, saveUninitialized: false, cookie: { maxAge: 3600000 } })
/// let layer = SessionConfig::new(secrets)
///     .express_session(ExpressSessionMode::new(store).resave(false))
///     .max_age(Some(Duration::from_secs(3600)))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ExpressSessionMode {
    pub(crate) store: Arc<dyn ExpressSessionStore>,
    pub(crate) resave: bool,
    pub(crate) save_uninitialized: bool,
}

impl fmt::Debug for ExpressSessionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpressSessionMode")
            .field("store", &self.store)
            .field("resave", &self.resave)
            .field("save_uninitialized", &self.save_uninitialized)
            .finish()
    }
}

impl ExpressSessionMode {
    /// Sessions in `store`, with `resave: false` and `saveUninitialized: false`.
    pub fn new(store: impl ExpressSessionStore) -> Self {
        Self::shared(Arc::new(store))
    }

    /// Like [`new`](Self::new), for a store already shared.
    pub fn shared(store: Arc<dyn ExpressSessionStore>) -> Self {
        Self {
            store,
            resave: false,
            save_uninitialized: false,
        }
    }

    /// express-session's `resave`: write a loaded session back on every request that reads
    /// it, changed or not. Default `false` (only a changed session is written; an unchanged
    /// one only has its expiry moved, with the store's `touch`).
    pub fn resave(mut self, resave: bool) -> Self {
        self.resave = resave;
        self
    }

    /// express-session's `saveUninitialized`: store (and send the cookie of) a new session
    /// even when the request put nothing in it. Default `false`.
    pub fn save_uninitialized(mut self, save: bool) -> Self {
        self.save_uninitialized = save;
        self
    }
}

impl<S: ExpressSessionStore> From<S> for ExpressSessionMode {
    fn from(store: S) -> Self {
        Self::new(store)
    }
}

/// The express-session backend of a built layer.
pub(crate) struct ExpressBackend {
    pub(crate) mode: ExpressSessionMode,
    pub(crate) signer: SidSigner,
    pub(crate) outage: OutagePolicy,
}

/// What a session loaded from an express-session record keeps beside its data.
pub(crate) struct Loaded {
    sid: String,
    /// The record text as loaded: the compare-and-swap token.
    text: String,
    cookie: CookieMeta,
    /// The data as loaded, to tell a changed session (express-session's hash comparison).
    original: Map<String, Value>,
}

fn now_ms(shared: &Shared) -> i64 {
    shared
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Reads the request's session: the first `connect.sid` (as express-session's cookie parser
/// finds it), its signature, then the record. Anything refused gives an empty session, to be
/// saved under a new sid; the record itself is never touched.
pub(crate) async fn load(
    shared: &Shared,
    backend: &ExpressBackend,
    cookies: &[HeaderValue],
) -> Result<Current, SessionError> {
    let name = shared.codec.name();
    let value = cookies
        .iter()
        .find_map(|header| find_cookie(&String::from_utf8_lossy(header.as_bytes()), name));
    let reject = |reason: Rejection| {
        shared.note_rejection(reason);
        Ok(Current::rejected(reason))
    };
    let Some(value) = value else {
        return reject(Rejection::Missing);
    };
    let (sid, key_index) = match backend.signer.open(&value) {
        Ok(opened) => opened,
        Err(reason) => return reject(reason),
    };
    if sid.is_empty() || sid.len() > MAX_SID_LEN {
        return reject(Rejection::Malformed);
    }
    match backend.mode.store.load(&sid, now_ms(shared)).await {
        Ok(ExpressLoaded::Live { record, text }) => {
            let (cookie, data) = record.into_parts();
            if let Err(member) = check_renderable(&cookie) {
                tracing::warn!(
                    member,
                    "express-session record refused: its cookie cannot be sent; left in the store"
                );
                return reject(Rejection::BadPayload);
            }
            // The layer's one format (the metrics were made with its name alone).
            shared.metrics.opened(0);
            Ok(Current {
                data: Data::from_map(data.clone()),
                origin: Origin::Cookie {
                    key_index,
                    times: None,
                    canonical: Vec::new(),
                    record: None,
                },
                express: Some(Box::new(Loaded {
                    sid,
                    text,
                    cookie,
                    original: data,
                })),
                ..Current::fresh()
            })
        }
        Ok(ExpressLoaded::Missing | ExpressLoaded::Expired) => reject(Rejection::UnknownSession),
        Ok(ExpressLoaded::Refused(reason)) => {
            // The reason names a type or a key, never a value.
            tracing::warn!(%reason, "express-session record refused; left in the store");
            reject(Rejection::BadPayload)
        }
        Err(error) => {
            shared.metrics.store_error();
            tracing::error!(%error, "express-session store unavailable");
            match backend.outage {
                OutagePolicy::Fail => Err(SessionError::Store(error)),
                OutagePolicy::Anonymous => Ok(Current {
                    anonymous: true,
                    ..Current::fresh()
                }),
            }
        }
    }
}

impl Current {
    /// The `cookie.expires` of the express-session record this session was loaded from: when
    /// express-session, and so the store, stops accepting it. `None` for any other session,
    /// and for a record without one (a browser-session cookie: the store's TTL alone ends
    /// it). A time before 1970 (another program's record) reads as 1970.
    pub(crate) fn express_expires_at(&self) -> Option<SystemTime> {
        let ms = self.express.as_ref()?.cookie.expires_at_ms()?;
        let Ok(ms) = u64::try_from(ms) else {
            return Some(SystemTime::UNIX_EPOCH);
        };
        // `from_unix_secs` clamps what `SystemTime` cannot hold: no record panics here.
        let at = crate::time::from_unix_secs(ms / 1000);
        Some(
            at.checked_add(Duration::from_millis(ms % 1000))
                .unwrap_or(at),
        )
    }

    /// Whether an express-session mode session differs from what was loaded (`None` when it
    /// was not loaded from a record).
    pub(crate) fn express_changed(&self) -> Option<bool> {
        // A regenerated or destroyed session is changed whatever its data.
        if !matches!(self.origin, Origin::Cookie { .. }) {
            return None;
        }
        self.express
            .as_ref()
            .map(|loaded| *self.data.as_map() != loaded.original)
    }
}

/// The data without the keys an express-session record cannot hold (`cookie`, and the names
/// express-session's `Session` object already has, [`RESERVED_KEYS`]): what the record
/// written from it, and so the Express app, will see.
pub(crate) fn filter_reserved(mut data: Map<String, Value>) -> Map<String, Value> {
    data.retain(|key, _| key != "cookie" && !RESERVED_KEYS.contains(&key.as_str()));
    data
}

/// A `domain` or `path` from the record that could not go into a `Set-Cookie` header as it
/// is (cookie 0.7.2 throws on them, and Express answers 500): such a record is refused.
pub(crate) fn check_renderable(cookie: &CookieMeta) -> Result<(), &'static str> {
    let fine = |text: &str| text.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';');
    if let Some(Some(domain)) = &cookie.domain {
        if !fine(domain) {
            return Err("domain");
        }
    }
    if let Some(Some(path)) = &cookie.path {
        if !fine(path) {
            return Err("path");
        }
    }
    Ok(())
}

/// What the handler asked of this response's cookie, against what the layer configured.
struct ResponseCookie<'a> {
    attrs: &'a CookieAttributes,
    secure_request: bool,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn same_site_text(same_site: CookieSameSite) -> SameSite {
    SameSite::Text(same_site.as_str().to_ascii_lowercase())
}

fn priority_text(priority: Priority) -> String {
    priority.as_str().to_ascii_lowercase()
}

/// The `cookie` member of a new record, from the layer's (or this response's) attributes, as
/// express-session's `new Cookie(options)` stores them. `secure` is stored only when forced:
/// the default (follow the request) is express-session's `secure: 'auto'`, decided per
/// response.
fn fresh_meta(shared: &Shared, attrs: &CookieAttributes, now_ms: i64) -> CookieMeta {
    let mut meta = CookieMeta {
        original_max_age: Some(max_age_ms(shared, attrs)),
        partitioned: attrs.partitioned.then_some(Some(true)),
        priority: attrs.priority.map(|p| Some(priority_text(p))),
        expires: None,
        secure: attrs.secure.map(Some),
        http_only: Some(Some(attrs.http_only)),
        domain: attrs.domain.clone().map(Some),
        path: Some(Some(attrs.path.clone())),
        same_site: attrs.same_site.map(|s| Some(same_site_text(s))),
    };
    meta.touch(now_ms);
    meta
}

/// `cookie.maxAge` in milliseconds, cut to the layer's `max_lifetime` when one is set.
fn max_age_ms(shared: &Shared, attrs: &CookieAttributes) -> Option<i64> {
    let max_age = match (attrs.max_age, shared.max_lifetime) {
        (Some(wanted), Some(ceiling)) => Some(wanted.min(ceiling)),
        (wanted, _) => wanted,
    };
    max_age.map(millis)
}

/// A loaded record's `cookie` with this response's overrides applied (the handler's
/// `set_max_age` / `update_cookie`, express-session's `req.session.cookie.x = …`): only the
/// attributes that differ from the layer's configuration, so a record Express wrote with its
/// own settings keeps them.
fn apply_overrides(shared: &Shared, meta: &mut CookieMeta, attrs: &CookieAttributes) {
    let configured = &shared.attributes;
    if attrs.max_age != configured.max_age {
        meta.original_max_age = Some(max_age_ms(shared, attrs));
    }
    if attrs.path != configured.path {
        meta.path = Some(Some(attrs.path.clone()));
    }
    if attrs.domain != configured.domain {
        meta.domain = Some(attrs.domain.clone());
    }
    if attrs.http_only != configured.http_only {
        meta.http_only = Some(Some(attrs.http_only));
    }
    if attrs.secure != configured.secure {
        meta.secure = attrs.secure.map(Some);
    }
    if attrs.same_site != configured.same_site {
        meta.same_site = Some(attrs.same_site.map(same_site_text));
    }
    if attrs.partitioned != configured.partitioned {
        meta.partitioned = Some(Some(attrs.partitioned));
    }
    if attrs.priority != configured.priority {
        meta.priority = Some(attrs.priority.map(priority_text));
    }
}

/// Finishes the request's session when the response leaves: loads it first when the handler
/// never did and `rolling` asks for the cookie to be re-sent (and the expiry moved).
pub(crate) async fn finish_request(
    shared: Arc<Shared>,
    state: Option<Current>,
    cookies: Vec<HeaderValue>,
    attrs: CookieAttributes,
    secure_request: bool,
) -> Outcome {
    let Backend::ExpressSession(backend) = &shared.backend else {
        return Outcome::touched();
    };
    let current = match state {
        Some(current) => current,
        None => match load(&shared, backend, &cookies).await {
            Ok(current) => current,
            Err(error) => return failed(error),
        },
    };
    if current.anonymous {
        return Outcome::touched();
    }
    let cookie = ResponseCookie {
        attrs: &attrs,
        secure_request,
    };
    finish(&shared, backend, current, cookie).await
}

/// Finishes an express-session mode session when the response leaves.
async fn finish(
    shared: &Shared,
    backend: &ExpressBackend,
    mut current: Current,
    cookie: ResponseCookie<'_>,
) -> Outcome {
    let store = &backend.mode.store;
    let now = now_ms(shared);
    let loaded = current.express.take();
    match (&current.origin, loaded) {
        (Origin::Destroyed, loaded) => {
            if let Some(loaded) = loaded {
                if let Err(error) = store.destroy(&loaded.sid).await {
                    return store_failed(shared, error);
                }
            }
            Outcome::touched()
        }
        (Origin::New, old) => {
            // A regenerated session (or one destroyed, then written to) always gets a new
            // record, as express-session saves a session whose id changed.
            let regenerated = old.is_some();
            if !regenerated && current.data.is_empty() && !backend.mode.save_uninitialized {
                return Outcome::touched();
            }
            // Before anything is deleted: a session too large to store changes nothing.
            if let Err(error) = limit::check(shared, &current.data.as_map()) {
                return failed(error);
            }
            if let Some(old) = old {
                if let Err(error) = store.destroy(&old.sid).await {
                    return store_failed(shared, error);
                }
            }
            create(shared, backend, current.data.into_map(), &cookie, now).await
        }
        (Origin::Cookie { .. }, Some(loaded)) => {
            save_loaded(shared, backend, &current, *loaded, &cookie, now).await
        }
        // Cannot happen: a loaded express-session mode session always has its record.
        (Origin::Cookie { .. }, None) => Outcome::touched(),
    }
}

async fn create(
    shared: &Shared,
    backend: &ExpressBackend,
    data: Map<String, Value>,
    cookie: &ResponseCookie<'_>,
    now: i64,
) -> Outcome {
    let meta = fresh_meta(shared, cookie.attrs, now);
    if meta.expires_at_ms().is_some_and(|at| at <= now) {
        // A zero maxAge: a cookie dead on arrival, nothing to store (connect-redis would not).
        return Outcome::touched();
    }
    let mut record = Record::new(meta);
    *record.data_mut() = data;
    for _ in 0..CREATE_ATTEMPTS {
        let sid = generate_sid();
        match backend.mode.store.create(&sid, &record, now).await {
            Ok(true) => return set_cookie(shared, backend, &sid, record.cookie(), cookie),
            // Never an overwrite: another sid.
            Ok(false) => tracing::warn!("express-session sid collision; retrying with a fresh sid"),
            Err(error) => return write_failed(shared, backend, error),
        }
    }
    store_failed(
        shared,
        StoreError::Backend("no free express-session sid after retries".into()),
    )
}

async fn save_loaded(
    shared: &Shared,
    backend: &ExpressBackend,
    current: &Current,
    loaded: Loaded,
    cookie: &ResponseCookie<'_>,
    now: i64,
) -> Outcome {
    let store = &backend.mode.store;
    let Loaded {
        sid,
        mut text,
        cookie: mut meta,
        original,
    } = loaded;
    apply_overrides(shared, &mut meta, cookie.attrs);
    meta.touch(now);
    let changed = *current.data.as_map() != original;
    let rolling = shared.rolling;
    if !changed && !backend.mode.resave {
        // express-session's `shouldTouch`: the store's expiry moves, the record stays.
        return match store.touch(&sid, &meta, now).await {
            Ok(true) if rolling => set_cookie(shared, backend, &sid, &meta, cookie),
            Ok(_) => Outcome::touched(),
            Err(error) => store_failed(shared, error),
        };
    }
    if changed {
        if let Err(error) = limit::check(shared, &current.data.as_map()) {
            return failed(error);
        }
    }
    let mut data = current.data.to_map();
    for _ in 0..SAVE_ATTEMPTS {
        let mut record = Record::new(meta.clone());
        *record.data_mut() = data;
        match store.save(&sid, &text, &record, now).await {
            Ok(ExpressSaved::Saved) if rolling || (changed && meta.expires_at_ms().is_some()) => {
                return set_cookie(shared, backend, &sid, &meta, cookie);
            }
            Ok(ExpressSaved::Saved) => return Outcome::touched(),
            // Destroyed (or expired) meanwhile: a request that started before the logout
            // must not bring the session back.
            Ok(ExpressSaved::Gone) => return Outcome::touched(),
            Ok(ExpressSaved::Changed) => {}
            Err(error) => return write_failed(shared, backend, error),
        }
        // Someone (maybe the Express app) wrote the record since it was loaded: start from
        // theirs and re-apply only the keys this request changed.
        match store.load(&sid, now).await {
            Ok(ExpressLoaded::Live {
                record: fresh,
                text: fresh_text,
            }) => {
                let (mut fresh_meta, fresh_data) = fresh.into_parts();
                apply_overrides(shared, &mut fresh_meta, cookie.attrs);
                fresh_meta.touch(now);
                data = reapply(current, fresh_data);
                if let Err(error) = limit::check(shared, &data) {
                    return failed(error);
                }
                meta = fresh_meta;
                text = fresh_text;
            }
            Ok(ExpressLoaded::Missing | ExpressLoaded::Expired) => return Outcome::touched(),
            Ok(ExpressLoaded::Refused(reason)) => {
                // Another program wrote something we cannot read: it is left as it is.
                tracing::warn!(%reason, "express-session record refused on reload; not saved");
                return Outcome::touched();
            }
            Err(error) => return write_failed(shared, backend, error),
        }
    }
    store_failed(
        shared,
        StoreError::Backend("express-session record kept changing; not saved".into()),
    )
}

/// This request's changes on top of `fresh`, the record as another writer left it.
fn reapply(current: &Current, mut fresh: Map<String, Value>) -> Map<String, Value> {
    let changes = &current.changes;
    if changes.replaced {
        return current.data.to_map();
    }
    for key in &changes.keys {
        match current.data.get_value(key) {
            Some(value) => {
                fresh.insert(key.clone(), value);
            }
            None => {
                fresh.shift_remove(key);
            }
        }
    }
    fresh
}

fn failed(error: SessionError) -> Outcome {
    Outcome {
        touched: true,
        set_cookies: Vec::new(),
        error: Some(error),
    }
}

fn store_failed(shared: &Shared, error: StoreError) -> Outcome {
    shared.metrics.store_error();
    tracing::error!(%error, "express-session store unavailable");
    failed(error.into())
}

/// A failed create or save: under [`OutagePolicy::Anonymous`] the response goes on without
/// the write (and without a cookie), as in native store mode; deletes are never excused.
fn write_failed(shared: &Shared, backend: &ExpressBackend, error: StoreError) -> Outcome {
    match backend.outage {
        OutagePolicy::Fail => store_failed(shared, error),
        OutagePolicy::Anonymous => {
            shared.metrics.store_error();
            tracing::error!(%error, "express-session store unavailable; the change is not saved");
            Outcome::touched()
        }
    }
}

/// express-session's `setcookie`: the signed sid with the record's cookie settings, spelled as
/// cookie 0.7.2's `serialize` spells them. A cookie marked `secure` is not sent over plain
/// HTTP (express-session logs and skips it).
fn set_cookie(
    shared: &Shared,
    backend: &ExpressBackend,
    sid: &str,
    meta: &CookieMeta,
    cookie: &ResponseCookie<'_>,
) -> Outcome {
    let secure = match meta.secure {
        Some(Some(secure)) => secure,
        Some(None) | None => cookie.secure_request,
    };
    if secure && !cookie.secure_request {
        tracing::warn!("not sending a secure express-session cookie over plain HTTP");
        return Outcome::touched();
    }
    let value = backend.signer.cookie_value(sid);
    Outcome {
        touched: true,
        set_cookies: vec![render(shared.codec.name(), &value, meta, secure)],
        error: None,
    }
}

/// One `Set-Cookie` value in cookie 0.7.2's order: `Domain`, `Path`, `Expires`, `HttpOnly`,
/// `Secure`, `Partitioned`, `Priority`, `SameSite` (never `Max-Age`: express-session sends
/// only `Expires`).
pub(crate) fn render(name: &str, value: &str, meta: &CookieMeta, secure: bool) -> String {
    use std::fmt::Write as _;
    let mut out = format!("{name}={value}");
    // `write!` into a String cannot fail.
    if let Some(Some(domain)) = &meta.domain {
        let _ = write!(out, "; Domain={domain}");
    }
    if let Some(Some(path)) = &meta.path {
        let _ = write!(out, "; Path={path}");
    }
    if let Some(expires) = meta.expires_at_ms() {
        let secs = u64::try_from(expires.div_euclid(1000)).unwrap_or(0);
        let date = httpdate::HttpDate::from(crate::time::from_unix_secs(secs.min(LAST_HTTP_DATE)));
        let _ = write!(out, "; Expires={date}");
    }
    if meta.http_only == Some(Some(true)) {
        out.push_str("; HttpOnly");
    }
    if secure {
        out.push_str("; Secure");
    }
    if meta.partitioned == Some(Some(true)) {
        out.push_str("; Partitioned");
    }
    if let Some(Some(priority)) = &meta.priority {
        let priority = match priority.to_ascii_lowercase().as_str() {
            "low" => Some("Low"),
            "medium" => Some("Medium"),
            "high" => Some("High"),
            _ => None,
        };
        if let Some(priority) = priority {
            let _ = write!(out, "; Priority={priority}");
        }
    }
    let same_site = match &meta.same_site {
        Some(Some(SameSite::Bool(true))) => Some("Strict"),
        Some(Some(SameSite::Text(text))) => match text.to_ascii_lowercase().as_str() {
            "lax" => Some("Lax"),
            "strict" => Some("Strict"),
            "none" => Some("None"),
            _ => None,
        },
        _ => None,
    };
    if let Some(same_site) = same_site {
        let _ = write!(out, "; SameSite={same_site}");
    }
    out
}

/// The last second an HTTP date can name (9999-12-31T23:59:59Z).
const LAST_HTTP_DATE: u64 = 253_402_300_799;

#[cfg(test)]
mod tests {
    use super::*;

    /// `Session::expires_at` in express-session mode: the record's `cookie.expires`, to the
    /// millisecond; a browser-session cookie has none; no value another program stored
    /// panics (before 1970 reads as 1970, beyond what `SystemTime` holds is clamped).
    #[test]
    fn expires_at_is_the_records_cookie_expires() {
        let current = |expires: Option<i64>| Current {
            express: Some(Box::new(Loaded {
                sid: "sid".into(),
                text: String::new(),
                cookie: CookieMeta {
                    expires: Some(expires),
                    ..CookieMeta::default()
                },
                original: Map::new(),
            })),
            ..Current::fresh()
        };
        let at = |ms: i64| current(Some(ms)).express_expires_at();
        let epoch = SystemTime::UNIX_EPOCH;
        assert_eq!(
            at(1_796_133_600_123),
            Some(epoch + Duration::from_millis(1_796_133_600_123))
        );
        assert_eq!(at(-1), Some(epoch));
        assert!(at(i64::MAX).is_some_and(|t| t > epoch));
        assert_eq!(current(None).express_expires_at(), None);
        assert_eq!(Current::fresh().express_expires_at(), None);
    }

    #[test]
    fn renders_as_express_session_does() {
        // The `redis_cookie_options` scenario of tests/data/express-session-vectors.json.
        let record = Record::parse(
            r#"{"cookie":{"originalMaxAge":3600000,"partitioned":false,"priority":"high","expires":"2026-12-01T15:10:48.856Z","secure":false,"httpOnly":true,"domain":"example.test","path":"/","sameSite":"strict"},"views":1}"#,
        )
        .expect("a recorded record");
        assert_eq!(
            render("connect.sid", "s%3Aabc.sig", record.cookie(), false),
            "connect.sid=s%3Aabc.sig; Domain=example.test; Path=/; \
             Expires=Tue, 01 Dec 2026 15:10:48 GMT; HttpOnly; Priority=High; SameSite=Strict"
        );
        let plain = CookieMeta::express_default(None, 0);
        assert_eq!(
            render("connect.sid", "v", &plain, false),
            "connect.sid=v; Path=/; HttpOnly"
        );
    }

    #[test]
    fn a_cookie_member_that_cannot_be_sent_is_refused() {
        let mut meta = CookieMeta::express_default(None, 0);
        assert_eq!(check_renderable(&meta), Ok(()));
        meta.path = Some(Some("/\r\nSet-Cookie: x=y".into()));
        assert_eq!(check_renderable(&meta), Err("path"));
        meta.path = Some(Some("/".into()));
        meta.domain = Some(Some("a.test; Secure".into()));
        assert_eq!(check_renderable(&meta), Err("domain"));
    }
}
