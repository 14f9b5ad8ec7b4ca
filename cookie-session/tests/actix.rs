//! The actix-web middleware (feature `actix`) against the tower layer it mirrors:
//!
//! - the recorded Express vectors replayed through it (tests/support/express_replay.rs, the
//!   same expectations as tests/express_layer.rs: byte-identical `Set-Cookie`);
//! - the same request sequences through both adapters, over every format and the features
//!   that change a response (rotation, rolling, a store, `destroy`, per-request lifetimes,
//!   the size limit, proxies), answering the same status, `Set-Cookie`, `Vary` and body;
//! - the tamper matrix: every one-character substitution and every truncation of a valid
//!   cookie is a fresh empty session, never an error, and is counted;
//! - the extractors (typed values, flash messages, the CSRF guard and form) and a store
//!   outage (503, or an anonymous session) against a real redis-server.
//!
//! The store conformance suite runs through the middleware too (tests/store_conformance.rs,
//! the `actix_*` modules).
#![cfg(feature = "actix")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/express_replay.rs"]
mod express_replay;
#[path = "support/reuse.rs"]
mod reuse;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use axum::body::Body;
use axum::Router;
use cookie_session::actix::SessionMiddleware;
use cookie_session::extract::{CsrfForm, CsrfGuard, Flash, SessionValue, Typed};
use cookie_session::flash::FlashMessage;
use cookie_session::format::{Format, SigAlgorithm};
use cookie_session::store::MemoryStore;
use cookie_session::{KeyRing, Rejection, Session, SessionConfig, SessionLayer};
use express_replay::{replay_all, run, Act, Answer, Replay};
use tower::ServiceExt;

const OLD: &str = "the-old-secret-of-at-least-thirty-two-bytes";
const NEW: &str = "the-new-secret-of-at-least-thirty-two-bytes";
/// 2024-01-15 12:00:00 UTC: every layer here runs on this clock, so that deterministic
/// formats give byte-identical cookies.
const NOW: u64 = 1_705_320_000;

/// Runs an actix-web test on an actix system of its own (no macros feature needed).
fn block_on<F: Future>(future: F) -> F::Output {
    actix_web::rt::System::new().block_on(future)
}

/// What a response carried, in the terms both adapters are compared in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: u16,
    set_cookies: Vec<String>,
    vary: Vec<String>,
    body: String,
}

