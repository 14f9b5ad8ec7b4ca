//! The session layer's rules, driven with `oneshot` through a small axum router.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "support/reuse.rs"]
mod reuse;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use cookie_session::cookie::{Priority, SameSite};
use cookie_session::extract::{SessionValue, Typed};
use cookie_session::format::express::ExpressCodec;
use cookie_session::format::{Format, SigAlgorithm};
use cookie_session::{
    ConfigError, KeyError, KeyRing, Rejection, Session, SessionConfig, SessionError,
};
use http::{Request, Response, StatusCode};
use tower::ServiceExt;

const KEY_A: &str = "key-a-0123456789abcdef0123456789abcdef";
const KEY_B: &str = "key-b-0123456789abcdef0123456789abcdef";
const NATIVE: &[Format] = &[
    Format::Encrypted,
    Format::Signed,
    #[cfg(feature = "jwt")]
    Format::Jwt,
];
const ALL: &[Format] = &[
    Format::Encrypted,
    Format::Signed,
    #[cfg(feature = "jwt")]
    Format::Jwt,
    Format::Express(SigAlgorithm::Sha1),
];

/// A clock the test moves by hand (milliseconds since the epoch).
#[derive(Clone)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> Self {
        TestClock(Arc::new(AtomicU64::new(1_705_320_000_000)))
    }
    fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

fn config(format: Format, keys: &[&str], clock: &TestClock) -> SessionConfig {
    let clock = clock.clone();
    SessionConfig::new(KeyRing::new(keys).unwrap())
        .format(format)
        .clock(move || clock.now())
}

#[derive(serde::Deserialize)]
struct Opts {
    max_age: Option<u64>,
}

fn app(config: SessionConfig) -> Router {
    Router::new()
        .route("/untouched", get(|| async { "plain" }))
        .route(
            "/read",
            get(|s: Session| async move { format!("{:?}", s.get::<u64>("views")) }),
        )
        .route(
            "/incr",
            get(|s: Session, Query(o): Query<Opts>| async move {
                if let Some(secs) = o.max_age {
                    s.set_max_age(Some(Duration::from_secs(secs)));
                }
                let views = s.get::<u64>("views").unwrap_or(0) + 1;
                s.insert("views", views).unwrap();
                views.to_string()
            }),
        )
        .route(
            "/same",
            get(|s: Session| async move {
                let views = s.get::<u64>("views").unwrap_or(0);
                s.insert("views", views).unwrap();
                "same"
            }),
        )
        .route(
            "/override-only",
            get(|s: Session| async move {
                s.set_max_age(Some(Duration::from_secs(99)));
                format!("{:?}", s.get::<u64>("views"))
            }),
        )
        .route(
            "/expires-far",
            get(|s: Session| async move {
                // `req.sessionOptions.expires` far ahead, the other way to ask for a lifetime.
                s.update_cookie(|a| {
                    a.max_age = None;
                    a.expires = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40));
                })
                .unwrap();
                s.insert("far", true).unwrap();
                "far"
            }),
        )
        .route(
            "/expiry",
            get(|s: Session| async move {
                format!("{:?}", s.expires_at().map(cookie_session::unix_secs))
            }),
        )
        .route(
            "/destroy",
            get(|s: Session| async move {
                s.destroy();
                "bye"
            }),
        )
        .route(
            "/destroy-then-flash",
            get(|s: Session| async move {
                s.destroy();
                s.insert("flash", "logged out").unwrap();
                "bye"
            }),
        )
        .route(
            "/clear",
            get(|s: Session| async move {
                s.clear();
                "cleared"
            }),
        )
        .route(
            "/insert-remove",
            get(|s: Session| async move {
                s.insert("tmp", 1).unwrap();
                s.remove("tmp");
                "nothing"
            }),
        )
        .route(
            "/big",
            get(|s: Session| async move {
                s.insert("big", "x".repeat(5000)).unwrap();
                "big"
            }),
        )
        .route(
            "/changed",
            get(|s: Session| async move {
                let before = s.is_changed();
                let views = s.get::<u64>("views").unwrap_or(0);
                s.insert("views", views).unwrap();
                let same = s.is_changed();
                s.insert("views", views + 1).unwrap();
                format!("{before} {same} {}", s.is_changed())
            }),
        )
        .route(
            "/info",
            get(|s: Session| async move {
                format!(
                    "new={} key={:?} rejection={:?}",
                    s.is_new(),
                    s.key_index(),
                    s.rejection().map(Rejection::as_str)
                )
            }),
        )
        .route(
            "/typed",
            get(|mut cart: Typed<Cart>| async move {
                cart.items.push("apple".into());
                cart.items.len().to_string()
            }),
        )
        .layer(config.build().unwrap())
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Cart {
    items: Vec<String>,
}

impl SessionValue for Cart {
    const KEY: &'static str = "cart";
}

async fn call(app: &Router, uri: &str, cookie: Option<&str>) -> Response<Body> {
    call_with(app, uri, cookie, &[]).await
}

