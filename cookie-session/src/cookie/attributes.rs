//! Cookie attributes, with the rules that make a combination valid.
//!
//! Every rule is checked when the layer is built ([`CookieAttributes::validate`]) and again
//! when a handler overrides an attribute for one response, so nothing invalid is ever sent.

use std::time::{Duration, SystemTime};

/// The longest lifetime a cookie may be given: 400 days, the cap browsers apply
/// (RFC 6265bis §5.5, "cookie-lifetime-limits"). Longer `max_age`s are clamped to it.
pub const MAX_COOKIE_LIFETIME: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Sent on same-site requests and top-level cross-site navigations (the default).
    Lax,
    /// Sent on every request; requires `Secure`.
    None,
}

impl SameSite {
    /// The attribute value in its canonical case (`Strict`, `Lax`, `None`).
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The `Priority` attribute (a Chromium extension, also written by Express's `cookies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// `Priority=Low`.
    Low,
    /// `Priority=Medium`.
    Medium,
    /// `Priority=High`.
    High,
}

impl Priority {
    /// The attribute value in its canonical case (`Low`, `Medium`, `High`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
        }
    }
}

/// An invalid cookie configuration, found when the layer is built or an override is set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieConfigError {
    /// The cookie name is empty or holds a character a cookie name may not (RFC 6265 §4.1.1
    /// token: no control characters, spaces, or `()<>@,;:\"/[]?={}`).
    #[error("invalid cookie name {0:?}: use letters, digits and !#$%&'*+-.^_`|~ only")]
    InvalidName(String),
    /// The path is empty, does not start with `/`, or holds a control character or `;`.
    #[error(
        "invalid cookie path {0:?}: it must start with '/' and hold no ';' or control characters"
    )]
    InvalidPath(String),
    /// The domain is not a host name or IPv4 address (with an optional leading dot): a port,
    /// a path, a scheme, a space, a separator or a non-ASCII character (browsers drop such a
    /// cookie).
    #[error("invalid cookie domain {0:?}")]
    InvalidDomain(String),
    /// `SameSite=None` without `Secure=true` (browsers drop such cookies: RFC 6265bis §5.7 step 19).
    #[error("SameSite=None requires secure(true)")]
    SameSiteNoneWithoutSecure,
    /// `Partitioned` without `Secure=true` (CHIPS requires Secure).
    #[error("Partitioned requires secure(true)")]
    PartitionedWithoutSecure,
    /// A `__Secure-` name (in any letter case) without `Secure=true` (RFC 6265bis §4.1.3.1).
    #[error("a __Secure- cookie requires secure(true)")]
    SecurePrefix,
    /// A `__Host-` name (in any letter case) with a Domain, a path other than `/`, or without
    /// `Secure=true`
    /// (RFC 6265bis §4.1.3.2).
    #[error("a __Host- cookie requires secure(true), path \"/\" and no domain")]
    HostPrefix,
}

/// The attributes of the session cookie: configured once on the layer, and overridable for one
/// response from the [`Session`](crate::Session) handle (what Express's `req.sessionOptions` does).
///
/// Secure defaults: `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`, `Secure` decided from
/// the request, a browser-session cookie (no `Max-Age`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieAttributes {
    /// `Path`. Default `/`.
    pub path: String,
    /// `Domain`. Default none: the cookie goes back to the exact host only.
    pub domain: Option<String>,
    /// `Max-Age`, in whole seconds when sent, clamped to [`MAX_COOKIE_LIFETIME`]. `None` makes a
    /// browser-session cookie. Wins over `expires` when both are set, as in Express.
    pub max_age: Option<Duration>,
    /// `Expires` as an absolute time, used when `max_age` is `None`.
    pub expires: Option<SystemTime>,
    /// `SameSite`. Default `Lax`; `None` here means the attribute is not sent.
    pub same_site: Option<SameSite>,
    /// `Secure`: `Some(true)` always, `Some(false)` never, `None` when the request came over
    /// HTTPS (or, with a trusted proxy, `X-Forwarded-Proto: https`). Default `None`.
    pub secure: Option<bool>,
    /// `HttpOnly`: scripts cannot read the cookie. Default `true`.
    pub http_only: bool,
    /// `Partitioned` (CHIPS). Default `false`; requires `secure: Some(true)`.
    pub partitioned: bool,
    /// `Priority`. Default none.
    pub priority: Option<Priority>,
}