async fn actix_send<S, B>(app: &S, uri: &str, headers: &[(&str, &str)]) -> Seen
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::get().uri(uri);
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let res = test::call_service(app, req.to_request()).await;
    let all = |name: &str| {
        res.headers()
            .get_all(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (status, set_cookies, vary) = (res.status().as_u16(), all("set-cookie"), all("vary"));
    let body = test::read_body(res).await;
    Seen {
        status,
        set_cookies,
        vary,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn tower_send(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Seen {
    let mut req = http::Request::builder().uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let all = |name: &str| {
        res.headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (status, set_cookies, vary) = (res.status().as_u16(), all("set-cookie"), all("vary"));
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    Seen {
        status,
        set_cookies,
        vary,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn as_refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// The `Cookie` header a browser would send after a response (the session cookies it set,
/// removals dropped), or the previous one when the response set nothing.
fn next_jar(previous: &str, seen: &Seen) -> String {
    if seen.set_cookies.is_empty() {
        return previous.to_owned();
    }
    seen.set_cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .filter(|pair| {
            pair.split_once('=')
                .is_some_and(|(_, value)| !value.is_empty())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The handlers of the comparison, one per name, as plain functions of the session: each
/// adapter routes `/op/{name}` to it. Returns the body, or `None` for an unknown name.
fn op(name: &str, s: &Session) -> String {
    match name {
        "untouched" => "plain".to_owned(),
        "visit" => {
            let views = s.get::<u64>("views").unwrap_or(0) + 1;
            s.insert("views", views).unwrap();
            format!("views={views}")
        }
        "read" => format!("views={}", s.get::<u64>("views").unwrap_or(0)),
        "clear" => {
            s.clear();
            "cleared".to_owned()
        }
        "destroy" => {
            s.destroy();
            "destroyed".to_owned()
        }
        "regenerate" => {
            s.regenerate();
            "regenerated".to_owned()
        }
        "remember" => {
            s.set_max_age(Some(Duration::from_secs(86_400)));
            s.insert("remember", true).unwrap();
            "remembered".to_owned()
        }
        // Larger than any cookie: the response must fail loudly (500).
        "big" => {
            let noise: String = (0..6000u32)
                .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
                .collect();
            s.insert("big", noise).unwrap();
            "big".to_owned()
        }
        "data" => serde_json::to_string(&s.data()).unwrap(),
        other => panic!("no op {other}"),
    }
}

/// The same app for both adapters: `/op/{name}` and `/vary/{name}` (the handler's response
/// already says `Vary: Accept, Cookie`).
fn tower_app(layer: SessionLayer) -> Router {
    use axum::extract::Path;
    use axum::routing::get;
    Router::new()
        .route(
            "/op/{name}",
            get(|s: Session, Path(name): Path<String>| async move { op(&name, &s) }),
        )
        .route(
            "/vary/{name}",
            get(|s: Session, Path(name): Path<String>| async move {
                ([("vary", "Accept, Cookie")], op(&name, &s))
            }),
        )
        .layer(layer)
}

fn actix_app(
    layer: SessionLayer,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(SessionMiddleware::new(layer))
        .route(
            "/op/{name}",
            web::get().to(|s: Session, name: web::Path<String>| async move { op(&name, &s) }),
        )
        .route(
            "/vary/{name}",
            web::get().to(|s: Session, name: web::Path<String>| async move {
                HttpResponse::Ok()
                    .insert_header(("vary", "Accept, Cookie"))
                    .body(op(&name, &s))
            }),
        )
}

fn config(format: Format, keys: &[&str]) -> SessionConfig {
    SessionConfig::new(KeyRing::new(keys).unwrap())
        .format(format)
        .clock(|| SystemTime::UNIX_EPOCH + Duration::from_secs(NOW))
}

/// A step: the route, extra request headers, and what `Cookie` to send.
#[derive(Clone, Copy)]
enum Send {
    /// The cookies the previous responses left.
    Jar,
    /// No cookie.
    None,
    /// This `Cookie` header.
    Given(&'static str),
    /// The jar with one character of the first cookie's value changed.
    Tampered,
}

/// A request of a sequence: the route, extra request headers, and which cookie to send.
type Step = (&'static str, &'static [(&'static str, &'static str)], Send);

fn tamper(jar: &str) -> String {
    let (name, value) = jar.split_once('=').unwrap();
    let value = value.split(';').next().unwrap();
    let mid = value.len() / 2;
    let c = value.as_bytes()[mid];
    let swapped = if c == b'A' { 'B' } else { 'A' };
    format!("{name}={}{swapped}{}", &value[..mid], &value[mid + 1..])
}

/// Runs `steps` through both adapters, each built by `make` (a fresh layer each, so stores
/// and counters are not shared), and compares every answer. With a deterministic format the
/// `Set-Cookie` values must be byte-identical; otherwise (random nonces or ids) their
/// attributes must be, and the next request reads the same data.
fn compare(
    label: &str,
    make: impl Fn() -> SessionConfig,
    deterministic: bool,
    steps: &[Step],
) -> Vec<Seen> {
    let tower = tower_app(make().build().unwrap());
    let actix_layer = make().build().unwrap();
    block_on(async {
        let actix = test::init_service(actix_app(actix_layer)).await;
        let mut answers = Vec::new();
        let (mut tower_jar, mut actix_jar) = (String::new(), String::new());
        for (i, (uri, extra, send)) in steps.iter().enumerate() {
            let cookies = |jar: &str| match send {
                Send::Jar => Some(jar.to_owned()),
                Send::None => None,
                Send::Given(c) => Some((*c).to_owned()),
                Send::Tampered => Some(tamper(jar)),
            };
            let request = |jar: &str| {
                let mut headers: Vec<(String, String)> = extra
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect();
                if let Some(c) = cookies(jar).filter(|c| !c.is_empty()) {
                    headers.push(("cookie".to_owned(), c));
                }
                headers
            };
            let (t_headers, a_headers) = (request(&tower_jar), request(&actix_jar));
            let t = tower_send(&tower, uri, &as_refs(&t_headers)).await;
            let a = actix_send(&actix, uri, &as_refs(&a_headers)).await;
            let what = format!("{label}, step {i} ({uri})");
            assert_eq!(a.status, t.status, "{what}");
            assert_eq!(a.vary, t.vary, "{what}");
            assert_eq!(a.body, t.body, "{what}");
            if deterministic {
                assert_eq!(a.set_cookies, t.set_cookies, "{what}");
            } else {
                let attributes = |s: &Seen| {
                    s.set_cookies
                        .iter()
                        .map(|c| {
                            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
                            let name = pair.split('=').next().unwrap().to_owned();
                            (name, pair.ends_with('='), attrs.to_owned())
                        })
                        .collect::<Vec<_>>()
                };
                assert_eq!(attributes(&a), attributes(&t), "{what}");
            }
            tower_jar = next_jar(&tower_jar, &t);
            actix_jar = next_jar(&actix_jar, &a);
            answers.push(a);
        }
        answers
    })
}

/// A cookie sealed under the old key alone, holding `{"views": 3}` (deterministic formats).
fn old_key_cookie(format: Format) -> &'static str {
    let layer = config(format, &[OLD]).build().unwrap();
    let data = serde_json::json!({"views": 3})
        .as_object()
        .cloned()
        .unwrap();
    let jar = layer
        .encode(data)
        .unwrap()
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    Box::leak(jar.into_boxed_str())
}

const JOURNEY: &[Step] = &[
    ("/op/untouched", &[], Send::None),
    ("/op/read", &[], Send::None),
    ("/op/visit", &[], Send::None),
    ("/op/visit", &[], Send::Jar),
    ("/op/read", &[], Send::Jar),
    ("/op/untouched", &[], Send::Jar),
    ("/vary/read", &[], Send::Jar),
    ("/op/read", &[], Send::Tampered),
    ("/op/visit", &[], Send::Tampered),
    ("/op/remember", &[], Send::Jar),
    ("/op/data", &[], Send::Jar),
    ("/op/big", &[], Send::Jar),
    ("/op/data", &[], Send::Jar),
    ("/op/regenerate", &[], Send::Jar),
    ("/op/data", &[], Send::Jar),
    ("/op/clear", &[], Send::Jar),
    ("/op/visit", &[], Send::Jar),
    ("/op/destroy", &[], Send::Jar),
    ("/op/read", &[], Send::Jar),
];

/// What the journey must show, whichever adapter: the comparison is only as good as the
/// sessions actually working.
fn check_journey(label: &str, seen: &[Seen], in_cookie: bool) {
    let bodies: Vec<&str> = seen.iter().map(|s| s.body.as_str()).collect();
    assert_eq!(bodies[3], "views=2", "{label}: {bodies:?}");
    assert_eq!(bodies[4], "views=2", "{label}: a read");
    assert!(
        seen[4].set_cookies.is_empty(),
        "{label}: a read writes nothing"
    );
    assert_eq!(
        seen[6].vary,
        ["Accept, Cookie"],
        "{label}: Vary not doubled"
    );
    assert_eq!(bodies[7], "views=0", "{label}: tampered");
    assert!(
        bodies[10].contains("\"remember\":true"),
        "{label}: {}",
        bodies[10]
    );
    if in_cookie {
        assert_eq!(seen[11].status, 500, "{label}: too large");
        assert!(seen[11].set_cookies.is_empty(), "{label}: too large");
        assert!(!bodies[12].contains("big"), "{label}: the old cookie stays");
    } else {
        assert_eq!(seen[11].status, 200, "{label}: a store keeps it");
        assert!(bodies[12].contains("big"), "{label}: a store keeps it");
    }
    assert!(
        bodies[14].contains("\"remember\":true"),
        "{label}: regenerate keeps data"
    );
    let cleared = seen[17]
        .set_cookies
        .first()
        .map(|c| c.split(';').next().unwrap());
    assert!(
        cleared.is_some_and(|c| c.ends_with('=')),
        "{label}: destroy clears"
    );
    assert_eq!(bodies[18], "views=0", "{label}: destroyed");
}

#[test]
fn both_adapters_answer_alike_in_every_format() {
    for (label, format) in [
        ("signed", Format::Signed),
        ("express", Format::Express(SigAlgorithm::Sha1)),
    ] {
        let seen = compare(label, || config(format, &[NEW]), true, JOURNEY);
        check_journey(label, &seen, true);
    }
    let seen = compare(
        "encrypted",
        || config(Format::Encrypted, &[NEW]),
        false,
        JOURNEY,
    );
    check_journey("encrypted", &seen, true);
}

#[test]
fn both_adapters_answer_alike_with_every_attribute_rotation_rolling_and_proxies() {
    let attributed = |format| {
        config(format, &[NEW, OLD])
            .name("__Secure-app")
            .domain(Some("example.com".into()))
            .path("/")
            .secure(true)
            .max_age(Some(Duration::from_secs(3600)))
            .partitioned(true)
    };
    for format in [Format::Signed, Format::Express(SigAlgorithm::Sha256)] {
        let old = config(format, &[OLD])
            .name("__Secure-app")
            .secure(true)
            .build()
            .unwrap();
        let data = serde_json::json!({"views": 3})
            .as_object()
            .cloned()
            .unwrap();
        let jar: &'static str = Box::leak(
            old.encode(data)
                .unwrap()
                .iter()
                .map(|c| c.split(';').next().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join("; ")
                .into_boxed_str(),
        );
        // Read-only under the old key: re-issued under the new one, every attribute kept.
        let seen = compare(
            "rotation",
            || attributed(format),
            true,
            &[
                ("/op/read", &[], Send::Given(jar)),
                ("/op/read", &[], Send::Jar),
                ("/op/visit", &[], Send::Jar),
            ],
        );
        assert_eq!(seen[0].body, "views=3");
        assert!(!seen[0].set_cookies.is_empty(), "re-issued");
        for cookie in &seen[0].set_cookies {
            let cookie = cookie.to_ascii_lowercase();
            for attribute in [
                "domain=example.com",
                "path=/",
                "secure",
                "partitioned",
                "httponly",
            ] {
                assert!(cookie.contains(attribute), "{attribute}: {cookie}");
            }
        }
        assert!(seen[1].set_cookies.is_empty(), "once re-issued, not again");
    }
    let signed_old = old_key_cookie(Format::Signed);
    let seen = compare(
        "rolling",
        || config(Format::Signed, &[NEW, OLD]).rolling(true),
        true,
        &[
            ("/op/untouched", &[], Send::Given(signed_old)),
            ("/op/untouched", &[], Send::Jar),
            ("/op/read", &[], Send::Jar),
        ],
    );
    assert!(
        seen.iter().all(|s| !s.set_cookies.is_empty()),
        "rolling re-issues"
    );
    assert_eq!(seen[2].body, "views=3");
    let https = &[("x-forwarded-proto", "https")][..];
    for trust in [false, true] {
        let seen = compare(
            "proxy",
            || config(Format::Signed, &[NEW]).trust_proxy(trust),
            true,
            &[
                ("/op/visit", https, Send::None),
                ("/op/visit", https, Send::Jar),
            ],
        );
        let secure = seen[0].set_cookies[0]
            .to_ascii_lowercase()
            .contains("; secure");
        assert_eq!(secure, trust, "{:?}", seen[0].set_cookies);
    }
}

#[test]
fn both_adapters_answer_alike_with_a_store() {
    let seen = compare(
        "memory store",
        || config(Format::Encrypted, &[NEW]).store(MemoryStore::new()),
        false,
        JOURNEY,
    );
    check_journey("memory store", &seen, false);
    let seen = compare(
        "revocation",
        || config(Format::Signed, &[NEW]).revocation(Arc::new(MemoryStore::new())),
        true,
        JOURNEY,
    );
    check_journey("revocation", &seen, true);
}

/// Every one-character substitution and every truncation of a valid cookie, in every format:
/// a fresh empty session (200, `views=0`), nothing written on a read, and each one counted
/// under its reason — never an error, never the old session.
#[test]
fn the_tamper_matrix_through_the_middleware() {
    for format in [
        Format::Encrypted,
        Format::Signed,
        Format::Express(SigAlgorithm::Sha1),
    ] {
        let layer = config(format, &[NEW]).build().unwrap();
        let middleware = SessionMiddleware::new(layer.clone());
        block_on(async {
            let app = test::init_service(actix_app(layer)).await;
            let fresh = actix_send(&app, "/op/visit", &[]).await;
            let jar = next_jar("", &fresh);
            let ok = actix_send(&app, "/op/read", &[("cookie", &jar)]).await;
            assert_eq!(ok.body, "views=1", "{format:?} {fresh:?} {jar}");
            // The session value, and for the Express format its `.sig` too.
            let mut variants = Vec::new();
            let pairs: Vec<&str> = jar.split("; ").collect();
            for (p, pair) in pairs.iter().enumerate() {
                let (name, value) = pair.split_once('=').unwrap();
                let with = |changed: String| {
                    let mut all = pairs.clone();
                    let replaced = format!("{name}={changed}");
                    all[p] = &replaced;
                    all.join("; ")
                };
                for i in 0..value.len() {
                    let c = value.as_bytes()[i];
                    let other = if c == b'x' { 'y' } else { 'x' };
                    variants.push(with(format!("{}{other}{}", &value[..i], &value[i + 1..])));
                    variants.push(with(value[..i].to_owned()));
                }
            }
            let before = middleware.metrics();
            for cookie in &variants {
                let seen = actix_send(&app, "/op/read", &[("cookie", cookie)]).await;
                assert_eq!(seen.status, 200, "{format:?} {cookie}");
                assert_eq!(seen.body, "views=0", "{format:?} {cookie}");
                assert!(seen.set_cookies.is_empty(), "{format:?} {cookie}");
                assert_eq!(seen.vary, ["cookie"], "{format:?} {cookie}");
            }
            let after = middleware.metrics();
            let refused: u64 = Rejection::ALL
                .iter()
                .map(|r| after.count(*r) - before.count(*r))
                .sum();
            // An empty session value is "missing", which is not counted as a refusal (one
            // variant: the truncation to nothing).
            assert_eq!(refused as usize, variants.len() - 1, "{format:?}");
            assert!(variants.len() > 80, "{format:?}: {}", variants.len());
        });
    }
}

#[test]
fn express_vectors_through_the_middleware() {
    block_on(async {
        let compared = replay_all(|replay: Replay| async move {
            let Replay {
                layer,
                act,
                path,
                tls,
                headers,
            } = replay;
            let app = test::init_service(
                App::new()
                    .wrap(SessionMiddleware::new(layer))
                    .route(
                        "/",
                        web::get().to(move |s: Session| {
                            let act = act.clone();
                            async move {
                                run(&act, &s);
                                let mut res = HttpResponse::Ok();
                                if matches!(act, Act::OtherCookieThen(_)) {
                                    res.append_header(("set-cookie", "other=1; Path=/"));
                                }
                                res.finish()
                            }
                        }),
                    )
                    .route("/untouched", web::get().to(HttpResponse::Ok)),
            )
            .await;
            let uri = if tls {
                format!("https://127.0.0.1{path}")
            } else {
                path.to_owned()
            };
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let seen = actix_send(&app, &uri, &headers).await;
            Answer {
                status: seen.status,
                set_cookies: seen.set_cookies,
            }
        })
        .await;
        assert!(compared > 40, "{compared}");
    });
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Cart {
    items: Vec<String>,
}

impl SessionValue for Cart {
    const KEY: &'static str = "cart";
}

#[derive(serde::Deserialize)]
struct Rename {
    name: String,
}

#[test]
fn the_extractors_work_in_actix_web() {
    let layer = config(Format::Signed, &[NEW]).build().unwrap();
    block_on(async {
        let app = test::init_service(
            App::new()
                .wrap(SessionMiddleware::new(layer))
                .route(
                    "/cart/{item}",
                    web::get().to(
                        |mut cart: Typed<Cart>, item: web::Path<String>| async move {
                            cart.items.push(item.into_inner());
                            cart.items.join(",")
                        },
                    ),
                )
                .route(
                    "/cart",
                    web::get().to(|cart: Typed<Cart>| async move { cart.items.join(",") }),
                )
                .route(
                    "/flash",
                    web::post().to(|flash: Flash| async move {
                        flash.push(FlashMessage::success("Saved.")).unwrap();
                        "ok"
                    }),
                )
                .route(
                    "/flash",
                    web::get().to(|flash: Flash| async move {
                        flash
                            .iter()
                            .map(|m| m.text.clone())
                            .collect::<Vec<_>>()
                            .join(",")
                    }),
                )
                .route(
                    "/token",
                    web::get().to(|s: Session| async move { s.csrf_token() }),
                )
                .route(
                    "/guarded",
                    web::post().to(|s: CsrfGuard| async move {
                        s.insert("done", true).unwrap();
                        "done"
                    }),
                )
                .route(
                    "/form",
                    web::post().to(|CsrfForm(s, form): CsrfForm<Rename>| async move {
                        s.insert("name", &form.name).unwrap();
                        format!("renamed to {}", form.name)
                    }),
                ),
        )
        .await;

        let send = |req: test::TestRequest, jar: &str| {
            let req = if jar.is_empty() {
                req
            } else {
                req.insert_header(("cookie", jar.to_owned()))
            };
            req.to_request()
        };
        let text = |res: ServiceResponse<_>| async move {
            let status = res.status();
            let body = test::read_body(res).await;
            (status, String::from_utf8(body.to_vec()).unwrap())
        };
        let jar_of = |res: &ServiceResponse<_>, old: &str| {
            let cookies: Vec<String> = res
                .headers()
                .get_all("set-cookie")
                .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
                .collect();
            if cookies.is_empty() {
                old.to_owned()
            } else {
                cookies.join("; ")
            }
        };

        // Typed: a change is written back under its key; a read writes nothing.
        let res =
            test::call_service(&app, send(test::TestRequest::get().uri("/cart/apple"), "")).await;
        let jar = jar_of(&res, "");
        assert_eq!(text(res).await, (StatusCode::OK, "apple".to_owned()));
        let res =
            test::call_service(&app, send(test::TestRequest::get().uri("/cart/pear"), &jar)).await;
        let jar = jar_of(&res, &jar);
        assert_eq!(text(res).await.1, "apple,pear");
        let res = test::call_service(&app, send(test::TestRequest::get().uri("/cart"), &jar)).await;
        assert!(res.headers().get("set-cookie").is_none());
        assert_eq!(text(res).await.1, "apple,pear");

        // Flash: left by one request, shown once by the next.
        let res =
            test::call_service(&app, send(test::TestRequest::post().uri("/flash"), &jar)).await;
        let jar = jar_of(&res, &jar);
        let res =
            test::call_service(&app, send(test::TestRequest::get().uri("/flash"), &jar)).await;
        let jar = jar_of(&res, &jar);
        assert_eq!(text(res).await.1, "Saved.");
        let res =
            test::call_service(&app, send(test::TestRequest::get().uri("/flash"), &jar)).await;
        assert_eq!(text(res).await.1, "");

        // CSRF: refused without the token or with a wrong one; accepted with it.
        let res =
            test::call_service(&app, send(test::TestRequest::get().uri("/token"), &jar)).await;
        let jar = jar_of(&res, &jar);
        let token = text(res).await.1;
        let res =
            test::call_service(&app, send(test::TestRequest::post().uri("/guarded"), &jar)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let wrong = if token.starts_with('A') { "B" } else { "A" }.to_owned() + &token[1..];
        let res = test::call_service(
            &app,
            send(
                test::TestRequest::post()
                    .uri("/guarded")
                    .insert_header(("x-csrf-token", wrong.as_str())),
                &jar,
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = test::call_service(
            &app,
            send(
                test::TestRequest::post()
                    .uri("/guarded")
                    .insert_header(("x-csrf-token", token.as_str())),
                &jar,
            ),
        )
        .await;
        assert_eq!(text(res).await, (StatusCode::OK, "done".to_owned()));

        // The form: the token in its field; a wrong one is 403, a non-form 415, a form
        // without the expected fields 422.
        let form = |body: String, content_type: &str| {
            test::TestRequest::post()
                .uri("/form")
                .insert_header(("content-type", content_type.to_owned()))
                .set_payload(body)
        };
        let urlencoded = "application/x-www-form-urlencoded";
        let res = test::call_service(
            &app,
            send(
                form(format!("csrf_token={token}&name=Ada"), urlencoded),
                &jar,
            ),
        )
        .await;
        assert_eq!(
            text(res).await,
            (StatusCode::OK, "renamed to Ada".to_owned())
        );
        let res = test::call_service(
            &app,
            send(
                form(format!("csrf_token={wrong}&name=Ada"), urlencoded),
                &jar,
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = test::call_service(
            &app,
            send(
                form(format!("csrf_token={token}&name=Ada"), "text/plain"),
                &jar,
            ),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let res = test::call_service(
            &app,
            send(form(format!("csrf_token={token}"), urlencoded), &jar),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    });
}

#[test]
fn an_app_without_the_middleware_gets_a_clear_500() {
    block_on(async {
        let app = test::init_service(App::new().route(
            "/",
            web::get().to(|s: Session| async move { op("read", &s) }),
        ))
        .await;
        let seen = actix_send(&app, "/", &[]).await;
        assert_eq!(seen.status, 500);
        assert!(seen.body.contains("SessionMiddleware"), "{}", seen.body);
    });
}

/// Cookies actix-session 0.11 wrote (tests/data/actix-session-cookies.json, recorded from
/// the bench server's `actix-signed` and `actix-private` apps) are not ours: each is a fresh
/// empty session — 200, never an error — counted as refused, and the first write replaces it
/// under the same name. docs/ACTIX.md says so to teams coming from actix-session.
#[test]
fn the_cookies_of_actix_session_are_fresh_sessions() {
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/actix-session-cookies.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let cookies: Vec<String> = ["signed", "private"]
        .iter()
        .map(|kind| recorded[kind]["cookie"].as_str().unwrap().to_owned())
        .collect();
    for format in [
        Format::Encrypted,
        Format::Signed,
        Format::Express(SigAlgorithm::Sha1),
    ] {
        let layer = config(format, &[NEW]).build().unwrap();
        let middleware = SessionMiddleware::new(layer.clone());
        block_on(async {
            let app = test::init_service(actix_app(layer)).await;
            for cookie in &cookies {
                assert!(cookie.starts_with("session="), "{cookie}");
                let before = middleware.metrics();
                let read = actix_send(&app, "/op/read", &[("cookie", cookie)]).await;
                assert_eq!((read.status, read.body.as_str()), (200, "views=0"));
                assert!(read.set_cookies.is_empty(), "{format:?}");
                let after = middleware.metrics();
                let refused: u64 = Rejection::ALL
                    .iter()
                    .map(|r| after.count(*r) - before.count(*r))
                    .sum();
                assert_eq!(refused, 1, "{format:?}: counted once");
                if !matches!(format, Format::Express(_)) {
                    assert_eq!(
                        after.count(Rejection::Malformed) - before.count(Rejection::Malformed),
                        1,
                        "{format:?}"
                    );
                }
                let visit = actix_send(&app, "/op/visit", &[("cookie", cookie)]).await;
                assert_eq!((visit.status, visit.body.as_str()), (200, "views=1"));
                assert!(
                    visit.set_cookies[0].starts_with("session="),
                    "the same name: the browser replaces the old cookie"
                );
            }
        });
    }
}

/// A store outage through the middleware, against a real redis-server this test starts and
/// stops: by default an opaque 503 with `Vary: Cookie` and no cookie (pages that never take the
/// session still work); with `OutagePolicy::Anonymous`, a 200 with an empty session that is
/// never saved.
#[cfg(feature = "redis")]
#[test]
fn a_store_outage_is_a_503_or_an_anonymous_session() {
    use cookie_session::store::{OutagePolicy, RedisStore};
    use std::process::{Command, Stdio};

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Redis's working directory, removed when the test ends, whichever way.
    let dir = tempfile::Builder::new()
        .prefix("cookie-session-actix-outage-")
        .tempdir()
        .unwrap();
    let spawned = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    /// The server, killed and reaped when the test ends, whichever way.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let Ok(server) = spawned else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "redis-server must be installed under CI"
        );
        eprintln!("skipping: no redis-server binary");
        return;
    };
    let mut server = Killed(server);
    block_on(async {
        let url = format!("redis://127.0.0.1:{port}/");
        let mut store = None;
        for _ in 0..100 {
            if let Ok(connected) = RedisStore::connect(&url).await {
                store = Some(Arc::new(connected));
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let store = store.expect("redis-server answers");
        let make = |policy| {
            config(Format::Encrypted, &[NEW])
                .shared_store(store.clone())
                .store_outage(policy)
                .build()
                .unwrap()
        };
        let failing = test::init_service(actix_app(make(OutagePolicy::Fail))).await;
        let anonymous = test::init_service(actix_app(make(OutagePolicy::Anonymous))).await;
        let first = actix_send(&failing, "/op/visit", &[]).await;
        let jar = next_jar("", &first);
        let second = actix_send(&failing, "/op/visit", &[("cookie", &jar)]).await;
        assert_eq!(second.body, "views=2");

        server.0.kill().unwrap();
        server.0.wait().unwrap();
        for uri in ["/op/read", "/op/visit"] {
            let seen = actix_send(&failing, uri, &[("cookie", &jar)]).await;
            assert_eq!(seen.status, 503, "{uri}");
            assert_eq!(seen.vary, ["cookie"], "{uri}");
            assert!(seen.set_cookies.is_empty(), "{uri}");
            assert!(!seen.body.contains("edis"), "opaque: {}", seen.body);
        }
        let seen = actix_send(&anonymous, "/op/visit", &[("cookie", &jar)]).await;
        assert_eq!((seen.status, seen.body.as_str()), (200, "views=1"));
        assert!(seen.set_cookies.is_empty(), "never saved");
        let seen = actix_send(&anonymous, "/op/read", &[("cookie", &jar)]).await;
        assert_eq!((seen.status, seen.body.as_str()), (200, "views=0"));
    });
}

/// The middleware reuses the handle of a finished request for the next one, as the tower
/// layer does (tests/layer.rs `reused_handles_start_empty_and_kept_handles_are_not_reused`,
/// the same checks in tests/support/reuse.rs): nothing of a finished request shows through,
/// and a handle the handler kept a clone of is never reused.
#[test]
fn reused_handles_start_empty_and_kept_handles_are_not_reused() {
    use std::sync::Mutex;

    for format in [
        Format::Encrypted,
        Format::Signed,
        Format::Express(SigAlgorithm::Sha1),
    ] {
        block_on(async {
            let kept: Arc<Mutex<Vec<Session>>> = Arc::default();
            let layer = config(format, &[NEW]).build().unwrap();
            let app = test::init_service(
                App::new()
                    .wrap(SessionMiddleware::new(layer.clone()))
                    .app_data(web::Data::from(kept.clone()))
                    .default_service(web::to(
                        |session: Session,
                         req: actix_web::HttpRequest,
                         kept: web::Data<Mutex<Vec<Session>>>| async move {
                            reuse::handle(session, req.path(), &kept)
                        },
                    )),
            )
            .await;

            let seen = actix_send(&app, "/override", &[("cookie", "session=forged")]).await;
            assert!(seen.body.contains("rejection=Some"), "{format:?}");
            for _ in 0..3 {
                let seen = actix_send(&app, "/plain", &[]).await;
                assert_eq!(seen.body, reuse::FRESH, "{format:?}");
                let written = reuse::written(&layer, &seen.set_cookies);
                assert_eq!(written, serde_json::json!({"n": 2}));
            }

            let mine = reuse::cookie_of(&layer, serde_json::json!({"a": 1}));
            let later = reuse::cookie_of(&layer, serde_json::json!({"n": 2}));
            for _ in 0..2 {
                actix_send(&app, "/keep", &[("cookie", &mine)]).await;
                let seen = actix_send(&app, "/plain", &[("cookie", &later)]).await;
                assert!(
                    seen.body.contains(r#"keys=["n"]"#),
                    "{format:?}: {}",
                    seen.body
                );
            }
            reuse::check_kept(&kept, &format!("{format:?}"));
        });
    }
}
