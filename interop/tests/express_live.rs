//! Live interoperability test against the real Express `cookie-session` 2.1.1.
//!
//! Each test starts `node interop/express/server.js` and the demo app (express format, same
//! keys) on 127.0.0.1, and moves one cookie jar back and forth between them: a session made
//! on one side must be read, changed and cleared on the other, byte for byte.
//!
//! The decisive check is that a read-only request on the *other* side sends no `Set-Cookie`:
//! both sides compare the raw cookie with their own encoding of the session and rewrite it on
//! any difference, so silence proves the JSON bytes are identical.
//!
//! Needs `npm ci` in `interop/express` (and `node`); without it every test prints
//! "skipping: run npm ci in interop/express" and passes, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used)]

#[path = "../../cookie-session/tests/skip/mod.rs"]
mod skip;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use cookie_session::format::express::{
    decode_value, encode_value, filter_reserved, stringify, ExpressCodec,
};
use cookie_session::format::SigAlgorithm;
use cookie_session::KeyRing;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

/// The Express app's folder.
const EXPRESS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/express");
/// The longest any single wait may take (server start, one request).
const WAIT: Duration = Duration::from_secs(15);
/// The longest building the `cookie-session` binary may take when it is missing or stale.
const BUILD_WAIT: Duration = Duration::from_secs(600);

const OLD: &str = "interop-key-old";
const NEW: &str = "interop-key-new";
const API: &str = "/api/session";

/// A session exercising everything `JSON.stringify` is picky about: integer-like keys (hoisted
/// by JS, at every level), nesting, unicode, every kind of escape, and numbers JS prints its own
/// way (`100.0` → `100`, `-0` → `0`, `1e21` → `1e+21`, 2^53+1 → rounded).
const NESTED: &str = r#"{
  "b": 1, "10": 2, "2": 3, "a": "first non-index key after b",
  "nested": {"z": {"9": "nine", "x": [1, "two", null, true, false, {"-1": "neg", "01": "lead", "7": "seven"}]},
             "empty_obj": {}, "empty_arr": [], "4294967294": "max index", "4294967295": "not an index"},
  "unicode": "héllo wörld ✓ 日本語 🍪 \ud83c\udf6a \u00e9 \ufeff \uffff",
  "escapes": "quote\" backslash\\ slash/ \/ nl\n cr\r tab\t bs\b ff\f nul\u0000 us\u001f del\u007f ls\u2028 ps\u2029 <script>&'",
  "numbers": [1.5, 100, 100.0, 1e21, 1E+21, -0, -0.0, 0.1, 1.5e-7, 1e-7, 123456789012345678901234567890,
              9007199254740993, -9007199254740993, 18446744073709551616, 5e-324, 1.7976931348623157e308,
              0.30000000000000004, 2.5e+25, 1234.5678, -42],
  "deep": [[[[{"k": [[]]}]]]]
}"#;

// ---------------------------------------------------------------------------------------------
// Skipping
// ---------------------------------------------------------------------------------------------

/// Whether node and the Express app's dependencies are there. Prints the skip notice when not;
/// under `CI=true` a missing one is a failure instead.
fn express_ready() -> bool {
    let node_ok = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let modules_ok = Path::new(EXPRESS_DIR)
        .join("node_modules/cookie-session/package.json")
        .is_file()
        && Path::new(EXPRESS_DIR)
            .join("node_modules/express/package.json")
            .is_file();
    if node_ok && modules_ok {
        return true;
    }
    let why = if node_ok {
        "interop/express/node_modules is missing"
    } else {
        "node is not on PATH"
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{why}: under CI=true the live Express test must run (run npm ci in interop/express)"
        );
    }
    skip::skipped(&format!("run npm ci in interop/express ({why})"));
    println!("skipping: run npm ci in interop/express ({why})");
    false
}

// ---------------------------------------------------------------------------------------------
// The two servers
// ---------------------------------------------------------------------------------------------

/// `node server.js`, killed (and reaped) on drop, also when a test panics.
struct ExpressServer {
    child: Child,
    base: String,
}

