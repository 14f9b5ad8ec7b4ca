//! Leaving an older cookie format without logging anyone out.
//!
//! A layer told to [`migrate_from`](crate::SessionConfig::migrate_from) a [`Legacy`] source
//! still reads and writes only its own format, but when a request carries no session of that
//! format, it also tries the old one, with the old keys:
//!
//! | the request carries | the session | the response |
//! |---|---|---|
//! | only an old cookie that verifies with the old keys | its data | the session in the layer's format, and the old cookie(s) cleared (an old cookie with the layer's own name, path and domain is replaced by the new value; its `.sig` is cleared) |
//! | a cookie of the layer's format, and an old one that verifies | the layer's (the old one is ignored) | the old cookie(s) cleared |
//! | an old cookie that does not verify (tampered, other keys, malformed) | empty and new | nothing re-issued, nothing cleared |
//!
//! The old keys open only the old format, and the layer's own keys never open it: the two
//! rings are separate, so a leaked Express secret cannot forge a session of the new format,
//! and the new keys do not make an old cookie valid.
//!
//! Migration is lazy, like the session itself: it happens on the first request whose handler
//! uses the session (or every request, with [`rolling`](crate::SessionConfig::rolling)). A
//! request that never touches the session costs nothing and leaves the old cookie where it is,
//! so it is still there for the next request that does.
//!
//! A migrated session [`is_new`](crate::Session::is_new): the browser had no session of the
//! layer's format, and gets a new one (in store mode, a new record). It has no creation time to
//! carry over (the Express format has none), so an absolute lifetime starts at the migration.
//! With [revocation](crate::SessionConfig::revocation), an old cookie naming a user who has a
//! revocation in force is refused: it has no creation time to show it came after.
//!
//! The old cookie is cleared only when the session moved: on a response that carries the new
//! cookie, or that ends or empties the session. When the new cookie could not be written (too
//! large, or a store write refused under the anonymous outage policy), the old cookie stays, so
//! nothing the user had is lost.
//!
//! An [express-session](Legacy::express_session) source's session is a record in a store,
//! named by a signed `connect.sid`: the cookie must verify with the old secrets *and* its
//! record be live for it to count as an old cookie that verifies (beside a cookie of the
//! layer's format, the signature alone is enough to clear it). That record is only read, never
//! written, touched or deleted. Reading it is a store round trip, so such a layer loads
//! sessions asynchronously, as a store-backed one does.
//!
//! [`SessionLayer::metrics`](crate::SessionLayer::metrics) counts the sessions opened per
//! format ([`MetricsSnapshot::opened`](crate::MetricsSnapshot::opened)): once the old
//! format's count stops growing, the old source and its keys can go. An old cookie that does not
//! verify is counted under its [`Rejection`](crate::Rejection). When the old cookie has the
//! layer's own name (Express's and this crate's default, `session`), the layer's format
//! examines its value first and refuses it: each migrated request also counts one
//! `malformed`; a cookie of the layer's format without a `.sig` is not an old cookie.
//!
//! # Examples
//!
//! ```
//! use cookie_session::{KeyRing, SessionConfig, migrate::Legacy};
//!
//! // The Express app's `keys` (short, as Express allows), and the new ring (≥ 32 bytes).
//! let express_keys = KeyRing::new(["an old Express secret"])?;
//! let keys = KeyRing::new(["a secret of at least thirty-two bytes!"])?;
//! let layer = SessionConfig::new(keys)
//!     .migrate_from(Legacy::express(express_keys))
//!     .build()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use crate::format::{Format, SigAlgorithm};
use crate::key::KeyRing;
use crate::store::ExpressSessionStore;

/// express-session's default cookie name.
const EXPRESS_SESSION_COOKIE: &str = "connect.sid";

/// An older cookie format a layer also opens, with its own keys, and re-issues in the
/// layer's format: see the [module documentation](self).
///
/// Two sources: Express's `cookie-session` pair (`session` and `session.sig`,
/// [`Legacy::express`]), and express-session's signed `connect.sid` naming a record in its
/// store ([`Legacy::express_session`]).
///
/// # Examples
///
/// ```
/// use cookie_session::{KeyRing, migrate::Legacy, format::SigAlgorithm};
///
/// // The pair `sess` + `sess.sig`, SHA-256 keygrip, set by Express with `path: '/app'`.
/// let old = Legacy::express(KeyRing::new(["old secret", "older secret"])?)
///     .algorithm(SigAlgorithm::Sha256)
///     .name("sess")
///     .path("/app");
/// assert_eq!(old.format_name(), "express");
/// # Ok::<(), cookie_session::KeyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Legacy {
    pub(crate) source: Source,
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
}

