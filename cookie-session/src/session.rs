//! The [`Session`] handle: Express's `req.session` and `req.sessionOptions`, in Rust.
//!
//! The handle is lazy: nothing is parsed, verified or decrypted until a method reads or writes
//! the session, so a route that never touches it pays nothing. When the response leaves, the
//! layer asks the session what to send ([`Session::finish`]), following cookie-session's rules
//! (SPEC §3.3):
//!
//! | state at response time | `Set-Cookie` |
//! |---|---|
//! | never touched | none |
//! | new and empty | none |
//! | new and populated | written |
//! | loaded and unchanged | none (re-issued under the first key if an older key opened it, or always with `rolling`) |
//! | loaded and changed, including emptied | written |
//! | destroyed | a removal cookie with the same name, path, domain, secure and partitioned |

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cookie::{render_set_cookie, CookieAttributes, CookieConfigError, Lifetime};
use crate::format::{express, Codec, Format, Loaded, Rejection, Timestamps};
use crate::time::{from_unix_secs, unix_secs, SharedClock, TimePolicy};

/// What every session of one layer shares: the checked configuration.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) codec: Codec,
    pub(crate) attributes: CookieAttributes,
    pub(crate) ttl: Duration,
    pub(crate) time: TimePolicy,
    pub(crate) rolling: bool,
    pub(crate) trust_proxy: bool,
    pub(crate) max_cookie_size: usize,
    pub(crate) clock: SharedClock,
}

/// An error from the session: a value that cannot be stored, or a cookie that cannot be sent.
/// Its text never holds a key, a cookie value or session data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A value could not be turned into JSON (e.g. a map with non-string keys).
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
}

/// A handle on the current request's session. Cheap to clone: every clone is the same session.
///
/// Get it from the request extensions (the layer puts it there), or with the axum extractor.
///
/// ```
/// # use cookie_session::Session;
/// fn count_visit(session: &Session) -> u64 {
///     let views = session.get::<u64>("views").unwrap_or(0) + 1;
///     session.insert("views", views).expect("a u64 is JSON");
///     views
/// }
/// ```
#[derive(Clone)]
pub struct Session(Arc<Mutex<Inner>>);

impl std::fmt::Debug for Session {
    /// Prints the session's flags, never its data or cookie.
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
    cookies: Vec<HeaderValue>,
    secure_request: bool,
    /// `None` until the session is first touched.
    state: Option<Current>,
    /// This response's cookie attributes, when the handler changed any.
    overrides: Option<CookieAttributes>,
}

struct Current {
    data: Map<String, Value>,
    origin: Origin,
    /// Set by every mutation; a loaded native session is compared only when dirty.
    dirty: bool,
    /// Why the request's cookie was refused, if one was.
    rejection: Option<Rejection>,
}

enum Origin {
    /// No usable cookie came with the request (or the session was replaced after `destroy`).
    New,
    /// Read from the request's cookie.
    Cookie {
        key_index: usize,
        times: Option<Timestamps>,
        canonical: Vec<u8>,
    },
    /// `destroy()` was called.
    Destroyed,
}

