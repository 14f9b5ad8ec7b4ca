//! The programs in `examples/` run: each is started as its own process on a free loopback
//! port, sent real HTTP requests, and its answers checked.
//!
//! `cargo test` builds the examples before it runs any test; this test runs those binaries
//! (`target/<profile>/examples/<name>`). When one is missing (`cargo test --test examples` alone
//! builds none, and an example whose features are off is never built) the test skips itself,
//! except under `CI=true`, where that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

#[path = "support/http.rs"]
mod http;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const KEYS: &str = "an example key of at least thirty-two bytes";

/// An example's binary, or `None` (skip) when it was not built.
fn binary(name: &str) -> Option<PathBuf> {
    // The test runs as target/<profile>/deps/examples-<hash>; examples are in target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent()?.parent()?.join("examples").join(name);
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "example `{name}` is not built ({}): run `cargo test` with every target and feature",
        path.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}");
    }
    skip::skipped(&why);
    None
}

/// A running example, killed and reaped on drop.
struct Example {
    child: Child,
    base: String,
}

impl Example {
    fn start(name: &str, env: &[(&str, &str)]) -> Option<Example> {
        let mut command = Command::new(binary(name)?);
        command
            .env("SESSION_KEYS", KEYS)
            .env("ADDR", "127.0.0.1:0")
            // No `.env` from the checkout: the environment above is all it gets.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name} printed {line:?}, not its address"))
            .to_owned();
        Some(Example { child, base })
    }

    /// One HTTP/1.1 request with the jar's cookies; the jar takes the response's `Set-Cookie`s.
    fn request(&self, jar: &mut Vec<(String, String)>, method: &str, path: &str) -> Response {
        send(&self.base, jar, method, path, "")
    }
}

/// One HTTP/1.1 request to `base` with the jar's cookies and a JSON `body` (none when empty);
/// the jar takes the response's `Set-Cookie`s, and drops the cookies they remove.
fn send(
    base: &str,
    jar: &mut Vec<(String, String)>,
    method: &str,
    path: &str,
    body: &str,
) -> Response {
    let authority = base.strip_prefix("http://").unwrap();
    let cookie: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if !cookie.is_empty() {
        head.push_str(&format!("Cookie: {}\r\n", cookie.join("; ")));
    }
    head.push_str("\r\n");
    head.push_str(body);
    let answer = http::exchange(authority, Duration::from_secs(30), &head);
    for value in &answer.set_cookie {
        let expired = value
            .to_ascii_lowercase()
            .contains("expires=thu, 01 jan 1970");
        let pair = value.split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        jar.retain(|(n, _)| n != name);
        if !value.is_empty() && !expired {
            jar.push((name.to_owned(), value.to_owned()));
        }
    }
    Response {
        status: answer.status,
        body: dechunk(&answer.body),
        set_cookies: answer.set_cookie.len(),
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    body: String,
    set_cookies: usize,
}

/// The body of a response that may use chunked transfer coding (hyper does, for streamed bodies).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_owned();
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned(); // not chunked
        };
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

#[test]
fn counter_counts_visits() {
    let Some(example) = Example::start("counter", &[]) else {
        return;
    };
    let mut jar = Vec::new();
    assert_eq!(example.request(&mut jar, "GET", "/").body, "views=1");
    assert_eq!(jar.len(), 1, "one session cookie");
    assert_eq!(example.request(&mut jar, "GET", "/").body, "views=2");
    // A new visitor starts again.
    assert_eq!(example.request(&mut Vec::new(), "GET", "/").body, "views=1");
}

#[test]
fn tower_counts_visits_without_axum() {
    let Some(example) = Example::start("tower", &[]) else {
        return;
    };
    let mut jar = Vec::new();
    let first = example.request(&mut jar, "GET", "/");
    assert_eq!((first.status, first.body.as_str()), (200, "views=1\n"));
    assert_eq!(example.request(&mut jar, "GET", "/").body, "views=2\n");
}