async fn call_with(
    app: &Router,
    uri: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Response<Body> {
    let mut req = Request::builder().uri(uri);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn set_cookies(res: &Response<Body>) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `name=value` pairs of the response's cookies, as a `Cookie` request header.
fn jar(res: &Response<Body>) -> String {
    set_cookies(res)
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

async fn body(res: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn vary_cookie(res: &Response<Body>) -> bool {
    res.headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().eq_ignore_ascii_case("cookie"))
}

#[tokio::test]
async fn untouched_routes_send_nothing_and_do_not_vary() {
    for &format in ALL {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock));
        let res = call(&app, "/incr", None).await;
        let cookie = jar(&res);
        let res = call(&app, "/untouched", Some(&cookie)).await;
        assert!(set_cookies(&res).is_empty(), "{format}");
        assert!(!vary_cookie(&res), "{format}");
        // Even a garbage cookie is not looked at.
        let res = call(&app, "/untouched", Some("session=garbage")).await;
        assert!(set_cookies(&res).is_empty());
    }
}

#[tokio::test]
async fn new_sessions_write_only_when_populated() {
    for &format in ALL {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock));
        let res = call(&app, "/read", None).await;
        assert!(
            set_cookies(&res).is_empty(),
            "{format}: new and empty writes nothing"
        );
        assert!(vary_cookie(&res), "{format}: read varies");
        let res = call(&app, "/insert-remove", None).await;
        assert!(set_cookies(&res).is_empty(), "{format}");
        let res = call(&app, "/incr", None).await;
        let cookies = set_cookies(&res);
        assert_eq!(
            cookies.len(),
            if format.has_server_expiry() { 1 } else { 2 },
            "{format}"
        );
        assert!(vary_cookie(&res));
    }
}

/// Express's `isChanged`: new sessions are changed; a loaded one only once its data differs.
#[tokio::test]
async fn is_changed_follows_express() {
    for format in ALL {
        let clock = TestClock::new();
        let app = app(config(*format, &[KEY_A], &clock));
        assert_eq!(
            body(call(&app, "/changed", None).await).await,
            "true true true",
            "{format}"
        );
        let cookie = jar(&call(&app, "/incr", None).await);
        assert_eq!(
            body(call(&app, "/changed", Some(&cookie)).await).await,
            "false false true",
            "{format}"
        );
    }
}

#[tokio::test]
async fn default_attributes() {
    let clock = TestClock::new();
    let app = app(config(Format::Encrypted, &[KEY_A], &clock));
    let res = call(&app, "/incr", None).await;
    let cookie = &set_cookies(&res)[0];
    assert!(cookie.starts_with("session="), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Domain") && !cookie.contains("Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn loaded_sessions_write_only_when_changed() {
    for &format in ALL {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock));
        let cookie = jar(&call(&app, "/incr", None).await);

        let res = call(&app, "/read", Some(&cookie)).await;
        assert!(set_cookies(&res).is_empty(), "{format}: read-only");
        assert_eq!(body(res).await, "Some(1)");

        let res = call(&app, "/same", Some(&cookie)).await;
        assert!(
            set_cookies(&res).is_empty(),
            "{format}: same value re-assigned"
        );

        let res = call(&app, "/override-only", Some(&cookie)).await;
        assert!(
            set_cookies(&res).is_empty(),
            "{format}: an override alone does not write"
        );

        let res = call(&app, "/incr", Some(&cookie)).await;
        let next = jar(&res);
        assert_eq!(body(res).await, "2");
        assert_eq!(
            body(call(&app, "/read", Some(&next)).await).await,
            "Some(2)"
        );

        // Emptied: written back empty, and read back as an empty loaded session.
        let res = call(&app, "/clear", Some(&next)).await;
        assert!(
            !set_cookies(&res).is_empty(),
            "{format}: emptied is a change"
        );
        let emptied = jar(&res);
        assert_eq!(
            body(call(&app, "/info", Some(&emptied)).await).await,
            "new=false key=Some(0) rejection=None"
        );
    }
}

#[tokio::test]
async fn destroy_clears_with_the_same_scope() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let cfg = config(format, &[KEY_A], &clock)
            .path("/app")
            .domain(Some("example.com".into()))
            .secure(true)
            .partitioned(true)
            .same_site(Some(SameSite::None))
            .priority(Some(Priority::High));
        let app = app(cfg);
        let res = call(&app, "/destroy", None).await;
        assert_eq!(
            set_cookies(&res),
            ["session=; Path=/app; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=None; Partitioned; Priority=High"]
        );
    }
}

#[tokio::test]
async fn destroyed_sessions_do_not_come_back_and_can_restart() {
    for &format in ALL {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock));
        let cookie = jar(&call(&app, "/incr", None).await);
        let res = call(&app, "/destroy", Some(&cookie)).await;
        let cleared = set_cookies(&res);
        // Every cookie sent is a removal: expired in 1970, the session cookie emptied, and
        // (Express) the `.sig` cookie holding keygrip's signature of `session=`, as Express
        // sends it.
        assert_eq!(cleared.len(), set_cookies_per_write(format), "{format}");
        for cookie in &cleared {
            assert!(
                cookie
                    .to_ascii_lowercase()
                    .contains("; expires=thu, 01 jan 1970 00:00:00 gmt"),
                "{format}: {cookie}"
            );
        }
        assert!(
            cleared[0].starts_with("session=; "),
            "{format}: {cleared:?}"
        );
        if let Format::Express(algorithm) = format {
            let keys = KeyRing::new([KEY_A]).unwrap();
            let sig = ExpressCodec::new(&keys, algorithm).sign_cookie("session", "");
            let expected = format!("session.sig={sig}; ");
            assert!(cleared[1].starts_with(&expected), "{cleared:?}");
        }

        let res = call(&app, "/destroy-then-flash", Some(&cookie)).await;
        let fresh = jar(&res);
        assert!(!fresh.starts_with("session=;"));
        assert_eq!(
            body(call(&app, "/info", Some(&fresh)).await).await,
            "new=false key=Some(0) rejection=None"
        );
    }
}

