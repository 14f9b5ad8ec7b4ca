//! Rendering `Set-Cookie` header values: the one place where cookie text is written.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::attributes::CookieAttributes;

/// How attributes are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStyle {
    /// RFC 6265bis spelling: `Path=/; Max-Age=60; Expires=…; HttpOnly; SameSite=Lax`.
    Standard,
    /// Exactly what Express's `cookies` 0.9.1 writes (docs/EXPRESS-COMPATIBILITY.md §4): lowercase names in the fixed
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
    /// or for Express's `.sig` cookie the signature of the empty value, docs/EXPRESS-COMPATIBILITY.md §4).
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
    let mut out = String::with_capacity(name.len() + value.len() + ATTRIBUTES_ROOM);
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    append_attributes(&mut out, style, attrs, secure, lifetime, now);
    out
}

/// Room for the attributes of a typical `Set-Cookie` value, reserved up front.
pub(crate) const ATTRIBUTES_ROOM: usize = 96;

/// Appends the attributes of a `Set-Cookie` value to `out`, which holds its `name=value`
/// (see [`render_set_cookie`]).
pub(crate) fn append_attributes(
    out: &mut String,
    style: HeaderStyle,
    attrs: &CookieAttributes,
    secure: bool,
    lifetime: Lifetime,
    now: SystemTime,
) {
    // Written straight into `out` (no intermediate string). A removal cookie expires at the
    // Unix epoch, "Thu, 01 Jan 1970 00:00:00 GMT", as every browser understands.
    let expires = match lifetime {
        Lifetime::Session => None,
        Lifetime::For(duration) => Some(http_date(now.checked_add(duration))),
        Lifetime::Clear => Some(http_date(Some(SystemTime::UNIX_EPOCH))),
    };
    // Text pieces pushed one by one: `write!` would go through `core::fmt` for each. Numbers
    // and dates, written only with a lifetime, still are (`write!` into a String cannot fail).
    match style {
        HeaderStyle::Standard => {
            out.push_str("; Path=");
            out.push_str(&attrs.path);
            if let Some(domain) = &attrs.domain {
                out.push_str("; Domain=");
                out.push_str(domain);
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
                out.push_str("; SameSite=");
                out.push_str(same_site.as_str());
            }
            if attrs.partitioned {
                out.push_str("; Partitioned");
            }
            if let Some(priority) = attrs.priority {
                out.push_str("; Priority=");
                out.push_str(priority.as_str());
            }
        }
        HeaderStyle::Express => {
            out.push_str("; path=");
            out.push_str(&attrs.path);
            if let Some(expires) = &expires {
                let _ = write!(out, "; expires={expires}");
            }
            if let Some(domain) = &attrs.domain {
                out.push_str("; domain=");
                out.push_str(domain);
            }
            if let Some(priority) = attrs.priority {
                out.push_str("; priority=");
                push_lowercase(out, priority.as_str());
            }
            if let Some(same_site) = attrs.same_site {
                out.push_str("; samesite=");
                push_lowercase(out, same_site.as_str());
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
}

/// `text` in ASCII lower case (the Express style's attribute values), without an intermediate
/// string.
fn push_lowercase(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| c.to_ascii_lowercase()));
}

/// The last second an HTTP date can name: 9999-12-31T23:59:59Z (RFC 9110 §5.6.7 has four
/// year digits; `httpdate` 1 panics beyond it).
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// `Expires` for `time`, clamped to what an HTTP date can say: the epoch for earlier times,
/// the end of year 9999 for later ones and for a time past what `SystemTime` holds (`None`).
/// A clock or lifetime that far out is a caller's mistake, never a reason to panic.
fn http_date(time: Option<SystemTime>) -> httpdate::HttpDate {
    let secs = match time.map(|t| t.duration_since(SystemTime::UNIX_EPOCH)) {
        Some(Ok(since)) => since.as_secs().min(LAST_HTTP_DATE),
        Some(Err(_)) => 0,
        None => LAST_HTTP_DATE,
    };
    httpdate::HttpDate::from(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::{Priority, SameSite};
    use proptest::prelude::*;

    fn now() -> SystemTime {
        // 2024-01-15T12:00:00Z, the vectors' frozen clock.
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_705_320_000_000)
    }

    /// A time anywhere a clock could say: before the epoch, now-ish, past year 9999.
    fn any_time() -> impl Strategy<Value = SystemTime> {
        prop_oneof![
            any::<u64>().prop_map(crate::time::from_unix_secs),
            (0u64..1 << 40).prop_map(|s| SystemTime::UNIX_EPOCH
                .checked_sub(Duration::from_secs(s))
                .unwrap_or(SystemTime::UNIX_EPOCH)),
            (253_402_300_000u64..253_402_400_000).prop_map(crate::time::from_unix_secs),
            Just(now()),
        ]
    }

    /// A lifetime of any size, down to the nanosecond.
    fn any_lifetime() -> impl Strategy<Value = Duration> {
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

    /// `render_set_cookie` takes any time and lifetime: `Expires` is clamped to the range an
    /// HTTP date can name (1970 to 9999), `Max-Age` is the whole seconds asked for.
    #[test]
    fn render_set_cookie_never_panics(
        now in any_time(),
        lifetime in any_lifetime(),
        express in any::<bool>(),
    ) {
        let style = if express { HeaderStyle::Express } else { HeaderStyle::Standard };
        let attrs = CookieAttributes::default();
        for lifetime in [Lifetime::For(lifetime), Lifetime::Clear, Lifetime::Session] {
            let header = render_set_cookie(style, "s", "v", &attrs, false, lifetime, now);
            let lower = header.to_ascii_lowercase();
            match lifetime {
                Lifetime::Session => prop_assert!(!lower.contains("expires="), "{}", header),
                _ => {
                    let at = lower.find("expires=").unwrap() + "expires=".len();
                    let date = header[at..].split(';').next().unwrap();
                    let parsed = httpdate::parse_http_date(date);
                    prop_assert!(parsed.is_ok(), "{}", header);
                }
            }
            if let (Lifetime::For(d), HeaderStyle::Standard) = (lifetime, style) {
                let max_age = format!("; Max-Age={};", d.as_secs());
                prop_assert!(header.contains(&max_age), "{}", header);
            }
        }
    }

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
        // docs/EXPRESS-COMPATIBILITY.md §4; `[vec:partitioned_priority]` has the same order.
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
    fn out_of_range_times_are_clamped_not_panics() {
        let attrs = CookieAttributes::default();
        let render =
            |style, lifetime, now| render_set_cookie(style, "s", "v", &attrs, false, lifetime, now);
        let year_10000 = SystemTime::UNIX_EPOCH + Duration::from_secs(LAST_HTTP_DATE + 1);
        let before_epoch = SystemTime::UNIX_EPOCH - Duration::from_secs(86_400);
        let hour = Lifetime::For(Duration::from_secs(3600));
        for style in [HeaderStyle::Standard, HeaderStyle::Express] {
            // Past year 9999 (and past what `SystemTime` can add): the last HTTP date.
            for (lifetime, now) in [
                (hour, year_10000),
                (Lifetime::For(Duration::MAX), now()),
                (Lifetime::For(Duration::from_secs(u64::MAX / 2)), year_10000),
            ] {
                let header = render(style, lifetime, now);
                assert!(
                    header
                        .to_ascii_lowercase()
                        .contains("; expires=fri, 31 dec 9999 23:59:59 gmt"),
                    "{header}"
                );
            }
            // Before the epoch: the epoch.
            let header = render(style, Lifetime::For(Duration::from_secs(60)), before_epoch);
            assert!(
                header
                    .to_ascii_lowercase()
                    .contains("; expires=thu, 01 jan 1970 00:00:00 gmt"),
                "{header}"
            );
        }
        let header = render(HeaderStyle::Standard, Lifetime::For(Duration::MAX), now());
        assert!(
            header.contains(&format!("; Max-Age={};", u64::MAX)),
            "{header}"
        );
        assert_eq!(
            render(HeaderStyle::Standard, hour, SystemTime::UNIX_EPOCH + Duration::from_secs(LAST_HTTP_DATE - 3600)),
            "s=v; Path=/; Max-Age=3600; Expires=Fri, 31 Dec 9999 23:59:59 GMT; HttpOnly; SameSite=Lax"
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
