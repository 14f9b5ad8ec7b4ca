//! Migrating from Express `cookie-session` (`SessionConfig::migrate_from`): every case of
//! `cookie_session::migrate`, with cookies recorded from the real Express app
//! (tests/data/express-vectors.json, keys `key-new`, `key-old`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/backends.rs"]
mod backends;

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use cookie_session::format::{Codec, Format, SigAlgorithm, Timestamps};
use cookie_session::migrate::Legacy;
use cookie_session::store::{MemoryStore, SessionStore};
use cookie_session::{ConfigError, KeyRing, Rejection, Session, SessionConfig, SessionLayer};
use http::{Request, Response, StatusCode};
use serde_json::{json, Map, Value};
use tower::ServiceExt;

const NEW_KEY: &str = "migrate-test-new-key-0123456789abcdef0123";

/// Recorded from Express (`new_session_set_views`): `{"views":1}` signed with `key-new`.
const OLD: &str = "session=eyJ2aWV3cyI6MX0=; session.sig=WcRy3bp0__-yp0ragQZ1Tz8zjtg";
/// Recorded (`old_key_read_only_resign_sig`): the same session signed with `key-old`.
const OLD_BY_OLDER_KEY: &str = "session=eyJ2aWV3cyI6MX0=; session.sig=56Kxg2uOUKNGs-4aDZYAfVQyhCs";
/// Recorded (`custom_name`): `{"views":1}` as `sid` + `sid.sig`.
const OLD_SID: &str = "sid=eyJ2aWV3cyI6MX0=; sid.sig=L7dX40-k5hOIhEVj848MtPIXn1M";

fn old_keys() -> KeyRing {
    KeyRing::new(["key-new", "key-old"]).unwrap()
}

fn new_keys() -> KeyRing {
    KeyRing::new([NEW_KEY]).unwrap()
}

fn config() -> SessionConfig {
    SessionConfig::new(new_keys()).migrate_from(Legacy::express(old_keys()))
}

/// `/views` reads and increments, `/read` reads, `/untouched` never touches the session,
/// `/logout` destroys it, `/big` stores a large value.
fn router(layer: SessionLayer) -> Router {
    async fn views(session: Session) -> String {
        let views = session.get::<u64>("views").unwrap_or(0) + 1;
        session.insert("views", views).unwrap();
        views.to_string()
    }
    async fn read(session: Session) -> String {
        format!("{}|new={}", Value::Object(session.data()), session.is_new())
    }
    async fn logout(session: Session) -> &'static str {
        session.destroy();
        "bye"
    }
    Router::new()
        .route("/views", get(views))
        .route("/read", get(read))
        .route("/untouched", get(|| async { "hi" }))
        .route("/logout", get(logout))
        .layer(layer)
}

async fn call(app: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, Vec<String>, String) {
    let mut req = Request::get(path);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let res: Response<Body> = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let set_cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        set_cookies,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// The `name=value` of the `Set-Cookie` named `name`, if it sets (not clears) it.
fn set_value<'a>(set_cookies: &'a [String], name: &str) -> Option<&'a str> {
    set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")) && !is_clear(c))
        .map(|c| c.split(';').next().unwrap())
}

fn is_clear(set_cookie: &str) -> bool {
    set_cookie.contains("expires=Thu, 01 Jan 1970 00:00:00 GMT") || set_cookie.contains("Max-Age=0")
}

fn clears<'a>(set_cookies: &'a [String], name: &str) -> Option<&'a String> {
    set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")) && is_clear(c))
}

/// An Express cookie pair for `data` signed with `keys`, through the crate's Express codec
/// (checked byte for byte against Express in tests/express_vectors.rs).
fn express_cookie(keys: &KeyRing, name: &str, data: Value) -> String {
    let codec = Codec::new(Format::Express(SigAlgorithm::Sha1), keys, name).unwrap();
    let data: Map<String, Value> = data.as_object().cloned().unwrap();
    let times = Timestamps {
        created_at: 0,
        issued_at: 0,
        expires_at: 0,
    };
    let sealed = codec.seal(&codec.canonical(&data), times);
    format!(
        "{name}={}; {name}.sig={}",
        sealed.value,
        sealed.sig.unwrap()
    )
}

