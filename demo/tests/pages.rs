//! The HTML pages, driven like a browser, in every format.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use axum::http::{header, StatusCode};
use base64::Engine as _;
use common::{config_with, Client, KEYS};
use serde_json::json;

each_format!(
    counter_survives_reloads,
    login_with_remember_me,
    login_without_remember_me,
    logout_clears_and_flashes_once,
    csrf_refuses_forged_posts,
    csrf_token_rotates_at_login,
    login_rejects_empty_name,
    inside_shows_the_cookie,
    inside_shows_rejections_and_old_keys,
    names_are_escaped,
    not_found_page,
);

async fn counter_survives_reloads(format: &'static str) {
    let mut c = Client::new(format);
    for expected in 1..=3 {
        let page = c.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.element("counter").unwrap(), expected.to_string());
        assert!(page.set_cookie("session").is_some());
        assert!(page.element("anonymous").is_some());
        assert!(page.element("user").is_none());
    }
    assert_eq!(c.session().await["views"], json!(3));
    // Another browser (no cookie) starts again.
    let mut other = Client::new(format);
    assert_eq!(other.get("/").await.element("counter").unwrap(), "1");
}

/// The lifetime attribute the format writes: `Max-Age` natively, `expires` for Express.
fn lifetime_attr(c: &Client) -> &'static str {
    if c.express() {
        "expires="
    } else {
        "Max-Age=2592000"
    }
}

async fn login_with_remember_me(format: &'static str) {
    let mut c = Client::new(format);
    let response = c.login("Ann", true).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.headers[header::LOCATION], "/");
    let cookie = response.set_cookie("session").unwrap();
    assert!(cookie.contains(lifetime_attr(&c)), "{cookie}");
    if c.express() {
        assert!(!cookie.contains("Max-Age"), "{cookie}");
        let sig = response.set_cookie("session.sig").unwrap();
        assert!(sig.contains("expires="), "{sig}");
    }

    let home = c.get("/").await;
    assert_eq!(home.element("user").unwrap(), "Ann");
    assert!(home.element("flash").unwrap().contains("Ann"));
    assert!(home.element("logout").is_some());
    // Written again (the counter changed): still a 30-day cookie.
    let cookie = home.set_cookie("session").unwrap();
    assert!(cookie.contains(lifetime_attr(&c)), "{cookie}");

    let again = c.get("/").await;
    assert!(again.element("flash").is_none(), "the flash shows once");
    assert_eq!(again.element("user").unwrap(), "Ann");
}

async fn login_without_remember_me(format: &'static str) {
    let mut c = Client::new(format);
    let response = c.login("Bob", false).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    let cookie = response.set_cookie("session").unwrap();
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    assert!(
        !cookie.to_ascii_lowercase().contains("expires="),
        "{cookie}"
    );
    let home = c.get("/").await;
    assert_eq!(home.element("user").unwrap(), "Bob");
    let cookie = home.set_cookie("session").unwrap();
    assert!(
        !cookie.to_ascii_lowercase().contains("expires="),
        "{cookie}"
    );

    // Ticking it later makes the cookie persistent; unticking makes it a browser-session one.
    let cookie = c.login("Bob", true).await;
    assert!(cookie
        .set_cookie("session")
        .unwrap()
        .contains(lifetime_attr(&c)));
    let cookie = c.login("Bob", false).await;
    let cookie = cookie.set_cookie("session").unwrap();
    assert!(
        !cookie.to_ascii_lowercase().contains("expires="),
        "{cookie}"
    );
}

