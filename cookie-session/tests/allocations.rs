//! Heap allocations per request inside the layer (docs/PERFORMANCE.md), counted with a counting
//! global allocator (`tests/support/allocations.rs`). Its own test binary: the allocator is
//! process-wide.
//!
//! Each request is driven by polling the service's future once with a no-op waker (the
//! handlers answer at once), so no executor allocates: the count is deterministic. The layer's
//! cost is the layered service's count minus the bare handler's on the same request; the bounds
//! asserted below are the measured counts, so a change that adds an allocation to the hot path
//! fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::future::{ready, Ready};

use cookie_session::format::{Format, SigAlgorithm};
use cookie_session::{KeyRing, Session, SessionConfig};
use http::{header, Request, Response};
use tower::{service_fn, Layer, Service};

#[path = "support/allocations.rs"]
mod support;
use support::{allocations, now, request, stable_count};

const SECRET: &str = "bench-secret-0123456789abcdef-0123456789abcdef";
const CSRF: &str = "0123456789abcdef0123456789abcdef";

type Reply = Ready<Result<Response<String>, Infallible>>;

/// `/visit`: read `views`, write it back incremented (`user_id` and `csrf` on a fresh session).
fn visit(req: Request<String>) -> Reply {
    let session = req.extensions().get::<Session>().expect("the layer");
    let views = session.get::<u64>("views").unwrap_or(0) + 1;
    session.insert("views", views).expect("JSON");
    if !session.contains_key("user_id") {
        session.insert("user_id", 42u64).expect("JSON");
        session.insert("csrf", CSRF).expect("JSON");
    }
    ready(Ok(Response::new(format!("views={views}"))))
}

/// `/read`: only reads `views`.
fn read(req: Request<String>) -> Reply {
    let session = req.extensions().get::<Session>().expect("the layer");
    let views = session.get::<u64>("views").unwrap_or(0);
    ready(Ok(Response::new(format!("views={views}"))))
}

/// `/plain`: never touches the session.
fn plain(_req: Request<String>) -> Reply {
    ready(Ok(Response::new(format!("views={}", 1))))
}

/// The bare route: the same answer, no layer.
fn bare(_req: Request<String>) -> Reply {
    ready(Ok(Response::new(format!("views={}", 1))))
}

/// Allocations (new blocks plus reallocations) made while `service` answers one request
/// carrying `cookie`, including dropping the response, by the sampling rule of
/// `support::stable_count`.
fn count<S>(service: &mut S, cookie: &str) -> usize
where
    S: Service<Request<String>, Response = Response<String>, Error = Infallible>,
{
    let measure = || {
        let req = request(cookie);
        allocations(|| drop(now(service.call(req)).unwrap()))
    };
    // Warm-up: per-thread state (the nonce generator) is set up on first use.
    stable_count(measure, 3)
}

