//! PostgreSQL goes down mid-run and comes back: requests that need the store get an opaque
//! 503 while it is down, and work again once it is back, with no restart of the application.
//!
//! It stops and starts the throwaway cluster that `scripts/services.sh` started (it exports
//! `TEST_PG_CTL`, `TEST_PGDATA` and `TEST_PG_OPTS` only for a cluster it owns), so it lives in
//! a test binary of its own: cargo runs test binaries one after another, and no other test
//! shares the server while it is down.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod skip;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use cookie_session::store::{PostgresStore, SessionId, SessionStore};
use cookie_session::{KeyRing, Session, SessionConfig};
use http::{Request, StatusCode};
use tower::ServiceExt;

/// The test cluster's `pg_ctl`, run as `postgres` when we are root (it refuses root).
struct Cluster {
    pg_ctl: String,
    data: String,
    opts: String,
    down: bool,
}

impl Cluster {
    fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (
            var("DATABASE_URL"),
            var("TEST_PG_CTL"),
            var("TEST_PGDATA"),
            var("TEST_PG_OPTS"),
        ) {
            (Some(_), Some(pg_ctl), Some(data), Some(opts)) => Some(Cluster {
                pg_ctl,
                data,
                opts,
                down: false,
            }),
            _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
                "under CI, scripts/services.sh must set DATABASE_URL, TEST_PG_CTL, TEST_PGDATA and TEST_PG_OPTS"
            ),
            _ => {
                skip::skipped("no throwaway cluster (TEST_PG_CTL, TEST_PGDATA, TEST_PG_OPTS) to stop");
                None
            }
        }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &self.pg_ctl]);
            c
        } else {
            Command::new(&self.pg_ctl)
        };
        let status = cmd.args(["-D", &self.data]).args(args).status().unwrap();
        assert!(status.success(), "pg_ctl {args:?}: {status}");
    }

    fn stop(&mut self) {
        self.pg_ctl(&["-m", "fast", "-w", "-t", "30", "stop"]);
        self.down = true;
    }

    fn start(&mut self) {
        let log = format!("{}/../postgres.log", self.data);
        self.pg_ctl(&["-l", &log, "-w", "-t", "60", "-o", &self.opts, "start"]);
        self.down = false;
    }
}

impl Drop for Cluster {
    /// Never leave the shared test cluster down, even when the test fails.
    fn drop(&mut self) {
        if self.down {
            self.start();
        }
    }
}

async fn call(app: &Router, uri: &str, cookie: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::builder().uri(uri);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let jar = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, jar, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn requests_fail_with_503_while_postgres_is_down_and_recover_after() {
    let Some(mut cluster) = Cluster::from_env() else {
        return;
    };
    let url = std::env::var("DATABASE_URL").unwrap();
    // The defaults an application gets from `connect`, on tables of its own.
    let pool = PostgresStore::pool_options().connect(&url).await.unwrap();
    let name = format!("o_{}", &SessionId::generate().store_key().as_str()[..16]);
    let store = PostgresStore::from_pool_with_tables(pool, &name, &format!("{name}_r"))
        .await
        .unwrap();
    let layer = SessionConfig::new(KeyRing::new(["outage-test-key-0123456789abcdef0123"]).unwrap())
        .shared_store(Arc::new(store) as Arc<dyn SessionStore>)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/get",
            get(|s: Session| async move { serde_json::to_string(&s.data()).unwrap() }),
        )
        .route(
            "/set/{v}",
            get(
                |s: Session, axum::extract::Path(v): axum::extract::Path<String>| async move {
                    s.insert("v", v).unwrap();
                    "ok"
                },
            ),
        )
        .layer(layer);

    let (status, cookie, _) = call(&app, "/set/before", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        call(&app, "/get", Some(&cookie)).await.2,
        r#"{"v":"before"}"#
    );

    cluster.stop();
    for uri in ["/get", "/set/during"] {
        let started = Instant::now();
        let (status, set_cookie, body) = call(&app, uri, Some(&cookie)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert!(set_cookie.is_empty(), "{uri}: no cookie on a failure");
        // Opaque: nothing of the driver's words reaches the client.
        assert!(
            body.is_empty() || body == "Service Unavailable",
            "{uri}: {body:?}"
        );
        let waited = started.elapsed();
        eprintln!("{uri} while down: {status} after {waited:?}");
        assert!(waited < Duration::from_secs(10), "{uri} took {waited:?}");
    }
    // A request without a session cookie needs no store: it still works.
    assert_eq!(call(&app, "/get", None).await.0, StatusCode::OK);

    cluster.start();
    // The very first request after the server is back works, on the same app and pool.
    let (status, _, body) = call(&app, "/get", Some(&cookie)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"v":"before"}"#)
    );
    assert_eq!(
        call(&app, "/set/after", Some(&cookie)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "/get", Some(&cookie)).await.2,
        r#"{"v":"after"}"#
    );
}