impl ExpressServer {
    fn start(keys: &str, algorithm: Option<&str>) -> Self {
        let started = Instant::now();
        let mut cmd = Command::new("node");
        cmd.arg("server.js")
            .current_dir(EXPRESS_DIR)
            .env("PORT", "0")
            .env("SESSION_KEYS", keys)
            .env_remove("SESSION_NAME")
            .env_remove("SESSION_ALGORITHM")
            .env_remove("NODE_OPTIONS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(algorithm) = algorithm {
            cmd.env("SESSION_ALGORITHM", algorithm);
        }
        let mut child = cmd.spawn().expect("spawn node server.js");
        let stdout = child.stdout.take().expect("piped stdout");
        // From here on, a panic drops `server`, which kills node.
        let mut server = ExpressServer {
            child,
            base: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so node never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(_) => panic!("node server.js printed no `listening <port>` within {WAIT:?}"),
        };
        let port: u16 = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let status = server.child.try_wait().ok().flatten();
                panic!(
                    "node server.js: expected `listening <port>`, got {line:?} (exit: {status:?})"
                )
            });
        server.base = format!("http://127.0.0.1:{port}");
        eprintln!(
            "express ({}) up on {} in {:?}",
            algorithm.unwrap_or("sha1"),
            server.base,
            started.elapsed()
        );
        server
    }
}

impl Drop for ExpressServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo app, in process, on 127.0.0.1:0; aborted on drop.
struct RustServer {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl RustServer {
    async fn start(keys: &str, format: &str) -> Self {
        let config = demo::DemoConfig::from_vars(|name| match name {
            "SESSION_KEYS" => Some(keys.to_owned()),
            "SESSION_FORMAT" => Some(format.to_owned()),
            _ => None,
        })
        .expect("demo config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = demo::app(config);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("demo server");
        });
        RustServer { base, task }
    }
}

impl Drop for RustServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Express,
    Rust,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Express => Side::Rust,
            Side::Rust => Side::Express,
        }
    }
}

/// Both servers, configured alike.
struct Pair {
    express: ExpressServer,
    rust: RustServer,
    algorithm: SigAlgorithm,
}

impl Pair {
    /// `keys` comma-separated, first signs; `algorithm` sha1 (Express's default) or sha256.
    async fn start(keys: &str, algorithm: SigAlgorithm) -> Pair {
        let (node_alg, format) = match algorithm {
            SigAlgorithm::Sha1 => (None, "express"),
            SigAlgorithm::Sha256 => (Some("sha256"), "express-sha256"),
            other => panic!("not used here: {other:?}"),
        };
        let express = ExpressServer::start(keys, node_alg);
        let rust = RustServer::start(keys, format).await;
        Pair {
            express,
            rust,
            algorithm,
        }
    }

    fn base(&self, side: Side) -> &str {
        match side {
            Side::Express => &self.express.base,
            Side::Rust => &self.rust.base,
        }
    }

    /// Express's signature of `session=<value>` under key `key`.
    fn sig(&self, key: &str, value: &str) -> String {
        let ring = KeyRing::new([key]).unwrap();
        ExpressCodec::new(&ring, self.algorithm).sign_cookie("session", value)
    }
}

// ---------------------------------------------------------------------------------------------
// The cookie jar and the client
// ---------------------------------------------------------------------------------------------

/// A tiny cookie jar: name → value, in first-set order, for one host.
#[derive(Debug, Default, Clone)]
struct Jar(Vec<(String, String)>);

impl Jar {
    /// Applies one `Set-Cookie` value: stores it, or removes it when the value is empty or it
    /// has expired (`expires` in the past, `max-age` ≤ 0).
    fn apply(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let pair = parts.next().unwrap_or_default();
        let Some((name, value)) = pair.split_once('=') else {
            panic!("Set-Cookie without `=`: {set_cookie:?}");
        };
        let (name, value) = (name.trim(), value.trim());
        let mut expired = value.is_empty();
        for attr in parts {
            let (key, val) = attr.split_once('=').unwrap_or((attr, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "expires" => {
                    let at = httpdate::parse_http_date(val.trim())
                        .unwrap_or_else(|e| panic!("bad expires in {set_cookie:?}: {e}"));
                    if at <= SystemTime::now() {
                        expired = true;
                    }
                }
                "max-age" if val.trim().parse::<i64>().is_ok_and(|s| s <= 0) => {
                    expired = true;
                }
                _ => {}
            }
        }
        if expired {
            self.0.retain(|(n, _)| n != name);
        } else if let Some(slot) = self.0.iter_mut().find(|(n, _)| n == name) {
            slot.1 = value.to_owned();
        } else {
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }

    /// One `Cookie` header, or `None` when empty.
    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One answer.
#[derive(Debug)]
struct Resp {
    label: String,
    status: StatusCode,
    set_cookie: Vec<String>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {:?}", self.label, self.body))
    }

    /// `JSON.stringify` of the body's session: the canonical bytes, key order included.
    fn canonical(&self) -> String {
        stringify(&self.json())
    }

    fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}: status (body {:?})",
            self.label,
            self.body
        );
        self
    }

    /// A read on the other side must not rewrite the cookie: that would mean it encodes the
    /// session differently (Express rewrites on any byte of difference).
    fn assert_no_set_cookie(&self, jar_before: &Jar) -> &Self {
        assert!(
            self.set_cookie.is_empty(),
            "{}: a read-only request sent Set-Cookie (the two sides encode differently)\n\
             cookie sent:   {:?}\n  decoded:     {}\nSet-Cookie:    {:#?}\n  decoded:     {:?}",
            self.label,
            jar_before.header(),
            jar_before
                .get("session")
                .map(decoded_text)
                .unwrap_or_default(),
            self.set_cookie,
            self.set_cookie
                .iter()
                .filter_map(|h| h.strip_prefix("session="))
                .map(|h| decoded_text(h.split(';').next().unwrap_or_default()))
                .collect::<Vec<_>>(),
        );
        self
    }

    /// The `Set-Cookie` line for `name` (`session` or `session.sig`).
    fn cookie(&self, name: &str) -> &str {
        let prefix = format!("{name}=");
        let found: Vec<_> = self
            .set_cookie
            .iter()
            .filter(|h| h.starts_with(&prefix))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{}: expected one {name} Set-Cookie in {:#?}",
            self.label,
            self.set_cookie
        );
        found[0]
    }
}

