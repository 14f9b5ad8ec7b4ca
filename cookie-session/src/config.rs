//! Configuring a session layer. Everything is checked in [`SessionConfig::build`], so a layer
//! that exists can only send valid cookies.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::cookie::{CookieAttributes, CookieConfigError, Priority, SameSite};
use crate::format::express_session::SidSigner;
use crate::format::{Cipher, Codec, Format, SigAlgorithm, MAX_CHUNKS};
use crate::layer::SessionLayer;
use crate::metrics::Metrics;
use crate::migrate::Legacy;
use crate::session::{Backend, Opener, StoreBackend, MAX_SOURCES};
use crate::session::{ExpressBackend, ExpressSessionMode, Parts, Shared};
use crate::store::{OutagePolicy, SessionId, SessionStore};
use crate::time::{Clock, SharedClock, SystemClock, TimePolicy};
use crate::{KeyError, KeyRing};

/// The default cookie name, Express's too.
pub const DEFAULT_COOKIE_NAME: &str = "session";

/// The largest `name=value` a browser is sure to keep (RFC 6265bis §5.6 storage limits; ASVS
/// 3.3.5). Larger cookies are refused with [`SessionError::CookieTooLarge`](crate::SessionError).
pub const DEFAULT_MAX_COOKIE_SIZE: usize = 4096;

/// The largest session a server-side store is asked to keep, as JSON text: 64 KiB, what the
/// largest compressed cookie may carry ([`MAX_DECOMPRESSED_LEN`](crate::format::MAX_DECOMPRESSED_LEN)),
/// so an application moving from cookies to a store keeps every session it had. Larger ones
/// are refused with [`SessionError::SessionTooLarge`](crate::SessionError).
pub const DEFAULT_MAX_SESSION_SIZE: usize = 64 * 1024;

/// The smallest session size limit a layer accepts.
const MIN_SESSION_SIZE: usize = 64;
/// The name express-session mode counts its opened sessions under
/// ([`MetricsSnapshot::opened`](crate::MetricsSnapshot)).
const EXPRESS_SESSION_FORMAT: &str = "express-session";

/// How long a native cookie stays valid on the server when no `max_age` is configured: the
/// authenticated expiry of browser-session cookies (docs/SECURITY-CHECKLIST.md item 17).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A configuration that cannot work, found when the layer is built.
///
/// Its `Debug` output is its message, as [`KeyError`]'s is: `main` returning it through `?`
/// prints what is wrong.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The keys do not suit the format.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The cookie attributes break a rule.
    #[error(transparent)]
    Cookie(#[from] CookieConfigError),
    /// A lifetime of zero: every session would be over as soon as it is sent (`Max-Age=0`
    /// tells the browser to delete the cookie at once).
    #[error("{0} of zero: every session would end as soon as it is sent")]
    ZeroLifetime(&'static str),
    /// The size limit is above what browsers keep, or too small for any session.
    #[error("max cookie size {0} must be between 64 and 4096 bytes")]
    MaxCookieSize(usize),
    /// The stored-session size limit is too small for any session.
    #[error("max session size {0} must be at least 64 bytes")]
    MaxSessionSize(usize),
    /// Splitting oversized sessions takes 2 to 8 cookies, and a native format.
    #[error(
        "split_oversized takes 2 to {max} cookies and a native format (encrypted, signed or jwt)"
    )]
    Split {
        /// The most cookies allowed.
        max: usize,
    },
    /// A server-side store needs a native format to seal the session id.
    #[error("a session store needs a native format (encrypted, signed or jwt), not {0}")]
    StoreNeedsNativeFormat(Format),
    /// An option the chosen format would silently ignore: revocation and an absolute
    /// lifetime need the authenticated times of a native format (the express format has
    /// none), and compression applies to the `encrypted` and `signed` formats only.
    #[error("{option} has no effect with the {format} format")]
    Unsupported {
        /// The setter that was called.
        option: &'static str,
        /// The format that cannot honour it.
        format: Format,
    },
    /// An option that makes no sense in express-session mode
    /// ([`SessionConfig::express_session`]): another cookie format or store (the mode has its
    /// own), a revocation store, an absolute lifetime (express-session records carry no
    /// creation time), split or compressed cookies (the cookie is only a signed id), or an
    /// absolute `expires` (express-session's is deprecated; use `max_age`).
    #[error("{option} cannot be used in express-session mode")]
    ExpressSession {
        /// The setter that was called.
        option: &'static str,
    },
    /// The clock skew is above [`MAX_CLOCK_SKEW`]: so large a tolerance would keep expired
    /// cookies valid, and accept cookies sealed far in the future.
    #[error("clock skew of {0:?} is above the {MAX_CLOCK_SKEW:?} maximum")]
    ClockSkew(Duration),
    /// A source given to [`SessionConfig::migrate_from`] shares a key with the layer's own
    /// ring: the old format must be opened with the old keys only, and the new format must
    /// never be sealed with an old key.
    #[error("the keys of a format to migrate from must differ from the layer's own keys")]
    MigrateSharesKey,
    /// More sources were given to [`SessionConfig::migrate_from`] than a layer takes.
    #[error("at most {max} formats to migrate from")]
    MigrateSources {
        /// The most sources allowed.
        max: usize,
    },
}

impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The largest [`SessionConfig::clock_skew`] accepted: five minutes, ample for servers
/// synchronised with NTP.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// The full configuration of a session layer, built with setters and checked by
/// [`SessionConfig::build`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cookie_session::{KeyRing, SessionConfig, format::Format, cookie::SameSite};
///
/// let keys = KeyRing::new(["a secret of at least thirty-two bytes!"])?;
/// // The defaults: encrypted, `session`, HttpOnly, SameSite=Lax, Path=/, browser-session cookie.
/// let layer = SessionConfig::new(keys.clone()).build()?;
///
/// // Customised: signed, a persistent cookie for a week, sliding, 30 days at most.
/// let layer = SessionConfig::new(keys)
///     .format(Format::Signed)
///     .name("__Host-sid")
///     .secure(true)
///     .same_site(Some(SameSite::Strict))
///     .max_age(Some(Duration::from_secs(7 * 86400)))
///     .rolling(true)
///     .absolute_lifetime(Some(Duration::from_secs(30 * 86400)))
///     .build()?;
/// # Ok::<(), cookie_session::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SessionConfig {
    pub(crate) keys: KeyRing,
    pub(crate) format: Format,
    pub(crate) name: String,
    pub(crate) attributes: CookieAttributes,
    pub(crate) ttl: Duration,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) time: TimePolicy,
    pub(crate) rolling: bool,
    pub(crate) trust_proxy: bool,
    pub(crate) max_cookie_size: usize,
    pub(crate) max_session_size: usize,
    pub(crate) clock: SharedClock,
    pub(crate) store: Option<(Arc<dyn SessionStore>, StoreUse)>,
    pub(crate) outage: OutagePolicy,
    pub(crate) user_key: String,
    pub(crate) ids: Arc<dyn Fn() -> SessionId + Send + Sync>,
    pub(crate) max_chunks: Option<usize>,
    pub(crate) compress: bool,
    pub(crate) cipher: Cipher,
    pub(crate) legacy: Vec<Legacy>,
    pub(crate) express: Option<ExpressSessionMode>,
}

/// What a configured store is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreUse {
    Sessions,
    Revocation,
}

