//! What a finished session does to the response, in terms of no framework: which headers to
//! add, or which error response replaces the handler's. The tower layer (`layer/future.rs`)
//! and the actix-web middleware (`actix/`) both follow these rules, each with its own types.

use crate::session::{Outcome, SessionError};

/// The status of the response that replaces the handler's when the session could not be sent
/// or saved.
///
/// Size honesty (docs/SECURITY-CHECKLIST.md item 30): an oversized cookie is never dropped
/// silently. The browser keeps its previous, valid cookie; the operator sees which cookie and
/// how large (logged here); the client sees a plain 500; an outer layer can read the typed
/// error from the response's extensions. A store outage is an opaque 503 (the store's own
/// words go to the log only).
pub(crate) const fn failure_status(error: &SessionError) -> u16 {
    match error {
        SessionError::Store(_) => 503,
        _ => 500,
    }
}

/// The response an adapter must send for a session's [`Outcome`].
pub(crate) enum Reply {
    /// Keep the handler's response; add `Vary: Cookie` when `vary` (unless already there, see
    /// [`varies_on_cookie`]) and each `Set-Cookie` value, in order.
    Keep {
        /// The session was read or written.
        vary: bool,
        /// `Set-Cookie` values, in order.
        set_cookies: Vec<String>,
    },
    /// Replace the handler's response with an empty one of `status` carrying `Vary: cookie`
    /// and, in its extensions, `error`. Already logged.
    Fail {
        /// 500 or 503 ([`failure_status`]).
        status: u16,
        /// What went wrong, for an outer layer.
        error: SessionError,
    },
}

impl Outcome {
    /// The rules every adapter applies.
    pub(crate) fn reply(self) -> Reply {
        match self.error {
            Some(error) => {
                tracing::error!(%error, "session not sent");
                Reply::Fail {
                    status: failure_status(&error),
                    error,
                }
            }
            None => Reply::Keep {
                vary: self.touched,
                set_cookies: self.set_cookies,
            },
        }
    }
}

/// Whether the response's `Vary` values already cover the `Cookie` header (`cookie` in any
/// case, or `*`), so `Vary: Cookie` — needed on every response whose session was read or
/// written, so no cache serves one visitor's page to another (Flask CVE-2023-30861;
/// docs/SECURITY-CHECKLIST.md item 57) — is not added twice.
pub(crate) fn varies_on_cookie<'a>(vary: impl IntoIterator<Item = &'a [u8]>) -> bool {
    vary.into_iter().any(|value| {
        std::str::from_utf8(value).is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("cookie") || t.trim() == "*")
        })
    })
}

/// Whether an `X-Forwarded-Proto` value (read only when the application trusts its proxy,
/// like Express's `trust proxy`) says the client came over HTTPS: its first entry is `https`.
pub(crate) fn forwarded_https(value: &[u8]) -> bool {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_is_recognised_in_any_case_and_list() {
        assert!(varies_on_cookie([&b"Accept, Cookie"[..]]));
        assert!(varies_on_cookie([&b"accept"[..], &b"COOKIE"[..]]));
        assert!(varies_on_cookie([&b"*"[..]]));
        assert!(!varies_on_cookie([&b"accept, cookies"[..]]));
        assert!(!varies_on_cookie([&[0xff, b'c'][..]]));
        assert!(!varies_on_cookie(std::iter::empty()));
    }

    #[test]
    fn only_a_first_https_entry_is_secure() {
        assert!(forwarded_https(b"https"));
        assert!(forwarded_https(b" HTTPS , http"));
        assert!(!forwarded_https(b"http, https"));
        assert!(!forwarded_https(b""));
        assert!(!forwarded_https(&[0xff]));
    }
}
