//! Rendering `Set-Cookie` header values: the one place where cookie text is written.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::attributes::CookieAttributes;

/// How attributes are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStyle {
    /// RFC 6265bis spelling: `Path=/; Max-Age=60; Expires=…; HttpOnly; SameSite=Lax`.
    Standard,
    /// Exactly what Express's `cookies` 0.9.1 writes (SPEC §4): lowercase names in the fixed
    /// order path, expires, domain, priority, samesite, secure, httponly, partitioned, and no
    /// `Max-Age`, so a header diff against an Express app shows nothing.
    Express,
}

/// How long the browser should keep the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// A browser-session cookie: no `Max-Age`, no `Expires`.
    Session,
    /// Keep it this long from now (`Max-Age` in whole seconds, `Expires` = now + this).
    For(Duration),
    /// Remove it: `Max-Age=0` and an `Expires` in the past (the caller passes an empty value,
    /// or for Express's `.sig` cookie the signature of the empty value, SPEC §4).
    Clear,
}

/// One `Set-Cookie` header value. `name` and `value` are written as given (the formats only
/// produce cookie-octets); `secure` is the already-decided `Secure` flag.
pub(crate) fn render_set_cookie(
    style: HeaderStyle,
    name: &str,
    value: &str,
    attrs: &CookieAttributes,
    secure: bool,
    lifetime: Lifetime,
    now: SystemTime,
) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + 96);
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    // Written straight into `out` (no intermediate string). A removal cookie expires at the
    // Unix epoch, "Thu, 01 Jan 1970 00:00:00 GMT", as every browser understands.
    let expires = match lifetime {
        Lifetime::Session => None,
        Lifetime::For(duration) => Some(httpdate::HttpDate::from(now + duration)),
        Lifetime::Clear => Some(httpdate::HttpDate::from(SystemTime::UNIX_EPOCH)),
    };
    // `write!` into a String cannot fail.
    match style {
        HeaderStyle::Standard => {
            let _ = write!(out, "; Path={}", attrs.path);
            if let Some(domain) = &attrs.domain {
                let _ = write!(out, "; Domain={domain}");
            }
            match lifetime {
                Lifetime::Session => {}
                Lifetime::For(duration) => {
                    let _ = write!(out, "; Max-Age={}", duration.as_secs());
                }
                Lifetime::Clear => out.push_str("; Max-Age=0"),
            }
            if let Some(expires) = &expires {
                let _ = write!(out, "; Expires={expires}");
            }
            if secure {
                out.push_str("; Secure");
            }
            if attrs.http_only {
                out.push_str("; HttpOnly");
            }
            if let Some(same_site) = attrs.same_site {
                let _ = write!(out, "; SameSite={}", same_site.as_str());
            }
            if attrs.partitioned {
                out.push_str("; Partitioned");
            }
            if let Some(priority) = attrs.priority {
                let _ = write!(out, "; Priority={}", priority.as_str());
            }
        }
        HeaderStyle::Express => {
            let _ = write!(out, "; path={}", attrs.path);
            if let Some(expires) = &expires {
                let _ = write!(out, "; expires={expires}");
            }
            if let Some(domain) = &attrs.domain {
                let _ = write!(out, "; domain={domain}");
            }
            if let Some(priority) = attrs.priority {
                let _ = write!(out, "; priority={}", priority.as_str().to_ascii_lowercase());
            }
            if let Some(same_site) = attrs.same_site {
                let _ = write!(
                    out,
                    "; samesite={}",
                    same_site.as_str().to_ascii_lowercase()
                );
            }
            if secure {
                out.push_str("; secure");
            }
            if attrs.http_only {
                out.push_str("; httponly");
            }
            if attrs.partitioned {
                out.push_str("; partitioned");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::{Priority, SameSite};

    fn now() -> SystemTime {
        // 2024-01-15T12:00:00Z, the vectors' frozen clock.
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_705_320_000_000)
    }

    #[test]
    fn standard_and_express_spelling() {
        let attrs = CookieAttributes::default();
        let for_a_minute = Lifetime::For(Duration::from_secs(60));
        let header = render_set_cookie(
            HeaderStyle::Standard,
            "id",
            "v",
            &attrs,
            false,
            for_a_minute,
            now(),
        );
        assert_eq!(
            header,
            "id=v; Path=/; Max-Age=60; Expires=Mon, 15 Jan 2024 12:01:00 GMT; HttpOnly; SameSite=Lax"
        );
        let express = render_set_cookie(
            HeaderStyle::Express,
            "session",
            "e30=",
            &attrs,
            false,
            Lifetime::Session,
            now(),
        );
        assert_eq!(express, "session=e30=; path=/; samesite=lax; httponly");
    }

    fn all_attributes() -> CookieAttributes {
        CookieAttributes {
            path: "/app".into(),
            domain: Some("example.com".into()),
            max_age: None,
            expires: None,
            same_site: Some(SameSite::Strict),
            secure: Some(true),
            http_only: true,
            partitioned: true,
            priority: Some(Priority::High),
        }
    }

    #[test]
    fn standard_all_attributes() {
        let header = render_set_cookie(
            HeaderStyle::Standard,
            "s",
            "v",
            &all_attributes(),
            true,
            Lifetime::For(Duration::from_secs(3600)),
            now(),
        );
        assert_eq!(header, "s=v; Path=/app; Domain=example.com; Max-Age=3600; Expires=Mon, 15 Jan 2024 13:00:00 GMT; Secure; HttpOnly; SameSite=Strict; Partitioned; Priority=High");
    }

    #[test]
    fn standard_clear_keeps_scope_attributes() {
        let header = render_set_cookie(
            HeaderStyle::Standard,
            "s",
            "",
            &all_attributes(),
            true,
            Lifetime::Clear,
            now(),
        );
        assert_eq!(header, "s=; Path=/app; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict; Partitioned; Priority=High");
    }

    #[test]
    fn express_order_and_case_match_cookies_0_9_1() {
        // [vec:all_attributes_order] and SPEC §4.
        let header = render_set_cookie(
            HeaderStyle::Express,
            "session",
            "e30=",
            &all_attributes(),
            true,
            Lifetime::For(Duration::from_secs(3600)),
            now(),
        );
        assert_eq!(header, "session=e30=; path=/app; expires=Mon, 15 Jan 2024 13:00:00 GMT; domain=example.com; priority=high; samesite=strict; secure; httponly; partitioned");
        let plain = CookieAttributes {
            same_site: None,
            ..CookieAttributes::default()
        };
        let clear = render_set_cookie(
            HeaderStyle::Express,
            "session",
            "",
            &plain,
            false,
            Lifetime::Clear,
            now(),
        );
        assert_eq!(
            clear,
            "session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly"
        );
    }

    #[test]
    fn express_expires_truncates_milliseconds() {
        let plain = CookieAttributes {
            same_site: None,
            ..CookieAttributes::default()
        };
        let at = now() + Duration::from_millis(999);
        let header = render_set_cookie(
            HeaderStyle::Express,
            "session",
            "v",
            &plain,
            false,
            Lifetime::For(Duration::from_millis(1500)),
            at,
        );
        assert_eq!(
            header,
            "session=v; path=/; expires=Mon, 15 Jan 2024 12:00:02 GMT; httponly"
        );
    }
}