impl Default for CookieAttributes {
    fn default() -> Self {
        Self {
            // The whole site shares one session.
            path: "/".to_owned(),
            // Host-only: a sibling subdomain can neither read nor overwrite it.
            domain: None,
            // A browser-session cookie unless the app asks for persistence.
            max_age: None,
            expires: None,
            // Blocks the cookie on cross-site subrequests (CSRF) yet keeps links working.
            same_site: Some(SameSite::Lax),
            // Follows the request: HTTPS gets `Secure` without configuration.
            secure: None,
            // Scripts (and XSS) cannot read the session cookie.
            http_only: true,
            partitioned: false,
            priority: None,
        }
    }
}

impl CookieAttributes {
    /// Checks every rule for the cookie `name` with these attributes.
    pub fn validate(&self, name: &str) -> Result<(), CookieConfigError> {
        validate_name(name)?;
        validate_path(&self.path)?;
        if let Some(domain) = &self.domain {
            validate_domain(domain)?;
        }
        let secure = self.secure == Some(true);
        if self.same_site == Some(SameSite::None) && !secure {
            return Err(CookieConfigError::SameSiteNoneWithoutSecure);
        }
        if self.partitioned && !secure {
            return Err(CookieConfigError::PartitionedWithoutSecure);
        }
        if has_prefix(name, "__Secure-") && !secure {
            return Err(CookieConfigError::SecurePrefix);
        }
        if has_prefix(name, "__Host-") && (!secure || self.path != "/" || self.domain.is_some()) {
            return Err(CookieConfigError::HostPrefix);
        }
        Ok(())
    }

    /// The lifetime to announce to the browser, measured from `now`: `max_age` if set, else
    /// the time left until `expires`; clamped to [`MAX_COOKIE_LIFETIME`] and never negative.
    /// `None` for a browser-session cookie. (`Max-Age` is later written in whole seconds.)
    pub fn lifetime(&self, now: SystemTime) -> Option<Duration> {
        let lifetime = match (self.max_age, self.expires) {
            (Some(max_age), _) => max_age,
            (None, Some(expires)) => expires.duration_since(now).unwrap_or(Duration::ZERO),
            (None, None) => return None,
        };
        Some(lifetime.min(MAX_COOKIE_LIFETIME))
    }
}

/// Whether `name` starts with the cookie prefix `prefix`, compared as browsers do: ASCII
/// case-insensitively (RFC 6265bis §5.7, the storage model), so `__host-s` or `__SECURE-s` get
/// the prefix's requirements too — a browser would drop them otherwise.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// RFC 6265 §4.1.1 `token`: visible ASCII except separators.
fn validate_name(name: &str) -> Result<(), CookieConfigError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CookieConfigError::InvalidName(name.to_owned()))
    }
}

fn validate_path(path: &str) -> Result<(), CookieConfigError> {
    let ok = path.starts_with('/') && path.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';');
    if ok {
        Ok(())
    } else {
        Err(CookieConfigError::InvalidPath(path.to_owned()))
    }
}