async fn logout_clears_and_flashes_once(format: &'static str) {
    let mut c = Client::new(format);
    c.login("Cy", true).await;
    let home = c.get("/").await;
    let token = home.csrf_token();
    let before = c.jar.get("session").cloned().unwrap();

    let response = c.post_form("/logout", &format!("csrf_token={token}")).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.headers[header::LOCATION], "/");
    let cookie = response.set_cookie("session").unwrap();
    // The old session is gone: a new browser-session cookie holds only the flash.
    assert!(
        !cookie.to_ascii_lowercase().contains("expires="),
        "{cookie}"
    );
    assert_ne!(c.jar.get("session").unwrap(), &before);

    let home = c.get("/").await;
    assert_eq!(home.element("flash").unwrap(), "You are logged out.");
    assert!(home.element("user").is_none());
    assert_eq!(home.element("counter").unwrap(), "1");
    let again = c.get("/").await;
    assert!(again.element("flash").is_none(), "the flash shows once");
    let session = c.session().await;
    assert_eq!(session, json!({"views": 2}));
}

async fn csrf_refuses_forged_posts(format: &'static str) {
    // A visitor with no session at all: no token can match.
    let mut fresh = Client::new(format);
    let response = fresh.post_form("/login", "name=Eve").await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(response.set_cookies.is_empty());
    assert!(response.element("csrf-error").is_some());

    let mut c = Client::new(format);
    c.login("Dee", false).await;
    c.get("/").await;
    let before = c.session().await;
    let jar = c.jar.clone();

    for form in [
        "name=Eve".to_owned(),
        "name=Eve&csrf_token=".to_owned(),
        "name=Eve&csrf_token=00000000000000000000000000000000".to_owned(),
        "name=Eve&csrf_token=zz".to_owned(),
    ] {
        let response = c.post_form("/login", &form).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{form}");
        assert!(response.set_cookies.is_empty(), "{form}");
    }
    for form in ["", "csrf_token=0123456789abcdef0123456789abcdef"] {
        let response = c.post_form("/logout", form).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{form:?}");
        assert!(response.set_cookies.is_empty());
    }
    assert_eq!(c.jar, jar);
    assert_eq!(c.session().await, before);
    assert_eq!(c.get("/").await.element("user").unwrap(), "Dee");

    // A token from another session does not work either.
    let other_token = Client::new(format).get("/login").await.csrf_token();
    let response = c
        .post_form("/logout", &format!("csrf_token={other_token}"))
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
}

async fn csrf_token_rotates_at_login(format: &'static str) {
    let mut c = Client::new(format);
    let before = c.get("/login").await.csrf_token();
    let response = c
        .post_form("/login", &format!("csrf_token={before}&name=Eva"))
        .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    let after = c.get("/").await.csrf_token();
    assert_ne!(after, before, "a new token after login");
    // The token from before the login no longer works; the new one does.
    let response = c
        .post_form("/logout", &format!("csrf_token={before}"))
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let response = c.post_form("/logout", &format!("csrf_token={after}")).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
}

async fn login_rejects_empty_name(format: &'static str) {
    let mut c = Client::new(format);
    let token = c.get("/login").await.csrf_token();
    let response = c
        .post_form("/login", &format!("csrf_token={token}&name=+++"))
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.element("error").is_some());
    assert!(response.element("login-form").is_some());
    assert!(c.session().await.get("user").is_none());
}