/// The default session key that names a session's user, for revocation.
pub(crate) const DEFAULT_USER_KEY: &str = "user";

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("keys", &self.keys)
            .field("format", &self.format)
            .field("name", &self.name)
            .field("attributes", &self.attributes)
            .field("ttl", &self.ttl)
            .field("max_lifetime", &self.max_lifetime)
            .field("time", &self.time)
            .field("rolling", &self.rolling)
            .field("trust_proxy", &self.trust_proxy)
            .field("max_cookie_size", &self.max_cookie_size)
            .field("max_session_size", &self.max_session_size)
            .field("store", &self.store.as_ref().map(|(_, usage)| usage))
            .field("outage", &self.outage)
            .field("user_key", &self.user_key)
            .field("max_chunks", &self.max_chunks)
            .field("compress", &self.compress)
            .field("cipher", &self.cipher)
            .field("legacy", &self.legacy)
            .field("express", &self.express)
            .finish()
    }
}

impl SessionConfig {
    /// The secure defaults with these keys.
    pub fn new(keys: KeyRing) -> Self {
        Self {
            keys,
            format: Format::default(),
            name: DEFAULT_COOKIE_NAME.to_owned(),
            attributes: CookieAttributes::default(),
            ttl: DEFAULT_TTL,
            max_lifetime: None,
            time: TimePolicy::default(),
            rolling: false,
            trust_proxy: false,
            max_cookie_size: DEFAULT_MAX_COOKIE_SIZE,
            max_session_size: DEFAULT_MAX_SESSION_SIZE,
            clock: SharedClock(Arc::new(SystemClock)),
            store: None,
            outage: OutagePolicy::default(),
            user_key: DEFAULT_USER_KEY.to_owned(),
            ids: Arc::new(SessionId::generate),
            max_chunks: None,
            compress: false,
            cipher: Cipher::Auto,
            legacy: Vec::new(),
            express: None,
        }
    }

    /// The cookie format. Default [`Format::Encrypted`].
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The cookie name. Default `session`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// All cookie attributes at once.
    pub fn attributes(mut self, attributes: CookieAttributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// `Path`. Default `/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.attributes.path = path.into();
        self
    }

    /// `Domain`. Default none (host-only). Setting one shares the cookie with subdomains.
    pub fn domain(mut self, domain: Option<String>) -> Self {
        self.attributes.domain = domain;
        self
    }