/// A host name or IPv4 address, optionally with a leading dot (RFC 6265 §4.1.2.3 and
/// §5.2.3): a port, a path, a scheme or an IPv6 literal makes browsers drop the cookie
/// altogether, so the session would never stick.
fn validate_domain(domain: &str) -> Result<(), CookieConfigError> {
    let host = domain.strip_prefix('.').unwrap_or(domain);
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CookieConfigError::InvalidDomain(domain.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secure() -> CookieAttributes {
        CookieAttributes {
            secure: Some(true),
            ..CookieAttributes::default()
        }
    }

    #[test]
    fn defaults_are_valid_and_secure() {
        let attrs = CookieAttributes::default();
        assert!(attrs.http_only);
        assert_eq!(attrs.same_site, Some(SameSite::Lax));
        assert_eq!(attrs.path, "/");
        assert_eq!(attrs.domain, None);
        attrs.validate("session").unwrap();
    }

    #[test]
    fn names_paths_and_domains_with_separators_are_refused() {
        let attrs = CookieAttributes::default();
        for name in ["", "a b", "a;b", "a=b", "a\u{7}", "sé", "a,b", "a\"b"] {
            assert!(
                matches!(attrs.validate(name), Err(CookieConfigError::InvalidName(_))),
                "{name:?}"
            );
        }
        for path in ["", "x", "/a;b", "/a\nb", "/é"] {
            let attrs = CookieAttributes {
                path: path.into(),
                ..CookieAttributes::default()
            };
            assert!(
                matches!(attrs.validate("s"), Err(CookieConfigError::InvalidPath(_))),
                "{path:?}"
            );
        }
        for domain in [
            "",
            ".",
            "a b",
            "a;b",
            "a,b",
            "é.com",
            "a\tb",
            // Browsers drop a cookie whose Domain has a port, a path, a scheme or brackets.
            "example.com:8080",
            "example.com/app",
            "https://example.com",
            "[::1]",
        ] {
            let attrs = CookieAttributes {
                domain: Some(domain.into()),
                ..CookieAttributes::default()
            };
            assert!(
                matches!(
                    attrs.validate("s"),
                    Err(CookieConfigError::InvalidDomain(_))
                ),
                "{domain:?}"
            );
        }
        for domain in [
            "example.com",
            ".example.com",
            "a-b.example_x.test",
            "127.0.0.1",
        ] {
            let attrs = CookieAttributes {
                domain: Some(domain.into()),
                ..CookieAttributes::default()
            };
            assert!(attrs.validate("s").is_ok(), "{domain:?}");
        }
    }

    #[test]
    fn secure_requirements() {
        let none = CookieAttributes {
            same_site: Some(SameSite::None),
            ..CookieAttributes::default()
        };
        assert_eq!(
            none.validate("s"),
            Err(CookieConfigError::SameSiteNoneWithoutSecure)
        );
        CookieAttributes {
            same_site: Some(SameSite::None),
            ..secure()
        }
        .validate("s")
        .unwrap();

        let partitioned = CookieAttributes {
            partitioned: true,
            ..CookieAttributes::default()
        };
        assert_eq!(
            partitioned.validate("s"),
            Err(CookieConfigError::PartitionedWithoutSecure)
        );

        assert_eq!(
            CookieAttributes::default().validate("__Secure-s"),
            Err(CookieConfigError::SecurePrefix)
        );
        secure().validate("__Secure-s").unwrap();

        assert_eq!(
            CookieAttributes::default().validate("__Host-s"),
            Err(CookieConfigError::HostPrefix)
        );
        let with_domain = CookieAttributes {
            domain: Some("example.com".into()),
            ..secure()
        };
        assert_eq!(
            with_domain.validate("__Host-s"),
            Err(CookieConfigError::HostPrefix)
        );
        let with_path = CookieAttributes {
            path: "/app".into(),
            ..secure()
        };
        assert_eq!(
            with_path.validate("__Host-s"),
            Err(CookieConfigError::HostPrefix)
        );
        secure().validate("__Host-s").unwrap();
    }

    #[test]
    fn prefixes_match_case_insensitively() {
        for name in ["__secure-s", "__SECURE-s", "__sEcUrE-s"] {
            assert_eq!(
                CookieAttributes::default().validate(name),
                Err(CookieConfigError::SecurePrefix),
                "{name}"
            );
            secure().validate(name).unwrap();
        }
        for name in ["__host-s", "__HOST-s", "__hOsT-"] {
            assert_eq!(
                CookieAttributes::default().validate(name),
                Err(CookieConfigError::HostPrefix),
                "{name}"
            );
            let with_path = CookieAttributes {
                path: "/app".into(),
                ..secure()
            };
            assert_eq!(
                with_path.validate(name),
                Err(CookieConfigError::HostPrefix),
                "{name}"
            );
            secure().validate(name).unwrap();
        }
        // Not a prefix: a name that only contains it, or is shorter than it.
        for name in ["x__Host-s", "__Hos", "_Host-s", "__Securex"] {
            CookieAttributes::default().validate(name).unwrap();
        }
    }

    #[test]
    fn lifetime_is_clamped_and_never_negative() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let long = CookieAttributes {
            max_age: Some(Duration::from_secs(u64::MAX)),
            ..CookieAttributes::default()
        };
        assert_eq!(long.lifetime(now), Some(MAX_COOKIE_LIFETIME));
        let past = CookieAttributes {
            expires: Some(SystemTime::UNIX_EPOCH),
            ..CookieAttributes::default()
        };
        assert_eq!(past.lifetime(now), Some(Duration::ZERO));
        let fractional = CookieAttributes {
            max_age: Some(Duration::from_millis(1999)),
            ..CookieAttributes::default()
        };
        assert_eq!(fractional.lifetime(now), Some(Duration::from_millis(1999)));
        assert_eq!(CookieAttributes::default().lifetime(now), None);
    }
}
