//! The JSON API at `/api/session`, in every format: the same behaviour as the reference
//! Express app (`interop/express/server.js`).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::Client;
use serde_json::json;

each_format!(
    get_post_put_delete,
    max_age_ms_sets_this_response_lifetime,
    max_age_ms_cannot_extend_the_session_past_its_configuration,
    max_age_ms_is_refused_on_get_even_when_a_read_reissues,
    bad_max_age_ms_is_400_and_untouched,
    non_object_body_is_400_and_untouched,
    wrong_content_type_is_415_and_untouched,
    api_and_pages_share_the_session,
);

async fn get_post_put_delete(format: &'static str) {
    let mut c = Client::new(format);
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
    assert!(response.set_cookie("session").is_some());
    if c.express() {
        assert!(response.set_cookie("session.sig").is_some());
    }

    // Merge: existing keys stay, given keys are replaced or added.
    let response = c
        .json("POST", "/api/session", r#"{"a":2,"b":[true]}"#)
        .await;
    assert_eq!(response.json(), json!({"a": 2, "s": "x", "b": [true]}));
    assert_eq!(c.session().await, json!({"a": 2, "s": "x", "b": [true]}));

    // An unchanged read sends no cookie.
    assert!(c.get("/api/session").await.set_cookies.is_empty());

    // Replace.
    let response = c.json("PUT", "/api/session", r#"{"c":{"d":null}}"#).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({"c": {"d": null}}));
    assert_eq!(c.session().await, json!({"c": {"d": null}}));

    // An empty JSON body merges nothing (body-parser reads it as `{}`).
    let response = c.json("POST", "/api/session", "").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({"c": {"d": null}}));

    // Destroy: 204, and the cookie(s) cleared.
    let response = c
        .send(Request::delete("/api/session").body(Body::empty()).unwrap())
        .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.body.is_empty());
    let cleared = response.set_cookie("session").unwrap();
    assert!(cleared.starts_with("session=;"), "{cleared}");
    assert!(
        cleared.contains("Thu, 01 Jan 1970 00:00:00 GMT"),
        "{cleared}"
    );
    if c.express() {
        assert!(response.set_cookie("session.sig").is_some());
    }
    assert!(!c.jar.contains_key("session"));
    assert_eq!(c.session().await, json!({}));
}