#[test]
fn actix_counts_visits_keeps_a_cart_and_flashes_once() {
    let Some(example) = Example::start("actix", &[]) else {
        return;
    };
    let mut jar = Vec::new();
    let first = example.request(&mut jar, "GET", "/");
    assert_eq!((first.status, first.body.as_str()), (200, "views=1"));
    assert_eq!(first.set_cookies, 1);
    assert_eq!(example.request(&mut jar, "GET", "/").body, "views=2");
    let added = example.request(&mut jar, "POST", "/cart?item=apple");
    assert_eq!(added.body, r#"{"items":["apple"]}"#);
    assert_eq!(added.set_cookies, 1);
    let read = example.request(&mut jar, "GET", "/cart");
    assert_eq!(read.body, r#"{"items":["apple"]}"#);
    assert_eq!(
        read.set_cookies, 0,
        "a handler that only reads sends no cookie"
    );
    assert_eq!(example.request(&mut jar, "GET", "/flash").body, "Added.");
    assert_eq!(
        example.request(&mut jar, "GET", "/flash").body,
        "",
        "shown once"
    );
    assert_eq!(example.request(&mut jar, "GET", "/").body, "views=3");
}

#[test]
fn typed_keeps_a_cart_and_reading_writes_nothing() {
    let Some(example) = Example::start("typed", &[]) else {
        return;
    };
    let mut jar = Vec::new();
    let added = example.request(&mut jar, "POST", "/cart?item=apple");
    assert_eq!(added.body, r#"{"items":["apple"]}"#);
    assert_eq!(added.set_cookies, 1);
    let added = example.request(&mut jar, "POST", "/cart?item=pear");
    assert_eq!(added.body, r#"{"items":["apple","pear"]}"#);
    let read = example.request(&mut jar, "GET", "/cart");
    assert_eq!(read.body, r#"{"items":["apple","pear"]}"#);
    assert_eq!(
        read.set_cookies, 0,
        "a handler that only reads sends no cookie"
    );
}

#[test]
fn login_regenerates_logs_out_and_revokes_every_browser() {
    let Some(example) = Example::start("login", &[]) else {
        return;
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    assert_eq!(example.request(&mut a, "GET", "/").body, "not logged in\n");
    let before_login = a.clone();
    let login = example.request(&mut a, "POST", "/login?user=alice");
    assert_eq!(login.body, "logged in as alice\n");
    assert_ne!(a, before_login, "login issues a new session id");
    example.request(&mut b, "POST", "/login?user=alice");
    assert_eq!(example.request(&mut b, "GET", "/").body, "hello alice\n");

    let revoked = example.request(&mut a, "POST", "/logout-everywhere");
    assert_eq!(revoked.body, "ended 2 sessions of alice\n");
    assert_eq!(example.request(&mut b, "GET", "/").body, "not logged in\n");

    example.request(&mut b, "POST", "/login?user=bob");
    assert_eq!(example.request(&mut b, "GET", "/").body, "hello bob\n");
    assert_eq!(
        example.request(&mut b, "POST", "/logout").body,
        "logged out\n"
    );
    assert!(b.is_empty(), "logout clears the cookie");
    assert_eq!(example.request(&mut b, "GET", "/").body, "not logged in\n");
}

#[test]
fn express_writes_express_cookies() {
    let Some(example) = Example::start("express", &[]) else {
        return;
    };
    let mut jar = Vec::new();
    assert_eq!(
        example.request(&mut jar, "POST", "/visit").body,
        r#"{"views":1}"#
    );
    let names: Vec<&str> = jar.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["session", "session.sig"]);
    // Express's encoding: base64 of the JSON.
    assert_eq!(jar[0].1, "eyJ2aWV3cyI6MX0=");
    assert_eq!(
        example.request(&mut jar, "GET", "/api/session").body,
        r#"{"views":1}"#
    );
}

/// The README's program, started without keys or with a short one: it exits, and what it
/// prints says what to do (the errors' `Debug`, which `main` returning `Err` prints, is
/// their message).
#[test]
fn counter_says_what_is_wrong_with_its_keys() {
    let Some(path) = binary("counter") else {
        return;
    };
    // An empty directory: no `.env` here or above it to find.
    let dir = tempfile::tempdir().unwrap();
    for (keys, expected) in [
        (None, "no session keys: set SESSION_KEYS"),
        (
            Some("short"),
            "the encrypted format needs at least 32 bytes",
        ),
    ] {
        let mut command = Command::new(&path);
        match keys {
            Some(keys) => command.env("SESSION_KEYS", keys),
            None => command.env_remove("SESSION_KEYS"),
        };
        let output = command
            .env("ADDR", "127.0.0.1:0")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{keys:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{keys:?}: {stderr}");
        assert!(
            stderr.contains("cookie-session keygen"),
            "{keys:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{keys:?}: it must not start");
    }
}

#[test]
fn redis_says_what_is_missing_without_redis_url() {
    let Some(path) = binary("redis") else {
        return;
    };
    let output = Command::new(path)
        .env("SESSION_KEYS", KEYS)
        .env_remove("REDIS_URL")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("REDIS_URL is not set"), "{stderr}");
}

#[test]
fn redis_counts_visits_in_redis() {
    let url = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("REDIS_URL must be set under CI")
        }
        _ => return skip::skipped("REDIS_URL is not set"),
    };
    let Some(example) = Example::start("redis", &[("REDIS_URL", &url)]) else {
        return;
    };
    let mut jar = Vec::new();
    assert_eq!(example.request(&mut jar, "GET", "/").body, "views=1\n");
    assert_eq!(example.request(&mut jar, "GET", "/").body, "views=2\n");
}

/// The Express app's keys in the migration example (short, as Express allows).
const EXPRESS_KEYS: &str = "express-example-key";

/// The reference Express app (interop/express/server.js, cookie-session 2.1.1 pinned by its
/// lockfile) on a free loopback port, killed and reaped on drop; `None` (skip) without node
/// or its `node_modules`, except under `CI=true`.
struct ExpressApp {
    child: Child,
    base: String,
}

impl ExpressApp {
    fn start(keys: &str) -> Option<ExpressApp> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/express");
        let node_ok = Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !node_ok
            || !dir
                .join("node_modules/cookie-session/package.json")
                .is_file()
        {
            let why =
                "node or interop/express/node_modules is missing (run npm ci in interop/express)";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}");
            }
            skip::skipped(why);
            return None;
        }
        let mut child = Command::new("node")
            .arg("server.js")
            .current_dir(dir)
            .env("PORT", "0")
            .env("SESSION_KEYS", keys)
            .env_remove("SESSION_NAME")
            .env_remove("SESSION_ALGORITHM")
            .env_remove("NODE_OPTIONS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("server.js printed {line:?}, not its port"))
            .to_owned();
        Some(ExpressApp {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for ExpressApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// docs/MIGRATING-FROM-EXPRESS.md's cut-over, end to end: logged in on the real Express app,
/// the Rust example serves the same session, re-issued encrypted, and counts it.
#[test]
fn migrate_moves_an_express_session_to_the_encrypted_format() {
    let Some(express) = ExpressApp::start(EXPRESS_KEYS) else {
        return;
    };
    let Some(example) = Example::start("migrate", &[("EXPRESS_KEYS", EXPRESS_KEYS)]) else {
        return;
    };
    // Browsers (and this jar) send 127.0.0.1's cookies to both ports.
    let mut jar = Vec::new();
    let login = send(
        &express.base,
        &mut jar,
        "POST",
        "/api/session",
        r#"{"user":"ada"}"#,
    );
    assert_eq!(
        (login.status, login.body.as_str()),
        (200, r#"{"user":"ada"}"#)
    );
    let names: Vec<&str> = jar.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["session", "session.sig"]);
    let express_value = jar[0].1.clone();

    let visit = example.request(&mut jar, "POST", "/visit");
    assert_eq!(visit.body, r#"{"user":"ada","views":1}"#);
    let names: Vec<&str> = jar.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["session"], "session.sig was cleared");
    assert_ne!(jar[0].1, express_value, "re-issued in the encrypted format");
    assert_eq!(
        example.request(&mut jar, "GET", "/api/session").body,
        r#"{"user":"ada","views":1}"#
    );
    assert_eq!(
        example.request(&mut Vec::new(), "GET", "/metrics").body,
        r#"{"encrypted":1,"express":1}"#
    );
    // Express no longer reads this browser's session: it has moved.
    let on_express = send(&express.base, &mut jar, "GET", "/api/session", "");
    assert_eq!(on_express.body, "{}");
}