    /// `Max-Age`: `None` (the default) makes a browser-session cookie. Clamped to 400 days.
    /// For native formats it is also the server-side lifetime of each cookie.
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.attributes.max_age = max_age;
        self
    }

    /// `Expires` as an absolute time, used when no `max_age` is set.
    pub fn expires(mut self, expires: Option<SystemTime>) -> Self {
        self.attributes.expires = expires;
        self
    }

    /// `SameSite`. Default `Some(Lax)`. `Some(None)` requires `secure(true)`.
    ///
    /// Warning: `None` here drops the attribute and leaves the choice to the browser.
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.attributes.same_site = same_site;
        self
    }

    /// Forces `Secure` on (`true`) or off (`false`). By default it follows the request:
    /// HTTPS, or `X-Forwarded-Proto: https` with [`trust_proxy`](Self::trust_proxy).
    ///
    /// Warning: `false` lets the cookie travel over plain HTTP.
    pub fn secure(mut self, secure: bool) -> Self {
        self.attributes.secure = Some(secure);
        self
    }

    /// `HttpOnly`. Default `true`.
    ///
    /// Warning: `false` lets any script on the page (and any XSS) read the session cookie.
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.attributes.http_only = http_only;
        self
    }

    /// `Partitioned` (CHIPS). Requires `secure(true)`.
    pub fn partitioned(mut self, partitioned: bool) -> Self {
        self.attributes.partitioned = partitioned;
        self
    }

    /// `Priority`.
    pub fn priority(mut self, priority: Option<Priority>) -> Self {
        self.attributes.priority = priority;
        self
    }

    /// The server-side lifetime of a native cookie that has no `max_age`. Default 24 hours.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The longest lifetime one write may give a session, whatever the handler asks for this
    /// response with [`Session::set_max_age`](crate::Session::set_max_age) or
    /// [`Session::update_cookie`](crate::Session::update_cookie) (Express's
    /// `req.sessionOptions`). It bounds the authenticated expiry sealed into a native cookie,
    /// a store record's expiry, and the `Max-Age`/`Expires` the browser is told.
    ///
    /// Default: the configured lifetime — [`max_age`](Self::max_age) (or the time left until
    /// [`expires`](Self::expires)), else [`ttl`](Self::ttl) — so a per-request override can
    /// shorten a session but never lengthen it. Raise it for a longer lifetime the application
    /// grants itself, such as "remember me":
    ///
    /// ```
    /// use std::time::Duration;
    /// use cookie_session::{KeyRing, SessionConfig};
    ///
    /// let keys = KeyRing::new(["a secret of at least thirty-two bytes!"])?;
    /// // Browser-session cookies valid for 24 hours; `set_max_age` may ask for up to 30 days.
    /// let layer = SessionConfig::new(keys)
    ///     .max_lifetime(Duration::from_secs(30 * 86400))
    ///     .build()?;
    /// # Ok::<(), cookie_session::ConfigError>(())
    /// ```
    ///
    /// The Express format has no server-side expiry (a cookie is accepted for as long as the
    /// browser sends it), so there the default is no ceiling, as in Express, and a set ceiling
    /// only caps what the browser is told.
    pub fn max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = Some(max);
        self
    }

    /// The longest a session may live from its creation, however often it is re-issued.
    /// Default none. Native formats only: with the express format [`build`](Self::build)
    /// fails with [`ConfigError::Unsupported`].
    pub fn absolute_lifetime(mut self, limit: Option<Duration>) -> Self {
        self.time.absolute_lifetime = limit;
        self
    }

    /// How far the clocks of servers sharing the keys may disagree. Default 60 seconds, at
    /// most [`MAX_CLOCK_SKEW`] ([`build`](Self::build) fails with [`ConfigError::ClockSkew`]).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.time.clock_skew = skew;
        self
    }

    /// Re-issue the cookie on every request that carries a valid one, sliding its expiry
    /// (within the absolute lifetime). Default `false`: the cookie is written only when the
    /// session changes, as Express does.
    pub fn rolling(mut self, rolling: bool) -> Self {
        self.rolling = rolling;
        self
    }

    /// Believe the first `X-Forwarded-Proto` value when deciding `Secure`, like Express's
    /// `trust proxy`. Only enable it behind a proxy that sets the header. Default `false`.
    pub fn trust_proxy(mut self, trust: bool) -> Self {
        self.trust_proxy = trust;
        self
    }

    /// The largest `name=value` the layer will send, in bytes. Default and maximum 4096.
    pub fn max_cookie_size(mut self, size: usize) -> Self {
        self.max_cookie_size = size;
        self
    }

    /// The largest session a server-side store is asked to keep, in bytes of its JSON text
    /// (what every store writes). Default [`DEFAULT_MAX_SESSION_SIZE`] (64 KiB); at least 64.
    ///
    /// Checked whenever the layer would write a record, and again by the store on the record
    /// it would store (the request's changes merged into the record as it is then, a
    /// concurrent request's keys included; see
    /// [`Patch::max_size`](crate::store::Patch::max_size)): a larger session answers 500 with
    /// [`SessionError::SessionTooLarge`](crate::SessionError::SessionTooLarge) in the response
    /// extensions, and nothing is written — the stored record and the browser's cookie stay
    /// as they were (a `regenerate` is refused before the old record is deleted). A record
    /// already larger (stored under a higher limit) is still read, and kept as it is until a
    /// change brings it within the limit (a change that leaves it too large, `regenerate`
    /// included, is refused); reading, touching and destroying it work. Cookie mode
    /// is bounded by [`max_cookie_size`](Self::max_cookie_size) instead.
    ///
    /// ```
    /// use cookie_session::{KeyRing, SessionConfig, store::MemoryStore};
    /// let layer = SessionConfig::new(KeyRing::new(["a secret of at least thirty-two bytes!"])?)
    ///     .store(MemoryStore::new())
    ///     .max_session_size(16 * 1024)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_session_size(mut self, size: usize) -> Self {
        self.max_session_size = size;
        self
    }

    /// Where time comes from (tests inject a clock). Default the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = SharedClock(Arc::new(clock));
        self
    }

    /// Keeps sessions in `store`: the cookie then carries only the sealed session id
    /// (a native format: encrypted, signed or jwt). Handlers do not change.
    pub fn store(mut self, store: impl SessionStore) -> Self {
        self.store = Some((Arc::new(store), StoreUse::Sessions));
        self
    }

    /// Like [`store`](Self::store), for a store already shared (with the code that calls
    /// [`SessionLayer::revoke_user`], say).
    pub fn shared_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some((store, StoreUse::Sessions));
        self
    }

    /// Cookie mode with revocation: keeps the session in the cookie, and checks on every load
    /// that its user (the [`user_key`](Self::user_key) value) was not revoked after the
    /// session was created — one store read per request that touches a session with a user.
    /// [`SessionLayer::revoke_user`] then ends every cookie session of a user at once.
    ///
    /// Native formats only (the check compares the session's authenticated creation time):
    /// with the express format [`build`](Self::build) fails with [`ConfigError::Unsupported`].
    pub fn revocation(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some((store, StoreUse::Revocation));
        self
    }

    /// What a request does when the store is down. Default [`OutagePolicy::Fail`] (503).
    pub fn store_outage(mut self, policy: OutagePolicy) -> Self {
        self.outage = policy;
        self
    }

    /// The session key whose value (a string or number) names the session's user, for
    /// [`SessionLayer::revoke_user`]. Default `user`.
    pub fn user_key(mut self, key: impl Into<String>) -> Self {
        self.user_key = key.into();
        self
    }

    /// Where new session ids come from. Default [`SessionId::generate`] (the OS CSPRNG);
    /// tests rig it to force collisions.
    pub fn id_generator(mut self, ids: impl Fn() -> SessionId + Send + Sync + 'static) -> Self {
        self.ids = Arc::new(ids);
        self
    }

    /// Split a session too large for one cookie over `name.0`, `name.1`, … (each within the
    /// size limit, at most `max_cookies` of them, all covered by one seal so a missing or
    /// swapped chunk is rejected), instead of failing the response. Chunks no longer needed
    /// are removed. Native formats only. Default off: an oversized session is an error.
    ///
    /// Cookies a browser may hold beside ours under those names (planted from a sibling
    /// subdomain, left under another path) never hide the split session: reading tries every
    /// chunk count and, per name, up to 4 values, at most 8 ways in all (each opens the whole
    /// joined value).
    ///
    /// Mind the browser's budget: about 50 cookies and 4 KiB each per domain, and every chunk
    /// travels on every request.
    pub fn split_oversized(mut self, max_cookies: usize) -> Self {
        self.max_chunks = Some(max_cookies);
        self
    }

    /// Compress native payloads before sealing when that makes them smaller (raw deflate).
    /// Decompression happens only after authentication and is capped at 64 KiB. Default off.
    ///
    /// The `encrypted` and `signed` formats only: the express and jwt formats carry plain
    /// JSON other programs read, and [`build`](Self::build) refuses `compress(true)` with
    /// them ([`ConfigError::Unsupported`]).
    ///
    /// **Compression makes the cookie's length tell its content.** When an attacker can put a
    /// string in a visitor's session (a search term, a return-to URL) and observe the length
    /// of the cookie that comes back, the length shows whether that string repeats a secret
    /// in the session, such as its CSRF token ([`Session::csrf_token`](crate::Session::csrf_token)):
    /// the CRIME attack (docs/SECURITY.md §3). Leave it off for sessions that hold secrets
    /// beside values others can influence.
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Which cipher seals `encrypted` cookies. Default [`Cipher::Auto`]: XAES-256-GCM where the
    /// CPU has AES instructions, XChaCha20-Poly1305 elsewhere. Cookies of both versions are
    /// always opened; this chooses only the version written.
    ///
    /// Pin [`Cipher::XChaCha20Poly1305`] during a rolling upgrade from a release that does
    /// not open version 2, until every instance runs this one. The `encrypted` format only:
    /// [`build`](Self::build) refuses another cipher than `Auto` with another format
    /// ([`ConfigError::Unsupported`]).
    ///
    /// ```
    /// use cookie_session::{format::Cipher, KeyRing, SessionConfig};
    ///
    /// let layer = SessionConfig::new(KeyRing::new(["a-secret-of-at-least-32-bytes!!!!"])?)
    ///     .cipher(Cipher::XChaCha20Poly1305)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cipher(mut self, cipher: Cipher) -> Self {
        self.cipher = cipher;
        self
    }

    /// Also open sessions of an older format, with that format's own keys, and move them to
    /// this layer's format: the session is re-issued in this format on the same response and
    /// the old cookie cleared, so nobody is logged out. Call it once per source (at most
    /// eight); the first whose cookie verifies serves. See [`crate::migrate`] for every case.
    ///
    /// ```
    /// use cookie_session::{KeyRing, SessionConfig, migrate::Legacy};
    ///
    /// let layer = SessionConfig::new(KeyRing::new(["a secret of at least thirty-two bytes!"])?)
    ///     .migrate_from(Legacy::express(KeyRing::new(["the Express app's secret"])?))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`build`](Self::build) fails when a source shares a key with this layer's ring
    /// ([`ConfigError::MigrateSharesKey`]), its cookie name, path or domain break a rule
    /// ([`ConfigError::Cookie`]), or there are more than eight sources
    /// ([`ConfigError::MigrateSources`]).
    pub fn migrate_from(mut self, legacy: Legacy) -> Self {
        self.legacy.push(legacy);
        self
    }

    /// Shares sessions with an Express app that uses express-session 1.19: the cookie is
    /// express-session's signed `connect.sid`, the session its record in `mode`'s store
    /// (connect-redis's or connect-pg-simple's layout), read and written through the same
    /// [`Session`](crate::Session) API. `docs/EXPRESS-SESSION.md` explains what is shared and
    /// how.
    ///
    /// - The keys are the Express app's `secret` list: the first signs, every one verifies,
    ///   any length is accepted (shorter than 32 bytes: a warning in the logs, index and
    ///   length only).
    /// - The cookie name becomes `connect.sid` unless another [`name`](Self::name) was set.
    /// - [`max_age`](Self::max_age) is `cookie.maxAge`, [`rolling`](Self::rolling) is
    ///   `rolling`, and the other attributes become the `cookie` member of new records; a
    ///   loaded record's own `cookie` decides its `Set-Cookie`, as in express-session.
    /// - [`store_outage`](Self::store_outage) applies as in native store mode.
    /// - A forged, unsigned or unknown sid, a record that cannot be read, or one whose
    ///   `cookie.expires` has passed: an empty session, saved under a new sid; the record is
    ///   left as it is.
    ///
    /// [`build`](Self::build) refuses ([`ConfigError::ExpressSession`]) another
    /// [`format`](Self::format), a [`store`](Self::store) or [`revocation`](Self::revocation),
    /// [`absolute_lifetime`](Self::absolute_lifetime),
    /// [`split_oversized`](Self::split_oversized), [`compress`](Self::compress) and
    /// [`expires`](Self::expires).
    ///
    /// ```no_run
    /// # #[cfg(feature = "postgres")]
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use cookie_session::store::{sqlx::PgPool, ExpressPgStore};
    /// use cookie_session::{ExpressSessionMode, KeyRing, SessionConfig};
    ///
    /// let pool = PgPool::connect("postgres://app:secret@127.0.0.1/app").await?;
    /// let layer = SessionConfig::new(KeyRing::new(["keyboard cat"])?)
    ///     .express_session(ExpressSessionMode::new(ExpressPgStore::new(pool)))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn express_session(mut self, mode: impl Into<ExpressSessionMode>) -> Self {
        if self.name == DEFAULT_COOKIE_NAME {
            self.name = crate::format::express_session::DEFAULT_COOKIE_NAME.to_owned();
        }
        self.express = Some(mode.into());
        self
    }

    /// The cookie name configured.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The format configured.
    pub fn cookie_format(&self) -> Format {
        self.format
    }

    /// Refuses options the format or mode would accept and then ignore.
    fn check_options(&self) -> Result<(), ConfigError> {
        let unsupported = |option| {
            Err(ConfigError::Unsupported {
                option,
                format: self.format,
            })
        };
        if self.time.clock_skew > MAX_CLOCK_SKEW {
            return Err(ConfigError::ClockSkew(self.time.clock_skew));
        }
        if !self.format.has_server_expiry() {
            // No authenticated times: nothing to compare a revocation or a lifetime with.
            if matches!(self.store, Some((_, StoreUse::Revocation))) {
                return unsupported("revocation");
            }
            if self.time.absolute_lifetime.is_some() {
                return unsupported("absolute_lifetime");
            }
        }
        if self.compress && !matches!(self.format, Format::Encrypted | Format::Signed) {
            return unsupported("compress");
        }
        if self.cipher != Cipher::Auto && self.format != Format::Encrypted {
            return unsupported("cipher");
        }
        Ok(())
    }

    /// The layer of express-session mode: checked apart, since its keys are Express secrets
    /// of any length and its cookie is no format of [`Format`].
    fn build_express(self, mode: ExpressSessionMode) -> Result<SessionLayer, ConfigError> {
        let refused = |option| Err(ConfigError::ExpressSession { option });
        if self.time.clock_skew > MAX_CLOCK_SKEW {
            return Err(ConfigError::ClockSkew(self.time.clock_skew));
        }
        if !(64..=DEFAULT_MAX_COOKIE_SIZE).contains(&self.max_cookie_size) {
            return Err(ConfigError::MaxCookieSize(self.max_cookie_size));
        }
        if self.max_session_size < MIN_SESSION_SIZE {
            return Err(ConfigError::MaxSessionSize(self.max_session_size));
        }
        if self.format != Format::default() {
            return refused("format");
        }
        if self.cipher != Cipher::Auto {
            return refused("cipher");
        }
        match self.store {
            Some((_, StoreUse::Sessions)) => return refused("store"),
            Some((_, StoreUse::Revocation)) => return refused("revocation"),
            None => {}
        }
        if self.time.absolute_lifetime.is_some() {
            return refused("absolute_lifetime");
        }
        if self.max_chunks.is_some() {
            return refused("split_oversized");
        }
        if self.compress {
            return refused("compress");
        }
        if self.attributes.expires.is_some() {
            return refused("expires");
        }
        if !self.legacy.is_empty() {
            return refused("migrate_from");
        }
        let signer = SidSigner::new(&self.keys);
        // The codec only carries the cookie name here (for attribute checks and logs): cookies
        // are read and signed by `SidSigner`. The Express format accepts keys of any length.
        let codec = Codec::new(
            Format::Express(SigAlgorithm::Sha256),
            &self.keys,
            &self.name,
        )?;
        let backend = Backend::ExpressSession(Box::new(ExpressBackend {
            mode,
            signer,
            outage: self.outage,
        }));
        let parts = Parts {
            codec,
            backend,
            metrics: Metrics::new([EXPRESS_SESSION_FORMAT]),
            chunk_names: Vec::new(),
            legacy: Vec::new(),
        };
        Ok(SessionLayer::new(Arc::new(Shared::new(self, parts))))
    }

    /// Checks everything and builds the layer.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first problem: a key the format cannot use (too short for
    /// a native format, or two equal keys: [`ConfigError::Key`]), cookie attributes that break
    /// a rule (a `__Host-` name with a `Domain`, `SameSite=None` or `Partitioned` without
    /// `Secure`, separators in a name: [`ConfigError::Cookie`]), a size limit outside 64–4096
    /// bytes, a bad [`split_oversized`](Self::split_oversized), or a store with the `express`
    /// format, or an option the format or mode would silently ignore
    /// ([`ConfigError::Unsupported`], [`ConfigError::ClockSkew`]). Nothing is checked later, at
    /// request time.
    ///
    /// ```
    /// use cookie_session::{ConfigError, KeyError, KeyRing, SessionConfig};
    ///
    /// let short = KeyRing::new(["too short for a native format"])?;
    /// let error = SessionConfig::new(short).build().unwrap_err();
    /// assert!(matches!(error, ConfigError::Key(KeyError::TooShort { .. })));
    /// # Ok::<(), KeyError>(())
    /// ```
    ///
    /// ```
    /// use cookie_session::{ConfigError, KeyRing, SessionConfig, format::{Format, SigAlgorithm}};
    ///
    /// let express = SessionConfig::new(KeyRing::new(["an Express secret"])?)
    ///     .format(Format::Express(SigAlgorithm::Sha1))
    ///     .absolute_lifetime(Some(std::time::Duration::from_secs(86400)));
    /// assert!(matches!(express.build(), Err(ConfigError::Unsupported { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(mut self) -> Result<SessionLayer, ConfigError> {
        self.attributes.validate(&self.name)?;
        if self.attributes.max_age == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroLifetime("max_age"));
        }
        if self.ttl.is_zero() {
            return Err(ConfigError::ZeroLifetime("ttl"));
        }
        if let Some(mode) = self.express.take() {
            return self.build_express(mode);
        }
        self.check_options()?;
        if !(64..=DEFAULT_MAX_COOKIE_SIZE).contains(&self.max_cookie_size) {
            return Err(ConfigError::MaxCookieSize(self.max_cookie_size));
        }
        if self.max_session_size < MIN_SESSION_SIZE {
            return Err(ConfigError::MaxSessionSize(self.max_session_size));
        }
        let codec = Codec::new(self.format, &self.keys, &self.name)?
            .with_compression(self.compress)
            .with_cipher(self.cipher);
        let chunk_names = match self.max_chunks {
            None => Vec::new(),
            Some(n) if (2..=MAX_CHUNKS).contains(&n) && self.format.has_server_expiry() => {
                (0..n).map(|i| format!("{}.{i}", self.name)).collect()
            }
            Some(_) => return Err(ConfigError::Split { max: MAX_CHUNKS }),
        };
        if self.legacy.len() > MAX_SOURCES {
            return Err(ConfigError::MigrateSources { max: MAX_SOURCES });
        }
        let legacy = self
            .legacy
            .iter()
            .map(|legacy| Opener::new(legacy, &self.keys, self.outage))
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = Metrics::new(
            std::iter::once(self.format.as_str()).chain(legacy.iter().map(Opener::format_name)),
        );
        let backend = match self.store.take() {
            None => Backend::Cookie,
            Some((store, usage)) => {
                let backend = StoreBackend {
                    store,
                    outage: self.outage,
                    ids: self.ids.clone(),
                };
                match usage {
                    StoreUse::Sessions if !self.format.has_server_expiry() => {
                        return Err(ConfigError::StoreNeedsNativeFormat(self.format));
                    }
                    StoreUse::Sessions => Backend::Store(backend),
                    StoreUse::Revocation => Backend::Revocable(backend),
                }
            }
        };
        let parts = Parts {
            codec,
            backend,
            metrics,
            chunk_names,
            legacy,
        };
        Ok(SessionLayer::new(Arc::new(Shared::new(self, parts))))
    }
}
