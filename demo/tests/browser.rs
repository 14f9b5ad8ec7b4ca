//! The demo in a real browser: headless Debian Chromium, driven by
//! `demo/e2e/browser.mjs` (Node + playwright-core), against the app served in-process on
//! `127.0.0.1:0`, once per format with a fresh app and a fresh browser profile each.
//!
//! Needs `node`, `npm ci` in `demo/e2e`, and Chromium (`CHROMIUM`, default `/usr/bin/chromium`;
//! Debian package `chromium`). When one is missing the test prints `skipping: …` and passes,
//! except under `CI=true`, where it fails.
//!
//! Screenshots and the browser's log go to `$E2E_ARTIFACTS/<format>/` (default
//! `target/e2e-artifacts/<format>/`). `E2E_DOCS_DIR=docs` also rewrites the README's pictures
//! `docs/demo-home.png` and `docs/demo-inside.png` (from the `encrypted` run):
//!
//! ```text
//! E2E_DOCS_DIR=$PWD/docs cargo test -p demo --test browser encrypted
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "../../cookie-session/tests/skip/mod.rs"]
mod skip;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{config_with, KEYS};

/// The whole journey, browser start included; the script gives up on its own at 45 s.
const HARD_TIMEOUT: Duration = Duration::from_secs(55);

/// One browser at a time: the machine may have two cores, and the journeys time themselves.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

#[test]
fn encrypted() {
    journey("encrypted");
}

#[test]
fn signed() {
    journey("signed");
}

#[test]
fn express() {
    journey("express");
}

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e")
}

/// `target/` of this build (the test binary is `target/<profile>/deps/browser-…`).
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn artifacts_dir(format: &str) -> PathBuf {
    match std::env::var_os("E2E_ARTIFACTS").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join(format),
        None => target_dir().join("e2e-artifacts").join(format),
    }
}

/// What the journey needs: node, playwright-core and Chromium. `Err` says what is missing.
fn prerequisites() -> Result<(String, PathBuf), String> {
    let node = std::env::var("NODE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    match Command::new(&node)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => {}
        _ => return Err(format!("`{node} --version` does not run: install Node.js")),
    }
    let playwright = e2e_dir().join("node_modules/playwright-core/package.json");
    if !playwright.is_file() {
        return Err(format!(
            "{} is missing: run `npm ci` in demo/e2e",
            playwright.display()
        ));
    }
    let chromium = std::env::var_os("CHROMIUM")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        return Err(format!(
            "no Chromium at {} (set CHROMIUM, or install Debian's `chromium`)",
            chromium.display()
        ));
    }
    Ok((node, chromium))
}

/// The demo app on a free loopback port, in its own thread and runtime; dropped, it stops.
struct Server {
    addr: SocketAddr,
    /// The app's session layer, for its counters.
    layer: cookie_session::SessionLayer,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(format: &str) -> Server {
        Server::start_with(config_with(format, KEYS, &[]))
    }

