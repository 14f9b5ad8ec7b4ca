//! What the allocation-counting test binaries share (`tests/allocations.rs`,
//! `tests/migrate_allocations.rs`): the counting global allocator, a request with a `Cookie`
//! header as hyper hands it over, and the rule that turns samples into one count.
//!
//! The counter is `stats_alloc`'s instrumented system allocator, installed without any `unsafe`
//! in this crate (`unsafe_code` stays forbidden). It is process-wide, so each binary that
//! includes this module has a single test.
#![allow(dead_code)]

use std::alloc::System;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{header, Request};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations (new blocks plus reallocations) made while `f` runs.
pub fn allocations(f: impl FnOnce()) -> usize {
    let region = Region::new(GLOBAL);
    f();
    let stats = region.change();
    stats.allocations + stats.reallocations
}

/// Polls a future that must be ready at once, with a no-op waker, so no executor allocates.
pub fn now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the handlers answer at once"),
    }
}

/// A `GET /` carrying `cookie` (none when empty).
pub fn request(cookie: &str) -> Request<String> {
    let mut req = Request::get("/").body(String::new()).unwrap();
    if !cookie.is_empty() {
        let value: http::HeaderValue = cookie.parse().unwrap();
        // hyper's header values share the connection's read buffer, so cloning one only
        // bumps a count; a value parsed from a `&str` allocates on its first clone instead.
        // Clone it once here, outside the measured region, to match what hyper hands over.
        drop(value.clone());
        req.headers_mut().insert(header::COOKIE, value);
    }
    req
}

/// How many samples [`stable_count`] takes after its warm-up.
pub const SAMPLES: usize = 7;

/// A request's allocation count from `measure`, after `warm_up` discarded samples.
///
/// CI once saw [12, 9, 9, 9, 9] for one route, which no run here reproduced; the cause was not
/// found (the counter is global to the process, so an allocation outside the request would
/// show in whichever sample it overlaps, but that is not shown). A request's own count is the
/// smallest of [`SAMPLES`] samples, and it must be the count of all but two of them: a count
/// that grows from request to request still fails.
pub fn stable_count(mut measure: impl FnMut() -> usize, warm_up: usize) -> usize {
    for _ in 0..warm_up {
        measure();
    }
    let counts: Vec<usize> = (0..SAMPLES).map(|_| measure()).collect();
    let least = counts.iter().copied().min().unwrap_or_default();
    assert!(
        counts.iter().filter(|&&c| c == least).count() >= SAMPLES - 2,
        "allocation counts are not stable: {counts:?}"
    );
    least
}