async fn inside_shows_the_cookie(format: &'static str) {
    let mut c = Client::new(format);
    let empty = c.get("/inside").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.element("raw-cookie").unwrap(), "");
    assert_eq!(empty.element("decoded").unwrap(), "{}");
    assert!(empty.set_cookies.is_empty(), "the page only reads");

    c.get("/").await;
    let page = c.get("/inside").await;
    assert!(page.set_cookies.is_empty(), "the page only reads");
    assert_eq!(page.element("format").unwrap(), format);
    let raw = page.element("raw-cookie").unwrap();
    let value = c.jar["session"].clone();
    assert!(raw.contains(&format!("session={value}")), "{raw}");
    let decoded = page.element("decoded").unwrap();
    assert!(decoded.contains("&quot;views&quot;: 1"), "{decoded}");
    assert_eq!(page.element("rejection").unwrap(), "none");

    let key = page.element("key-index").unwrap();
    assert!(key.starts_with("key #0"), "{key}");
    if c.express() {
        let na = "not applicable: the express format has no server-side expiry";
        assert_eq!(page.element("issued-at").unwrap(), na);
        assert_eq!(page.element("expires-at").unwrap(), na);
        assert!(raw.contains("session.sig="), "{raw}");
        let readable = page.element("readable").unwrap();
        assert_eq!(readable, "{&quot;views&quot;:1}");
        assert_eq!(
            page.element("sig").unwrap(),
            c.jar["session.sig"].to_string()
        );
    } else {
        for id in ["issued-at", "expires-at", "created-at"] {
            let date = page.element(id).unwrap();
            assert!(date.ends_with(" UTC") && date.len() == 23, "{id}: {date}");
        }
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.split('.').next().unwrap())
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(&value))
        .unwrap();
    let readable = String::from_utf8_lossy(&bytes);
    match format {
        "encrypted" => {
            // The raw value is not the JSON, and neither is what base64 gives.
            assert!(!raw.contains("views"));
            assert!(!readable.contains("views"), "{readable}");
            assert!(page.element("raw-bytes-0").is_some());
            // The page names the cipher the value's format byte names.
            let cipher = match cookie_session::format::encrypted::inspect(&value)
                .unwrap()
                .cipher
            {
                cookie_session::format::Cipher::Xaes256Gcm => "XAES-256-GCM",
                _ => "XChaCha20-Poly1305",
            };
            assert_eq!(page.element("cipher").unwrap(), cipher);
        }
        "signed" => {
            assert!(readable.contains("{\"views\":1}"), "{readable}");
            assert_eq!(page.element("readable").unwrap(), "{&quot;views&quot;:1}");
        }
        _ => assert_eq!(readable, "{\"views\":1}"),
    }
}

async fn inside_shows_rejections_and_old_keys(format: &'static str) {
    // A cookie sealed by a server whose first key is now the second one: opened by key #1.
    let mut old = Client::with_config(
        format,
        config_with(format, "demo-test-key-two-0123456789abcdef0123456789", &[]),
    );
    old.get("/").await;
    let mut c = Client::new(format);
    c.jar = old.jar.clone();
    let page = c.get("/inside").await;
    let key = page.element("key-index").unwrap();
    assert!(key.starts_with("key #1"), "{key}");
    // Re-issued under key #0.
    assert!(page.set_cookie("session").is_some() || page.set_cookie("session.sig").is_some());

    // A tampered cookie is refused, and the page says why.
    let mut c = Client::new(format);
    c.get("/").await;
    let value = c.jar["session"].clone();
    let flipped = if value.starts_with('A') { "B" } else { "A" };
    c.jar
        .insert("session".into(), format!("{flipped}{}", &value[1..]));
    let page = c.get("/inside").await;
    let rejection = page.element("rejection").unwrap();
    assert_ne!(rejection, "none");
    assert!(
        ["malformed", "bad_signature", "unknown_key"]
            .iter()
            .any(|r| rejection.starts_with(r)),
        "{rejection}"
    );
    assert_eq!(page.element("decoded").unwrap(), "{}");

    // Sealed by a server this one does not know.
    let mut stranger = Client::with_config(
        format,
        config_with(format, "someone-else-s-key-0123456789abcdef0123456789", &[]),
    );
    stranger.get("/").await;
    let mut c = Client::new(format);
    c.jar = stranger.jar.clone();
    let page = c.get("/inside").await;
    assert_ne!(page.element("rejection").unwrap(), "none");
    assert_eq!(
        page.element("key-index").unwrap(),
        "none: there was no valid cookie"
    );
}