#[tokio::test]
async fn per_request_max_age() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock).max_lifetime(Duration::from_secs(2592000)));
        let res = call(&app, "/incr?max_age=2592000", None).await;
        let cookie = &set_cookies(&res)[0];
        assert!(
            cookie.contains("; Max-Age=2592000; Expires=Wed, 14 Feb 2024 12:00:00 GMT"),
            "{cookie}"
        );
        // The next response without an override keeps the lifetime the first one chose
        // (tests/remember.rs has the rest: rotation, `rolling`, store mode, "forget me").
        let res = call(&app, "/incr", Some(&jar(&res))).await;
        assert!(
            set_cookies(&res)[0]
                .contains("; Max-Age=2592000; Expires=Wed, 14 Feb 2024 12:00:00 GMT"),
            "{format}: {:?}",
            set_cookies(&res)
        );
    }
    let clock = TestClock::new();
    let app = app(config(
        Format::Express(SigAlgorithm::Sha1),
        &["key-new"],
        &clock,
    ));
    let res = call(&app, "/incr?max_age=3600", None).await;
    for cookie in set_cookies(&res) {
        assert!(
            cookie.contains(
                "; path=/; expires=Mon, 15 Jan 2024 13:00:00 GMT; samesite=lax; httponly"
            ),
            "{cookie}"
        );
    }
}

#[tokio::test]
async fn per_request_lifetime_cannot_pass_the_ceiling() {
    let start = 1_705_320_000;
    for &format in NATIVE {
        // The default ceiling is the configured lifetime: `max_age`, here 60 s…
        let clock = TestClock::new();
        let router = app(config(format, &[KEY_A], &clock).max_age(Some(Duration::from_secs(60))));
        let res = call(&router, "/incr?max_age=34560000", None).await;
        let cookie = &set_cookies(&res)[0];
        assert!(
            cookie.contains("; Max-Age=60; Expires=Mon, 15 Jan 2024 12:01:00 GMT"),
            "{format}: {cookie}"
        );
        let first = jar(&res);
        let sealed = body(call(&router, "/expiry", Some(&first)).await).await;
        assert_eq!(sealed, format!("Some({})", start + 60), "{format}");
        // …so the cookie is refused once those 60 s (and the skew) are over.
        clock.advance(Duration::from_secs(121));
        assert_eq!(
            body(call(&router, "/read", Some(&first)).await).await,
            "None",
            "{format}"
        );

        // …or the TTL for browser-session cookies (24 hours by default).
        let clock = TestClock::new();
        let router = app(config(format, &[KEY_A], &clock));
        let res = call(&router, "/incr?max_age=34560000", None).await;
        assert!(
            set_cookies(&res)[0].contains("; Max-Age=86400;"),
            "{format}: {res:?}"
        );
        let sealed = body(call(&router, "/expiry", Some(&jar(&res))).await).await;
        assert_eq!(sealed, format!("Some({})", start + 86400), "{format}");

        // Shorter than the ceiling is the handler's right.
        let res = call(&router, "/incr?max_age=30", None).await;
        assert!(
            set_cookies(&res)[0].contains("; Max-Age=30;"),
            "{format}: {res:?}"
        );
        let sealed = body(call(&router, "/expiry", Some(&jar(&res))).await).await;
        assert_eq!(sealed, format!("Some({})", start + 30), "{format}");

        // `expires` instead of `max_age`: the same ceiling.
        let res = call(&router, "/expires-far", None).await;
        assert!(
            set_cookies(&res)[0].contains("; Max-Age=86400;"),
            "{format}: {res:?}"
        );
        let sealed = body(call(&router, "/expiry", Some(&jar(&res))).await).await;
        assert_eq!(sealed, format!("Some({})", start + 86400), "{format}");

        // An explicit ceiling wins over the configured lifetime, both ways.
        let clock = TestClock::new();
        let router = app(config(format, &[KEY_A], &clock)
            .max_age(Some(Duration::from_secs(600)))
            .max_lifetime(Duration::from_secs(120)));
        let res = call(&router, "/incr", None).await;
        assert!(
            set_cookies(&res)[0].contains("; Max-Age=120;"),
            "{format}: {res:?}"
        );
        let sealed = body(call(&router, "/expiry", Some(&jar(&res))).await).await;
        assert_eq!(sealed, format!("Some({})", start + 120), "{format}");
    }

    // The Express format has no server-side expiry: by default an override is Express's own
    // (any lifetime, byte for byte); a set ceiling caps what the browser is told.
    let express = Format::Express(SigAlgorithm::Sha1);
    let clock = TestClock::new();
    let router = app(config(express, &["key-new"], &clock).max_age(Some(Duration::from_secs(60))));
    let res = call(&router, "/incr?max_age=7200", None).await;
    for cookie in set_cookies(&res) {
        assert!(
            cookie.contains("; expires=Mon, 15 Jan 2024 14:00:00 GMT;"),
            "{cookie}"
        );
    }
    let router = app(config(express, &["key-new"], &clock).max_lifetime(Duration::from_secs(60)));
    let res = call(&router, "/incr?max_age=7200", None).await;
    let cookies = set_cookies(&res);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for cookie in cookies {
        assert!(
            cookie.contains("; expires=Mon, 15 Jan 2024 12:01:00 GMT;"),
            "{cookie}"
        );
    }
}

