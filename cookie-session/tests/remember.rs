//! A lifetime a handler chose with `set_max_age` ("remember me") lasts: later writes, key
//! rotation and `rolling` keep the session's expiry and the cookie's `Max-Age` running to it,
//! in cookie and store mode, until it runs out or a response chooses another lifetime
//! (`session/write.rs` `Writer::kept_expiry`). Express's format keeps Express's rule: each
//! response has its own lifetime.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use cookie_session::format::{Format, SigAlgorithm};
use cookie_session::store::{MemoryStore, SessionStore};
use cookie_session::{KeyRing, SessionConfig, SessionLayer};
use http::Request;
use tower::ServiceExt;

const KEY_A: &str = "remember-test-key-a-0123456789abcdef";
const KEY_B: &str = "remember-test-key-b-0123456789abcdef";
const DAY: u64 = 86_400;
const REMEMBER: u64 = 30 * DAY;
const START: u64 = 1_800_000_000;

#[derive(Clone)]
struct Clock(Arc<AtomicU64>);

impl Clock {
    fn new() -> Self {
        Clock(Arc::new(AtomicU64::new(START)))
    }
    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    fn secs(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(serde::Deserialize)]
struct Opts {
    remember: Option<bool>,
}

/// Browser-session cookies by default (no `max_age`), a one-hour TTL, and a `max_lifetime`
/// that allows 30 days.
fn config(format: Format, keys: &[&str], clock: &Clock) -> SessionConfig {
    let clock = clock.clone();
    SessionConfig::new(KeyRing::new(keys.iter().copied()).unwrap())
        .format(format)
        .ttl(Duration::from_secs(3600))
        .max_lifetime(Duration::from_secs(REMEMBER))
        .clock(move || SystemTime::UNIX_EPOCH + Duration::from_secs(clock.0.load(Ordering::SeqCst)))
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/incr",
            get(
                |s: cookie_session::Session, Query(o): Query<Opts>| async move {
                    match o.remember {
                        Some(true) => s.set_max_age(Some(Duration::from_secs(REMEMBER))),
                        Some(false) => s.set_max_age(None),
                        None => {}
                    }
                    let views = s.get::<u64>("views").unwrap_or(0) + 1;
                    s.insert("views", views).unwrap();
                    views.to_string()
                },
            ),
        )
        .route(
            "/read",
            get(|s: cookie_session::Session| async move { format!("{:?}", s.get::<u64>("views")) }),
        )
        .route(
            "/expiry",
            get(|s: cookie_session::Session| async move {
                let views = s.get::<u64>("views");
                let expires = s.expires_at().map(cookie_session::unix_secs);
                format!("{views:?} {expires:?}")
            }),
        )
        .layer(layer)
}

struct Response {
    set_cookies: Vec<String>,
    body: String,
}

impl Response {
    /// The session cookie's `Set-Cookie`, if one was sent.
    fn cookie(&self) -> Option<&str> {
        self.set_cookies
            .iter()
            .map(String::as_str)
            .find(|c| c.starts_with("session="))
    }
    fn pair(&self) -> String {
        let cookie = self.cookie().expect("a session cookie");
        cookie.split(';').next().unwrap().to_owned()
    }
    fn max_age(&self) -> Option<u64> {
        let cookie = self.cookie().expect("a session cookie");
        cookie
            .split("; ")
            .find_map(|a| a.strip_prefix("Max-Age="))
            .map(|v| v.parse().unwrap())
    }
}