#[tokio::test]
async fn an_old_cookie_that_verifies_becomes_the_session_in_the_new_format() {
    let layer = config().build().unwrap();
    let app = router(layer.clone());
    for old in [OLD, OLD_BY_OLDER_KEY] {
        let (status, set, body) = call(&app, "/read", Some(old)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, r#"{"views":1}|new=true"#, "{old}");
        // Re-issued in the layer's format, under the same name: that replaces the old value
        // in the browser, so only `session.sig` needs clearing.
        let new = set_value(&set, "session").expect("re-issued");
        assert!(layer.decode([new]).is_ok(), "{set:?}");
        assert_eq!(layer.decode([new]).unwrap().data["views"], json!(1));
        let sig = clears(&set, "session.sig").expect("session.sig cleared");
        // Express's own clearing cookie: path, 1970, httponly, and sign("session=").
        assert_eq!(
            sig,
            "session.sig=V-mSvsedpoaXnslHOr0jVv3NKOM; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly"
        );
        assert_eq!(set.len(), 2, "{set:?}");
        // The next request, with only the new cookie, is the same session.
        let (_, set, body) = call(&app, "/views", Some(new)).await;
        assert_eq!(body, "2");
        assert!(set_value(&set, "session").is_some());
        assert!(
            clears(&set, "session.sig").is_none(),
            "nothing old left to clear: {set:?}"
        );
    }
    let metrics = layer.metrics();
    assert_eq!(metrics.opened, vec![("encrypted", 2), ("express", 2)]);
    assert_eq!(metrics.opened_count("express"), 2);
    assert_eq!(metrics.opened_count("encrypted"), 2);
    assert_eq!(metrics.opened_count("signed"), 0);
}

#[tokio::test]
async fn an_old_cookie_of_another_name_and_path_is_cleared_with_them() {
    let layer = SessionConfig::new(new_keys())
        .name("app_session")
        .migrate_from(
            Legacy::express(old_keys())
                .name("sid")
                .path("/app")
                .domain(Some("example.test".into())),
        )
        .build()
        .unwrap();
    let app = router(layer.clone());
    let (_, set, body) = call(&app, "/views", Some(OLD_SID)).await;
    assert_eq!(body, "2");
    let new = set_value(&set, "app_session").expect("re-issued");
    assert_eq!(layer.decode([new]).unwrap().data["views"], json!(2));
    assert_eq!(
        clears(&set, "sid").unwrap(),
        "sid=; path=/app; expires=Thu, 01 Jan 1970 00:00:00 GMT; domain=example.test; httponly"
    );
    assert!(clears(&set, "sid.sig")
        .unwrap()
        .contains("path=/app; expires=Thu, 01 Jan 1970"));
    assert_eq!(set.len(), 3, "{set:?}");
}

#[tokio::test]
async fn old_and_new_together_the_new_one_wins_and_the_old_is_cleared() {
    let layer = SessionConfig::new(new_keys())
        .name("app_session")
        .migrate_from(Legacy::express(old_keys()))
        .build()
        .unwrap();
    let app = router(layer.clone());
    let (_, set, _) = call(&app, "/views", None).await;
    let new = set_value(&set, "app_session").unwrap().to_owned();
    // Read-only, with an old session of 1 view and the new one (1 view): the new wins.
    let (_, set, body) = call(&app, "/read", Some(&format!("{OLD}; {new}"))).await;
    assert_eq!(body, r#"{"views":1}|new=false"#);
    assert!(
        set_value(&set, "app_session").is_none(),
        "unchanged: not re-issued"
    );
    assert!(clears(&set, "session").is_some(), "{set:?}");
    assert!(clears(&set, "session.sig").is_some(), "{set:?}");
    let (_, _, body) = call(&app, "/views", Some(&format!("{new}; {OLD}"))).await;
    assert_eq!(
        body, "2",
        "the new session, not the old one, was incremented"
    );
    assert_eq!(
        layer.metrics().opened,
        vec![("encrypted", 2), ("express", 0)]
    );
}

/// With the same cookie name (the default: both `session`), an authentic old pair sent
/// before the new cookie (planted from a sibling subdomain, or under a longer path) must not
/// make a read clear `session` in the layer's scope: that would delete the new cookie that
/// served the request. Only `session.sig`, a name the new format does not use, is cleared.
#[tokio::test]
async fn an_old_pair_of_the_same_name_never_clears_the_new_cookie() {
    let layer = config().build().unwrap();
    let app = router(layer.clone());
    let (_, set, _) = call(&app, "/views", None).await;
    let new = set_value(&set, "session").unwrap().to_owned();
    // Old first: Express's reading (the first pair) verifies it, so its signature is cleared.
    // New first: the first pair is not Express's, so nothing verifies and nothing is cleared.
    for (header, sig_cleared) in [
        (format!("{OLD}; {new}"), true),
        (format!("{new}; {OLD}"), false),
    ] {
        let (_, set, body) = call(&app, "/read", Some(&header)).await;
        assert_eq!(body, r#"{"views":1}|new=false"#, "{header}");
        assert!(clears(&set, "session").is_none(), "{header}: {set:?}");
        assert_eq!(
            clears(&set, "session.sig").is_some(),
            sig_cleared,
            "{header}: {set:?}"
        );
        // A write re-issues the new cookie, and still clears only the signature.
        let (_, set, body) = call(&app, "/views", Some(&header)).await;
        assert_eq!(body, "2", "{header}");
        assert!(
            set_value(&set, "session").is_some_and(|v| !v.is_empty()),
            "{set:?}"
        );
        assert!(clears(&set, "session").is_none(), "{header}: {set:?}");
    }
    // An old pair alone still migrates, and its pair is replaced: the new value, no clear.
    let (_, set, body) = call(&app, "/views", Some(OLD)).await;
    assert_eq!(body, "2");
    assert!(
        set_value(&set, "session").is_some_and(|v| !v.is_empty()),
        "{set:?}"
    );
    assert!(clears(&set, "session").is_none(), "{set:?}");
    assert!(clears(&set, "session.sig").is_some(), "{set:?}");
}

#[tokio::test]
async fn an_old_cookie_that_does_not_verify_gives_an_empty_session_and_no_cookie() {
    let layer = config().build().unwrap();
    let app = router(layer.clone());
    let wrong_key = express_cookie(
        &KeyRing::new(["not the Express key"]).unwrap(),
        "session",
        json!({"views": 1}),
    );
    let cases = [
        // Recorded: tampered value, tampered sig, a key Express does not have, no sig.
        (
            "session=eyJ2aWV3cyI6OX0=; session.sig=WcRy3bp0__-yp0ragQZ1Tz8zjtg",
            Rejection::BadSignature,
        ),
        (
            "session=eyJ2aWV3cyI6MX0=; session.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Rejection::BadSignature,
        ),
        (
            "session=eyJ2aWV3cyI6MX0=; session.sig=kSen4zk-nZlZQioz-ZfqiITLQvo",
            Rejection::BadSignature,
        ),
        // No `.sig`: under the layer's own name that is no old cookie, and the layer's own
        // format refuses the value.
        ("session=eyJ2aWV3cyI6MX0=", Rejection::Malformed),
        // Recorded: not base64, with a valid signature.
        (
            "session=!!!notbase64; session.sig=lq0xjjB3Dg6IRDR8ZEYW7Kkhzuw",
            Rejection::Malformed,
        ),
        (wrong_key.as_str(), Rejection::BadSignature),
    ];
    for (cookie, reason) in cases {
        let before = layer.metrics().count(reason);
        let (status, set, body) = call(&app, "/read", Some(cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "{}|new=true", "{cookie}");
        assert!(
            set.is_empty(),
            "nothing re-issued, nothing cleared: {cookie}: {set:?}"
        );
        assert!(
            layer.metrics().count(reason) > before,
            "{cookie}: {reason:?}"
        );
    }
    assert_eq!(layer.metrics().opened_count("express"), 0);
    assert_eq!(layer.metrics().opened_count("encrypted"), 0);
}

#[tokio::test]
async fn the_old_format_opens_with_the_old_keys_only_and_the_new_with_the_new_only() {
    // Old keys long enough for a native format, so both directions can be tried.
    let old_ring = KeyRing::new(["an old key that is thirty-two bytes or more"]).unwrap();
    let layer = SessionConfig::new(new_keys())
        .migrate_from(Legacy::express(old_ring.clone()))
        .build()
        .unwrap();
    let app = router(layer.clone());

    // An Express cookie signed with the layer's own key: not opened.
    let by_new_key = express_cookie(&new_keys(), "session", json!({"user": "mallory"}));
    let (_, set, body) = call(&app, "/read", Some(&by_new_key)).await;
    assert_eq!(body, "{}|new=true");
    assert!(set.is_empty(), "{set:?}");

    // An encrypted cookie sealed with the old key: not opened either.
    let old_as_new = SessionConfig::new(old_ring.clone()).build().unwrap();
    let data = json!({"user": "mallory"}).as_object().cloned().unwrap();
    let sealed = old_as_new.encode(data).unwrap();
    let cookie = sealed[0].split(';').next().unwrap();
    let (_, set, body) = call(&app, "/read", Some(cookie)).await;
    assert_eq!(body, "{}|new=true");
    assert!(set.is_empty(), "{set:?}");

    // And the old key opens the old format.
    let by_old_key = express_cookie(&old_ring, "session", json!({"user": "alice"}));
    let (_, _, body) = call(&app, "/read", Some(&by_old_key)).await;
    assert_eq!(body, r#"{"user":"alice"}|new=true"#);

    // A ring shared by both is refused when the layer is built.
    let shared = SessionConfig::new(new_keys())
        .migrate_from(Legacy::express(KeyRing::new(["short", NEW_KEY]).unwrap()))
        .build();
    assert_eq!(shared.unwrap_err(), ConfigError::MigrateSharesKey);
}

/// Every backend of the build: memory, SQLite, and the real Redis and PostgreSQL servers
/// (`REDIS_URL`, `DATABASE_URL`; required under `CI=true`).
#[tokio::test]
async fn in_store_mode_the_old_session_moves_into_a_new_record() {
    for backend in backends::all().await {
        let name = backend.name;
        let store = backend.store.clone();
        let layer = config().shared_store(store.clone()).build().unwrap();
        let app = router(layer.clone());
        let (status, set, body) = call(&app, "/read", Some(OLD)).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(body, r#"{"views":1}|new=true"#, "{name}");
        let new = set_value(&set, "session")
            .expect("the sealed id is issued")
            .to_owned();
        assert!(clears(&set, "session.sig").is_some(), "{name}: {set:?}");
        // The cookie holds only the id; the record holds the data.
        let id = layer.decode([new.as_str()]).unwrap().data["sid"]
            .as_str()
            .unwrap()
            .to_owned();
        let key = cookie_session::store::SessionId::parse(&id)
            .unwrap()
            .store_key();
        let now = cookie_session::unix_secs(std::time::SystemTime::now());
        let record = store
            .load(&key, now)
            .await
            .unwrap()
            .expect("a record was created");
        assert_eq!(Value::Object(record.data), json!({"views": 1}), "{name}");
        let (_, _, body) = call(&app, "/views", Some(&new)).await;
        assert_eq!(body, "2", "{name}");
        let record = store.load(&key, now).await.unwrap().unwrap();
        assert_eq!(Value::Object(record.data), json!({"views": 2}), "{name}");
        assert_eq!(
            layer.metrics().opened,
            vec![("encrypted", 1), ("express", 1)],
            "{name}"
        );
    }
}

#[tokio::test]
async fn migration_is_lazy_a_request_that_never_touches_the_session_leaves_the_old_cookie() {
    let layer = config().build().unwrap();
    let app = router(layer.clone());
    let (_, set, _) = call(&app, "/untouched", Some(OLD)).await;
    assert!(set.is_empty(), "{set:?}");
    assert_eq!(layer.metrics().opened_count("express"), 0);
    // The next request that uses the session migrates it.
    let (_, set, body) = call(&app, "/read", Some(OLD)).await;
    assert_eq!(body, r#"{"views":1}|new=true"#);
    assert!(set_value(&set, "session").is_some());
    assert_eq!(layer.metrics().opened_count("express"), 1);

    // With `rolling`, every request with a cookie loads the session, so it migrates too.
    let layer = config().rolling(true).build().unwrap();
    let app = router(layer.clone());
    let (_, set, _) = call(&app, "/untouched", Some(OLD)).await;
    assert!(set_value(&set, "session").is_some(), "{set:?}");
    assert!(clears(&set, "session.sig").is_some(), "{set:?}");
}

#[tokio::test]
async fn a_migrated_session_that_cannot_be_written_keeps_its_old_cookie() {
    // An Express session of 4080 bytes, which browsers keep: sealed in the encrypted format it is over the
    // cookie limit, so the response fails and the old cookie must stay.
    let big = "x".repeat(3040);
    let old = express_cookie(&old_keys(), "session", json!({ "big": big }));
    assert!(old.split("; ").next().unwrap().len() <= 4096);
    let layer = config().build().unwrap();
    let app = router(layer.clone());
    let (status, set, _) = call(&app, "/read", Some(&old)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set.is_empty(), "the old cookie is not cleared: {set:?}");
    // With chunking on, the same session moves.
    let layer = config().split_oversized(4).build().unwrap();
    let app = router(layer.clone());
    let (status, set, body) = call(&app, "/read", Some(&old)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&big));
    assert!(set_value(&set, "session.0").is_some(), "{set:?}");
    assert!(clears(&set, "session.sig").is_some(), "{set:?}");
}

#[tokio::test]
async fn logging_out_of_a_migrated_session_clears_both_formats() {
    let layer = SessionConfig::new(new_keys())
        .name("app_session")
        .migrate_from(Legacy::express(old_keys()))
        .build()
        .unwrap();
    let app = router(layer);
    let (_, set, _) = call(&app, "/logout", Some(OLD)).await;
    assert!(clears(&set, "app_session").is_some(), "{set:?}");
    assert!(clears(&set, "session").is_some(), "{set:?}");
    assert!(clears(&set, "session.sig").is_some(), "{set:?}");
}

#[tokio::test]
async fn with_revocation_an_old_cookie_of_a_revoked_user_is_refused() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let layer = config().revocation(store).build().unwrap();
    let app = router(layer.clone());
    let alice = express_cookie(&old_keys(), "session", json!({"user": "alice", "views": 3}));
    let bob = express_cookie(&old_keys(), "session", json!({"user": "bob", "views": 5}));
    layer.revoke_user("alice").await.unwrap();
    let (_, set, body) = call(&app, "/read", Some(&alice)).await;
    assert_eq!(body, "{}|new=true");
    assert!(set.is_empty(), "{set:?}");
    assert!(layer.metrics().count(Rejection::Revoked) >= 1);
    let (_, set, body) = call(&app, "/read", Some(&bob)).await;
    assert_eq!(body, r#"{"user":"bob","views":5}|new=true"#);
    assert!(set_value(&set, "session").is_some());
    // Only the session that was served is counted.
    assert_eq!(layer.metrics().opened_count("express"), 1);
}

#[test]
fn too_many_sources_are_refused() {
    let mut config = SessionConfig::new(new_keys());
    for i in 0..9 {
        config = config.migrate_from(Legacy::express(KeyRing::new([format!("k{i}")]).unwrap()));
    }
    assert_eq!(
        config.build().unwrap_err(),
        ConfigError::MigrateSources { max: 8 }
    );
    let bad_name = SessionConfig::new(new_keys())
        .migrate_from(Legacy::express(old_keys()).name("bad name"))
        .build();
    assert!(matches!(bad_name, Err(ConfigError::Cookie(_))));
}
