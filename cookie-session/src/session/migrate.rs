//! Opening the old cookie of a [`Legacy`] source, re-issuing its session in the layer's own
//! format, and clearing the old cookie: the rules are in [`crate::migrate`].

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::express_session::{check_renderable, MAX_SID_LEN};
use super::persist::{self, user_of, Backend};
use super::state::Current;
use super::{Outcome, SessionError, Shared};
use crate::config::ConfigError;
use crate::cookie::{render_set_cookie, CookieAttributes, Lifetime};
use crate::format::express_session::{find_cookie, CookieMeta, SidSigner};
use crate::format::{Codec, Data, Rejection};
use crate::key::{key_id, KeyRing};
use crate::migrate::{Legacy, Source};
use crate::store::{ExpressLoaded, ExpressSessionStore, OutagePolicy};
use crate::time::unix_secs;

/// The most legacy sources one layer takes (one bit each in [`Migration::clear`]).
pub(crate) const MAX_SOURCES: usize = 8;

/// A [`Legacy`] source, checked and bound to its keys.
pub(crate) struct Opener {
    codec: Codec,
    format_name: &'static str,
    /// The old cookie's `Path` and `Domain`, for the cookies that clear it.
    attributes: CookieAttributes,
    /// An express-session source: the session is in a store, loaded in `persist::load`.
    stored: Option<Box<StoredSource>>,
}

/// An express-session source: its sid signer, its store (only read), and what a failure of
/// that store does to the request.
struct StoredSource {
    signer: SidSigner,
    store: Arc<dyn ExpressSessionStore>,
    outage: OutagePolicy,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("format", &self.format_name)
            .field("name", &self.codec.name())
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// Checks `legacy` against the layer's own ring (`keys`) and binds it.
    ///
    /// The two rings may share no key: an old secret (often short, and known to the old app
    /// and its operators) must not also seal the new format, and a new key must not make an
    /// old cookie valid.
    pub(crate) fn new(
        legacy: &Legacy,
        keys: &KeyRing,
        outage: OutagePolicy,
    ) -> Result<Self, ConfigError> {
        let attributes = CookieAttributes {
            path: legacy.path.clone(),
            domain: legacy.domain.clone(),
            same_site: None,
            ..CookieAttributes::default()
        };
        attributes.validate(&legacy.name)?;
        let new_ids: Vec<_> = keys.secrets().map(key_id).collect();
        if legacy
            .keys()
            .secrets()
            .any(|old| new_ids.contains(&key_id(old)))
        {
            return Err(ConfigError::MigrateSharesKey);
        }
        let stored = match &legacy.source {
            Source::Express { .. } => None,
            Source::ExpressSession { secrets, store } => Some(Box::new(StoredSource {
                signer: SidSigner::new(secrets),
                store: store.clone(),
                outage,
            })),
        };
        Ok(Opener {
            codec: Codec::new(legacy.format(), legacy.keys(), &legacy.name)?,
            format_name: legacy.format_name(),
            attributes,
            stored,
        })
    }

    pub(crate) fn format_name(&self) -> &'static str {
        self.format_name
    }

    /// Whether opening this source needs a store round trip.
    pub(crate) fn is_async(&self) -> bool {
        self.stored.is_some()
    }

    /// Whether the request carries a cookie of this source that verifies with its keys
    /// (for an express-session source: the signature only, no store call).
    fn verifies<'h, I>(&self, headers: I) -> bool
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        match &self.stored {
            None => self.codec.open(headers).is_ok(),
            Some(source) => self
                .signed_sid(headers)
                .is_some_and(|value| source.signer.open(&value).is_ok()),
        }
    }

    /// The first value of this source's cookie, as express-session's parser finds it.
    fn signed_sid<'h, I>(&self, headers: I) -> Option<String>
    where
        I: IntoIterator<Item = &'h str>,
    {
        let name = self.codec.name();
        headers
            .into_iter()
            .find_map(|header| find_cookie(header, name))
    }
}

/// What a request's session owes the old cookies when the response leaves.
#[derive(Debug, Clone, Default)]
pub(crate) struct Migration {
    /// The sources (one bit each) whose cookie verified, to clear.
    clear: u32,
    /// The session came from an old cookie (bit set in `clear`), not the layer's own.
    migrated: bool,
    /// Set at finish: the session ended empty (emptied or destroyed), so nothing can be lost
    /// by clearing the old cookie even when no new one is written.
    emptied: bool,
    /// The `Path` and `Domain` of a migrated express-session cookie, from its record (they
    /// clear it instead of the source's configured ones).
    cookie: Option<Box<CookieAttributes>>,
}

impl Migration {
    /// Whether no old cookie verified, so there is nothing to clear.
    pub(crate) fn clears_nothing(&self) -> bool {
        self.clear == 0
    }

    /// The migration as the response leaves, with the session's final state.
    pub(crate) fn at_finish(current: &Current) -> Self {
        Migration {
            emptied: current.data.is_empty(),
            ..current.migration.clone()
        }
    }
}