#[tokio::test]
async fn a_cookie_that_is_not_utf8_blanks_only_itself() {
    for &format in ALL {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock));
        let session = jar(&call(&app, "/incr", None).await);
        let read = |headers: Vec<Vec<u8>>| {
            let app = app.clone();
            async move {
                let mut req = Request::builder().uri("/read");
                for h in headers {
                    req = req.header("cookie", http::HeaderValue::from_bytes(&h).unwrap());
                }
                body(app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()).await
            }
        };
        let with = |before: &[u8], after: &[u8]| [before, session.as_bytes(), after].concat();
        for headers in [
            // Another cookie with a byte that is not UTF-8, before or after ours.
            vec![with(b"other=\xff\xfe; ", b"")],
            vec![with(b"", b"; other=caf\xe9")],
            vec![with(b"\x80; a=1; ", b"; \xc3")],
            // A whole other `Cookie` line that is not UTF-8.
            vec![b"prefs=\xff".to_vec(), session.as_bytes().to_vec()],
            vec![session.as_bytes().to_vec(), b"prefs=\xff".to_vec()],
        ] {
            assert_eq!(
                read(headers.clone()).await,
                "Some(1)",
                "{format}: {headers:?}"
            );
        }
        // The session cookie's own pair with such a byte is not ours: a fresh session.
        assert_eq!(read(vec![with(b"", b"\xff")]).await, "None", "{format}");
    }
}

#[tokio::test]
async fn server_side_expiry_is_enforced_whatever_the_browser_sends() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock)
            .max_age(Some(Duration::from_secs(600)))
            .clock_skew(Duration::from_secs(5)));
        let cookie = jar(&call(&app, "/incr", None).await);
        clock.advance(Duration::from_secs(599));
        assert_eq!(
            body(call(&app, "/read", Some(&cookie)).await).await,
            "Some(1)",
            "{format}"
        );
        clock.advance(Duration::from_secs(7));
        assert_eq!(
            body(call(&app, "/info", Some(&cookie)).await).await,
            "new=true key=None rejection=Some(\"expired\")",
            "{format}"
        );
        // Rejected and untouched by a write: nothing sent.
        assert!(set_cookies(&call(&app, "/read", Some(&cookie)).await).is_empty());
    }
}

#[tokio::test]
async fn browser_session_cookies_still_expire_on_the_server() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock)
            .ttl(Duration::from_secs(3600))
            .clock_skew(Duration::ZERO));
        let res = call(&app, "/incr", None).await;
        assert!(!set_cookies(&res)[0].contains("Max-Age"));
        let cookie = jar(&res);
        clock.advance(Duration::from_secs(3601));
        assert_eq!(
            body(call(&app, "/read", Some(&cookie)).await).await,
            "None",
            "{format}"
        );
    }
}

#[tokio::test]
async fn rotation_reissues_under_the_first_key_with_every_attribute() {
    for &format in ALL {
        let clock = TestClock::new();
        let attrs = |c: SessionConfig| {
            c.path("/app")
                .domain(Some("example.com".into()))
                .secure(true)
                .same_site(Some(SameSite::Strict))
                .max_age(Some(Duration::from_secs(3600)))
        };
        let old = app(attrs(config(format, &[KEY_A], &clock)));
        let cookie = jar(&call(&old, "/incr", None).await);

        let rotated = app(attrs(config(format, &[KEY_B, KEY_A], &clock)));
        clock.advance(Duration::from_secs(60));
        let res = call(&rotated, "/read", Some(&cookie)).await;
        let reissued = set_cookies(&res);
        assert!(!reissued.is_empty(), "{format}: re-issued on read");
        for c in &reissued {
            let lower = c.to_ascii_lowercase();
            for attr in [
                "path=/app",
                "domain=example.com",
                "secure",
                "httponly",
                "samesite=strict",
            ] {
                assert!(lower.contains(attr), "{format}: {c} lacks {attr}");
            }
        }
        if format.has_server_expiry() {
            // The expiry is kept, not extended: 3600 - 60 seconds are left.
            assert!(reissued[0].contains("Max-Age=3540"), "{}", reissued[0]);
        }
        // The new cookie opens with the new key alone.
        let only_new = app(config(format, &[KEY_B], &clock));
        assert_eq!(
            body(call(&only_new, "/info", Some(&jar(&res))).await).await,
            "new=false key=Some(0) rejection=None",
            "{format}"
        );
        // The old cookie does not, once the old key is removed.
        let info = body(call(&only_new, "/info", Some(&cookie)).await).await;
        assert!(
            info.starts_with("new=true key=None rejection=Some("),
            "{format}: {info}"
        );
    }
}

#[tokio::test]
async fn rolling_slides_within_the_absolute_lifetime() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let cfg = config(format, &[KEY_A], &clock)
            .rolling(true)
            .max_age(Some(Duration::from_secs(100)))
            .absolute_lifetime(Some(Duration::from_secs(250)))
            .clock_skew(Duration::ZERO);
        let app = app(cfg);
        let mut cookie = jar(&call(&app, "/incr", None).await);
        for step in 1..=4 {
            clock.advance(Duration::from_secs(60));
            // Untouched routes re-issue too: that is what rolling means.
            let res = call(&app, "/untouched", Some(&cookie)).await;
            let issued = set_cookies(&res);
            assert_eq!(issued.len(), 1, "{format} step {step}");
            let expected = (250 - 60 * step).min(100);
            assert!(
                issued[0].contains(&format!("Max-Age={expected};")),
                "{format} step {step}: {}",
                issued[0]
            );
            cookie = jar(&res);
        }
        clock.advance(Duration::from_secs(11));
        assert_eq!(
            body(call(&app, "/read", Some(&cookie)).await).await,
            "None",
            "{format}: past the absolute lifetime"
        );
    }
}