/// The `Cookie` header a browser sends after one `/visit` (`views`=1, `user_id`, `csrf`).
fn cookie_after_visit(format: Format) -> String {
    let layer = SessionConfig::new(KeyRing::new([SECRET]).unwrap())
        .format(format)
        .build()
        .unwrap();
    let mut service = layer.layer(service_fn(visit));
    let response = now(service.call(request(""))).unwrap();
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Extra allocations of the layered `route` over the bare route, for one request.
fn layer_cost(format: Format, route: fn(Request<String>) -> Reply) -> usize {
    let cookie = cookie_after_visit(format);
    let layer = SessionConfig::new(KeyRing::new([SECRET]).unwrap())
        .format(format)
        .build()
        .unwrap();
    let mut layered = layer.layer(service_fn(route));
    let mut bare = service_fn(bare);
    let with_layer = count(&mut layered, &cookie);
    let without = count(&mut bare, &cookie);
    with_layer - without
}

#[test]
fn allocations_per_request_inside_the_layer() {
    let formats = [
        ("encrypted", Format::Encrypted),
        ("signed", Format::Signed),
        ("express", Format::Express(SigAlgorithm::Sha1)),
    ];
    // Upper bounds = the counts measured when this test was written (docs/PERFORMANCE.md). Lower them
    // when the hot path improves; a rise means a new allocation per request.
    // (format, /visit, /read, /plain)
    let bounds = [
        ("encrypted", 6, 5, 3),
        ("signed", 6, 5, 3),
        ("express", 21, 16, 3),
    ];
    let mut report = Vec::new();
    for ((name, format), (_, visit_max, read_max, plain_max)) in formats.into_iter().zip(bounds) {
        let visit_count = layer_cost(format, visit);
        let read_count = layer_cost(format, read);
        let plain_count = layer_cost(format, plain);
        report.push(format!(
            "{name}: /visit {visit_count}, /read {read_count}, /plain {plain_count}"
        ));
        assert!(
            visit_count <= visit_max,
            "{name} /visit: {visit_count} allocations"
        );
        assert!(
            read_count <= read_max,
            "{name} /read: {read_count} allocations"
        );
        assert!(
            plain_count <= plain_max,
            "{name} /plain: {plain_count} allocations"
        );
    }
    println!(
        "allocations per request inside the layer: {}",
        report.join("; ")
    );
    #[cfg(feature = "actix")]
    actix::allocations_per_request_inside_the_actix_middleware();
}

/// The same count for the actix-web middleware: an app with the middleware and the session
/// extractor, minus the same app without them, on the same request. The actix-web app's own
/// routing and response allocations cancel out; what remains is the middleware (its boxed
/// future, the `Cookie` values copied into the `http` 1 types the session keeps) and the
/// extractor (its boxed future) on top of the session's own work.
#[cfg(feature = "actix")]
mod actix {
    use actix_web::dev::{Service, ServiceResponse};
    use actix_web::{test, web, App};
    use cookie_session::actix::SessionMiddleware;

    use super::*;

    async fn visit(session: Session) -> String {
        let views = session.get::<u64>("views").unwrap_or(0) + 1;
        session.insert("views", views).expect("JSON");
        if !session.contains_key("user_id") {
            session.insert("user_id", 42u64).expect("JSON");
            session.insert("csrf", CSRF).expect("JSON");
        }
        format!("views={views}")
    }

    async fn read(session: Session) -> String {
        format!("views={}", session.get::<u64>("views").unwrap_or(0))
    }

    async fn plain() -> String {
        format!("views={}", 1)
    }

    fn request(uri: &str, cookie: &str) -> actix_http::Request {
        let mut req = test::TestRequest::get().uri(uri);
        if !cookie.is_empty() {
            req = req.insert_header(("cookie", cookie));
        }
        req.to_request()
    }

    fn count<S, B>(app: &S, uri: &str, cookie: &str) -> usize
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    {
        let measure = || {
            let req = request(uri, cookie);
            allocations(|| drop(now(app.call(req)).unwrap()))
        };
        // Warm-up: actix-web pools its request objects, and the first request fills the pool.
        stable_count(measure, 5)
    }

    /// Extra allocations of the middleware and extractor for one request to `uri`.
    fn middleware_cost(format: Format, uri: &str) -> usize {
        actix_web::rt::System::new().block_on(async {
            let layer = SessionConfig::new(KeyRing::new([SECRET]).unwrap())
                .format(format)
                .build()
                .unwrap();
            let layered = test::init_service(
                App::new()
                    .wrap(SessionMiddleware::new(layer))
                    .route("/visit", web::get().to(visit))
                    .route("/read", web::get().to(read))
                    .route("/plain", web::get().to(plain)),
            )
            .await;
            let bare = test::init_service(
                App::new()
                    .route("/visit", web::get().to(plain))
                    .route("/read", web::get().to(plain))
                    .route("/plain", web::get().to(plain)),
            )
            .await;
            let first = now(layered.call(request("/visit", ""))).unwrap();
            let cookie = first
                .headers()
                .get_all(header::SET_COOKIE.as_str())
                .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join("; ");
            drop(first);
            count(&layered, uri, &cookie) - count(&bare, uri, &cookie)
        })
    }

    /// Called by the one test of this binary (the counter is process-wide: a second test
    /// running beside it, or the harness reporting its end, would be counted too).
    pub fn allocations_per_request_inside_the_actix_middleware() {
        let formats = [
            ("encrypted", Format::Encrypted),
            ("signed", Format::Signed),
            ("express", Format::Express(SigAlgorithm::Sha1)),
        ];
        // Upper bounds = the counts measured when this test was written (docs/PERFORMANCE.md);
        // since the middleware pools its handles (round seven), the tower layer's (`express`
        // `/visit` one fewer).
        // (format, /visit, /read, /plain)
        let bounds = [
            ("encrypted", 6, 5, 3),
            ("signed", 6, 5, 3),
            ("express", 20, 16, 3),
        ];
        let mut report = Vec::new();
        for ((name, format), (_, visit_max, read_max, plain_max)) in formats.into_iter().zip(bounds)
        {
            let visit_count = middleware_cost(format, "/visit");
            let read_count = middleware_cost(format, "/read");
            let plain_count = middleware_cost(format, "/plain");
            report.push(format!(
                "{name}: /visit {visit_count}, /read {read_count}, /plain {plain_count}"
            ));
            assert!(visit_count <= visit_max, "{name} /visit: {visit_count}");
            assert!(read_count <= read_max, "{name} /read: {read_count}");
            assert!(plain_count <= plain_max, "{name} /plain: {plain_count}");
        }
        println!(
            "allocations per request inside the actix middleware: {}",
            report.join("; ")
        );
    }
}
