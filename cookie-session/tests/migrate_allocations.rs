//! What `migrate_from` costs per request, in heap allocations (counted as in
//! `tests/allocations.rs`, with `stats_alloc`'s counting allocator; its own test binary, as the
//! allocator is process-wide). A layer that also opens the Express format must cost nothing
//! more on a request that carries only its own cookie, or no cookie.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::alloc::System;
use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use cookie_session::migrate::Legacy;
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use http::{header, Request, Response};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower::{service_fn, Layer, Service};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SECRET: &str = "bench-secret-0123456789abcdef-0123456789abcdef";
/// Recorded from Express (tests/data/express-vectors.json): `{"views":1}` under `key-new`.
const EXPRESS: &str = "session=eyJ2aWV3cyI6MX0=; session.sig=WcRy3bp0__-yp0ragQZ1Tz8zjtg";

/// Reads `views`.
fn read(req: Request<String>) -> Ready<Result<Response<String>, Infallible>> {
    let session = req.extensions().get::<Session>().expect("the layer");
    let views = session.get::<u64>("views").unwrap_or(0);
    ready(Ok(Response::new(format!("views={views}"))))
}

fn now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the handler answers at once"),
    }
}

fn request(cookie: &str) -> Request<String> {
    let mut req = Request::get("/").body(String::new()).unwrap();
    if !cookie.is_empty() {
        let value: http::HeaderValue = cookie.parse().unwrap();
        // As in tests/allocations.rs: hyper's values clone without allocating.
        drop(value.clone());
        req.headers_mut().insert(header::COOKIE, value);
    }
    req
}

/// Allocations while `layer` answers one `read` request with `cookie`; stable once warm.
fn count(layer: &SessionLayer, cookie: &str) -> usize {
    let mut service = layer.layer(service_fn(read));
    let mut measure = || {
        let req = request(cookie);
        let region = Region::new(GLOBAL);
        drop(now(service.call(req)).unwrap());
        let stats = region.change();
        stats.allocations + stats.reallocations
    };
    for _ in 0..3 {
        measure();
    }
    let counts: Vec<usize> = (0..5).map(|_| measure()).collect();
    assert!(
        counts.windows(2).all(|w| w[0] == w[1]),
        "unstable: {counts:?}"
    );
    counts[0]
}

#[test]
fn migrate_from_costs_nothing_without_an_old_cookie() {
    let keys = || KeyRing::new([SECRET]).unwrap();
    let plain = SessionConfig::new(keys()).build().unwrap();
    let migrating = SessionConfig::new(keys())
        .migrate_from(Legacy::express(
            KeyRing::new(["key-new", "key-old"]).unwrap(),
        ))
        .build()
        .unwrap();
    let own = plain
        .encode(
            serde_json::json!({"views": 1})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .unwrap()[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let without_cookie = (count(&plain, ""), count(&migrating, ""));
    let with_own_cookie = (count(&plain, &own), count(&migrating, &own));
    let migrated = count(&migrating, EXPRESS);
    println!(
        "allocations per /read, plain vs migrating layer: no cookie {without_cookie:?}, \
         own cookie {with_own_cookie:?}; an Express cookie migrated: {migrated}"
    );
    assert_eq!(without_cookie.0, without_cookie.1);
    assert_eq!(with_own_cookie.0, with_own_cookie.1);
    // The request that moves a session opens the old pair and writes the new cookie plus the
    // clearing header: bounded (the count measured when this test was written).
    assert!(migrated <= 18, "{migrated}");
    assert_eq!(migrating.metrics().opened_count("express"), 8);
}