/// Collects what a `tracing` subscriber writes, for the log assertions.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A session grown past the limit over an existing cookie: a 500 with the typed error, no
/// `Set-Cookie` at all (so the browser keeps its previous cookie, which still reads back the
/// session as it was), and one error line in the log naming the cookie and its size, never its
/// value.
#[tokio::test]
async fn oversized_sessions_fail_loudly_and_keep_the_old_cookie() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The tests' runtime is single-threaded: the handlers run on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    for &format in ALL {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock));
        let previous = jar(&call(&app, "/incr", None).await);
        let logged_before = captured.text().len();
        let res = call(&app, "/big", Some(&previous)).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{format}");
        assert!(
            set_cookies(&res).is_empty(),
            "{format}: nothing replaces it"
        );
        let size = match res.extensions().get::<SessionError>() {
            Some(SessionError::CookieTooLarge { name, size, limit }) => {
                assert_eq!(name, "session");
                assert!(*size > 4096 && *limit == 4096, "{format}: {size} {limit}");
                *size
            }
            other => panic!("{format}: {other:?}"),
        };
        // The browser sends its previous cookie again: the session before the failed write.
        assert_eq!(
            body(call(&app, "/read", Some(&previous)).await).await,
            "Some(1)",
            "{format}"
        );
        let log = captured.text()[logged_before..].to_owned();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("session not sent"))
            .collect();
        assert_eq!(lines.len(), 1, "{format}: {log}");
        assert!(lines[0].contains("ERROR"), "{format}: {}", lines[0]);
        assert!(
            lines[0].contains(&format!(
                "session cookie \"session\" would be {size} bytes, above the 4096-byte limit"
            )),
            "{format}: {}",
            lines[0]
        );
        for pair in previous.split("; ") {
            let value = pair.split_once('=').unwrap().1;
            assert!(!log.contains(value), "{format}: a cookie value was logged");
        }
    }
}

#[tokio::test]
async fn size_limit_is_exact() {
    // Find the session size whose cookie is exactly the limit, then one byte more.
    for &format in ALL {
        let clock = TestClock::new();
        let limit = 1000;
        let sized = |n: usize| {
            let cfg = config(format, &[KEY_A], &clock).max_cookie_size(limit);
            Router::new()
                .route(
                    "/",
                    get(move |s: Session| async move {
                        s.insert("p", "x".repeat(n)).unwrap();
                    }),
                )
                .layer(cfg.build().unwrap())
        };
        let mut found = false;
        for n in 400..800 {
            let res = call(&sized(n), "/", None).await;
            if res.status() == StatusCode::INTERNAL_SERVER_ERROR {
                let size = match res.extensions().get::<SessionError>() {
                    Some(SessionError::CookieTooLarge { size, .. }) => *size,
                    other => panic!("{other:?}"),
                };
                assert!(size > limit);
                let prev = call(&sized(n - 1), "/", None).await;
                assert_eq!(prev.status(), StatusCode::OK);
                let longest = set_cookies(&prev)
                    .iter()
                    .map(|c| c.split(';').next().unwrap().len())
                    .max()
                    .unwrap();
                assert!(
                    longest <= limit && longest > limit - 4,
                    "{format}: {longest}"
                );
                found = true;
                break;
            }
        }
        assert!(found, "{format}");
    }
}

#[tokio::test]
async fn secure_follows_the_request_and_trusts_proxies_only_when_told() {
    let clock = TestClock::new();
    let plain = app(config(Format::Encrypted, &[KEY_A], &clock));
    let xfp = [("x-forwarded-proto", "https")];
    assert!(!set_cookies(&call_with(&plain, "/incr", None, &xfp).await)[0].contains("Secure"));
    assert!(
        set_cookies(&call(&plain, "https://example.com/incr", None).await)[0].contains("; Secure")
    );

    let trusting = app(config(Format::Encrypted, &[KEY_A], &clock).trust_proxy(true));
    assert!(set_cookies(&call_with(&trusting, "/incr", None, &xfp).await)[0].contains("; Secure"));
    assert!(!set_cookies(
        &call_with(
            &trusting,
            "/incr",
            None,
            &[("x-forwarded-proto", "http, https")]
        )
        .await
    )[0]
    .contains("Secure"));

    let never = app(config(Format::Encrypted, &[KEY_A], &clock).secure(false));
    assert!(
        !set_cookies(&call(&never, "https://example.com/incr", None).await)[0].contains("Secure")
    );
    let always = app(config(Format::Encrypted, &[KEY_A], &clock).secure(true));
    assert!(set_cookies(&call(&always, "/incr", None).await)[0].contains("; Secure"));
}

#[tokio::test]
async fn tampered_and_foreign_cookies_are_fresh_sessions() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let app = app(config(format, &[KEY_A], &clock));
        let cookie = jar(&call(&app, "/incr", None).await);
        let value = cookie.strip_prefix("session=").unwrap();
        // Another cookie name: the name is bound into the seal.
        let renamed = app_named(format, "other", &clock);
        let info = body(call(&renamed, "/info", Some(&format!("other={value}"))).await).await;
        assert_eq!(
            info, "new=true key=None rejection=Some(\"bad_signature\")",
            "{format}"
        );
        // A forged plain payload.
        let res = call(&app, "/read", Some("session=eyJ2aWV3cyI6MTAwMH0")).await;
        assert_eq!(body(res).await, "None");
        // Duplicates, in both orders: the valid one wins, the forged one is never used.
        for header in [
            format!("session=forged; {cookie}"),
            format!("{cookie}; session=forged"),
        ] {
            assert_eq!(
                body(call(&app, "/read", Some(&header)).await).await,
                "Some(1)",
                "{format}: {header}"
            );
        }
    }
}