    /// Connects `config`'s stores in the server's own runtime (a Redis client's connection
    /// lives on the runtime that made it).
    fn start_with(config: demo::DemoConfig) -> Server {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let config = config.connect().await.expect("the demo's stores connect");
                let layer = config.layer().expect("a connected config has its layer");
                let app = demo::app(config);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx
                    .send((listener.local_addr().unwrap(), layer))
                    .unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
            // Connections Chromium keeps alive must not hold the test.
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        let (addr, layer) = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the demo app starts");
        Server {
            addr,
            layer,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A graceful shutdown waits for open connections; the browser is gone by now, but the
        // test must not hang on it either way.
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

fn signal(pid: i32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Kills any browser still running on `profile` (only possible if node itself was killed:
/// playwright-core kills the browser whenever node exits on its own). Chromium runs in its own
/// process group, so the group goes, renderers included.
fn kill_browser_on(profile: &Path) {
    let needle = format!("--user-data-dir={}", profile.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == needle.as_bytes())
        {
            eprintln!("killing a leftover browser, pid {pid}, and its process group");
            signal(-pid, "-KILL");
            signal(pid, "-KILL");
        }
    }
}

/// Waits for `child` until `deadline`; past it, SIGTERM (playwright closes the browser), then
/// SIGKILL. `None`: it had to be killed.
fn wait_bounded(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(child.id() as i32, "-TERM");
    let grace = Instant::now() + Duration::from_secs(5);
    while Instant::now() < grace {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn is_png(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(format!("{} is not a PNG", path.display()));
    }
    Ok(bytes.len() as u64)
}

fn journey(format: &str) {
    let (node, chromium) = match prerequisites() {
        Ok(found) => found,
        Err(missing) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("the browser test cannot run under CI: {missing}")
        }
        Err(missing) => {
            skip::skipped(&format!("browser journey ({format}): {missing}"));
            return;
        }
    };
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();

    let artifacts = artifacts_dir(format);
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let log_path = artifacts.join("browser.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let profile = std::env::temp_dir().join(format!(
        "cookie-session-e2e-{}-{format}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&profile);

    let server = Server::start(format);
    let base = format!("http://{}", server.addr);

    let mut command = Command::new(&node);
    command
        .current_dir(e2e_dir())
        .arg("browser.mjs")
        .arg(&base)
        .arg(&artifacts)
        .arg(format)
        .env("CHROMIUM", &chromium)
        .env("E2E_USER_DATA_DIR", &profile)
        .env("E2E_TIMEOUT_MS", "45000")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // The README's pictures come from one run only.
    if format != "encrypted" {
        command.env_remove("E2E_DOCS_DIR");
    }
    let mut child = command.spawn().expect("node starts");
    let status = wait_bounded(&mut child, started + HARD_TIMEOUT);
    let node_done = started.elapsed();
    kill_browser_on(&profile);
    let _ = std::fs::remove_dir_all(&profile);
    drop(server);

    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprintln!("---- {} ----\n{output}----", log_path.display());
    let elapsed = started.elapsed();
    eprintln!("browser journey ({format}): {elapsed:.1?} (node exited after {node_done:.1?})");

    let status = status.unwrap_or_else(|| {
        panic!("the browser journey ({format}) did not finish within {HARD_TIMEOUT:?}; see above")
    });
    assert!(
        status.success(),
        "the browser journey ({format}) failed ({status}): see the log above and {}",
        artifacts.display()
    );
    assert!(
        output.contains(&format!("E2E PASS format={format} ")),
        "no PASS line in the browser log"
    );
    assert!(
        !output.contains("E2E FAIL"),
        "a FAIL line in the browser log"
    );
    for name in ["home.png", "inside.png"] {
        let size = is_png(&artifacts.join(name)).unwrap();
        assert!(size > 5_000, "{name} is only {size} bytes");
    }
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

// ---- From Express to the demo without logging in again (`SESSION_MIGRATE_FROM`) ----

/// The Express app's keys (short, as Express allows): the demo opens its cookies with them.
const EXPRESS_KEYS: &str = "express-key-2024,express-key-2023";

/// express-session's secrets in `interop/express-session` (any length, as Express allows).
const EXPRESS_SESSION_SECRETS: &str = "express-secret-2024,express-secret-2023";

/// `node server.js` of one of the interop Express apps (`interop/<dir>`, pinned by its
/// lockfile) on a free loopback port, with `env`; killed and reaped on drop.
struct ExpressApp {
    child: Child,
    base: String,
}

impl ExpressApp {
    fn start(node: &str, dir: &Path, env: &[(&str, &str)]) -> ExpressApp {
        use std::io::BufRead as _;
        let mut command = Command::new(node);
        command
            .arg("server.js")
            .current_dir(dir)
            .env("PORT", "0")
            .env_remove("SESSION_NAME")
            .env_remove("SESSION_ALGORITHM")
            .env_remove("NODE_OPTIONS");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node server.js starts");
        let stdout = child.stdout.take().unwrap();
        let mut app = ExpressApp {
            child,
            base: String::new(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("node server.js prints `listening <port>`");
        let port: u16 = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("node server.js: expected `listening <port>`, got {line:?}"));
        app.base = format!("http://127.0.0.1:{port}");
        app
    }
}

impl Drop for ExpressApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logged in on the real Express `cookie-session` app, then on the demo (encrypted, migrating
/// from express): logged in at once, the cookie re-issued encrypted and `session.sig` cleared
/// (demo/e2e/migrate.mjs). Skips like the other journeys when Node, `npm ci` (in demo/e2e
/// and interop/express) or Chromium is missing, except under `CI=true`.
#[test]
fn migrate_from_express() {
    let dir = interop_dir("express");
    let ready = dir
        .join("node_modules/cookie-session/package.json")
        .is_file();
    let Some(node) = migration_prerequisites(ready, "express") else {
        return;
    };
    let express = ExpressApp::start(&node.0, &dir, &[("SESSION_KEYS", EXPRESS_KEYS)]);
    let server = Server::start_with(config_with(
        "encrypted",
        KEYS,
        &[
            ("SESSION_MIGRATE_FROM", "express"),
            ("SESSION_MIGRATE_KEYS", EXPRESS_KEYS),
        ],
    ));
    migrate_journey(node, &express, &server, "express");
}

/// The same journey from the real express-session app on connect-redis: the browser holds
/// only `connect.sid`; the demo (encrypted, `SESSION_MIGRATE_FROM=express-session`) reads the
/// record from the same Redis, logs the visitor in, and clears `connect.sid`. Needs
/// `REDIS_URL` too (`scripts/test` starts a throwaway Redis).
#[test]
fn migrate_from_express_session() {
    let dir = interop_dir("express-session");
    let ready = dir
        .join("node_modules/express-session/package.json")
        .is_file();
    let Some(node) = migration_prerequisites(ready, "express-session") else {
        return;
    };
    let redis = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("the browser test cannot run under CI: REDIS_URL is not set")
        }
        _ => {
            skip::skipped("browser journey (migrate from express-session): REDIS_URL is not set");
            return;
        }
    };
    let express = ExpressApp::start(
        &node.0,
        &dir,
        &[
            ("SESSION_SECRETS", EXPRESS_SESSION_SECRETS),
            ("SESSION_STORE", "redis"),
            ("REDIS_URL", &redis),
        ],
    );
    let server = Server::start_with(config_with(
        "encrypted",
        KEYS,
        &[
            ("SESSION_MIGRATE_FROM", "express-session"),
            ("SESSION_MIGRATE_KEYS", EXPRESS_SESSION_SECRETS),
            ("SESSION_MIGRATE_STORE", &redis),
        ],
    ));
    migrate_journey(node, &express, &server, "express-session");
}

fn interop_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../interop")
        .join(name)
}

/// Node and Chromium, or `None` after printing why the journey skips (a panic under
/// `CI=true`). `ready`: the Express app's `node_modules` are installed.
fn migration_prerequisites(ready: bool, from: &str) -> Option<(String, PathBuf)> {
    let found = prerequisites().and_then(|found| {
        if ready {
            Ok(found)
        } else {
            Err(format!(
                "interop/{from}/node_modules is missing: run `npm ci` in interop/{from}"
            ))
        }
    });
    match found {
        Ok(found) => Some(found),
        Err(missing) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("the browser test cannot run under CI: {missing}")
        }
        Err(missing) => {
            skip::skipped(&format!("browser journey (migrate from {from}): {missing}"));
            None
        }
    }
}

/// Runs demo/e2e/migrate.mjs from `express` (an app of the kind `from`) to the demo `server`,
/// and checks its log, its screenshot and the demo's counters.
fn migrate_journey(
    (node, chromium): (String, PathBuf),
    express: &ExpressApp,
    server: &Server,
    from: &str,
) {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let artifacts = artifacts_dir(&format!("migrate-{from}"));
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let log_path = artifacts.join("browser.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let profile = std::env::temp_dir().join(format!(
        "cookie-session-e2e-{}-migrate-{from}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&profile);

    let mut child = Command::new(&node)
        .current_dir(e2e_dir())
        .arg("migrate.mjs")
        .arg(&express.base)
        .arg(format!("http://{}", server.addr))
        .arg(&artifacts)
        .arg(from)
        .env("CHROMIUM", &chromium)
        .env("E2E_USER_DATA_DIR", &profile)
        .env("E2E_TIMEOUT_MS", "45000")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("node starts");
    let status = wait_bounded(&mut child, started + HARD_TIMEOUT);
    kill_browser_on(&profile);
    let _ = std::fs::remove_dir_all(&profile);

    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprintln!("---- {} ----\n{output}----", log_path.display());
    let status = status.unwrap_or_else(|| {
        panic!("the migration journey ({from}) did not finish within {HARD_TIMEOUT:?}; see above")
    });
    assert!(
        status.success(),
        "the migration journey ({from}) failed ({status}): see the log above"
    );
    assert!(
        output.contains("E2E PASS migrate"),
        "no PASS line in the browser log"
    );
    assert!(
        !output.contains("E2E FAIL"),
        "a FAIL line in the browser log"
    );
    // The demo saw one session of the old kind and then served its own.
    let metrics = server.layer.metrics();
    assert_eq!(metrics.opened_count(from), 1, "{metrics:?}");
    assert!(metrics.opened_count("encrypted") >= 2, "{metrics:?}");
    is_png(&artifacts.join("migrated.png")).unwrap();
}