/// The one attribute the demo app adds to Express's: the library's default `SameSite=Lax`,
/// which the demo keeps in every format (its CSRF defence relies on it). Express sets no
/// SameSite by default. A Rust app wanting Express's exact headers configures
/// `.same_site(None)` (as the `cookie-session sign` command does for the express formats).
const DEMO_SAMESITE: &str = "; samesite=lax";

/// The demo's `Set-Cookie` lines as Express would write them: without [`DEMO_SAMESITE`], which
/// must be there exactly once, just before `; httponly`.
fn as_express(rust: &[String]) -> Vec<String> {
    rust.iter()
        .map(|h| {
            assert_eq!(
                h.matches(DEMO_SAMESITE).count(),
                1,
                "expected one `{DEMO_SAMESITE}` in the demo's {h:?}"
            );
            assert!(
                h.contains("; samesite=lax; httponly"),
                "attribute order: {h:?}"
            );
            h.replacen(DEMO_SAMESITE, "", 1)
        })
        .collect()
}

/// The raw JSON text inside a cookie value (for failure messages).
fn decoded_text(value: &str) -> String {
    String::from_utf8_lossy(&cookie_session::format::express::node_base64_decode(value))
        .into_owned()
}

/// A browser: one client, one jar, moving between the two servers.
struct Browser {
    client: reqwest::Client,
    jar: Jar,
}

