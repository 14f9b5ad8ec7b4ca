//! Opening the old cookie of a [`Legacy`] source, re-issuing its session in the layer's own
//! format, and clearing the old cookie: the rules are in [`crate::migrate`].

use std::fmt;

use super::persist::{self, user_of, Backend};
use super::state::Current;
use super::{Outcome, SessionError, Shared};
use crate::config::ConfigError;
use crate::cookie::{render_set_cookie, CookieAttributes, Lifetime};
use crate::format::{Codec, Data, Rejection};
use crate::key::{key_id, KeyRing};
use crate::migrate::Legacy;
use crate::time::unix_secs;

/// The most legacy sources one layer takes (one bit each in [`Migration::clear`]).
pub(crate) const MAX_SOURCES: usize = 8;

/// A [`Legacy`] source, checked and bound to its keys.
pub(crate) struct Opener {
    codec: Codec,
    format_name: &'static str,
    /// The old cookie's `Path` and `Domain`, for the cookies that clear it.
    attributes: CookieAttributes,
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
    pub(crate) fn new(legacy: &Legacy, keys: &KeyRing) -> Result<Self, ConfigError> {
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
        Ok(Opener {
            codec: Codec::new(legacy.format(), legacy.keys(), &legacy.name)?,
            format_name: legacy.format_name(),
            attributes,
        })
    }

    pub(crate) fn format_name(&self) -> &'static str {
        self.format_name
    }
}

/// What a request's session owes the old cookies when the response leaves.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Migration {
    /// The sources (one bit each) whose cookie verified, to clear.
    clear: u32,
    /// The session came from an old cookie (bit set in `clear`), not the layer's own.
    migrated: bool,
    /// Set at finish: the session ended empty (emptied or destroyed), so nothing can be lost
    /// by clearing the old cookie even when no new one is written.
    emptied: bool,
}

impl Migration {
    /// The migration as the response leaves, with the session's final state.
    pub(crate) fn at_finish(current: &Current) -> Self {
        Migration {
            emptied: current.data.is_empty(),
            ..current.migration
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
        if current.anonymous {
            return current;
        }
        self.metrics.opened(0);
        for (index, opener) in self.legacy.iter().enumerate() {
            if opener.codec.open(headers.clone()).is_ok() {
                current.migration.clear |= 1 << index;
            }
        }
        current
    }

    /// No session of the layer's own format (`reason` says why): the first old cookie that
    /// verifies with its source's keys becomes the session, else an empty one.
    pub(crate) fn migrate<'h, I>(&self, headers: I, reason: Rejection) -> Current
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        for (index, opener) in self.legacy.iter().enumerate() {
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
            let old = &opener.attributes;
            // An old cookie with the new one's name, path and domain is the same browser
            // cookie: the new value written on this response already replaced it.
            let same_cookie = codec.name() == self.codec.name()
                && old.path == attrs.path
                && old.domain == attrs.domain;
            let prefix = format!("{}=", codec.name());
            let replaced =
                same_cookie && outcome.set_cookies.iter().any(|c| c.starts_with(&prefix));
            let style = codec.header_style();
            if !replaced {
                let clear =
                    render_set_cookie(style, codec.name(), "", old, secure, Lifetime::Clear, now);
                outcome.set_cookies.push(clear);
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
