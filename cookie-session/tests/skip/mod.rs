//! Skipped tests, made visible. A test whose service or tool is missing (Redis, PostgreSQL,
//! node and an Express app's `node_modules`, Chromium) passes without running; cargo shows the
//! output of passing tests to nobody, so each skip is also written to a file that
//! `scripts/test` lists after the run (and, under `CI=true`, fails on).
//!
//! Shared by the test crates of the workspace through `#[path]` (cookie-session, demo, interop).
// A test crate whose skipping tests are switched off by its features does not call it.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io::Write;

/// The variable naming the file skips are appended to (set by `scripts/test`).
const SKIP_LOG_VAR: &str = "TEST_SKIP_LOG";

/// Reports that the running test skips itself because of `why`: on stderr, and as one line
/// `<test crate> <test name>: <why>` appended to the file `TEST_SKIP_LOG` names, when set.
pub fn skipped(why: &str) {
    eprintln!("skipping: {why}");
    let Some(path) = std::env::var_os(SKIP_LOG_VAR) else {
        return;
    };
    // libtest names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    let line = format!("{} {test}: {why}\n", env!("CARGO_CRATE_NAME"));
    // One append of one short line: lines written by tests running in parallel do not mix.
    match OpenOptions::new().create(true).append(true).open(&path) {
        Ok(mut file) => {
            if let Err(error) = file.write_all(line.as_bytes()) {
                eprintln!(
                    "could not record the skip in {}: {error}",
                    path.to_string_lossy()
                );
            }
        }
        Err(error) => eprintln!(
            "could not record the skip in {}: {error}",
            path.to_string_lossy()
        ),
    }
}
