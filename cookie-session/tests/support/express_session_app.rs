//! The Express app of `interop/express-session` (express-session 1.19 with connect-redis or
//! connect-pg-simple, pinned by its lockfile), started for one test and killed on drop (also
//! when the test panics). Shared by the express-session live, mode and migration tests.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
