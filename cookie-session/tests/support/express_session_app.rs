//! The Express app of `interop/express-session` (express-session 1.19 with connect-redis or
//! connect-pg-simple, pinned by its lockfile), started for one test and killed on drop (also
//! when the test panics), with what the tests need around it: whether it can run, one HTTP
//! request to it. Shared by the express-session live, mode and migration tests.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cookie_session::store::sqlx::PgPool;
use cookie_session::store::{ExpressPgStore, ExpressRedisStore, ExpressSessionStore};
use serde_json::Value;
use tokio::runtime::Runtime;

/// The app's folder.
pub const APP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../interop/express-session");

/// `node server.js` on a free loopback port.
pub struct ExpressApp {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl ExpressApp {
    /// Starts the app with its secret list (`SESSION_SECRETS`, comma-separated) and `env`
    /// (its store settings); waits up to `wait` for its `listening <port>` line.
    pub fn start(secrets: &str, env: &[(&str, &str)], wait: Duration) -> Self {
        let mut cmd = Command::new("node");
        cmd.arg("server.js")
            .current_dir(APP_DIR)
            .env("PORT", "0")
            .env("SESSION_SECRETS", secrets)
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("node server.js");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(wait).expect("server.js did not start");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from server.js: {line:?}"));
        ExpressApp { child, port }
    }
}

impl Drop for ExpressApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `var` (the store's URL), node and the app's node_modules, or why not: each reason is handed
/// to `skip` (which fails under CI) and gives `None`.
pub fn ready(var: &str, skip: fn(&str)) -> Option<String> {
    let url = match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            skip(&format!("{var} is not set"));
            return None;
        }
    };
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node {
        skip("node is not on PATH");
        return None;
    }
    let modules = [
        "express-session",
        "connect-redis",
        "connect-pg-simple",
        "express",
    ]
    .iter()
    .all(|m| {
        Path::new(APP_DIR)
            .join("node_modules")
            .join(m)
            .join("package.json")
            .is_file()
    });
    if !modules {
        skip("run npm ci in interop/express-session");
        return None;
    }
    Some(url)
}

/// An answer of the app.
#[derive(Debug)]
#[allow(dead_code)]
pub struct Reply {
    pub status: u16,
    pub set_cookie: Vec<String>,
    pub body: Value,
}

impl Reply {
    /// The `connect.sid=…` pair the browser keeps from this response.
    #[allow(dead_code)]
    pub fn cookie(&self) -> Option<String> {
        self.set_cookie.iter().find_map(|h| {
            let pair = h.split(';').next()?;
            pair.starts_with("connect.sid=").then(|| pair.to_owned())
        })
    }
}

/// One request (`Connection: close`, a JSON body if any) to the app on `port`; `wait` bounds
/// the read.
pub fn call(
    port: u16,
    wait: Duration,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(cookie) = cookie {
        req.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    let crate::http::Answer {
        status,
        set_cookie,
        body,
    } = crate::http::exchange(&format!("127.0.0.1:{port}"), wait, &req);
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap()
    };
    Reply {
        status,
        set_cookie,
        body,
    }
}

/// The store the Express app and this crate share.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)]
pub enum Kind {
    /// connect-redis on `REDIS_URL`.
    Redis,
    /// connect-pg-simple on `DATABASE_URL`.
    Pg,
}

/// The store's records as another program reads and writes them.
#[allow(dead_code)]
pub enum Raw {
    Redis(redis::Client),
    Pg { pool: PgPool, table: String },
}

impl Raw {
    /// Drops the test's own PostgreSQL table (nothing for Redis, whose keys are the sids).
    #[allow(dead_code)]
    pub fn drop_table(&self, rt: &Runtime) {
        if let Raw::Pg { pool, table } = self {
            let sql = format!("DROP TABLE IF EXISTS \"{table}\"");
            let _ = rt.block_on(cookie_session::store::sqlx::query(&sql).execute(pool));
        }
    }
}

/// One store of `kind`, opened for both sides.
#[allow(dead_code)]
pub struct Backend {
    /// This crate's store for it.
    pub store: Arc<dyn ExpressSessionStore>,
    /// Raw access to its records.
    pub raw: Raw,
    /// The Express app's settings for the same store.
    pub env: Vec<(&'static str, String)>,
}

impl Backend {
    /// Opens the store of `kind` (for PostgreSQL, in a new table `table`), or says why not
    /// through `skip` (see [`ready`]).
    #[allow(dead_code)]
    pub fn open(kind: Kind, rt: &Runtime, table: &str, skip: fn(&str)) -> Option<Self> {
        let var = match kind {
            Kind::Redis => "REDIS_URL",
            Kind::Pg => "DATABASE_URL",
        };
        let url = ready(var, skip)?;
        Some(match kind {
            Kind::Redis => Backend {
                store: Arc::new(rt.block_on(ExpressRedisStore::connect(&url)).unwrap()),
                raw: Raw::Redis(redis::Client::open(url.as_str()).unwrap()),
                env: vec![("SESSION_STORE", "redis".into()), ("REDIS_URL", url)],
            },
            Kind::Pg => {
                let pool = rt.block_on(PgPool::connect(&url)).unwrap();
                let store = ExpressPgStore::new(pool.clone()).with_table(table);
                rt.block_on(store.create_table_if_missing()).unwrap();
                Backend {
                    store: Arc::new(store),
                    raw: Raw::Pg {
                        pool,
                        table: table.to_owned(),
                    },
                    env: vec![
                        ("SESSION_STORE", "pg".into()),
                        ("DATABASE_URL", url),
                        ("SESSION_PG_TABLE", table.to_owned()),
                    ],
                }
            }
        })
    }

    /// [`Backend::env`] as [`ExpressApp::start`] takes it.
    #[allow(dead_code)]
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}
