//! `SESSION_MIGRATE_FROM=express`: the demo opens Express `cookie-session` cookies with the old
//! keys (`SESSION_MIGRATE_KEYS`) and re-issues them in `SESSION_FORMAT`; the JSON API answers
//! as for any other session. The browser journey from a real Express app is in `browser.rs`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
#[path = "../../cookie-session/tests/skip/mod.rs"]
mod skip;

use std::collections::HashMap;
use std::process::{Command, Stdio};

use common::{config_with, Client, KEYS};
use demo::{ConfigError, DemoConfig};
use serde_json::json;

/// Recorded from Express `cookie-session` 2.1.1 (cookie-session/tests/data/express-vectors.json,
/// `new_session_set_views`): `{"views":1}` signed with `key-new` of `key-new,key-old`.
const EXPRESS_VALUE: &str = "eyJ2aWV3cyI6MX0=";
const EXPRESS_SIG: &str = "WcRy3bp0__-yp0ragQZ1Tz8zjtg";
const EXPRESS_KEYS: &str = "key-new,key-old";

fn from(vars: &[(&str, &str)]) -> Result<DemoConfig, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    DemoConfig::from_vars(|name| vars.get(name).cloned())
}

#[test]
fn the_migration_variables_are_read_and_checked() {
    let config = from(&[
        ("SESSION_KEYS", KEYS),
        ("SESSION_MIGRATE_FROM", "express"),
        ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
    ])
    .unwrap();
    assert_eq!(config.migrate_from(), ["express"]);
    assert!(from(&[]).unwrap().migrate_from().is_empty());

    let bad = |vars: &[(&str, &str)]| from(vars).unwrap_err();
    for value in ["rails", "express,express", "express,"] {
        let error = bad(&[
            ("SESSION_MIGRATE_FROM", value),
            ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
        ]);
        assert_eq!(error.var(), "SESSION_MIGRATE_FROM", "{value}: {error}");
        assert!(error.to_string().contains("express"), "{error}");
    }
    let error = bad(&[("SESSION_MIGRATE_FROM", "express")]);
    assert_eq!(error.var(), "SESSION_MIGRATE_KEYS", "{error}");
    let error = bad(&[("SESSION_MIGRATE_KEYS", EXPRESS_KEYS)]);
    assert_eq!(error.var(), "SESSION_MIGRATE_FROM", "{error}");
    // A key in both rings: refused, and never shown.
    let shared = "demo-test-key-one-0123456789abcdef0123456789";
    let error = bad(&[
        ("SESSION_KEYS", KEYS),
        ("SESSION_MIGRATE_FROM", "express"),
        ("SESSION_MIGRATE_KEYS", shared),
    ]);
    assert_eq!(error.var(), "SESSION_MIGRATE_KEYS", "{error}");
    assert!(!error.to_string().contains(shared), "{error}");
    let error = bad(&[
        ("SESSION_MIGRATE_FROM", "express"),
        ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
        ("SESSION_MIGRATE_NAME", "bad name"),
    ]);
    assert_eq!(error.var(), "SESSION_MIGRATE_NAME", "{error}");
}

#[test]
fn express_session_needs_its_store_and_never_shows_its_url() {
    let ok = from(&[
        ("SESSION_KEYS", KEYS),
        ("SESSION_MIGRATE_FROM", "express,express-session"),
        ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
        ("SESSION_MIGRATE_STORE", "redis://user:hunter2@127.0.0.1:1/"),
    ])
    .unwrap();
    assert_eq!(ok.migrate_from(), ["express", "express-session"]);
    // The old store is reached by `connect`, not before.
    assert!(ok.layer().is_none());

    let bad = |vars: &[(&str, &str)]| from(vars).unwrap_err();
    for store in [None, Some("memory"), Some("sqlite:/tmp/x"), Some("cookie")] {
        let mut vars = vec![
            ("SESSION_MIGRATE_FROM", "express-session"),
            ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
        ];
        vars.extend(store.map(|s| ("SESSION_MIGRATE_STORE", s)));
        let error = bad(&vars);
        assert_eq!(error.var(), "SESSION_MIGRATE_STORE", "{store:?}: {error}");
    }
    // A store without express-session to read it with.
    let error = bad(&[
        ("SESSION_MIGRATE_FROM", "express"),
        ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
        ("SESSION_MIGRATE_STORE", "redis://user:hunter2@127.0.0.1/"),
    ]);
    assert_eq!(error.var(), "SESSION_MIGRATE_STORE", "{error}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let error = bad(&[
        ("SESSION_MIGRATE_FROM", "express-session,express-session"),
        ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
        ("SESSION_MIGRATE_STORE", "redis://127.0.0.1/"),
    ]);
    assert_eq!(error.var(), "SESSION_MIGRATE_FROM", "{error}");
}