async fn names_are_escaped(format: &'static str) {
    let mut c = Client::new(format);
    c.login("%3Cscript%3Ealert(1)%3C%2Fscript%3E", false).await;
    let home = c.get("/").await;
    assert!(!home.body.contains("<script>"));
    assert!(home.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let inside = c.get("/inside").await;
    assert!(!inside.body.contains("<script>"));
}

async fn not_found_page(format: &'static str) {
    let mut c = Client::new(format);
    let response = c.get("/nope").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(response.set_cookies.is_empty());
}

#[tokio::test]
async fn pages_carry_security_headers_and_stable_ids() {
    let mut c = Client::new("encrypted");
    let login = c.get("/login").await;
    assert!(login.element("login-form").is_some());
    assert!(login.body.contains("name=\"name\""));
    assert!(login.body.contains("name=\"remember\""));
    // The library's token: 32 random bytes in base64url.
    assert_eq!(login.csrf_token().len(), 43);
    assert!(login
        .csrf_token()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(login.headers[header::CACHE_CONTROL], "no-store");
    assert!(login.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("form-action 'self'"));
    c.login("Ids", false).await;
    let home = c.get("/").await;
    for id in ["counter", "user", "flash", "logout"] {
        assert!(home.element(id).is_some(), "{id}");
    }
    let inside = c.get("/inside").await;
    for id in [
        "raw-cookie",
        "decoded",
        "key-index",
        "issued-at",
        "expires-at",
        "rejection",
    ] {
        assert!(inside.element(id).is_some(), "{id}");
    }
    let docs = c.get("/api").await;
    assert!(docs.body.contains("CORS preflight"));
}

/// "Remember me" gives a real 30-day cookie: `Max-Age` (Express: `expires`) and, in the native
/// formats, the authenticated expiry sealed inside — also when `SESSION_MAX_AGE` is shorter,
/// and again when the session is written later.
#[tokio::test]
async fn remember_me_is_30_days() {
    const DAYS_30: u64 = 2_592_000;
    assert_eq!(demo::REMEMBER_FOR.as_secs(), DAYS_30);
    for format in common::FORMATS {
        for vars in [&[][..], &[("SESSION_MAX_AGE", "60")][..]] {
            let config = common::config_with(format, KEYS, vars);
            let mut c = Client::with_config(format, config.clone());
            let login = c.login("Ann", true).await;
            assert_eq!(login.status, StatusCode::SEE_OTHER);
            let (browser, sealed) = c.lifetimes(&config, &login);
            assert!(
                (DAYS_30 - 1..=DAYS_30).contains(&browser),
                "{format} {vars:?}: {browser}"
            );
            if !c.express() {
                assert_eq!(sealed, Some(DAYS_30), "{format} {vars:?}");
            }
            let home = c.get("/").await;
            let (browser, sealed) = c.lifetimes(&config, &home);
            assert!(
                (DAYS_30 - 1..=DAYS_30).contains(&browser),
                "{format} {vars:?}: {browser}"
            );
            if !c.express() {
                assert_eq!(sealed, Some(DAYS_30), "{format} {vars:?}");
            }
        }
    }
}

/// `SESSION_ABSOLUTE_LIFETIME` bounds every session from its creation, "remember me" included:
/// the sealed expiry and the cookie's lifetime never pass it.
#[tokio::test]
async fn the_absolute_lifetime_bounds_every_session() {
    for format in ["encrypted", "signed"] {
        let config = common::config_with(format, KEYS, &[("SESSION_ABSOLUTE_LIFETIME", "600")]);
        assert_eq!(config.absolute_lifetime().as_secs(), 600);
        let mut c = Client::with_config(format, config.clone());
        let login = c.login("Ann", true).await;
        let (browser, sealed) = c.lifetimes(&config, &login);
        assert!((599..=600).contains(&browser), "{format}: {browser}");
        let times = config
            .layer()
            .unwrap()
            .decode([c.cookie_header().as_str()])
            .unwrap()
            .times
            .unwrap();
        assert!(
            times.expires_at <= times.created_at + 600,
            "{format}: {times:?}"
        );
        assert_eq!(sealed, Some(600), "{format}");
    }
    // The default: 30 days.
    let config = common::config_with("encrypted", KEYS, &[]);
    assert_eq!(
        config.absolute_lifetime(),
        demo::config::DEFAULT_ABSOLUTE_LIFETIME
    );
    assert_eq!(config.absolute_lifetime().as_secs(), 2_592_000);
}
