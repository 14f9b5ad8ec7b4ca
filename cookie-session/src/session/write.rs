//! Sealing and rendering the session cookie for one response: the one place where expiry
//! times and the browser lifetime of a new cookie are decided.

use std::time::{Duration, SystemTime};

use super::{Outcome, SessionError, Shared};
use crate::cookie::{render_set_cookie, CookieAttributes, Lifetime};
use crate::format::Timestamps;
use crate::time::unix_secs;

/// Seals and renders cookies for one response.
pub(crate) struct Writer<'a> {
    shared: &'a Shared,
    attrs: &'a CookieAttributes,
    secure: bool,
    now: SystemTime,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(shared: &'a Shared, attrs: &'a CookieAttributes, secure: bool) -> Self {
        Writer {
            shared,
            attrs,
            secure,
            now: shared.now(),
        }
    }

    /// Whether this response's cookie is persistent (has a `Max-Age`).
    pub(crate) fn has_lifetime(&self) -> bool {
        self.attrs.lifetime(self.now).is_some()
    }

    pub(crate) fn now_secs(&self) -> u64 {
        unix_secs(self.now)
    }

    /// The expiry a session written now gets: its lifetime (the cookie's `max_age`, or the
    /// configured TTL for a browser-session cookie), never past the absolute deadline.
    pub(crate) fn fresh_expiry(&self, created_at: u64) -> u64 {
        self.now_secs()
            .saturating_add(self.idle_secs())
            .min(self.shared.time.deadline(created_at))
    }

    /// How long a session written now lives without activity, in seconds.
    pub(crate) fn idle_secs(&self) -> u64 {
        self.attrs
            .lifetime(self.now)
            .unwrap_or(self.shared.ttl)
            .as_secs()
    }

    /// The cookies that remove the session (SPEC §4 "Clearing"; SECURITY.md §8.5 item 40).
    pub(crate) fn clear(&self) -> Outcome {
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
    /// (its creation time is kept); `expires_at` fixes the expiry (a rotation re-issue keeps
    /// it), else it is [`Writer::fresh_expiry`].
    pub(crate) fn write(
        &self,
        canonical: &[u8],
        previous: Option<Timestamps>,
        expires_at: Option<u64>,
    ) -> Outcome {
        let shared = self.shared;
        let codec = &shared.codec;
        let now = self.now_secs();
        let created_at = previous.map_or(now, |t| t.created_at);
        let expires_at = expires_at.unwrap_or_else(|| self.fresh_expiry(created_at));
        let lifetime = match self.attrs.lifetime(self.now) {
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

        // The value cookie, then the signature cookie of the Express format.
        let sig = codec.sig_name().zip(sealed.sig.as_deref());
        let cookies = std::iter::once((codec.name(), sealed.value.as_str())).chain(sig);
        for (name, value) in cookies.clone() {
            let size = name.len() + 1 + value.len();
            if size > shared.max_cookie_size {
                return Outcome {
                    touched: true,
                    set_cookies: Vec::new(),
                    error: Some(SessionError::CookieTooLarge {
                        name: name.to_owned(),
                        size,
                        limit: shared.max_cookie_size,
                    }),
                };
            }
        }
        let style = codec.header_style();
        let set_cookies = cookies
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
