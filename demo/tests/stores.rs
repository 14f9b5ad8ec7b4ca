//! The demo on every `SESSION_STORE`: the same pages and API, with the session on the server.
//! Redis, a Redis Cluster and PostgreSQL run when `REDIS_URL` / `REDIS_CLUSTER_URLS` /
//! `DATABASE_URL` are set (`scripts/test` starts
//! throwaway servers); under `CI=true` they must be.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
#[path = "../../cookie-session/tests/skip/mod.rs"]
mod skip;

use axum::http::StatusCode;
use common::{config_with, Client, KEYS};
use demo::{DemoConfig, StoreChoice};

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

async fn connected(format: &str, store: &str) -> DemoConfig {
    config_with(format, KEYS, &[("SESSION_STORE", store)])
        .connect()
        .await
        .unwrap()
}

/// Counter, login with remember-me, the API, logout: the session lives in the store, the
/// cookie holds only its sealed id.
async fn journey(format: &str, store: &str) {
    let config = connected(format, store).await;
    let layer = config.layer().unwrap();
    let mut client = Client::with_config(format, config);

    for expected in 1..=3 {
        let page = client.get("/").await;
        assert_eq!(
            page.element("counter").as_deref(),
            Some(expected.to_string().as_str()),
            "{store}"
        );
    }
    let cookie = client.cookie_header();
    let sealed = layer.decode([cookie.as_str()]).unwrap();
    assert_eq!(
        sealed.data.keys().collect::<Vec<_>>(),
        ["sid"],
        "{store}: the cookie holds the id only"
    );

    let res = client.login("Ada", true).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        res.set_cookie("session")
            .unwrap()
            .contains("Max-Age=2592000"),
        "{store}"
    );
    // Login regenerates the id (session fixation): the old cookie is dead.
    assert_ne!(client.cookie_header(), cookie, "{store}");
    assert!(
        layer.decode([cookie.as_str()]).is_ok(),
        "the old cookie still authenticates…"
    );
    let mut stale = Client {
        app: client.app.clone(),
        format: format.to_owned(),
        jar: Default::default(),
    };
    stale.jar.insert(
        "session".into(),
        cookie.trim_start_matches("session=").into(),
    );
    assert_eq!(
        stale.session().await,
        serde_json::json!({}),
        "{store}: …but names no session any more"
    );

    let page = client.get("/").await;
    assert_eq!(page.element("user").as_deref(), Some("Ada"), "{store}");

    let res = client
        .json("POST", "/api/session", r#"{"theme":"dark"}"#)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(client.session().await["theme"], "dark");

    let token = client.get("/").await.csrf_token();
    client
        .post_form("/logout", &format!("csrf_token={token}"))
        .await;
    let page = client.get("/").await;
    assert!(page.element("user").is_none(), "{store}");
}

#[tokio::test]
async fn memory() {
    for format in ["encrypted", "signed"] {
        journey(format, "memory").await;
    }
}

#[tokio::test]
async fn sqlite() {
    let path = std::env::temp_dir().join(format!("demo-stores-{}.sqlite", std::process::id()));
    for format in ["encrypted", "signed"] {
        journey(format, &format!("sqlite:{}", path.display())).await;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn redis() {
    let Some(url) = server_url("REDIS_URL") else {
        return;
    };
    journey("encrypted", &url).await;
}

#[tokio::test]
async fn redis_cluster() {
    let Some(urls) = server_url("REDIS_CLUSTER_URLS") else {
        return;
    };
    // `redis://127.0.0.1:7010/,…` as the demo takes it: `redis-cluster://127.0.0.1:7010,…`.
    let seeds: Vec<&str> = urls
        .split(',')
        .map(|url| url.trim_start_matches("redis://").trim_end_matches('/'))
        .collect();
    journey("signed", &format!("redis-cluster://{}", seeds.join(","))).await;
}

#[tokio::test]
async fn postgres() {
    let Some(url) = server_url("DATABASE_URL") else {
        return;
    };
    journey("signed", &url).await;
}

#[tokio::test]
async fn stores_are_named_without_their_urls() {
    let config = config_with(
        "encrypted",
        KEYS,
        &[("SESSION_STORE", "postgres://user:hunter2@127.0.0.1:1/db")],
    );
    assert_eq!(config.store().kind(), "postgres");
    assert!(matches!(config.store(), StoreChoice::Postgres(_)));
    assert!(!format!("{config:?}").contains("hunter2"));
    // Not connected yet: the app says so instead of silently using cookies.
    let mut client = Client::with_config("encrypted", config);
    assert_eq!(
        client.get("/").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}
