//! `SESSION_FORMAT=express-session`: the demo on express-session's records, in Redis
//! (connect-redis's layout) and PostgreSQL (connect-pg-simple's table). The JSON API behaves
//! as in every other mode (the cases of `tests/api.rs`); the cookie is express-session's
//! `connect.sid`, and `DELETE` sends no `Set-Cookie`, as express-session does.
//! Redis and PostgreSQL run when `REDIS_URL` / `DATABASE_URL` are set (`scripts/test` starts
//! throwaway servers); under `CI=true` they must be.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
#[path = "../../cookie-session/tests/skip/mod.rs"]
mod skip;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{config_with, Client};
use serde_json::json;

/// The Express app's secrets: any length (short ones are accepted with a warning).
const SECRETS: &str = "keyboard cat,an older secret";

fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("{var} must be set under CI"),
        _ => {
            skip::skipped(&format!("{var} is not set"));
            None
        }
    }
}

async fn client(store: &str, extra: &[(&str, &str)]) -> Client {
    let mut vars = vec![("SESSION_STORE", store)];
    vars.extend_from_slice(extra);
    let config = config_with("express-session", SECRETS, &vars)
        .connect()
        .await
        .unwrap();
    assert!(config.express_session());
    assert_eq!(config.format_name(), "express-session");
    assert_eq!(config.cookie_name(), "connect.sid");
    Client::with_config("express-session", config)
}

/// GET/POST/PUT/DELETE, `max_age_ms`, and bad requests: what `tests/api.rs` checks in the
/// other modes.
async fn api(store: &str) {
    let mut c = client(store, &[]).await;
    let response = c.get("/api/session").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({}));
    assert!(
        response.set_cookies.is_empty(),
        "a new empty session sends nothing"
    );

    let response = c.json("POST", "/api/session", r#"{"a":1,"s":"x"}"#).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({"a": 1, "s": "x"}));
    let cookie = response.set_cookie("connect.sid").unwrap();
    assert!(cookie.starts_with("connect.sid=s%3A"), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"),
        "{cookie}"
    );

    let response = c
        .json("POST", "/api/session", r#"{"a":2,"b":[true]}"#)
        .await;
    assert_eq!(response.json(), json!({"a": 2, "s": "x", "b": [true]}));
    assert_eq!(c.session().await, json!({"a": 2, "s": "x", "b": [true]}));
    assert!(c.get("/api/session").await.set_cookies.is_empty());

    let response = c.json("PUT", "/api/session", r#"{"c":{"d":null}}"#).await;
    assert_eq!(response.json(), json!({"c": {"d": null}}));
    assert_eq!(c.session().await, json!({"c": {"d": null}}));
    let response = c.json("POST", "/api/session", "").await;
    assert_eq!(response.json(), json!({"c": {"d": null}}));

    // Keys an express-session record cannot hold are dropped, as the Express app drops them.
    let response = c
        .json(
            "POST",
            "/api/session",
            r#"{"cookie":1,"id":2,"save":3,"x":4}"#,
        )
        .await;
    assert_eq!(response.json(), json!({"c": {"d": null}, "x": 4}));

    // `max_age_ms` gives this response's cookie an expiry (express-session's `expires`).
    let response = c
        .json("POST", "/api/session?max_age_ms=60000", r#"{"y":1}"#)
        .await;
    let cookie = response.set_cookie("connect.sid").unwrap();
    assert!(cookie.contains("; Expires="), "{cookie}");
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    for query in ["max_age_ms=60000", "max_age_ms=-1"] {
        let response = c.get(&format!("/api/session?{query}")).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(response.set_cookies.is_empty());
    }
    for query in ["max_age_ms=abc", "max_age_ms=1.5", "max_age_ms="] {
        let response = c
            .json("POST", &format!("/api/session?{query}"), r#"{"b":2}"#)
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
    }
    for body in ["[1,2]", "null", "{not json"] {
        let response = c.json("PUT", "/api/session", body).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(response.set_cookies.is_empty());
    }
    let request = Request::post("/api/session")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"a":2}"#))
        .unwrap();
    assert_eq!(
        c.send(request).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(c.session().await, json!({"c": {"d": null}, "x": 4, "y": 1}));

    // Destroy: 204; the record is gone, and (as express-session does) no Set-Cookie.
    let response = c
        .send(Request::delete("/api/session").body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.set_cookies.is_empty());
    assert!(
        c.jar.contains_key("connect.sid"),
        "the browser keeps a dead cookie"
    );
    assert_eq!(c.session().await, json!({}));
}

/// The pages on the same sessions: counter, login (a new sid), the API, logout.
async fn pages(store: &str) {
    let mut c = client(store, &[]).await;
    for expected in 1..=2 {
        let page = c.get("/").await;
        assert_eq!(page.element("counter").unwrap(), expected.to_string());
    }
    let before = c.cookie_header();
    let res = c.login("Ada", false).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_ne!(
        c.cookie_header(),
        before,
        "login moves the session to a new sid"
    );
    assert_eq!(c.get("/").await.element("user").unwrap(), "Ada");
    c.json("POST", "/api/session", r#"{"theme":"dark"}"#).await;
    assert_eq!(c.session().await["theme"], "dark");
    let inside = c.get("/inside").await;
    assert_eq!(inside.element("format").unwrap(), "express-session");
    let token = c.get("/").await.csrf_token();
    c.post_form("/logout", &format!("csrf_token={token}")).await;
    assert!(c.get("/").await.element("user").is_none());
}

#[tokio::test]
async fn on_redis() {
    if let Some(url) = server_url("REDIS_URL") {
        api(&url).await;
        pages(&url).await;
    }
}

/// One test for both: they share connect-pg-simple's table, which the first creates.
#[tokio::test]
async fn on_postgres() {
    if let Some(url) = server_url("DATABASE_URL") {
        api(&url).await;
        pages(&url).await;
    }
}