/// What the layer must do to the response.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The session was read or written: the response varies with the `Cookie` header.
    pub(crate) touched: bool,
    /// `Set-Cookie` values, in order.
    pub(crate) set_cookies: Vec<String>,
    /// A cookie could not be sent.
    pub(crate) error: Option<SessionError>,
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        cookies: Vec<HeaderValue>,
        secure_request: bool,
    ) -> Self {
        Session(Arc::new(Mutex::new(Inner {
            shared,
            cookies,
            secure_request,
            state: None,
            overrides: None,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A handler that panicked while holding the lock left consistent data behind: every
        // mutation is a single call on the map.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Current) -> R) -> R {
        let mut inner = self.lock();
        f(inner.current())
    }

    /// The value at `key` as a `T`; `None` when absent or not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.with(|c| c.data.get(key).and_then(|v| T::deserialize(v).ok()))
    }

    /// The value at `key` as a `T`: `Ok(None)` when absent, an error when it is not a `T`.
    pub fn try_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, serde_json::Error> {
        self.with(|c| c.data.get(key).map(T::deserialize).transpose())
    }

    /// The JSON value at `key`.
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.with(|c| c.data.get(key).cloned())
    }

    /// Stores `value` at `key`, replacing what was there.
    pub fn insert<T: Serialize>(
        &self,
        key: impl Into<String>,
        value: T,
    ) -> Result<(), SessionError> {
        let value =
            serde_json::to_value(value).map_err(|e| SessionError::Serialize(e.to_string()))?;
        self.insert_value(key, value);
        Ok(())
    }

    /// Stores a JSON value at `key`, replacing what was there.
    pub fn insert_value(&self, key: impl Into<String>, value: Value) {
        self.with(|c| {
            c.revive();
            c.dirty = true;
            c.data.insert(key.into(), value);
        })
    }

    /// Removes `key`, returning its value. Later keys keep their order (what JavaScript's
    /// `delete` does, so the Express format stays byte-identical).
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.with(|c| {
            let removed = c.data.shift_remove(key);
            c.dirty |= removed.is_some();
            removed
        })
    }

    /// Removes every key. A loaded session is then written back empty; the cookie stays.
    pub fn clear(&self) {
        self.with(|c| {
            c.dirty |= !c.data.is_empty();
            c.data.clear();
        })
    }

    /// Replaces the whole session with `data` (Express's `req.session = {…}`; the Express
    /// format drops the keys cookie-session never loads, SPEC §1.2).
    pub fn replace(&self, data: Map<String, Value>) {
        let mut inner = self.lock();
        let express = matches!(inner.shared.codec.format(), Format::Express(_));
        let c = inner.current();
        c.revive();
        c.dirty = true;
        c.data = if express {
            express::filter_reserved(data)
        } else {
            data
        };
    }

    /// Ends the session: the response clears the cookie (Express's `req.session = null`).
    /// Writing to the session afterwards starts a new one, which is then sent instead.
    pub fn destroy(&self) {
        self.with(|c| {
            c.data.clear();
            c.origin = Origin::Destroyed;
            c.dirty = true;
        })
    }

    /// The whole session as a `T` (a typed view), or `None` when it does not fit `T`.
    pub fn get_as<T: DeserializeOwned>(&self) -> Option<T> {
        self.with(|c| T::deserialize(&c.data).ok())
    }

    /// Replaces the whole session with `value`, which must serialize to a JSON object.
    pub fn set_as<T: Serialize>(&self, value: &T) -> Result<(), SessionError> {
        match serde_json::to_value(value).map_err(|e| SessionError::Serialize(e.to_string()))? {
            Value::Object(map) => {
                let unchanged = self.with(|c| c.data == map);
                if !unchanged {
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
        self.with(|c| c.data.clone())
    }

    /// The keys, in order.
    pub fn keys(&self) -> Vec<String> {
        self.with(|c| c.data.keys().cloned().collect())
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
    /// again after `destroy`).
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

    /// Express's `isChanged`: new, destroyed, or different from what the cookie held.
    pub fn is_changed(&self) -> bool {
        let mut inner = self.lock();
        let codec = inner.shared.codec.clone();
        let c = inner.current();
        match &c.origin {
            Origin::New | Origin::Destroyed => true,
            Origin::Cookie { canonical, .. } => codec.canonical(&c.data) != *canonical,
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

    /// When the request's cookie stops being accepted by the server (native formats).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.times().map(|t| from_unix_secs(t.expires_at))
    }

    /// When the session was first issued (native formats).
    pub fn created_at(&self) -> Option<SystemTime> {
        self.times().map(|t| from_unix_secs(t.created_at))
    }

    fn times(&self) -> Option<Timestamps> {
        self.with(|c| match c.origin {
            Origin::Cookie { times, .. } => times,
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

    /// Changes the cookie's attributes for this response only (Express's `req.sessionOptions`).
    /// The change is checked with the same rules as the configuration; an invalid one is
    /// refused and nothing changes. An override alone does not cause a write (as in Express):
    /// it applies when the session is written.
    ///
    /// ```
    /// # use cookie_session::Session;
    /// # use std::time::Duration;
    /// fn remember_me(session: &Session) {
    ///     session.set_max_age(Some(Duration::from_secs(30 * 86400)));
    /// }
    /// ```
    pub fn update_cookie(
        &self,
        f: impl FnOnce(&mut CookieAttributes),
    ) -> Result<(), CookieConfigError> {
        let mut inner = self.lock();
        let mut attrs = inner
            .overrides
            .clone()
            .unwrap_or_else(|| inner.shared.attributes.clone());
        f(&mut attrs);
        attrs.validate(inner.shared.codec.name())?;
        inner.overrides = Some(attrs);
        Ok(())
    }

    /// This response's `Max-Age` (`None`: a browser-session cookie). Clamped to 400 days.
    pub fn set_max_age(&self, max_age: Option<Duration>) {
        let mut inner = self.lock();
        let mut attrs = inner
            .overrides
            .clone()
            .unwrap_or_else(|| inner.shared.attributes.clone());
        attrs.max_age = max_age;
        inner.overrides = Some(attrs);
    }

    /// Decides the response's `Set-Cookie` headers. Called once, by the layer.
    pub(crate) fn finish(&self) -> Outcome {
        let mut inner = self.lock();
        if inner.state.is_none() {
            // With `rolling`, a valid cookie is re-issued even on routes that never read it.
            if inner.shared.rolling && !inner.cookies.is_empty() {
                inner.current();
            } else {
                return Outcome::default();
            }
        }
        let inner = &mut *inner;
        let Some(current) = &inner.state else {
            return Outcome::default();
        };
        let shared = &inner.shared;
        let attrs = inner.overrides.as_ref().unwrap_or(&shared.attributes);
        let secure = attrs.secure.unwrap_or(inner.secure_request);
        let now = shared.clock.0.now();
        let writer = Writer {
            shared,
            attrs,
            secure,
            now,
        };

        let plan = match &current.origin {
            Origin::Destroyed => return writer.clear(),
            Origin::New if current.data.is_empty() => None,
            Origin::New => Some((shared.codec.canonical(&current.data), None)),
            Origin::Cookie {
                key_index,
                times,
                canonical,
            } => {
                // Express compares every loaded session (a non-canonical cookie is rewritten,
                // SPEC §3.2); a native session can only differ after a mutation.
                let express = matches!(shared.codec.format(), Format::Express(_));
                let changed = (current.dirty || express)
                    .then(|| shared.codec.canonical(&current.data))
                    .filter(|fresh| fresh != canonical);
                match changed {
                    Some(fresh) => Some((fresh, *times)),
                    None if shared.rolling => Some((canonical.clone(), *times)),
                    // Rotation: re-issue under the first key, keeping the expiry.
                    None if *key_index > 0 => {
                        return writer.write(canonical, *times, times.map(|t| t.expires_at));
                    }
                    None => None,
                }
            }
        };
        match plan {
            None => Outcome {
                touched: true,
                ..Outcome::default()
            },
            Some((canonical, times)) => writer.write(&canonical, times, None),
        }
    }
}

impl Inner {
    /// The loaded session, reading the request's cookie on first use.
    fn current(&mut self) -> &mut Current {
        if self.state.is_none() {
            self.state = Some(self.load());
        }
        self.state.get_or_insert_with(Current::fresh)
    }

    fn load(&self) -> Current {
        // Header values that are not UTF-8 cannot hold one of our cookies.
        let headers = self
            .cookies
            .iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok());
        match self.shared.open(headers) {
            Ok(loaded) => Current {
                data: loaded.data,
                origin: Origin::Cookie {
                    key_index: loaded.key_index,
                    times: loaded.times,
                    canonical: loaded.canonical,
                },
                dirty: false,
                rejection: None,
            },
            Err(reason) => {
                let rejection = (reason != Rejection::Missing).then_some(reason);
                Current {
                    rejection,
                    ..Current::fresh()
                }
            }
        }
    }
}

impl Shared {
    /// Reads and checks the session cookie from `Cookie` header values: the one path every
    /// request and the `decode` command take.
    pub(crate) fn open<'h, I>(&self, headers: I) -> Result<Loaded, Rejection>
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        let opened = self.codec.open(headers).and_then(|loaded| {
            if let Some(times) = &loaded.times {
                self.time.check(times, unix_secs(self.clock.0.now()))?;
            }
            Ok(loaded)
        });
        if let Err(reason) = opened {
            if reason != Rejection::Missing {
                // Never the cookie's value: only which cookie and why.
                tracing::debug!(
                    cookie = self.codec.name(),
                    reason = reason.as_str(),
                    "session cookie rejected"
                );
            }
        }
        opened
    }
}

impl Current {
    fn fresh() -> Self {
        Current {
            data: Map::new(),
            origin: Origin::New,
            dirty: false,
            rejection: None,
        }
    }

    /// Writing after `destroy` starts a new session.
    fn revive(&mut self) {
        if matches!(self.origin, Origin::Destroyed) {
            self.origin = Origin::New;
        }
    }
}

/// Seals and renders cookies for one response.
struct Writer<'a> {
    shared: &'a Shared,
    attrs: &'a CookieAttributes,
    secure: bool,
    now: SystemTime,
}

impl Writer<'_> {
    /// The cookies that remove the session (SPEC §4 "Clearing"; SECURITY.md §8.5 item 40).
    fn clear(&self) -> Outcome {
        let codec = &self.shared.codec;
        let style = codec.header_style();
        let mut set_cookies = vec![render_set_cookie(
            style,
            codec.name(),
            "",
            self.attrs,
            self.secure,
            Lifetime::Clear,
            self.now,
        )];
        if let (Some(sig_name), Some(sig)) = (codec.sig_name(), codec.clearing_sig()) {
            set_cookies.push(render_set_cookie(
                style,
                sig_name,
                &sig,
                self.attrs,
                self.secure,
                Lifetime::Clear,
                self.now,
            ));
        }
        Outcome {
            touched: true,
            set_cookies,
            error: None,
        }
    }

    /// Seals `canonical` and renders it. `previous` are the times of the cookie it replaces
    /// (its creation time is kept); `keep_expiry` re-issues without extending the expiry.
    fn write(
        &self,
        canonical: &[u8],
        previous: Option<Timestamps>,
        keep_expiry: Option<u64>,
    ) -> Outcome {
        let shared = self.shared;
        let codec = &shared.codec;
        let now = unix_secs(self.now);
        let wanted = self.attrs.lifetime(self.now);
        let created_at = previous.map_or(now, |t| t.created_at);
        let expires_at = keep_expiry.unwrap_or_else(|| {
            let ttl = wanted.unwrap_or(shared.ttl).as_secs();
            now.saturating_add(ttl)
                .min(shared.time.deadline(created_at))
        });
        let lifetime = match wanted {
            // The browser never keeps a native cookie longer than the server accepts it
            // (SECURITY.md §8.2 item 19); Express cookies have no server-side expiry.
            Some(wanted) if codec.format().has_server_expiry() => {
                Lifetime::For(wanted.min(Duration::from_secs(expires_at.saturating_sub(now))))
            }
            Some(wanted) => Lifetime::For(wanted),
            None => Lifetime::Session,
        };
        let times = Timestamps {
            created_at,
            issued_at: now,
            expires_at,
        };
        let sealed = codec.seal(canonical, times);

        let mut cookies = vec![(codec.name(), sealed.value.as_str())];
        if let (Some(sig_name), Some(sig)) = (codec.sig_name(), sealed.sig.as_deref()) {
            cookies.push((sig_name, sig));
        }
        for (name, value) in &cookies {
            let size = name.len() + 1 + value.len();
            if size > shared.max_cookie_size {
                return Outcome {
                    touched: true,
                    set_cookies: Vec::new(),
                    error: Some(SessionError::CookieTooLarge {
                        name: (*name).to_owned(),
                        size,
                        limit: shared.max_cookie_size,
                    }),
                };
            }
        }
        let style = codec.header_style();
        let set_cookies = cookies
            .iter()
            .map(|(name, value)| {
                render_set_cookie(
                    style,
                    name,
                    value,
                    self.attrs,
                    self.secure,
                    lifetime,
                    self.now,
                )
            })
            .collect();
        Outcome {
            touched: true,
            set_cookies,
            error: None,
        }
    }
}