/// What the layer seals in the `encrypted` format is the JSON followed by the index of its
/// entries (`format/index.rs`), and a value written that way is refused for every flipped
/// bit; `signed` payloads, which anyone can read, stay plain JSON.
#[tokio::test]
async fn written_cookies_carry_the_index_and_refuse_every_flipped_bit() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use cookie_session::format::encrypted::EncryptedCodec;
    use cookie_session::format::signed::SignedCodec;

    let clock = TestClock::new();
    let keys = KeyRing::new([KEY_A]).unwrap();
    // The payload a `session=` cookie of the `encrypted` format seals.
    let sealed = |cookie: &str| {
        let value = cookie.strip_prefix("session=").unwrap();
        let codec = EncryptedCodec::new(&keys).unwrap();
        codec.open("session", value).unwrap().json
    };
    let encrypted = app(config(Format::Encrypted, &[KEY_A], &clock));
    let cookie = jar(&call(&encrypted, "/incr", None).await);
    // `{"views":1}`, then the key's end (7) and the value's end (10), the count and the marker.
    let mut expected = br#"{"views":1}"#.to_vec();
    expected.extend_from_slice(&[0, 7, 0, 10, 0, 1, 0x01]);
    assert_eq!(sealed(&cookie), expected);
    assert_eq!(
        body(call(&encrypted, "/read", Some(&cookie)).await).await,
        "Some(1)"
    );

    let raw = URL_SAFE_NO_PAD
        .decode(cookie.strip_prefix("session=").unwrap())
        .unwrap();
    for byte in 0..raw.len() {
        for bit in 0..8 {
            let mut flipped = raw.clone();
            flipped[byte] ^= 1 << bit;
            let header = format!("session={}", URL_SAFE_NO_PAD.encode(&flipped));
            let read = body(call(&encrypted, "/read", Some(&header)).await).await;
            assert_eq!(read, "None", "byte {byte} bit {bit}");
        }
    }

    // A rolling session re-issued unchanged keeps its index.
    let rolling = app(config(Format::Encrypted, &[KEY_A], &clock).rolling(true));
    let reissued = jar(&call(&rolling, "/read", Some(&cookie)).await);
    assert_eq!(sealed(&reissued), expected);

    let signed = app(config(Format::Signed, &[KEY_A], &clock));
    let cookie = jar(&call(&signed, "/incr", None).await);
    let value = cookie.strip_prefix("session=").unwrap();
    let opened = SignedCodec::new(&keys)
        .unwrap()
        .open("session", value)
        .unwrap();
    assert_eq!(opened.json, br#"{"views":1}"#);
}

fn app_named(format: Format, name: &str, clock: &TestClock) -> Router {
    app(config(format, &[KEY_A], clock).name(name))
}

#[tokio::test]
async fn typed_sessions_round_trip() {
    let clock = TestClock::new();
    let app = app(config(Format::Encrypted, &[KEY_A], &clock));
    let res = call(&app, "/typed", None).await;
    let cookie = jar(&res);
    assert_eq!(body(res).await, "1");
    let res = call(&app, "/typed", Some(&cookie)).await;
    assert_eq!(body(res).await, "2");
    // A session that does not fit the type starts from the default.
    let cookie = jar(&call(&app, "/incr", None).await);
    assert_eq!(body(call(&app, "/typed", Some(&cookie)).await).await, "1");
}

#[tokio::test]
async fn vary_is_not_duplicated() {
    let clock = TestClock::new();
    let app = Router::new()
        .route(
            "/",
            get(|s: Session| async move {
                s.insert("a", 1).unwrap();
                ([("vary", "Cookie")], "x")
            }),
        )
        .layer(config(Format::Encrypted, &[KEY_A], &clock).build().unwrap());
    let res = call(&app, "/", None).await;
    assert_eq!(res.headers().get_all("vary").iter().count(), 1);
}