impl Shared {
    /// A session of the layer's own format served: counted, and every old cookie that
    /// verifies is marked for clearing (the new one wins).
    pub(crate) fn served<'h, I>(&self, mut current: Current, headers: I) -> Current
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        self.note_served(&mut current, headers);
        current
    }

    /// [`Shared::served`] on a session already in place (no move of the session).
    pub(crate) fn note_served<'h, I>(&self, current: &mut Current, headers: I)
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        if current.anonymous {
            return;
        }
        self.metrics.opened(0);
        for (index, opener) in self.legacy.iter().enumerate() {
            if opener.verifies(headers.clone()) {
                current.migration.clear |= 1 << index;
            }
        }
    }

    /// No session of the layer's own format (`reason` says why): the first old cookie that
    /// verifies with its source's keys becomes the session, else an empty one. Sources in a
    /// store are not opened here (see [`migrate_stored`]).
    pub(crate) fn migrate<'h, I>(&self, headers: I, reason: Rejection) -> Current
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        for (index, opener) in self.legacy.iter().enumerate() {
            if opener.stored.is_some() {
                continue;
            }
            match opener.codec.open(headers.clone()) {
                Ok(loaded) => {
                    // With revocation, counted once the revocation check let it through.
                    if !matches!(self.backend, Backend::Revocable(_)) {
                        self.note_migrated(index);
                    }
                    let mut current = Current::fresh();
                    current.data = Data::from_map(loaded.data);
                    current.dirty = true;
                    current.migration = Migration {
                        clear: 1 << index,
                        migrated: true,
                        emptied: false,
                        cookie: None,
                    };
                    return current;
                }
                Err(Rejection::Missing) => {}
                // Under the layer's own name, a value without `.sig` is most likely the
                // layer's own cookie (refused above, and counted there): no old cookie.
                Err(Rejection::MissingSignature) if opener.codec.name() == self.codec.name() => {}
                Err(reason) => self.note_legacy_rejection(opener, reason),
            }
        }
        Current::rejected(reason)
    }

    fn note_migrated(&self, index: usize) {
        self.metrics.opened(index + 1);
        if let Some(opener) = self.legacy.get(index) {
            tracing::debug!(
                cookie = opener.codec.name(),
                from = opener.format_name,
                "session migrated from an old format"
            );
        }
    }

    fn note_legacy_rejection(&self, opener: &Opener, reason: Rejection) {
        self.metrics.rejected(reason);
        tracing::debug!(
            cookie = opener.codec.name(),
            from = opener.format_name,
            reason = reason.as_str(),
            "old-format session cookie rejected"
        );
    }

    /// Adds the cookies that clear the old ones to a response, unless that would lose the
    /// session: a migrated session that was not written (an error, or a store write dropped
    /// by the outage policy) keeps its old cookie for the next request.
    pub(crate) fn clear_legacy(
        &self,
        migration: Migration,
        attrs: &CookieAttributes,
        secure: bool,
        outcome: &mut Outcome,
    ) {
        if migration.clear == 0 || outcome.error.is_some() {
            return;
        }
        if migration.migrated && !migration.emptied && outcome.set_cookies.is_empty() {
            return;
        }
        let now = self.now();
        for (index, opener) in self.legacy.iter().enumerate() {
            if migration.clear & (1 << index) == 0 {
                continue;
            }
            let codec = &opener.codec;
            let old = match (&opener.stored, &migration.cookie) {
                (Some(_), Some(cookie)) if migration.migrated => cookie,
                _ => &opener.attributes,
            };
            // An old cookie with the new one's name, path and domain is the same browser
            // cookie: the new value written on this response already replaced it.
            let same_cookie = codec.name() == self.codec.name()
                && old.path == attrs.path
                && old.domain == attrs.domain;
            let prefix = format!("{}=", codec.name());
            let replaced =
                same_cookie && outcome.set_cookies.iter().any(|c| c.starts_with(&prefix));
            // The layer's own cookie served this request (`migrated` is false only then, with
            // a bit to clear): a browser keeps one cookie per name, path and domain, so an old
            // one of the same name and scope cannot be there beside it. The old one sent came
            // from another scope (planted from a sibling subdomain, say), and clearing it in
            // ours would delete the session that served.
            let ours_in_scope = same_cookie && !migration.migrated;
            let style = codec.header_style();
            if !replaced && !ours_in_scope {
                let clear =
                    render_set_cookie(style, codec.name(), "", old, secure, Lifetime::Clear, now);
                outcome.set_cookies.push(clear);
            }
            // express-session has no `.sig` cookie: its signature is in the value.
            if opener.stored.is_some() {
                continue;
            }
            if let (Some(sig_name), Some(sig)) = (codec.sig_name(), codec.clearing_sig()) {
                let clear =
                    render_set_cookie(style, sig_name, &sig, old, secure, Lifetime::Clear, now);
                outcome.set_cookies.push(clear);
            }
        }
        outcome.touched = true;
    }
}

