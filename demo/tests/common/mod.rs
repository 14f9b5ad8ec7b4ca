//! A tiny browser for router tests: a cookie jar carried between `oneshot` calls.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use demo::{app, DemoConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Two fixed keys, the first seals.
pub const KEYS: &str =
    "demo-test-key-one-0123456789abcdef0123456789,demo-test-key-two-0123456789abcdef0123456789";

/// The formats every scenario runs in.
pub const FORMATS: [&str; 3] = ["encrypted", "signed", "express"];

/// A configuration for `format` with `keys` and extra variables.
pub fn config_with(format: &str, keys: &str, extra: &[(&str, &str)]) -> DemoConfig {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("SESSION_FORMAT".into(), format.into());
    vars.insert("SESSION_KEYS".into(), keys.into());
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    DemoConfig::from_vars(|name| vars.get(name).cloned()).unwrap()
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The text of the element with this id (up to its closing tag), if present.
    pub fn element(&self, id: &str) -> Option<String> {
        let start = self.body.find(&format!("id=\"{id}\""))?;
        let open_end = start + self.body[start..].find('>')? + 1;
        let close = open_end + self.body[open_end..].find("</")?;
        Some(self.body[open_end..close].to_owned())
    }

    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("a form with a token") + marker.len();
        let len = self.body[start..].find('"').expect("a quoted token");
        self.body[start..start + len].to_owned()
    }
}

pub struct Client {
    pub app: Router,
    pub format: String,
    pub jar: BTreeMap<String, String>,
}

impl Client {
    pub fn new(format: &str) -> Self {
        Self::with_config(format, config_with(format, KEYS, &[]))
    }

    pub fn with_config(format: &str, config: DemoConfig) -> Self {
        Self {
            app: app(config),
            format: format.to_owned(),
            jar: BTreeMap::new(),
        }
    }

    pub fn express(&self) -> bool {
        self.format.starts_with("express")
    }

    /// The `Cookie` header the jar would send.
    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, mut request: Request<Body>) -> Response {
        if !self.jar.is_empty() {
            request
                .headers_mut()
                .insert(header::COOKIE, self.cookie_header().parse().unwrap());
        }
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let lower = cookie.to_ascii_lowercase();
            if value.is_empty()
                || lower.contains("max-age=0")
                || lower.contains("expires=thu, 01 jan 1970")
            {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Response {
            status,
            headers,
            set_cookies,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    pub async fn get(&mut self, uri: &str) -> Response {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_form(&mut self, uri: &str, form: &str) -> Response {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(request).await
    }

    pub async fn json(&mut self, method: &str, uri: &str, body: &str) -> Response {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.send(request).await
    }

    /// The session as the API reads it.
    pub async fn session(&mut self) -> Value {
        let response = self.get("/api/session").await;
        assert_eq!(response.status, StatusCode::OK);
        response.json()
    }

    /// The lifetime (Max-Age, or Express's expires) and, in the native formats, the authenticated
    /// expiry sealed into the cookie, in seconds from now.
    pub fn lifetimes(&self, config: &DemoConfig, response: &Response) -> (u64, Option<u64>) {
        let cookie = response.set_cookie("session").unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let browser = if self.express() {
            let date = cookie
                .split("expires=")
                .nth(1)
                .unwrap()
                .split(';')
                .next()
                .unwrap();
            let at = httpdate::parse_http_date(date).unwrap();
            cookie_session::unix_secs(at).saturating_sub(now)
        } else {
            let max_age = cookie
                .split("Max-Age=")
                .nth(1)
                .unwrap()
                .split(';')
                .next()
                .unwrap();
            max_age.parse().unwrap()
        };
        let pair = cookie.split(';').next().unwrap();
        let sealed = config
            .layer()
            .unwrap()
            .decode([pair])
            .ok()
            .and_then(|loaded| loaded.times)
            .map(|t| t.expires_at - t.issued_at);
        (browser, sealed)
    }

    /// Logs in as `name` through the form.
    pub async fn login(&mut self, name: &str, remember: bool) -> Response {
        let token = self.get("/login").await.csrf_token();
        let remember = if remember { "&remember=on" } else { "" };
        self.post_form(
            "/login",
            &format!("csrf_token={token}&name={name}{remember}"),
        )
        .await
    }
}

/// Runs an async scenario `fn(&'static str)` once per format, as one test each.
#[macro_export]
macro_rules! each_format {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn encrypted() {
                    super::$scenario("encrypted").await
                }
                #[tokio::test]
                async fn signed() {
                    super::$scenario("signed").await
                }
                #[tokio::test]
                async fn express() {
                    super::$scenario("express").await
                }
            }
        )*
    };
}