async fn max_age_ms_sets_this_response_lifetime(format: &'static str) {
    let mut c = Client::new(format);
    let response = c
        .json("POST", "/api/session?max_age_ms=60000", r#"{"a":1}"#)
        .await;
    let cookie = response.set_cookie("session").unwrap();
    if c.express() {
        assert!(cookie.contains("; expires="), "{cookie}");
        assert!(!cookie.contains("Max-Age"), "{cookie}");
    } else {
        assert!(cookie.contains("; Max-Age=60;"), "{cookie}");
    }

    // Without it, the configured default: a browser-session cookie.
    let response = c.json("POST", "/api/session", r#"{"a":2}"#).await;
    let cookie = response.set_cookie("session").unwrap();
    assert!(
        !cookie.to_ascii_lowercase().contains("expires="),
        "{cookie}"
    );

    // 0 is a browser-session cookie, as in Express.
    let response = c
        .json("PUT", "/api/session?max_age_ms=0", r#"{"a":3}"#)
        .await;
    let cookie = response.set_cookie("session").unwrap();
    assert!(
        !cookie.to_ascii_lowercase().contains("expires="),
        "{cookie}"
    );

    // A read never changes the cookie: refused on GET, with a clear error, nothing sent.
    for query in ["max_age_ms=60000", "max_age_ms=-1", "max_age_ms=0"] {
        let response = c.get(&format!("/api/session?{query}")).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(response.json()["error"]
            .as_str()
            .unwrap()
            .contains("not accepted on GET"));
        assert!(response.set_cookies.is_empty(), "{query}");
    }
    assert_eq!(c.session().await, json!({"a": 3}));

    // On DELETE it is accepted too.
    let response = c
        .send(
            Request::delete("/api/session?max_age_ms=1000")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
}

/// `SESSION_MAX_AGE=60`: however long a request asks for, its cookie and its sealed expiry
/// stay within 60 s; shorter is allowed. Without `SESSION_MAX_AGE`, the bound is the 24 hours
/// of browser-session cookies.
async fn max_age_ms_cannot_extend_the_session_past_its_configuration(format: &'static str) {
    for (vars, limit) in [(&[("SESSION_MAX_AGE", "60")][..], 60), (&[][..], 86_400)] {
        let config = common::config_with(format, common::KEYS, vars);
        let mut c = Client::with_config(format, config.clone());
        for (method, body) in [("POST", r#"{"a":1}"#), ("PUT", r#"{"b":1}"#)] {
            let response = c
                .json(method, "/api/session?max_age_ms=34560000000", body)
                .await;
            assert_eq!(response.status, StatusCode::OK);
            let (browser, sealed) = c.lifetimes(&config, &response);
            // Express's `expires` is whole seconds from a clock that may have ticked.
            assert!(
                (limit - 1..=limit).contains(&browser),
                "{format} {method} {vars:?}: {browser}"
            );
            if !c.express() {
                assert_eq!(sealed, Some(limit), "{format} {method} {vars:?}");
            }
        }
        let response = c
            .json("POST", "/api/session?max_age_ms=30000", r#"{"a":2}"#)
            .await;
        let (browser, sealed) = c.lifetimes(&config, &response);
        assert!((29..=30).contains(&browser), "{format}: {browser}");
        if !c.express() {
            assert_eq!(sealed, Some(30), "{format}");
        }
    }
}

/// A GET with `max_age_ms` (a cross-site link can make one) is refused, also while the cookie
/// would be re-issued (opened under an older key), and leaves the cookie alone.
async fn max_age_ms_is_refused_on_get_even_when_a_read_reissues(format: &'static str) {
    let old = "demo-test-key-old-0123456789abcdef0123456789";
    let mut c = Client::with_config(format, common::config_with(format, old, &[]));
    c.json("POST", "/api/session", r#"{"a":1}"#).await;
    let jar = c.jar.clone();
    // The key rotated: the old key still opens, and a read re-issues under the new one.
    let rotated = format!("{},{old}", common::KEYS.split(',').next().unwrap());
    let mut c = Client::with_config(format, common::config_with(format, &rotated, &[]));
    c.jar = jar.clone();
    for query in [
        "max_age_ms=-1",
        "max_age_ms=0",
        "max_age_ms=999999999999999",
    ] {
        let response = c.get(&format!("/api/session?{query}")).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{format} {query}");
        assert!(response.set_cookies.is_empty(), "{format} {query}");
        assert_eq!(c.jar, jar, "{format} {query}");
    }
    // Without it, the read re-issues the cookie (the native formats), and keeps the session.
    let response = c.get("/api/session").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({"a": 1}));
    if !c.express() {
        let cookie = response.set_cookie("session").unwrap();
        assert!(!cookie.contains("Max-Age"), "{cookie}");
    }
}

async fn bad_max_age_ms_is_400_and_untouched(format: &'static str) {
    let mut c = Client::new(format);
    c.json("POST", "/api/session", r#"{"a":1}"#).await;
    for query in [
        "max_age_ms=abc",
        "max_age_ms=1.5",
        "max_age_ms=",
        "max_age_ms=1&max_age_ms=2",
    ] {
        for method in ["GET", "POST", "PUT", "DELETE"] {
            let response = c
                .json(method, &format!("/api/session?{query}"), r#"{"b":2}"#)
                .await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{method} {query}");
            assert_eq!(
                response.json(),
                json!({"error": "max_age_ms must be an integer number of milliseconds"})
            );
            assert!(response.set_cookies.is_empty());
        }
    }
    assert_eq!(c.session().await, json!({"a": 1}));
}

async fn non_object_body_is_400_and_untouched(format: &'static str) {
    let mut c = Client::new(format);
    c.json("POST", "/api/session", r#"{"a":1}"#).await;
    let jar = c.jar.clone();
    for method in ["POST", "PUT"] {
        for body in [
            "[1,2]",
            "1",
            "\"text\"",
            "null",
            "true",
            "{not json",
            "{\"a\":1} x",
        ] {
            let response = c.json(method, "/api/session", body).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{method} {body}");
            let error = response.json();
            assert!(error["error"].is_string(), "{error}");
            assert_eq!(error.as_object().unwrap().len(), 1);
            assert!(response.set_cookies.is_empty(), "{method} {body}");
            // Not even read: the response does not vary with the cookie.
            assert!(response.headers.get(header::VARY).is_none());
        }
    }
    assert_eq!(c.jar, jar);
    assert_eq!(c.session().await, json!({"a": 1}));
}

async fn wrong_content_type_is_415_and_untouched(format: &'static str) {
    let mut c = Client::new(format);
    c.json("POST", "/api/session", r#"{"a":1}"#).await;
    for method in ["POST", "PUT"] {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let mut request = Request::builder().method(method).uri("/api/session");
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            let response = c
                .send(request.body(Body::from(r#"{"a":2}"#)).unwrap())
                .await;
            assert_eq!(
                response.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {content_type:?}"
            );
            assert!(response.json()["error"].is_string());
            assert!(response.set_cookies.is_empty());
        }
    }
    // Parameters and case are fine.
    let request = Request::post("/api/session")
        .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(Body::from(r#"{"b":2}"#))
        .unwrap();
    assert_eq!(c.send(request).await.status, StatusCode::OK);
    assert_eq!(c.session().await, json!({"a": 1, "b": 2}));
}

async fn api_and_pages_share_the_session(format: &'static str) {
    let mut c = Client::new(format);
    c.json("PUT", "/api/session", r#"{"views":41,"user":"Api"}"#)
        .await;
    let home = c.get("/").await;
    assert_eq!(home.element("counter").unwrap(), "42");
    assert_eq!(home.element("user").unwrap(), "Api");
    assert_eq!(c.session().await["views"], json!(42));
}

#[tokio::test]
async fn express_drops_the_keys_express_never_keeps() {
    let mut c = Client::new("express");
    let response = c
        .json(
            "POST",
            "/api/session",
            r#"{"isNew":1,"isChanged":1,"toString":1,"__proto__":1,"x":1}"#,
        )
        .await;
    assert_eq!(response.json(), json!({"x": 1}));
    let response = c
        .json("PUT", "/api/session", r#"{"isPopulated":1,"y":2}"#)
        .await;
    assert_eq!(response.json(), json!({"y": 2}));
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let mut c = Client::new("encrypted");
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(200 * 1024));
    let response = c.json("POST", "/api/session", &big).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.set_cookies.is_empty());
}
