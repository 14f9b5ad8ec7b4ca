//! The helpers around the session and the traps they close: typed values beside other keys and
//! concurrent writers, a store-backed session used without `load`, flash messages, CSRF
//! tokens, the `testing` module, and options the configuration refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use cookie_session::csrf::{CSRF_FIELD, CSRF_HEADER};
use cookie_session::extract::{CsrfForm, CsrfGuard, Flash, SessionValue, Typed};
use cookie_session::flash::{FlashMessage, Level};
use cookie_session::format::{encrypted, Cipher, Format, SigAlgorithm};
use cookie_session::store::{MemoryStore, SessionStore};
use cookie_session::testing::TestSession;
use cookie_session::{ConfigError, KeyRing, Session, SessionConfig, SessionError, SessionLayer};
use http::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tower::ServiceExt;

const KEY: &str = "helpers-test-key-0123456789abcdef0123456789";

fn keys() -> KeyRing {
    KeyRing::new([KEY]).unwrap()
}

fn cookie_layer() -> SessionLayer {
    SessionConfig::new(keys()).build().unwrap()
}

fn store_layer(store: Arc<dyn SessionStore>) -> SessionLayer {
    SessionConfig::new(keys())
        .shared_store(store)
        .build()
        .unwrap()
}

/// A browser's cookie jar, kept by hand (independent of `testing::TestSession`).
#[derive(Default, Clone)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, res: &Response<Body>) {
        for v in res.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() && !text.contains("Max-Age=0") {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    jar: &mut Jar,
    headers: &[(&str, &str)],
    form: Option<&str>,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if !jar.0.is_empty() {
        req = req.header("cookie", jar.header());
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match form {
        Some(form) => {
            req = req.header("content-type", "application/x-www-form-urlencoded");
            Body::from(form.to_owned())
        }
        None => Body::empty(),
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    jar.absorb(&res);
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get_(app: &Router, uri: &str, jar: &mut Jar) -> (StatusCode, String) {
    send(app, Method::GET, uri, jar, &[], None).await
}

// ---------------------------------------------------------------------------------------
// Typed values

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Cart {
    items: Vec<String>,
}

impl SessionValue for Cart {
    const KEY: &'static str = "cart";
}

/// Routes shared by the typed tests: `/login` sets `user`, `/add` adds to the typed cart,
/// `/data` shows the whole session.
fn typed_app(layer: SessionLayer, gate: Option<Arc<(Notify, Notify)>>) -> Router {
    Router::new()
        .route(
            "/login/{user}",
            get(
                |s: Session, axum::extract::Path(user): axum::extract::Path<String>| async move {
                    s.insert("user", user).unwrap();
                    "ok"
                },
            ),
        )
        .route(
            "/add/{item}",
            get(
                move |mut cart: Typed<Cart>,
                      axum::extract::Path(item): axum::extract::Path<String>| {
                    let gate = gate.clone();
                    async move {
                        if let Some(gate) = gate {
                            // Loaded: let the concurrent writer run to completion first.
                            gate.0.notify_one();
                            gate.1.notified().await;
                        }
                        cart.items.push(item);
                        cart.items.len().to_string()
                    }
                },
            ),
        )
        .route(
            "/data",
            get(|s: Session| async move { Value::Object(s.data()).to_string() }),
        )
        .layer(layer)
}

#[tokio::test]
async fn a_typed_value_keeps_the_other_keys() {
    for layer in [cookie_layer(), store_layer(Arc::new(MemoryStore::new()))] {
        let app = typed_app(layer, None);
        let mut jar = Jar::default();
        get_(&app, "/login/ada", &mut jar).await;
        assert_eq!(get_(&app, "/add/apple", &mut jar).await.1, "1");
        assert_eq!(get_(&app, "/add/pear", &mut jar).await.1, "2");
        let data: Value = serde_json::from_str(&get_(&app, "/data", &mut jar).await.1).unwrap();
        assert_eq!(
            data,
            json!({"user": "ada", "cart": {"items": ["apple", "pear"]}})
        );
    }
}

#[tokio::test]
async fn a_typed_value_survives_beside_a_concurrent_writer() {
    let gate = Arc::new((Notify::new(), Notify::new()));
    let app = typed_app(
        store_layer(Arc::new(MemoryStore::new())),
        Some(gate.clone()),
    );
    let mut jar = Jar::default();
    get_(&app, "/login/ada", &mut jar).await;

    // The typed request loads the session, then waits while another request writes `user`.
    let typed = {
        let (app, mut jar) = (app.clone(), jar.clone());
        tokio::spawn(async move { get_(&app, "/add/apple", &mut jar).await })
    };
    gate.0.notified().await;
    let mut other = jar.clone();
    assert_eq!(get_(&app, "/login/bob", &mut other).await.0, StatusCode::OK);
    gate.1.notify_one();
    assert_eq!(typed.await.unwrap(), (StatusCode::OK, "1".to_owned()));

    let data: Value = serde_json::from_str(&get_(&app, "/data", &mut jar).await.1).unwrap();
    assert_eq!(data, json!({"user": "bob", "cart": {"items": ["apple"]}}));
}

/// A typed value changed and then its session destroyed (the cart emptied at logout): the
/// logout wins, in cookie and store mode. Neither the old cart nor the emptied one is written
/// into a new session, and a flash written after the logout does not carry the cart along.
#[tokio::test]
async fn a_destroyed_session_is_not_brought_back_by_its_typed_value() {
    for store in [false, true] {
        let layer = if store {
            store_layer(Arc::new(MemoryStore::new()))
        } else {
            cookie_layer()
        };
        let app = Router::new()
            .route(
                "/add/{item}",
                get(
                    |mut cart: Typed<Cart>,
                     axum::extract::Path(item): axum::extract::Path<String>| async move {
                        cart.items.push(item);
                        cart.items.len().to_string()
                    },
                ),
            )
            .route(
                "/data",
                get(|s: Session| async move { Value::Object(s.data()).to_string() }),
            )
            .route(
                "/logout",
                get(|mut cart: Typed<Cart>| async move {
                    cart.items.clear();
                    cart.session().destroy();
                    "bye"
                }),
            )
            .route(
                "/logout-with-flash",
                get(|mut cart: Typed<Cart>| async move {
                    cart.items.push("gift".into());
                    cart.session().destroy();
                    cart.session().insert("flash", "logged out").unwrap();
                    "bye"
                }),
            )
            .layer(layer);
        for (logout, after) in [
            ("/logout", json!({})),
            ("/logout-with-flash", json!({"flash": "logged out"})),
        ] {
            let mut jar = Jar::default();
            assert_eq!(get_(&app, "/add/apple", &mut jar).await.1, "1");
            let res = app
                .clone()
                .oneshot(
                    Request::get(logout)
                        .header("cookie", jar.header())
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let cleared = res
                .headers()
                .get_all("set-cookie")
                .iter()
                .any(|v| v.to_str().unwrap().contains("Max-Age=0"));
            jar.absorb(&res);
            let data: Value = serde_json::from_str(&get_(&app, "/data", &mut jar).await.1).unwrap();
            assert_eq!(data, after, "store={store}, {logout}");
            if after == json!({}) {
                assert!(cleared, "store={store}, {logout}: the cookie is cleared");
            }
        }
    }
}

#[tokio::test]
async fn reading_a_typed_value_writes_nothing() {
    let app = Router::new()
        .route(
            "/count",
            get(|cart: Typed<Cart>| async move { cart.items.len().to_string() }),
        )
        .layer(cookie_layer());
    let res = app
        .oneshot(Request::get("/count").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_none());
}

// ---------------------------------------------------------------------------------------
// A store-backed session used without `load`

#[tokio::test]
async fn a_store_session_used_without_load_is_a_500_not_a_silent_loss() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let app = Router::new()
        .route(
            "/extension",
            get(|Extension(s): Extension<Session>| async move {
                s.insert("user", "ada").unwrap();
                "ok"
            }),
        )
        .route(
            "/loaded",
            get(|Extension(s): Extension<Session>| async move {
                s.load().await.unwrap();
                s.insert("user", "ada").unwrap();
                "ok"
            }),
        )
        .route(
            "/untouched",
            get(|Extension(_s): Extension<Session>| async move { "ok" }),
        )
        .layer(store_layer(store.clone()));

    let res = app
        .clone()
        .oneshot(Request::get("/extension").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(
        res.extensions().get::<SessionError>(),
        Some(&SessionError::NotLoaded)
    );

    // Loading first, or never touching the session, is fine.
    let mut jar = Jar::default();
    assert_eq!(get_(&app, "/loaded", &mut jar).await.0, StatusCode::OK);
    assert_eq!(jar.0.len(), 1);
    assert_eq!(get_(&app, "/untouched", &mut jar).await.0, StatusCode::OK);

    // The same handler in cookie mode needs no load: the cookie is decoded synchronously.
    let app = Router::new()
        .route(
            "/extension",
            get(|Extension(s): Extension<Session>| async move {
                s.insert("user", "ada").unwrap();
                "ok"
            }),
        )
        .layer(cookie_layer());
    let mut jar = Jar::default();
    assert_eq!(get_(&app, "/extension", &mut jar).await.0, StatusCode::OK);
    assert_eq!(jar.0.len(), 1);
}

#[tokio::test]
async fn a_plain_tower_service_must_load_a_revocable_session_too() {
    use tower::{service_fn, Layer as _};
    let layer = SessionConfig::new(keys())
        .revocation(Arc::new(MemoryStore::new()))
        .build()
        .unwrap();
    let service = layer.layer(service_fn(|req: Request<Body>| async move {
        let session = req.extensions().get::<Session>().unwrap();
        session.insert("views", 1).unwrap();
        Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
    }));
    let res = service.oneshot(Request::new(Body::empty())).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

// ---------------------------------------------------------------------------------------
// Flash messages

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Notice {
    code: u32,
}

fn flash_app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/save",
            post(|flash: Flash| async move {
                flash.push(FlashMessage::success("Saved.")).unwrap();
                flash.push(FlashMessage::warning("Twice.")).unwrap();
                "ok"
            }),
        )
        .route(
            "/show",
            get(|flash: Flash| async move {
                flash
                    .iter()
                    .map(|m| format!("{}:{}", m.level.as_str(), m.text))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        )
        .route(
            "/notice",
            post(|s: Session| async move {
                s.flash(Notice { code: 7 }).unwrap();
                "ok"
            }),
        )
        .route(
            "/notice",
            get(|flash: Flash<Notice>| async move { format!("{:?}", flash.messages()) }),
        )
        .route(
            "/data",
            get(|s: Session| async move { Value::Object(s.data()).to_string() }),
        )
        .route(
            "/login",
            post(|s: Session| async move {
                s.insert("user", "ada").unwrap();
                "ok"
            }),
        )
        .layer(layer)
}

#[tokio::test]
async fn flash_messages_are_read_once_on_the_next_request() {
    for layer in [cookie_layer(), store_layer(Arc::new(MemoryStore::new()))] {
        let app = flash_app(layer);
        let mut jar = Jar::default();
        send(&app, Method::POST, "/login", &mut jar, &[], None).await;
        send(&app, Method::POST, "/save", &mut jar, &[], None).await;
        assert_eq!(
            get_(&app, "/show", &mut jar).await.1,
            "success:Saved.,warning:Twice."
        );
        // Read once: gone, and the session's other keys are kept.
        assert_eq!(get_(&app, "/show", &mut jar).await.1, "");
        assert_eq!(get_(&app, "/data", &mut jar).await.1, r#"{"user":"ada"}"#);

        // Typed: any serde type.
        send(&app, Method::POST, "/notice", &mut jar, &[], None).await;
        assert_eq!(
            get_(&app, "/notice", &mut jar).await.1,
            "[Notice { code: 7 }]"
        );
        assert_eq!(get_(&app, "/notice", &mut jar).await.1, "[]");
    }
}

#[tokio::test]
async fn a_page_without_flash_messages_writes_nothing() {
    let app = flash_app(cookie_layer());
    let res = app
        .oneshot(Request::get("/show").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(res.headers().get("set-cookie").is_none());
}

#[test]
fn flash_messages_serialize_plainly() {
    let m = FlashMessage::new(Level::Error, "No.");
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"level": "error", "text": "No."})
    );
}

// ---------------------------------------------------------------------------------------
// CSRF

#[derive(serde::Deserialize)]
struct Rename {
    name: String,
}

fn csrf_app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/token", get(|s: Session| async move { s.csrf_token() }))
        .route(
            "/api",
            any(|method: Method, s: CsrfGuard| async move {
                if method == Method::GET {
                    return "read";
                }
                s.insert("changed", true).unwrap();
                "changed"
            }),
        )
        .route(
            "/form",
            post(|CsrfForm(s, form): CsrfForm<Rename>| async move {
                s.insert("name", &form.name).unwrap();
                form.name
            }),
        )
        .route(
            "/login",
            post(|s: CsrfGuard| async move {
                s.regenerate();
                s.insert("user", "ada").unwrap();
                "ok"
            }),
        )
        .route(
            "/data",
            get(|s: Session| async move { Value::Object(s.data()).to_string() }),
        )
        .layer(layer)
}

#[tokio::test]
async fn unsafe_requests_need_the_sessions_csrf_token() {
    for layer in [cookie_layer(), store_layer(Arc::new(MemoryStore::new()))] {
        let app = csrf_app(layer);
        let mut jar = Jar::default();

        // No session, no token: refused.
        let (status, body) = send(&app, Method::POST, "/api", &mut jar, &[], None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("CSRF"), "{body}");

        let token = get_(&app, "/token", &mut jar).await.1;
        assert_eq!(token.len(), 43);
        assert_eq!(get_(&app, "/token", &mut jar).await.1, token, "stable");

        // Safe methods pass without it.
        assert_eq!(get_(&app, "/api", &mut jar).await.0, StatusCode::OK);
        // Missing, wrong, or one character off: 403, and nothing is changed.
        // The last character changed (to one it is not: a fixed `A` would be the token itself
        // one time in 64).
        let last = if token.ends_with('A') { 'B' } else { 'A' };
        let wrong = format!("{}{last}", &token[..42]);
        assert_ne!(wrong, token);
        for headers in [
            vec![],
            vec![(CSRF_HEADER, "nope")],
            vec![(CSRF_HEADER, wrong.as_str())],
        ] {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let (status, _) =
                    send(&app, method.clone(), "/api", &mut jar, &headers, None).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {headers:?}");
            }
        }
        assert!(!get_(&app, "/data", &mut jar).await.1.contains("changed"));

        let ok = [(CSRF_HEADER, token.as_str())];
        assert_eq!(
            send(&app, Method::POST, "/api", &mut jar, &ok, None).await,
            (StatusCode::OK, "changed".to_owned())
        );

        // A form carries it in a field.
        let form = format!("name=Ada+L&{CSRF_FIELD}={token}");
        assert_eq!(
            send(&app, Method::POST, "/form", &mut jar, &[], Some(&form)).await,
            (StatusCode::OK, "Ada L".to_owned())
        );
        let (status, _) = send(
            &app,
            Method::POST,
            "/form",
            &mut jar,
            &[],
            Some("name=x&csrf_token=bad"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = send(&app, Method::POST, "/form", &mut jar, &[], Some("name=x")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The right token but not the expected fields: 422.
        let (status, _) = send(
            &app,
            Method::POST,
            "/form",
            &mut jar,
            &[],
            Some(&format!("csrf_token={token}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // Login regenerates the session, and with it the token: the old one is refused.
        assert_eq!(
            send(&app, Method::POST, "/login", &mut jar, &ok, None)
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, Method::POST, "/api", &mut jar, &ok, None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let fresh = get_(&app, "/token", &mut jar).await.1;
        assert_ne!(fresh, token);
        let ok = [(CSRF_HEADER, fresh.as_str())];
        assert_eq!(
            send(&app, Method::POST, "/api", &mut jar, &ok, None)
                .await
                .0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn another_sessions_token_is_refused() {
    let app = csrf_app(cookie_layer());
    let (mut alice, mut mallory) = (Jar::default(), Jar::default());
    let _ = get_(&app, "/token", &mut alice).await.1;
    let theirs = get_(&app, "/token", &mut mallory).await.1;
    let headers = [(CSRF_HEADER, theirs.as_str())];
    assert_eq!(
        send(&app, Method::POST, "/api", &mut alice, &headers, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

// ---------------------------------------------------------------------------------------
// The `testing` module

async fn add_to_cart(session: Session) -> &'static str {
    let mut cart: Vec<String> = session.get("cart").unwrap_or_default();
    cart.push("apple".into());
    session.insert("cart", cart).unwrap();
    "added"
}

#[tokio::test]
async fn test_sessions_drive_a_handler_in_every_mode() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    for layer in [cookie_layer(), store_layer(store.clone())] {
        let app = Router::new()
            .route("/cart", post(add_to_cart))
            .layer(layer.clone());
        let mut session = TestSession::new(layer);
        assert!(session.data().await.unwrap().is_empty());
        session
            .set(json!({"user": "ada", "cart": ["pear"]}))
            .await
            .unwrap();

        let mut request = Request::post("/cart").body(Body::empty()).unwrap();
        session.apply(&mut request);
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        session.absorb(&response);

        let data = session.data().await.unwrap();
        assert_eq!(
            Value::Object(data),
            json!({"user": "ada", "cart": ["pear", "apple"]})
        );
        assert!(session.cookie_header().is_some());
        assert!(matches!(
            session.set(json!([1])).await,
            Err(SessionError::Serialize(_))
        ));
    }
}

#[tokio::test]
async fn test_sessions_follow_a_destroyed_session() {
    let layer = cookie_layer();
    let app = Router::new()
        .route(
            "/logout",
            post(|s: Session| async move {
                s.destroy();
                "bye"
            }),
        )
        .layer(layer.clone());
    let mut session = TestSession::new(layer);
    session.set(json!({"user": "ada"})).await.unwrap();
    let mut request = Request::post("/logout").body(Body::empty()).unwrap();
    session.apply(&mut request);
    session.absorb(&app.oneshot(request).await.unwrap());
    assert!(session.cookie_header().is_none());
    assert!(session.data().await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Options a format or mode would silently ignore

#[test]
fn options_the_format_would_ignore_are_refused() {
    let express = || {
        SessionConfig::new(KeyRing::new(["an express secret"]).unwrap())
            .format(Format::Express(SigAlgorithm::Sha1))
    };
    let unsupported = |config: SessionConfig| match config.build() {
        Err(ConfigError::Unsupported { option, .. }) => option,
        other => panic!("expected Unsupported, got {other:?}"),
    };
    assert_eq!(
        unsupported(express().revocation(Arc::new(MemoryStore::new()))),
        "revocation"
    );
    assert_eq!(
        unsupported(express().absolute_lifetime(Some(Duration::from_secs(60)))),
        "absolute_lifetime"
    );
    assert_eq!(unsupported(express().compress(true)), "compress");
    assert_eq!(
        unsupported(express().cipher(Cipher::XChaCha20Poly1305)),
        "cipher"
    );
    assert_eq!(
        unsupported(
            SessionConfig::new(keys())
                .format(Format::Signed)
                .cipher(Cipher::Xaes256Gcm)
        ),
        "cipher"
    );
    #[cfg(feature = "jwt")]
    assert_eq!(
        unsupported(
            SessionConfig::new(keys())
                .format(Format::Jwt)
                .compress(true)
        ),
        "compress"
    );
    // The same options with a native format are honoured.
    SessionConfig::new(keys())
        .revocation(Arc::new(MemoryStore::new()))
        .absolute_lifetime(Some(Duration::from_secs(60)))
        .compress(true)
        .cipher(Cipher::Xaes256Gcm)
        .build()
        .unwrap();
    // Cipher::Auto is the default, so it is accepted with every format.
    express().cipher(Cipher::Auto).build().unwrap();
    // What they are refused with says what to change.
    let message = express().compress(true).build().unwrap_err().to_string();
    assert_eq!(message, "compress has no effect with the express format");
}

/// `SessionConfig::cipher` picks the version the layer writes, and the layer reads both.
#[test]
fn the_cipher_picks_the_encrypted_version_written() {
    let layer = |cipher| SessionConfig::new(keys()).cipher(cipher).build().unwrap();
    let data = serde_json::json!({"user": 7}).as_object().cloned().unwrap();
    let mut cookies = Vec::new();
    for cipher in [Cipher::XChaCha20Poly1305, Cipher::Xaes256Gcm] {
        let headers = layer(cipher).encode(data.clone()).unwrap();
        let cookie = headers[0].split(';').next().unwrap().to_owned();
        let value = cookie.split_once('=').unwrap().1;
        assert_eq!(encrypted::inspect(value).unwrap().cipher, cipher);
        cookies.push(cookie);
    }
    for cipher in [Cipher::Auto, Cipher::XChaCha20Poly1305, Cipher::Xaes256Gcm] {
        let layer = layer(cipher);
        for cookie in &cookies {
            assert_eq!(layer.decode([cookie.as_str()]).unwrap().data, data);
        }
    }
}

#[test]
fn the_clock_skew_is_bounded() {
    let skew = |secs| {
        SessionConfig::new(keys())
            .clock_skew(Duration::from_secs(secs))
            .build()
    };
    assert!(skew(0).is_ok());
    assert!(skew(cookie_session::MAX_CLOCK_SKEW.as_secs()).is_ok());
    assert_eq!(
        skew(cookie_session::MAX_CLOCK_SKEW.as_secs() + 1).unwrap_err(),
        ConfigError::ClockSkew(Duration::from_secs(301))
    );
    assert!(matches!(
        skew(u64::MAX).unwrap_err(),
        ConfigError::ClockSkew(_)
    ));
}