/// `Vary: Cookie` whenever the response depends on the session: a read of an existing cookie
/// (nothing re-sent), a rolling refresh (on a route that never reads it, too), a write, and a
/// 500 for a cookie too large. (A 503 for a store outage: `tests/store_redis.rs`.)
#[tokio::test]
async fn vary_cookie_on_reads_refreshes_and_errors() {
    for &format in ALL {
        let clock = TestClock::new();
        let plain = app(config(format, &[KEY_A], &clock));
        let cookie = jar(&call(&plain, "/incr", None).await);
        let res = call(&plain, "/read", Some(&cookie)).await;
        assert!(set_cookies(&res).is_empty(), "{format}");
        assert!(vary_cookie(&res), "{format}: read of an existing cookie");
        let res = call(&plain, "/incr", Some(&cookie)).await;
        assert_eq!(set_cookies(&res).len(), set_cookies_per_write(format));
        assert!(vary_cookie(&res), "{format}: write of an existing session");
        let res = call(&plain, "/big", Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{format}");
        assert!(vary_cookie(&res), "{format}: 500, cookie too large");

        let rolling = app(config(format, &[KEY_A], &clock).rolling(true));
        for route in ["/read", "/untouched"] {
            let res = call(&rolling, route, Some(&cookie)).await;
            assert_eq!(
                set_cookies(&res).len(),
                set_cookies_per_write(format),
                "{format} {route}: rolling re-issues"
            );
            assert!(vary_cookie(&res), "{format} {route}: rolling refresh");
        }
    }
}

fn set_cookies_per_write(format: Format) -> usize {
    if format.has_server_expiry() {
        1
    } else {
        2
    }
}

/// Nothing is opened on a route that never touches the session. Every open ends in a served
/// session or a counted rejection, so an authentic but expired cookie (which authenticates,
/// parses, and is then refused) is counted exactly when it was decoded: zero times on an
/// untouched route, once on a route that reads it, and once on an untouched route with
/// `rolling(true)`, which must open the cookie to re-issue it.
#[tokio::test]
async fn untouched_routes_decode_nothing_unless_rolling() {
    for &format in NATIVE {
        let clock = TestClock::new();
        let cfg = || config(format, &[KEY_A], &clock).ttl(Duration::from_secs(60));
        let minted = app(cfg());
        let expired = jar(&call(&minted, "/incr", None).await);
        clock.advance(Duration::from_secs(3600));
        for rolling in [false, true] {
            let layer = cfg().rolling(rolling).build().unwrap();
            let routes = Router::new()
                .route("/untouched", get(|| async { "plain" }))
                .route(
                    "/read",
                    get(|s: Session| async move { format!("{:?}", s.get::<u64>("views")) }),
                )
                .layer(layer.clone());
            for header in [expired.as_str(), "session=forged"] {
                let res = call(&routes, "/untouched", Some(header)).await;
                assert!(set_cookies(&res).is_empty(), "{format}");
            }
            let decoded = layer.metrics().count(Rejection::Expired)
                + layer.metrics().count(Rejection::Malformed);
            assert_eq!(
                decoded,
                u64::from(rolling) * 2,
                "{format} rolling={rolling}: opens on an untouched route"
            );
            call(&routes, "/read", Some(&expired)).await;
            assert_eq!(
                layer.metrics().count(Rejection::Expired),
                1 + u64::from(rolling),
                "{format} rolling={rolling}: a read opens the cookie once"
            );
        }
    }
}

#[test]
fn configuration_errors_are_typed() {
    let short = KeyRing::new(["short"]).unwrap();
    for &format in NATIVE {
        let err = SessionConfig::new(short.clone())
            .format(format)
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Key(KeyError::TooShort {
                    index: 0,
                    len: 5,
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains("short\""));
    }
    // keygrip accepts any non-empty key.
    SessionConfig::new(short)
        .format(Format::Express(SigAlgorithm::Sha1))
        .build()
        .unwrap();

    let keys = KeyRing::new([KEY_A]).unwrap();
    let cases = [
        SessionConfig::new(keys.clone()).same_site(Some(SameSite::None)),
        SessionConfig::new(keys.clone()).partitioned(true),
        SessionConfig::new(keys.clone()).name("__Host-id"),
        SessionConfig::new(keys.clone())
            .name("__Host-id")
            .secure(true)
            .path("/x"),
        SessionConfig::new(keys.clone()).name("__Secure-id"),
        SessionConfig::new(keys.clone()).name("bad name"),
        SessionConfig::new(keys.clone()).path("/a;b"),
        SessionConfig::new(keys.clone()).domain(Some("a\nb".into())),
        SessionConfig::new(keys.clone()).max_cookie_size(5000),
        // Settings under which no session would ever stick.
        SessionConfig::new(keys.clone()).domain(Some("example.com:8080".into())),
        SessionConfig::new(keys.clone()).max_age(Some(Duration::ZERO)),
        SessionConfig::new(keys.clone()).ttl(Duration::ZERO),
    ];
    for case in cases {
        let shown = format!("{case:?}");
        assert!(!shown.contains(KEY_A), "Debug prints no key: {shown}");
        assert!(case.build().is_err());
    }
    SessionConfig::new(keys)
        .name("__Host-id")
        .secure(true)
        .build()
        .unwrap();
}

/// The layer reuses the handle of a finished request (its allocation and buffers) for the
/// next one: nothing of the finished request may show through (data, cookie override,
/// rejection), and a handle the handler kept a clone of is never reused, so the clone keeps
/// its own request's session (tests/support/reuse.rs; tests/actix.rs checks the actix-web
/// middleware alike).
#[tokio::test]
async fn reused_handles_start_empty_and_kept_handles_are_not_reused() {
    use std::sync::Mutex;

    for &format in ALL {
        let kept: Arc<Mutex<Vec<Session>>> = Arc::default();
        let layer = SessionConfig::new(KeyRing::new([KEY_A]).unwrap())
            .format(format)
            .build()
            .unwrap();
        let service = tower::Layer::layer(
            &layer,
            tower::service_fn({
                let kept = kept.clone();
                move |req: Request<String>| {
                    let session = req.extensions().get::<Session>().unwrap().clone();
                    let state = reuse::handle(session, req.uri().path(), &kept);
                    async move { Ok::<_, std::convert::Infallible>(Response::new(state)) }
                }
            }),
        );
        let send = |path: &str, cookie: Option<&str>| {
            let mut req = Request::get(path).body(String::new()).unwrap();
            if let Some(cookie) = cookie {
                req.headers_mut()
                    .insert(http::header::COOKIE, cookie.parse().unwrap());
            }
            service.clone().oneshot(req)
        };
        let set_cookies = |res: &Response<String>| -> Vec<String> {
            res.headers()
                .get_all(http::header::SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        };

        // A refused cookie, an override and data, each followed by requests that must not
        // see them.
        let res = send("/override", Some("session=forged")).await.unwrap();
        assert!(res.body().contains("rejection=Some"), "{format:?}");
        for _ in 0..3 {
            let res = send("/plain", None).await.unwrap();
            assert_eq!(res.body(), reuse::FRESH, "{format:?}");
            let written = reuse::written(&layer, &set_cookies(&res));
            assert_eq!(written, serde_json::json!({"n": 2}));
        }

        // A kept clone stays bound to its own request: after later requests with another
        // cookie, it still reads the cookie its request carried.
        let mine = reuse::cookie_of(&layer, serde_json::json!({"a": 1}));
        let later = reuse::cookie_of(&layer, serde_json::json!({"n": 2}));
        for _ in 0..2 {
            send("/keep", Some(&mine)).await.unwrap();
            let res = send("/plain", Some(&later)).await.unwrap();
            assert!(
                res.body().contains(r#"keys=["n"]"#),
                "{format:?}: {}",
                res.body()
            );
        }
        reuse::check_kept(&kept, &format!("{format:?}"));
    }
}

/// The layer decodes native cookies into one buffer kept with its pooled handles, and the
/// session's text lives in it while the request runs. Sessions of different sizes, a refused
/// cookie, an expired authentic one planted before a valid one, and no cookie, in turn
/// through one layer: each request reads exactly its own session, never a byte of another's.
#[tokio::test]
async fn the_pooled_decode_buffer_never_mixes_sessions() {
    use cookie_session::format::{Codec, Timestamps};
    use serde_json::{json, Map, Value};

    for &format in NATIVE {
        let ring = || KeyRing::new([KEY_A]).unwrap();
        let layer = SessionConfig::new(ring()).format(format).build().unwrap();
        let service = tower::Layer::layer(
            &layer,
            tower::service_fn(|req: Request<String>| async move {
                let session = req.extensions().get::<Session>().unwrap().clone();
                let data: Map<String, Value> = session
                    .keys()
                    .into_iter()
                    .map(|key| {
                        let value = session.get::<Value>(&key).unwrap();
                        (key, value)
                    })
                    .collect();
                Ok::<_, std::convert::Infallible>(Response::new(Value::Object(data).to_string()))
            }),
        );
        let object = |value: Value| value.as_object().cloned().unwrap();
        let big = object(json!({"big": "x".repeat(2000), "n": 1, "tail": [1, 2, 3]}));
        let small = object(json!({"é": "ü", "s": 2}));
        let cookie_of = |data: &Map<String, Value>| {
            layer.encode(data.clone()).unwrap()[0]
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        };
        let (big_cookie, small_cookie) = (cookie_of(&big), cookie_of(&small));
        let codec = Codec::new(format, &ring(), "session").unwrap();
        let past = Timestamps {
            created_at: 1,
            issued_at: 1,
            expires_at: 2,
        };
        let expired = format!("session={}", codec.seal(&codec.canonical(&big), past).value);
        let planted = format!("{expired}; {small_cookie}");
        let empty = Map::new();
        let steps: [(Option<&str>, &Map<String, Value>); 9] = [
            (Some(&big_cookie), &big),
            (Some(&small_cookie), &small),
            (Some("session=AAAA"), &empty),
            (None, &empty),
            (Some(&planted), &small),
            (Some(&big_cookie), &big),
            (Some(&expired), &empty),
            (Some(&small_cookie), &small),
            (Some(&big_cookie), &big),
        ];
        for (round, (cookie, expected)) in steps.into_iter().enumerate() {
            let mut req = Request::get("/").body(String::new()).unwrap();
            if let Some(cookie) = cookie {
                req.headers_mut()
                    .insert(http::header::COOKIE, cookie.parse().unwrap());
            }
            let res = service.clone().oneshot(req).await.unwrap();
            let read: Value = serde_json::from_str(res.body()).unwrap();
            assert_eq!(
                read,
                Value::Object(expected.clone()),
                "{format:?} step {round}"
            );
        }
    }
}

/// The layer wrapped around the whole router (`SessionLayer`'s docs, "Around the whole
/// router") serves the same sessions as `Router::layer`: the extractor finds the session, the
/// cookie is written and read back, and a path no route matches passes through untouched.
#[tokio::test]
async fn the_layer_around_the_whole_router() {
    use tower::Layer;

    let clock = TestClock::new();
    let sessions = config(Format::Encrypted, &[KEY_A], &clock).build().unwrap();
    let app = sessions.layer(Router::new().route(
        "/incr",
        get(|s: Session| async move {
            let views = s.get::<u64>("views").unwrap_or(0) + 1;
            s.insert("views", views).unwrap();
            views.to_string()
        }),
    ));
    let send = |uri: &'static str, cookie: Option<String>| {
        let mut req = Request::builder().uri(uri);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        app.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    let first = send("/incr", None).await.unwrap();
    let cookie = jar(&first);
    assert!(cookie.starts_with("session="), "{cookie}");
    assert_eq!(body(first).await, "1");
    let second = send("/incr", Some(cookie.clone())).await.unwrap();
    assert_eq!(set_cookies(&second).len(), 1);
    assert_eq!(body(second).await, "2");
    let missing = send("/nowhere", Some(cookie)).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(set_cookies(&missing).is_empty());
    assert!(!vary_cookie(&missing));
}

/// The `Session` extractor's future stays small whatever stores are compiled in. axum keeps it
/// inside every handler's future, and copies that whole future when it boxes it, once per
/// request: with a store's load in it unboxed (2,224 bytes with every feature) it cost
/// ~385 instructions per request in cookie mode too, where the load never runs
/// (docs/PERFORMANCE.md, round five). Now it is a handle, a pointer or two and a state.
#[test]
fn the_session_extractors_future_is_small() {
    use axum::extract::FromRequestParts;

    let (mut parts, ()) = Request::new(()).into_parts();
    let extract = Session::from_request_parts(&mut parts, &());
    let size = std::mem::size_of_val(&extract);
    assert!(size <= 256, "the extractor's future is {size} bytes");
}
