//! What every session of one layer shares ([`Shared`]): the checked configuration, and the
//! reading of a request's session cookie that every path (the layer, `decode`, the
//! migrations) goes through. The layer's [`Session`](super::Session) handles hold it; the
//! other modules of `session` add to it (`open.rs`, `migrate.rs`, `persist.rs`).

use std::time::{Duration, SystemTime};

use http::HeaderValue;

use super::migrate::Opener;
use super::persist::Backend;
use super::write::Present;
use crate::cookie::{cookie_values, first_cookie_value, utf8_pairs, CookieAttributes};
use crate::format::{Codec, Loaded, Rejection, Unsealed};
use crate::metrics::Metrics;
use crate::time::{SharedClock, TimePolicy};

/// The most values of one chunk name ([`Shared::open_chunks`]) a request makes the server try.
pub(super) const MAX_CHUNK_VALUES: usize = 4;
/// The most ways to join chunks ([`Shared::open_chunks`]) a request makes the server try: each
/// opens a value of up to 8 cookies, so unlike single forged values these are bounded here.
pub(super) const MAX_CHUNK_ATTEMPTS: usize = 8;

/// What every session of one layer shares: the checked configuration.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) codec: Codec,
    pub(crate) attributes: CookieAttributes,
    pub(crate) ttl: Duration,
    /// The explicit ceiling on one write's lifetime (`SessionConfig::max_lifetime`).
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) time: TimePolicy,
    pub(crate) rolling: bool,
    pub(crate) trust_proxy: bool,
    pub(crate) max_cookie_size: usize,
    /// The largest session a store is asked to keep (its JSON text, in bytes).
    pub(crate) max_session_size: usize,
    pub(crate) clock: SharedClock,
    pub(crate) backend: Backend,
    /// The session key naming the user, for revocation.
    pub(crate) user_key: String,
    pub(crate) metrics: Metrics,
    /// `name.0`, `name.1`, … when oversized sessions may be split; empty otherwise.
    pub(crate) chunk_names: Vec<String>,
    /// Older formats also opened, and re-issued in this one (`SessionConfig::migrate_from`).
    pub(crate) legacy: Vec<Opener>,
    /// Whether loading a session needs a store round trip (and so `Session::load`): a store
    /// backend, or a source to migrate from whose sessions are in a store. Derived once by
    /// [`Shared::new`], read on every request.
    asynchronous: bool,
}

/// The `Cookie` header values as text, read pair by pair where a value is not UTF-8: a byte
/// that is not UTF-8 drops only the pair it is in (our cookies are ASCII), never the session
/// cookie beside it.
pub(super) fn utf8_headers(cookies: &[HeaderValue]) -> impl Iterator<Item = &str> + Clone {
    cookies.iter().flat_map(|v| utf8_pairs(v.as_bytes()))
}

/// What [`Shared::new`] takes besides the configuration every layer has: the parts that differ
/// between the native layer and express-session mode.
pub(crate) struct Parts {
    pub(crate) codec: Codec,
    pub(crate) backend: Backend,
    pub(crate) metrics: Metrics,
    pub(crate) chunk_names: Vec<String>,
    pub(crate) legacy: Vec<Opener>,
}

impl Shared {
    /// The one constructor, so what is derived from the configuration is derived in one place.
    pub(crate) fn new(config: crate::config::SessionConfig, parts: Parts) -> Self {
        let asynchronous = parts.backend.is_async() || parts.legacy.iter().any(Opener::is_async);
        Shared {
            codec: parts.codec,
            attributes: config.attributes,
            ttl: config.ttl,
            max_lifetime: config.max_lifetime,
            time: config.time,
            rolling: config.rolling,
            trust_proxy: config.trust_proxy,
            max_cookie_size: config.max_cookie_size,
            max_session_size: config.max_session_size,
            clock: config.clock,
            backend: parts.backend,
            user_key: config.user_key,
            metrics: parts.metrics,
            chunk_names: parts.chunk_names,
            legacy: parts.legacy,
            asynchronous,
        }
    }