/// With revocation, a migrated session naming a user is refused while a revocation of that
/// user is in force: an old cookie has no creation time to show it came after.
pub(crate) async fn check_revocation(
    shared: &Shared,
    current: Current,
) -> Result<Current, SessionError> {
    let Backend::Revocable(backend) = &shared.backend else {
        return Ok(current);
    };
    if !current.migration.migrated {
        return Ok(current);
    }
    // The one source bit set by `migrate`.
    let index = current.migration.clear.trailing_zeros() as usize;
    if let Some(user) = user_of(&current.data, &shared.user_key) {
        let now = unix_secs(shared.now());
        match backend.store.revoked_before(&user, now).await {
            Ok(Some(_)) => {
                shared.note_rejection(Rejection::Revoked);
                return Ok(Current::rejected(Rejection::Revoked));
            }
            Ok(None) => {}
            Err(error) => return persist::outage(shared, backend, error),
        }
    }
    shared.note_migrated(index);
    Ok(current)
}

/// No session of the layer's own format, and no cookie-held old session either
/// (`fallback`, from [`Shared::migrate`]): the first express-session source whose cookie
/// verifies and whose record is live gives the session. The record is only read.
pub(crate) async fn migrate_stored<'h, I>(
    shared: &Shared,
    headers: I,
    fallback: Current,
) -> Result<Current, SessionError>
where
    I: IntoIterator<Item = &'h str> + Clone,
{
    if fallback.migration.migrated || fallback.anonymous {
        return Ok(fallback);
    }
    for (index, opener) in shared.legacy.iter().enumerate() {
        let Some(source) = &opener.stored else {
            continue;
        };
        let Some(value) = opener.signed_sid(headers.clone()) else {
            continue;
        };
        let sid = match source.signer.open(&value) {
            Ok((sid, _)) if !sid.is_empty() && sid.len() <= MAX_SID_LEN => sid,
            Ok(_) => {
                shared.note_legacy_rejection(opener, Rejection::Malformed);
                continue;
            }
            Err(Rejection::Missing) => continue,
            Err(reason) => {
                shared.note_legacy_rejection(opener, reason);
                continue;
            }
        };
        match source.store.load(&sid, now_ms(shared)).await {
            Ok(ExpressLoaded::Live { record, .. }) => {
                let (cookie, data) = record.into_parts();
                if let Err(member) = check_renderable(&cookie) {
                    tracing::warn!(
                        member,
                        "express-session record refused: its cookie cannot be sent; left in the store"
                    );
                    shared.note_legacy_rejection(opener, Rejection::BadPayload);
                    continue;
                }
                // With revocation, counted once the revocation check let it through.
                if !matches!(shared.backend, Backend::Revocable(_)) {
                    shared.note_migrated(index);
                }
                let mut current = Current::fresh();
                current.data = Data::from_map(data);
                current.dirty = true;
                current.migration = Migration {
                    clear: 1 << index,
                    migrated: true,
                    emptied: false,
                    cookie: clearing_attributes(opener, &cookie).map(Box::new),
                };
                return Ok(current);
            }
            Ok(ExpressLoaded::Missing | ExpressLoaded::Expired) => {
                shared.note_legacy_rejection(opener, Rejection::UnknownSession);
            }
            Ok(ExpressLoaded::Refused(reason)) => {
                // The reason names a type or a key, never a value.
                tracing::warn!(%reason, "express-session record refused; left in the store");
                shared.note_legacy_rejection(opener, Rejection::BadPayload);
            }
            Err(error) => {
                shared.metrics.store_error();
                tracing::error!(%error, "express-session store to migrate from unavailable");
                return match source.outage {
                    OutagePolicy::Fail => Err(SessionError::Store(error)),
                    OutagePolicy::Anonymous => Ok(Current {
                        anonymous: true,
                        ..Current::fresh()
                    }),
                };
            }
        }
    }
    Ok(fallback)
}

/// The `Path` and `Domain` the express-session cookie was set with, as its record keeps
/// them (express-session's `cookie.path` and `cookie.domain`); `None` (the source's
/// configured ones) when the record has neither, or they would not make a valid cookie.
fn clearing_attributes(opener: &Opener, cookie: &CookieMeta) -> Option<CookieAttributes> {
    let path = match &cookie.path {
        Some(Some(path)) => Some(path.clone()),
        _ => None,
    };
    let domain = match &cookie.domain {
        Some(Some(domain)) => Some(domain.clone()),
        _ => None,
    };
    if path.is_none() && domain.is_none() {
        return None;
    }
    let attributes = CookieAttributes {
        path: path.unwrap_or_else(|| opener.attributes.path.clone()),
        domain: domain.or_else(|| opener.attributes.domain.clone()),
        ..opener.attributes.clone()
    };
    attributes
        .validate(opener.codec.name())
        .is_ok()
        .then_some(attributes)
}

fn now_ms(shared: &Shared) -> i64 {
    shared
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