/// What the old cookie is. One variant per kind of source: a source whose session lives in a
/// store (express-session) opens asynchronously, in `session::persist`.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Express `cookie-session`: the session is the cookie, signed by keygrip.
    Express {
        keys: KeyRing,
        algorithm: SigAlgorithm,
    },
    /// express-session: the cookie is a signed sid, the session a record in `store`, read
    /// only (never written, touched or deleted: the Express app may still serve the browser).
    ExpressSession {
        secrets: KeyRing,
        store: Arc<dyn ExpressSessionStore>,
    },
}

impl Legacy {
    /// Express's `cookie-session` 2.x pair, signed with `keys` (its `keys` option, first key
    /// first), keygrip's SHA-1, named `session`, `Path=/`, no `Domain`: Express's defaults.
    /// Express keys may be short; any non-empty key works here, as there.
    pub fn express(keys: KeyRing) -> Self {
        Legacy {
            source: Source::Express {
                keys,
                algorithm: SigAlgorithm::Sha1,
            },
            name: crate::DEFAULT_COOKIE_NAME.to_owned(),
            path: "/".to_owned(),
            domain: None,
        }
    }

    /// express-session 1.x sessions: a `connect.sid` cookie signed with `secrets` (its
    /// `secret` option, first secret first; any non-empty secret works, as there) naming a
    /// record in `store` (connect-redis's or connect-pg-simple's layout), `Path=/`, no
    /// `Domain`: express-session's defaults.
    ///
    /// A request with no session of the layer's format whose `connect.sid` verifies and whose
    /// record is live gets the record's data, re-issued in the layer's format; `connect.sid` is
    /// cleared with the record's own `path` and `domain` (else [`path`](Self::path) and
    /// [`domain`](Self::domain)). The record itself is only read: it stays in the store, for
    /// the Express app that may still serve that browser, and expires there.
    ///
    /// Loading the record is a store round trip, so a layer with this source loads sessions
    /// asynchronously even in cookie mode: handlers use the axum extractor, or call
    /// [`Session::load`](crate::Session::load) first, as with a store. A store failure while
    /// reading the old record follows the layer's
    /// [`store_outage`](crate::SessionConfig::store_outage) policy.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use cookie_session::{KeyRing, SessionConfig, migrate::Legacy};
    /// use cookie_session::store::ExpressRedisStore;
    ///
    /// let old_store = ExpressRedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// let old = Legacy::express_session(KeyRing::new(["keyboard cat"])?, old_store);
    /// assert_eq!(old.format_name(), "express-session");
    /// let layer = SessionConfig::new(KeyRing::new(["a secret of at least thirty-two bytes!"])?)
    ///     .migrate_from(old)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn express_session(secrets: KeyRing, store: impl ExpressSessionStore) -> Self {
        Self::express_session_shared(secrets, Arc::new(store))
    }

    /// Like [`express_session`](Self::express_session), for a store already shared.
    pub fn express_session_shared(secrets: KeyRing, store: Arc<dyn ExpressSessionStore>) -> Self {
        Legacy {
            source: Source::ExpressSession { secrets, store },
            name: EXPRESS_SESSION_COOKIE.to_owned(),
            path: "/".to_owned(),
            domain: None,
        }
    }

    /// keygrip's algorithm, for an Express app that passed its own `Keygrip`. Default SHA-1.
    /// No effect on an [`express_session`](Self::express_session) source, whose signature is
    /// always express-session's HMAC-SHA-256.
    pub fn algorithm(mut self, algorithm: SigAlgorithm) -> Self {
        match &mut self.source {
            Source::Express { algorithm: a, .. } => *a = algorithm,
            Source::ExpressSession { .. } => {}
        }
        self
    }

    /// The old cookie's name (Express's `name` option). Default `session`, or `connect.sid`
    /// for an [`express_session`](Self::express_session) source.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The old cookie's `Path`, needed to clear it. Default `/`. An express-session cookie is
    /// cleared with the `path` its record keeps when it is migrated, and with this one when a
    /// cookie of the layer's format comes with it (its record is then not read).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The old cookie's `Domain`, needed to clear it. Default none (host-only).
    pub fn domain(mut self, domain: Option<String>) -> Self {
        self.domain = domain;
        self
    }

    /// The name under which [`MetricsSnapshot::opened`](crate::MetricsSnapshot::opened)
    /// counts sessions opened from this source (`express`, whatever the algorithm, or
    /// `express-session`).
    pub fn format_name(&self) -> &'static str {
        match self.source {
            Source::Express { .. } => "express",
            Source::ExpressSession { .. } => "express-session",
        }
    }

    /// The format that reads this source's cookie. An express-session cookie is read by a
    /// `SidSigner`: its codec only carries the name (as in the layer's express-session mode).
    pub(crate) fn format(&self) -> Format {
        match self.source {
            Source::Express { algorithm, .. } => Format::Express(algorithm),
            Source::ExpressSession { .. } => Format::Express(SigAlgorithm::Sha256),
        }
    }

    pub(crate) fn keys(&self) -> &KeyRing {
        match &self.source {
            Source::Express { keys, .. } => keys,
            Source::ExpressSession { secrets, .. } => secrets,
        }
    }
}