async fn call(app: &Router, path: &str, cookie: Option<&str>) -> Response {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let set_cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Response {
        set_cookies,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

const NATIVE: &[Format] = &[
    Format::Encrypted,
    Format::Signed,
    #[cfg(feature = "jwt")]
    Format::Jwt,
];

#[tokio::test]
async fn cookie_mode_remember_me_lasts_until_it_runs_out() {
    for &format in NATIVE {
        let clock = Clock::new();
        let app = app(config(format, &[KEY_A], &clock).build().unwrap());
        let login = call(&app, "/incr?remember=true", None).await;
        assert_eq!(login.max_age(), Some(REMEMBER), "{format}");
        let mut pair = login.pair();

        // A day later, a write that chooses nothing keeps the 30 days: the sealed expiry and
        // the cookie's Max-Age run to the same instant.
        clock.advance(DAY);
        let next = call(&app, "/incr", Some(&pair)).await;
        assert_eq!(next.body, "2");
        assert_eq!(next.max_age(), Some(REMEMBER - DAY), "{format}");
        pair = next.pair();
        let expiry = call(&app, "/expiry", Some(&pair)).await.body;
        assert_eq!(
            expiry,
            format!("Some(2) Some({})", START + REMEMBER),
            "{format}"
        );

        // Past the one-hour TTL the session is still there, and writes keep it.
        clock.advance(10 * DAY);
        assert_eq!(call(&app, "/read", Some(&pair)).await.body, "Some(2)");
        let next = call(&app, "/incr", Some(&pair)).await;
        assert_eq!(next.max_age(), Some(REMEMBER - 11 * DAY), "{format}");
        pair = next.pair();

        // Once fewer than a TTL is left, the configured lifetime takes over: a browser-session
        // cookie, sliding by the TTL.
        clock.advance(REMEMBER - 11 * DAY - 1800);
        let next = call(&app, "/incr", Some(&pair)).await;
        assert_eq!(next.body, "4");
        assert_eq!(next.max_age(), None, "{format}: {:?}", next.cookie());
        let expiry = call(&app, "/expiry", Some(&next.pair())).await.body;
        assert_eq!(expiry, format!("Some(4) Some({})", clock.secs() + 3600));
    }
}

#[tokio::test]
async fn cookie_mode_forget_me_ends_a_remembered_lifetime() {
    for &format in NATIVE {
        let clock = Clock::new();
        let app = app(config(format, &[KEY_A], &clock).build().unwrap());
        let login = call(&app, "/incr?remember=true", None).await;
        clock.advance(DAY);
        let forget = call(&app, "/incr?remember=false", Some(&login.pair())).await;
        assert_eq!(forget.max_age(), None, "{format}");
        let pair = forget.pair();
        let expiry = call(&app, "/expiry", Some(&pair)).await.body;
        assert_eq!(expiry, format!("Some(2) Some({})", clock.secs() + 3600));
        // Forgotten for good: the next write is a browser-session cookie too.
        let next = call(&app, "/incr", Some(&pair)).await;
        assert_eq!(next.max_age(), None, "{format}");
        // And the old lifetime is not kept: past the TTL the session is gone.
        clock.advance(3600 + 120);
        assert_eq!(call(&app, "/read", Some(&next.pair())).await.body, "None");
    }
}

#[tokio::test]
async fn key_rotation_keeps_a_remembered_cookie_persistent() {
    for &format in NATIVE {
        let clock = Clock::new();
        let old = app(config(format, &[KEY_A], &clock).build().unwrap());
        let login = call(&old, "/incr?remember=true", None).await;
        clock.advance(DAY);
        // The new key first: a read re-issues the cookie under it.
        let rotated = app(config(format, &[KEY_B, KEY_A], &clock).build().unwrap());
        let read = call(&rotated, "/read", Some(&login.pair())).await;
        assert_eq!(read.body, "Some(1)");
        assert_eq!(read.max_age(), Some(REMEMBER - DAY), "{format}");
        // The re-issued cookie opens under the new key alone, with its expiry.
        let only_new = app(config(format, &[KEY_B], &clock).build().unwrap());
        let expiry = call(&only_new, "/expiry", Some(&read.pair())).await.body;
        assert_eq!(expiry, format!("Some(1) Some({})", START + REMEMBER));

        // A browser-session cookie stays one through a rotation.
        let plain = call(&old, "/incr", None).await;
        assert_eq!(plain.max_age(), None);
        let read = call(&rotated, "/read", Some(&plain.pair())).await;
        assert_eq!(read.max_age(), None, "{format}: {:?}", read.cookie());
    }
}

#[tokio::test]
async fn rolling_keeps_a_remembered_expiry() {
    let clock = Clock::new();
    let app = app(config(Format::Encrypted, &[KEY_A], &clock)
        .rolling(true)
        .build()
        .unwrap());
    let login = call(&app, "/incr?remember=true", None).await;
    clock.advance(DAY);
    let read = call(&app, "/read", Some(&login.pair())).await;
    assert_eq!(read.max_age(), Some(REMEMBER - DAY));
    let expiry = call(&app, "/expiry", Some(&read.pair())).await.body;
    assert_eq!(expiry, format!("Some(1) Some({})", START + REMEMBER));
}

#[tokio::test]
async fn store_mode_remember_me_keeps_the_record() {
    let clock = Clock::new();
    let layer = config(Format::Encrypted, &[KEY_A], &clock)
        .store(MemoryStore::new())
        .build()
        .unwrap();
    let app = app(layer);
    let login = call(&app, "/incr?remember=true", None).await;
    assert_eq!(login.max_age(), Some(REMEMBER));
    let pair = login.pair();
    clock.advance(DAY);
    // A write with the default (browser-session) lifetime sends no cookie, and no longer cuts
    // the record to the one-hour TTL.
    let next = call(&app, "/incr", Some(&pair)).await;
    assert_eq!(next.body, "2");
    assert_eq!(next.cookie(), None);
    clock.advance(2 * 3600);
    assert_eq!(call(&app, "/read", Some(&pair)).await.body, "Some(2)");
    let expiry = call(&app, "/expiry", Some(&pair)).await.body;
    assert_eq!(expiry, format!("Some(2) Some({})", START + REMEMBER));
}

/// A store-mode layer with a default `max_age`: every write re-sends the cookie, whose
/// `Max-Age` must follow the remembered record, not the one-hour default.
#[tokio::test]
async fn store_mode_cookie_follows_the_remembered_record() {
    let clock = Clock::new();
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let layer = |keys: &[&str]| {
        config(Format::Encrypted, keys, &clock)
            .max_age(Some(Duration::from_secs(3600)))
            .shared_store(store.clone())
            .build()
            .unwrap()
    };
    let app_a = app(layer(&[KEY_A]));
    let login = call(&app_a, "/incr?remember=true", None).await;
    assert_eq!(login.max_age(), Some(REMEMBER));
    clock.advance(DAY);
    let next = call(&app_a, "/incr", Some(&login.pair())).await;
    assert_eq!(next.max_age(), Some(REMEMBER - DAY));
    clock.advance(DAY);
    let rotated = app(layer(&[KEY_B, KEY_A]));
    let read = call(&rotated, "/read", Some(&next.pair())).await;
    assert_eq!(read.body, "Some(2)");
    assert_eq!(read.max_age(), Some(REMEMBER - 2 * DAY));
    // Without "remember me", the default hour.
    let plain = call(&app_a, "/incr", None).await;
    assert_eq!(plain.max_age(), Some(3600));
    clock.advance(60);
    let next = call(&app_a, "/incr", Some(&plain.pair())).await;
    assert_eq!(next.max_age(), Some(3600));
}

#[tokio::test]
async fn express_format_keeps_express_rule() {
    // cookie-session 2.1.1: `req.sessionOptions.maxAge` applies to the response that sets it;
    // the next write uses the configured options (docs/EXPRESS-COMPATIBILITY.md).
    let clock = Clock::new();
    let app = app(
        config(Format::Express(SigAlgorithm::Sha1), &[KEY_A], &clock)
            .build()
            .unwrap(),
    );
    let login = call(&app, "/incr?remember=true", None).await;
    assert_eq!(login.max_age(), None, "Express renders Expires only");
    assert!(
        login.cookie().unwrap().contains("expires="),
        "{:?}",
        login.cookie()
    );
    let jar = login
        .set_cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ");
    let next = call(&app, "/incr", Some(&jar)).await;
    assert!(
        !next.cookie().unwrap().contains("expires="),
        "{:?}",
        next.cookie()
    );
}

/// Instances whose clocks differ by less than the configured `clock_skew` (here 200 s of an
/// allowed 300 s) share sessions: the expiry one instance sealed is not taken for a remembered
/// lifetime by the other, so a browser-session cookie stays one (attack review, A4); and the
/// instance behind never seals a cookie as issued before the session was created, which every
/// instance rejected as malformed, logging the user out.
#[tokio::test]
async fn clock_drift_within_the_skew_is_not_a_remembered_lifetime() {
    for &format in NATIVE {
        let ahead = Clock::new();
        ahead.advance(200);
        let behind = Clock::new();
        let layer = |clock: &Clock| {
            config(format, &[KEY_A], clock)
                .clock_skew(Duration::from_secs(300))
                .build()
                .unwrap()
        };
        let (app_ahead, app_behind) = (app(layer(&ahead)), app(layer(&behind)));
        let first = call(&app_ahead, "/incr", None).await;
        assert_eq!(first.max_age(), None, "{format:?}");
        let second = call(&app_behind, "/incr", Some(&first.pair())).await;
        assert_eq!(second.body, "2", "{format:?}");
        assert_eq!(second.max_age(), None, "{format:?}: {:?}", second.cookie());
        let third = call(&app_ahead, "/incr", Some(&second.pair())).await;
        assert_eq!(third.body, "3", "{format:?}");
        assert_eq!(third.max_age(), None, "{format:?}: {:?}", third.cookie());
    }
}