/// A connect.sid whose record is live in real Redis (connect-redis's layout): the API serves
/// its data, re-issues it in the demo's format, clears connect.sid, and keeps the record.
#[tokio::test]
async fn the_api_moves_an_express_session_record_to_the_encrypted_format() {
    use cookie_session::format::express_session::{CookieMeta, Record, SidSigner};
    use cookie_session::store::ExpressRedisStore;

    let url = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("REDIS_URL must be set under CI")
        }
        _ => return skip::skipped("REDIS_URL is not set"),
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let store = ExpressRedisStore::connect(&url).await.unwrap();
    let sid = format!("demo-migrate-{}-{now_ms}", std::process::id());
    let mut record = Record::new(CookieMeta::express_default(Some(3_600_000), now_ms));
    record.data_mut().insert("user".into(), json!("ann"));
    assert!(store.create(&sid, &record, now_ms).await.unwrap());
    let ring = cookie_session::KeyRing::parse_list(EXPRESS_KEYS).unwrap();
    let cookie = SidSigner::new(&ring).cookie_value(&sid);

    let config = config_with(
        "encrypted",
        KEYS,
        &[
            ("SESSION_MIGRATE_FROM", "express-session"),
            ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
            ("SESSION_MIGRATE_STORE", url.as_str()),
        ],
    )
    .connect()
    .await
    .unwrap();
    let layer = config.layer().unwrap();
    let migrating = config.clone();
    let mut client = Client::with_config("encrypted", config);
    client.jar.insert("connect.sid".into(), cookie.clone());
    let res = client.get("/api/session").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"user": "ann"}));
    assert!(res.set_cookie("session").is_some(), "{:?}", res.set_cookies);
    assert!(res.set_cookie("connect.sid").unwrap().contains("1970"));
    assert_eq!(client.jar.keys().collect::<Vec<_>>(), ["session"]);
    assert_eq!(
        client.get("/api/session").await.json(),
        json!({"user": "ann"})
    );
    assert_eq!(layer.metrics().opened_count("express-session"), 1);
    // The record is kept for the Express app.
    let kept = store.load(&sid, now_ms).await.unwrap();
    assert!(matches!(
        kept,
        cookie_session::store::ExpressLoaded::Live { .. }
    ));
    store.destroy(&sid).await.unwrap();

    // A forged one (another secret signed the same sid): empty, nothing re-issued or cleared.
    assert!(store.create(&sid, &record, now_ms).await.unwrap());
    let forged = SidSigner::new(&cookie_session::KeyRing::new(["another secret"]).unwrap())
        .cookie_value(&sid);
    let mut client = Client::with_config("encrypted", migrating.clone());
    client.jar.insert("connect.sid".into(), forged);
    let res = client.get("/api/session").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({}));
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
    store.destroy(&sid).await.unwrap();
}

#[test]
fn the_binary_refuses_an_unknown_format_on_one_line_with_status_2() {
    for (var, value) in [
        ("SESSION_MIGRATE_FROM", "rails"),
        ("SESSION_MIGRATE_FROM", "cookie-session"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_demo"))
            .env_clear()
            .current_dir(std::env::temp_dir())
            .env(var, value)
            .env("SESSION_MIGRATE_KEYS", EXPRESS_KEYS)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{value}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(var) && stderr.contains(value), "{stderr}");
        assert!(!stderr.contains("key-new"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[tokio::test]
async fn the_api_serves_an_express_session_and_moves_it_to_each_native_format() {
    for format in ["encrypted", "signed"] {
        let config = config_with(
            format,
            KEYS,
            &[
                ("SESSION_MIGRATE_FROM", "express"),
                ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
            ],
        );
        let layer = config.layer().unwrap();
        let mut client = Client::with_config(format, config);
        client.jar.insert("session".into(), EXPRESS_VALUE.into());
        client.jar.insert("session.sig".into(), EXPRESS_SIG.into());

        let res = client.get("/api/session").await;
        assert_eq!(res.status, 200, "{format}");
        assert_eq!(res.json(), json!({"views": 1}), "{format}");
        // Re-issued in the demo's format; `session.sig` cleared (the jar drops it).
        let new = res.set_cookie("session").unwrap();
        let pair = new.split(';').next().unwrap();
        assert_eq!(
            layer.decode([pair]).unwrap().data["views"],
            json!(1),
            "{format}"
        );
        assert!(res.set_cookie("session.sig").unwrap().contains("1970"));
        assert_eq!(client.jar.keys().collect::<Vec<_>>(), ["session"]);

        // The JSON API goes on as for any session of the format.
        let res = client
            .send(
                axum::http::Request::post("/api/session")
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(r#"{"user":"alice"}"#))
                    .unwrap(),
            )
            .await;
        assert_eq!(res.json(), json!({"views": 1, "user": "alice"}), "{format}");
        assert_eq!(client.get("/api/session").await.json()["user"], "alice");
        let metrics = layer.metrics();
        assert_eq!(metrics.opened_count("express"), 1, "{format}");
        assert_eq!(metrics.opened_count(format), 2, "{format}");
    }
}

#[tokio::test]
async fn a_forged_express_cookie_gives_an_empty_session_and_no_cookie() {
    let config = config_with(
        "encrypted",
        KEYS,
        &[
            ("SESSION_MIGRATE_FROM", "express"),
            ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
        ],
    );
    let mut client = Client::with_config("encrypted", config);
    // `{"views":9}` under the signature of `{"views":1}` (recorded `tampered_value`).
    client
        .jar
        .insert("session".into(), "eyJ2aWV3cyI6OX0=".into());
    client.jar.insert("session.sig".into(), EXPRESS_SIG.into());
    let res = client.get("/api/session").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({}));
    assert!(res.set_cookies.is_empty(), "{:?}", res.set_cookies);
}
