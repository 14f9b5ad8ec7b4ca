//! What `migrate_from` costs per request, in heap allocations (counted as in
//! `tests/allocations.rs`, with `stats_alloc`'s counting allocator; its own test binary, as the
//! allocator is process-wide). A layer that also opens the Express format must cost nothing
//! more on a request that carries only its own cookie, or no cookie.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::future::{ready, Ready};

use cookie_session::migrate::Legacy;
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use http::{Request, Response};
use tower::{service_fn, Layer, Service};

#[path = "support/allocations.rs"]
mod support;
use support::{allocations, now, request, stable_count, SAMPLES};

const SECRET: &str = "bench-secret-0123456789abcdef-0123456789abcdef";
/// Recorded from Express (tests/data/express-vectors.json): `{"views":1}` under `key-new`.
const EXPRESS: &str = "session=eyJ2aWV3cyI6MX0=; session.sig=WcRy3bp0__-yp0ragQZ1Tz8zjtg";

/// Reads `views`.
fn read(req: Request<String>) -> Ready<Result<Response<String>, Infallible>> {
    let session = req.extensions().get::<Session>().expect("the layer");
    let views = session.get::<u64>("views").unwrap_or(0);
    ready(Ok(Response::new(format!("views={views}"))))
}

/// Allocations while `layer` answers one `read` request with `cookie`; stable once warm.
fn count(layer: &SessionLayer, cookie: &str) -> usize {
    let mut service = layer.layer(service_fn(read));
    let measure = || {
        let req = request(cookie);
        allocations(|| drop(now(service.call(req)).unwrap()))
    };
    stable_count(measure, WARM_UP)
}

/// Requests [`count`] discards before it samples.
const WARM_UP: usize = 3;

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
    // Only the migrating count's requests carried an Express cookie: each of them opened it.
    assert_eq!(
        migrating.metrics().opened_count("express"),
        (WARM_UP + SAMPLES) as u64
    );
}