    /// Whether loading a session needs a store round trip (and so `Session::load`).
    pub(crate) fn is_async(&self) -> bool {
        self.asynchronous
    }

    /// Reads and checks the session cookie from `Cookie` header values: the one path every
    /// request and the `decode` command take. Among cookies of the name, the first that
    /// authenticates and passes the time policy serves (see [`super::open`]); the store's
    /// checks come after, in [`super::persist::load`].
    pub(crate) fn open<'h, I>(&self, headers: I) -> Result<Loaded, Rejection>
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        let mut opening = self.opening(headers);
        match opening.next_valid() {
            Some(loaded) => Ok(loaded.into_loaded()),
            None => Err(opening.rejection()),
        }
    }

    /// The `attempt`-th way to read a session split over `name.0`, `name.1`, …: one value of
    /// each of the first `len` chunk names, joined in order and opened as one value, so the
    /// seal covers them all. `None` when there is no such attempt.
    ///
    /// A browser may hold values it did not get from us under those names (planted from a
    /// sibling subdomain, or left under another path), before or after ours, and one more
    /// chunk than ours: so every chunk count is tried, the longest first, and for each the
    /// combinations of up to [`MAX_CHUNK_VALUES`] values per name, in header order (the last
    /// chunk varying fastest), up to [`MAX_CHUNK_ATTEMPTS`] in all — each attempt opens the
    /// whole joined value.
    pub(super) fn open_chunks<'h, I>(
        &self,
        headers: I,
        attempt: usize,
    ) -> Option<Result<Unsealed, Rejection>>
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        if attempt >= MAX_CHUNK_ATTEMPTS {
            return None;
        }
        let mut values: Vec<Vec<&str>> = Vec::new();
        for name in &self.chunk_names {
            let found: Vec<&str> = cookie_values(headers.clone(), name)
                .filter(|value| !value.is_empty())
                .take(MAX_CHUNK_VALUES)
                .collect();
            if found.is_empty() {
                break;
            }
            values.push(found);
        }
        // Which chunk count and which combination `attempt` is.
        let mut rest = attempt;
        let mut len = values.len();
        loop {
            let combinations: usize = values[..len].iter().map(Vec::len).product();
            if len == 0 {
                return None;
            }
            if rest < combinations {
                break;
            }
            rest -= combinations;
            len -= 1;
        }
        let mut picks = vec![0; len];
        for (pick, found) in picks.iter_mut().zip(&values).rev() {
            *pick = rest % found.len();
            rest /= found.len();
        }
        let mut joined = String::new();
        for (pick, found) in picks.iter().zip(&values) {
            joined.push_str(found[*pick]);
        }
        let header = format!("{}={joined}", self.codec.name());
        Some(self.codec.open_unsealed([header.as_str()], true))
    }

    /// Which session cookies a request carries, when the layout can change (chunking on).
    pub(super) fn present(&self, cookies: &[HeaderValue]) -> Present {
        if self.chunk_names.is_empty() {
            return Present::default();
        }
        let headers = utf8_headers(cookies);
        Present {
            single: first_cookie_value(headers.clone(), self.codec.name()).is_some(),
            chunks: self
                .chunk_names
                .iter()
                .take_while(|name| first_cookie_value(headers.clone(), name).is_some())
                .count(),
        }
    }

    /// The one place a refused cookie is reported: a `tracing` event and a counter, naming
    /// the cookie and the reason — never its value.
    pub(crate) fn note_rejection(&self, reason: Rejection) {
        if reason != Rejection::Missing {
            self.metrics.rejected(reason);
            tracing::debug!(
                cookie = self.codec.name(),
                reason = reason.as_str(),
                "session cookie rejected"
            );
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.clock.0.now()
    }
}