impl Browser {
    fn new() -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(WAIT)
            .connect_timeout(WAIT)
            .build()
            .unwrap();
        Browser {
            client,
            jar: Jar::default(),
        }
    }

    async fn send(
        &mut self,
        pair: &Pair,
        side: Side,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> Resp {
        let label = format!("{method} {path} on {side:?}");
        let url = format!("{}{path}", pair.base(side));
        let mut request = self.client.request(method, url);
        if let Some(cookie) = self.jar.header() {
            request = request.header(COOKIE, cookie);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .unwrap_or_else(|_| panic!("{label}: no answer within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let status = response.status();
        let set_cookie: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("Set-Cookie is ASCII").to_owned())
            .collect();
        let body = tokio::time::timeout(WAIT, response.text())
            .await
            .unwrap_or_else(|_| panic!("{label}: body not read within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("{label}: body: {e}"));
        for header in &set_cookie {
            self.jar.apply(header);
        }
        Resp {
            label,
            status,
            set_cookie,
            body,
        }
    }

    async fn get(&mut self, pair: &Pair, side: Side, path: &str) -> Resp {
        self.send(pair, side, Method::GET, path, None).await
    }

    async fn put(&mut self, pair: &Pair, side: Side, path: &str, body: &str) -> Resp {
        self.send(pair, side, Method::PUT, path, Some(body)).await
    }

    async fn post(&mut self, pair: &Pair, side: Side, path: &str, body: &str) -> Resp {
        self.send(pair, side, Method::POST, path, Some(body)).await
    }

    async fn delete(&mut self, pair: &Pair, side: Side, path: &str) -> Resp {
        self.send(pair, side, Method::DELETE, path, None).await
    }

    /// A read-only `GET` that must see `expected` (canonical JSON) and rewrite nothing.
    async fn read_unchanged(&mut self, pair: &Pair, side: Side, expected: &str) -> Resp {
        let before = self.jar.clone();
        let resp = self.get(pair, side, API).await;
        resp.assert_status(200).assert_no_set_cookie(&before);
        assert_eq!(resp.canonical(), expected, "{}: session", resp.label);
        resp
    }
}

/// `JSON.stringify(JSON.parse(text))`, as our encoder computes it.
fn canonical_of(text: &str) -> String {
    stringify(&serde_json::from_str::<Value>(text).unwrap())
}

/// A `Set-Cookie` line without its `expires` attribute, and that expiry.
fn split_expires(header: &str) -> (String, Option<SystemTime>) {
    let mut kept = Vec::new();
    let mut expires = None;
    for (i, part) in header.split("; ").enumerate() {
        match part.strip_prefix("expires=") {
            Some(date) if i > 0 => {
                expires = Some(httpdate::parse_http_date(date).unwrap());
                kept.push("expires=<date>");
            }
            _ => kept.push(part),
        }
    }
    (kept.join("; "), expires)
}

fn assert_expires_near(resp: &Resp, name: &str, from_now: Duration) {
    let (_, expires) = split_expires(resp.cookie(name));
    let expires =
        expires.unwrap_or_else(|| panic!("{}: {name} has no expires: {resp:#?}", resp.label));
    let target = SystemTime::now() + from_now;
    let off = match target.duration_since(expires) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(
        off <= Duration::from_secs(5),
        "{}: {name} expires {off:?} away from now + {from_now:?}",
        resp.label
    );
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// Created with nested data on `first`, read (silently) and changed on the other side, read
/// back (silently) on `first`.
async fn nested_round_trip(pair: &Pair, first: Side) {
    let second = first.other();
    let expected = canonical_of(NESTED);
    let mut b = Browser::new();

    let created = b.put(pair, first, API, NESTED).await;
    created.assert_status(200);
    assert_eq!(created.canonical(), expected, "{}: session", created.label);
    if first == Side::Express {
        // Express answers with JSON.stringify itself: our encoder must give its exact bytes.
        assert_eq!(
            created.body, expected,
            "stringify differs from Node's JSON.stringify"
        );
    }
    let value = created.cookie("session").to_owned();
    assert_eq!(
        b.jar.get("session").map(decoded_text).as_deref(),
        Some(expected.as_str()),
        "cookie JSON bytes ({value})"
    );

    let read = b.read_unchanged(pair, second, &expected).await;
    if second == Side::Express {
        assert_eq!(
            read.body, expected,
            "Express's JSON.stringify of the session"
        );
    }

    let changed = b
        .post(
            pair,
            second,
            API,
            r#"{"b": 2, "changed_on": "the other side", "99": [1.0, -0.0], "isNew": "dropped"}"#,
        )
        .await;
    changed.assert_status(200);
    assert_eq!(changed.set_cookie.len(), 2, "{changed:#?}");
    let mut expected_changed: Map<String, Value> = serde_json::from_str(NESTED).unwrap();
    expected_changed.insert("b".into(), 2.into());
    expected_changed.insert("changed_on".into(), "the other side".into());
    expected_changed.insert("99".into(), serde_json::json!([1, 0]));
    let expected_changed = stringify(&Value::Object(expected_changed));
    assert_eq!(changed.canonical(), expected_changed, "{}", changed.label);

    b.read_unchanged(pair, first, &expected_changed).await;
    b.read_unchanged(pair, second, &expected_changed).await;
}

/// The same writes on both sides give the very same `Set-Cookie` bytes.
async fn same_bytes(pair: &Pair, body: &str) {
    let mut from_express = Browser::new();
    let mut from_rust = Browser::new();
    let e = from_express.put(pair, Side::Express, API, body).await;
    let r = from_rust.put(pair, Side::Rust, API, body).await;
    e.assert_status(200);
    r.assert_status(200);
    assert_eq!(
        as_express(&r.set_cookie),
        e.set_cookie,
        "PUT {body}: Set-Cookie differs (left Rust, right Express)"
    );
    assert_eq!(r.canonical(), e.body, "PUT {body}: answered session");

    // Clearing headers too.
    let e = from_express.delete(pair, Side::Express, API).await;
    let r = from_rust.delete(pair, Side::Rust, API).await;
    e.assert_status(204);
    r.assert_status(204);
    assert_eq!(
        as_express(&r.set_cookie),
        e.set_cookie,
        "DELETE: Set-Cookie differs (left Rust, right Express)"
    );
}

/// `max_age_ms` on `first`: `expires` set (and the same header shape as the other side's), the
/// other side reads the session and sets a new lifetime when it writes.
async fn max_age(pair: &Pair, first: Side) {
    let second = first.other();
    let mut b = Browser::new();
    let hour = Duration::from_secs(3600);

    let made = b
        .put(
            pair,
            first,
            &format!("{API}?max_age_ms=3600000"),
            r#"{"remember":true}"#,
        )
        .await;
    made.assert_status(200);
    assert_expires_near(&made, "session", hour);
    assert_expires_near(&made, "session.sig", hour);

    // The other side writes the same header shape for the same lifetime.
    let mut other = Browser::new();
    let twin = other
        .put(
            pair,
            second,
            &format!("{API}?max_age_ms=3600000"),
            r#"{"remember":true}"#,
        )
        .await;
    let (express, rust) = match first {
        Side::Express => (&made, &twin),
        Side::Rust => (&twin, &made),
    };
    let rust_headers = as_express(&rust.set_cookie);
    assert_eq!(rust_headers.len(), 2, "{rust:#?}");
    for (i, name) in ["session", "session.sig"].into_iter().enumerate() {
        assert_eq!(
            split_expires(&rust_headers[i]).0,
            split_expires(express.cookie(name)).0,
            "{name}: {} vs {}",
            twin.label,
            made.label
        );
    }

    b.read_unchanged(pair, second, r#"{"remember":true}"#).await;
    let changed = b
        .post(
            pair,
            second,
            &format!("{API}?max_age_ms=7200000"),
            r#"{"n":1}"#,
        )
        .await;
    changed.assert_status(200);
    assert_expires_near(&changed, "session", 2 * hour);
    assert_expires_near(&changed, "session.sig", 2 * hour);
    b.read_unchanged(pair, first, r#"{"remember":true,"n":1}"#)
        .await;
}

/// Clearing on `first` empties the jar; the other side then sees a new, empty session.
async fn clearing(pair: &Pair, first: Side) {
    let second = first.other();
    let mut b = Browser::new();
    b.put(pair, second, API, r#"{"user":"ann"}"#)
        .await
        .assert_status(200);
    b.read_unchanged(pair, first, r#"{"user":"ann"}"#).await;
    let cleared = b.delete(pair, first, API).await;
    cleared.assert_status(204);
    assert_eq!(cleared.set_cookie.len(), 2, "{cleared:#?}");
    assert!(b.jar.is_empty(), "jar after DELETE: {:?}", b.jar);
    b.read_unchanged(pair, second, "{}").await;
    b.read_unchanged(pair, first, "{}").await;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_data_both_ways() {
    if !express_ready() {
        return;
    }
    let started = Instant::now();
    let pair = Pair::start(NEW, SigAlgorithm::Sha1).await;
    nested_round_trip(&pair, Side::Express).await;
    nested_round_trip(&pair, Side::Rust).await;
    for body in [
        NESTED,
        r#"{"views":1}"#,
        r#"{"a":1,"isNew":true,"toString":"x","__proto__":{"p":1},"constructor":2,"z":{"isNew":1}}"#,
        r#"{"s":"; path=/evil, \"quoted\" \\ ","n":-0.0}"#,
    ] {
        same_bytes(&pair, body).await;
    }
    eprintln!("nested_data_both_ways: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_and_clearing_both_ways() {
    if !express_ready() {
        return;
    }
    let started = Instant::now();
    let pair = Pair::start(NEW, SigAlgorithm::Sha1).await;
    for first in [Side::Express, Side::Rust] {
        max_age(&pair, first).await;
        clearing(&pair, first).await;
    }
    eprintln!("max_age_and_clearing_both_ways: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha256_both_ways() {
    if !express_ready() {
        return;
    }
    let started = Instant::now();
    let pair = Pair::start(NEW, SigAlgorithm::Sha256).await;
    for first in [Side::Express, Side::Rust] {
        let mut b = Browser::new();
        let made = b
            .put(&pair, first, API, r#"{"alg":"sha256","2":[1.5]}"#)
            .await;
        made.assert_status(200);
        let value = b.jar.get("session").unwrap().to_owned();
        let sig = b.jar.get("session.sig").unwrap().to_owned();
        assert_eq!(sig.len(), 43, "sha256 sig: {sig}");
        assert_eq!(sig, pair.sig(NEW, &value));
        let expected = r#"{"2":[1.5],"alg":"sha256"}"#;
        b.read_unchanged(&pair, first.other(), expected).await;
        b.post(&pair, first.other(), API, r#"{"more":1}"#)
            .await
            .assert_status(200);
        b.read_unchanged(&pair, first, r#"{"2":[1.5],"alg":"sha256","more":1}"#)
            .await;
    }
    same_bytes(&pair, NESTED).await;
    eprintln!("sha256_both_ways: {:?}", started.elapsed());
}

/// Cookies made under `old` alone, then both servers restarted with `new,old`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_both_ways() {
    if !express_ready() {
        return;
    }
    let started = Instant::now();
    let session = r#"{"user":"ann","10":[1,2],"n":1.5}"#;
    let expected = canonical_of(session);
    let old_pair = Pair::start(OLD, SigAlgorithm::Sha1).await;
    let mut made_on = Vec::new();
    for first in [Side::Express, Side::Rust] {
        let mut b = Browser::new();
        b.put(&old_pair, first, API, session)
            .await
            .assert_status(200);
        made_on.push((first, b.jar.clone()));
    }
    // Both sides made the very same old-key cookie.
    assert_eq!(made_on[0].1 .0, made_on[1].1 .0, "old-key cookies");
    let old_jar = made_on[0].1.clone();
    let value = old_jar.get("session").unwrap().to_owned();
    assert_eq!(
        old_jar.get("session.sig"),
        Some(&*old_pair.sig(OLD, &value))
    );
    drop(old_pair);

    let pair = Pair::start(&format!("{NEW},{OLD}"), SigAlgorithm::Sha1).await;
    let new_sig = pair.sig(NEW, &value);

    for (first, jar) in made_on {
        // Rust reads the old-key cookie and re-issues it under `new`: both cookies, same value,
        // default attributes (what a save would write).
        let mut b = Browser {
            jar,
            ..Browser::new()
        };
        let read = b.get(&pair, Side::Rust, API).await;
        read.assert_status(200);
        assert_eq!(
            read.canonical(),
            expected,
            "Rust reading an old-key cookie made on {first:?}"
        );
        assert_eq!(
            as_express(&read.set_cookie),
            vec![
                format!("session={value}; path=/; httponly"),
                format!("session.sig={new_sig}; path=/; httponly"),
            ],
            "Rust's re-issue of an old-key cookie (made on {first:?})"
        );
        // Express reads the re-issued cookie as a first-key cookie: silently.
        b.read_unchanged(&pair, Side::Express, &expected).await;
        b.read_unchanged(&pair, Side::Rust, &expected).await;
    }

    // Express reads an old-key cookie: it re-signs only `.sig` (docs/EXPRESS-COMPATIBILITY.md §1.5).
    let mut b = Browser {
        jar: old_jar.clone(),
        ..Browser::new()
    };
    let read = b.get(&pair, Side::Express, API).await;
    read.assert_status(200);
    assert_eq!(read.body, expected);
    assert_eq!(
        read.set_cookie,
        vec![format!("session.sig={new_sig}; path=/; httponly")],
        "Express's re-sign"
    );
    // That mixed state (the value cookie as it was, the `.sig` from the re-sign) is a first-key
    // cookie for Rust too.
    assert_eq!(b.jar.get("session"), Some(value.as_str()));
    assert_eq!(b.jar.get("session.sig"), Some(new_sig.as_str()));
    b.read_unchanged(&pair, Side::Rust, &expected).await;
    b.read_unchanged(&pair, Side::Express, &expected).await;

    // A change on either side after the rotation signs with `new` the same way.
    for side in [Side::Rust, Side::Express] {
        let mut b = Browser {
            jar: old_jar.clone(),
            ..Browser::new()
        };
        let changed = b.post(&pair, side, API, r#"{"n":2}"#).await;
        changed.assert_status(200);
        let v = b.jar.get("session").unwrap().to_owned();
        assert_eq!(
            b.jar.get("session.sig"),
            Some(&*pair.sig(NEW, &v)),
            "{side:?}"
        );
        b.read_unchanged(
            &pair,
            side.other(),
            &canonical_of(r#"{"user":"ann","10":[1,2],"n":2}"#),
        )
        .await;
    }
    eprintln!("key_rotation_both_ways: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// The `cookie-session` command against live Express
// ---------------------------------------------------------------------------------------------

/// Runs `cmd` to completion, killing it after `timeout`.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    }
}

/// The `cookie-session` binary, up to date.
///
/// `cargo test --workspace` builds it (for the CLI's own tests) as
/// `target/<profile>/cookie-session`, next to this test's `deps/` folder: when that file is
/// newer than every source it is built from, it is used as is. Otherwise (`cargo test -p
/// interop`, or sources edited since) `cargo build -p cookie-session-cli` builds it and tells
/// where it is.
fn cli_binary() -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/cookie-session
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join(format!("cookie-session{}", std::env::consts::EXE_SUFFIX));
    if is_fresh(&bin) {
        eprintln!("cookie-session binary: {} (up to date)", bin.display());
        return bin;
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "-p",
        "cookie-session-cli",
        "--bin",
        "cookie-session",
        "--message-format=json-render-diagnostics",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let out = run_with_timeout(cmd, BUILD_WAIT);
    assert!(
        out.status.success(),
        "cargo build -p cookie-session-cli failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "cookie-session" {
            if let Some(exe) = msg["executable"].as_str() {
                eprintln!(
                    "cookie-session binary: {exe} (cargo build: {:?})",
                    started.elapsed()
                );
                return PathBuf::from(exe);
            }
        }
    }
    panic!("cargo build -p cookie-session-cli named no cookie-session executable");
}

/// Whether `bin` exists and is newer than the lock file, the workspace manifest, and every
/// file of the CLI and of the library.
fn is_fresh(bin: &Path) -> bool {
    fn newest(path: &Path) -> Option<SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        let mut latest = meta.modified().ok()?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).ok()? {
                latest = latest.max(newest(&entry.ok()?.path())?);
            }
        }
        Some(latest)
    }
    let Some(built) = std::fs::metadata(bin).and_then(|m| m.modified()).ok() else {
        return false;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    [
        "Cargo.lock",
        "Cargo.toml",
        "cli",
        "cookie-session/src",
        "cookie-session/Cargo.toml",
    ]
    .iter()
    .all(|p| newest(&root.join(p)).is_some_and(|t| t <= built))
}

fn cli(bin: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("SESSION_KEYS")
        .current_dir(std::env::temp_dir());
    run_with_timeout(cmd, WAIT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_against_live_express() {
    if !express_ready() {
        return;
    }
    let bin = cli_binary();
    let started = Instant::now();
    let pair = Pair::start(NEW, SigAlgorithm::Sha1).await;

    // `sign` → Express reads it, silently; and Express writes the same bytes for the session.
    let session = r#"{"user":"ann","10":[1e21,-0],"2":"two","é":"\u2028"}"#;
    let expected = canonical_of(session);
    let out = cli(
        &bin,
        &[
            "sign", "--format", "express", "--keys", NEW, "--json", session,
        ],
    );
    assert!(out.status.success(), "sign: {out:?}");
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut express_made = Browser::new();
    let made = express_made.put(&pair, Side::Express, API, session).await;
    assert_eq!(
        lines, made.set_cookie,
        "cookie-session sign vs Express's Set-Cookie"
    );
    let mut b = Browser::new();
    for line in &lines {
        b.jar.apply(line);
    }
    let read = b.read_unchanged(&pair, Side::Express, &expected).await;
    assert_eq!(read.body, expected);

    // An Express-made cookie → `decode` says valid, same session; under `new,old`... and with
    // the signing key second, key_index 1.
    let header = express_made.jar.header().unwrap();
    for (keys, index) in [(NEW.to_owned(), 0), (format!("{OLD},{NEW}"), 1)] {
        let out = cli(
            &bin,
            &[
                "decode", "--format", "express", "--keys", &keys, "--cookie", &header,
            ],
        );
        assert!(out.status.success(), "decode: {out:?}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["valid"], true, "{report}");
        assert_eq!(report["key_index"], index, "{report}");
        assert_eq!(stringify(&report["session"]), expected, "{report}");
    }
    // And refuses it under a key Express never used.
    let out = cli(
        &bin,
        &[
            "decode", "--format", "express", "--keys", OLD, "--cookie", &header,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "decode under a foreign key: {out:?}"
    );
    eprintln!(
        "cli_against_live_express: {:?} (after the build)",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Our JSON.stringify against Node's, on random values
// ---------------------------------------------------------------------------------------------

/// SplitMix64: a small seeded PRNG, so a failure can be replayed with `INTEROP_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "a",
    "b",
    "views",
    "user",
    "0",
    "1",
    "2",
    "10",
    "01",
    "-1",
    "1.5",
    "4294967294",
    "4294967295",
    "9007199254740993",
    "",
    " ",
    "é",
    "🍪",
    "__proto__",
    "isNew",
    "constructor",
    "toString",
    "hasOwnProperty",
    "_ctx",
    "isChanged",
    "x\"y",
    "a\\b",
    "\u{2028}",
];

const CHARS: &[char] = &[
    'a',
    'Z',
    '0',
    ' ',
    '"',
    '\\',
    '/',
    '\u{0}',
    '\u{8}',
    '\u{9}',
    '\u{a}',
    '\u{c}',
    '\u{d}',
    '\u{1f}',
    '\u{7f}',
    '\u{80}',
    'é',
    'ß',
    '日',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '🍪',
    '\u{10ffff}',
    '<',
    '>',
    '&',
    '\'',
    ';',
    ',',
    '=',
    '%',
];

/// A JSON string literal for `s`, each character written raw or as a `\u` escape at random
/// (characters JSON forbids raw always escaped).
fn gen_string_literal(rng: &mut Rng, s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        let must = c == '"' || c == '\\' || (c as u32) < 0x20;
        if must || rng.below(4) == 0 {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                if rng.below(2) == 0 {
                    out.push_str(&format!("\\u{unit:04x}"));
                } else {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn gen_number(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 => rng
            .pick(&[
                "0",
                "-0",
                "0.0",
                "-0.0",
                "100.0",
                "1e21",
                "1E+21",
                "1e-7",
                "1.5e-7",
                "1e20",
                "999999999999999999999",
                "1e+300",
                "5e-324",
                "2.2250738585072014e-308",
                "1.7976931348623157e308",
                "9007199254740992",
                "9007199254740993",
                "-9007199254740993",
                "18446744073709551615",
                "18446744073709551616",
                "0.1",
                "1.5",
                "123e-2",
                "0.000001",
                "0.0000001",
                "1e-6",
            ])
            .to_string(),
        1 => format!("{}", rng.below(1000) as i64 - 500),
        2 => format!("{}", rng.next() as i64),
        3 => format!("{}", rng.next()),
        // Random finite doubles, written by Rust's shortest round trip in both notations.
        4 | 5 => loop {
            let f = f64::from_bits(rng.next());
            if f.is_finite() {
                break if rng.below(2) == 0 {
                    format!("{f:e}")
                } else {
                    format!("{f:?}")
                };
            }
        },
        // Decimal literals longer than a double holds: JS rounds them correctly.
        6 => {
            let first = char::from(b'1' + rng.below(9) as u8);
            let rest: String = (0..(16 + rng.below(15)))
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            let exp = rng.below(80) as i64 - 40;
            format!("{first}.{rest}e{exp}")
        }
        7 => format!("{}.{}", rng.below(100000), rng.below(100000)),
        _ => format!("{}e{}", rng.below(1000), rng.below(40) as i64 - 20),
    }
}

fn gen_value(rng: &mut Rng, depth: usize) -> String {
    let kind = if depth >= 3 {
        rng.below(4)
    } else {
        rng.below(6)
    };
    match kind {
        0 => rng.pick(&["null", "true", "false"]).to_string(),
        1 => gen_number(rng),
        2 | 3 => {
            let s: String = (0..rng.below(8)).map(|_| *rng.pick(CHARS)).collect();
            gen_string_literal(rng, &s)
        }
        4 => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| gen_value(rng, depth + 1))
                .collect();
            format!("[{}]", items.join(","))
        }
        _ => gen_object(rng, depth + 1),
    }
}

fn gen_object(rng: &mut Rng, depth: usize) -> String {
    let members: Vec<String> = (0..rng.below(6))
        .map(|_| {
            let key = *rng.pick(KEYS);
            let ws = *rng.pick(&["", " ", "\n\t "]);
            format!(
                "{ws}{}{ws}:{ws}{}",
                gen_string_literal(rng, key),
                gen_value(rng, depth)
            )
        })
        .collect();
    format!("{{{}}}", members.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stringify_matches_node_on_random_values() {
    if !express_ready() {
        return;
    }
    let seed = std::env::var("INTEROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x2c00_c1e5_e551_0002_u64);
    let count: usize = std::env::var("INTEROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    eprintln!("random JSON values: seed {seed} (INTEROP_SEED), {count} cases (INTEROP_CASES)");
    let started = Instant::now();
    let pair = Pair::start(NEW, SigAlgorithm::Sha1).await;
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let mut written = 0;
    for case in 0..count {
        let text = gen_object(&mut rng, 0);
        let mut b = Browser::new();
        let resp = b.put(&pair, Side::Express, API, &text).await;
        assert_eq!(resp.status, 200, "case {case}: PUT {text:?}: {}", resp.body);
        let Value::Object(parsed) = serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|e| panic!("case {case}: serde_json refuses {text:?}: {e}"))
        else {
            unreachable!("gen_object makes objects")
        };
        let session = filter_reserved(parsed);
        let ours = (!session.is_empty()).then(|| encode_value(&session));
        let node = b.jar.get("session").map(str::to_owned);
        if node.is_some() {
            written += 1;
        }
        if ours != node {
            failures.push(format!(
                "case {case}: body {text:?}\n  node: {:?}\n  ours: {:?}\n  node JSON: {:?}\n  our JSON:  {:?}",
                node,
                ours,
                node.as_deref().map(decoded_text),
                ours.as_deref().map(decoded_text),
            ));
            continue;
        }
        // And reading Node's cookie back gives the same session.
        if let Some(node) = node {
            let decoded = decode_value(&node).unwrap_or_else(|| panic!("case {case}: decode"));
            assert_eq!(
                encode_value(&decoded),
                node,
                "case {case}: decode then encode"
            );
        }
    }
    eprintln!(
        "stringify_matches_node_on_random_values: {count} values ({written} written) in {:?}",
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {count} values encode differently from Node (seed {seed}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
