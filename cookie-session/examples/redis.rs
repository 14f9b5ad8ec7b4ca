//! A Redis store: the session data in Redis, only a sealed session id in the cookie. Handlers
//! are the same as in cookie mode.
//!
//! Run it (feature `redis`; any Redis will do, e.g. `redis-server --port 6379`):
//!
//! ```sh
//! export SESSION_KEYS=$(cargo run -q -p cookie-session-cli -- keygen)
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run -p cookie-session --features redis --example redis
//! ```
//!
//! Then try it:
//!
//! ```sh
//! curl -c jar -b jar http://127.0.0.1:3000/    # views=1
//! curl -c jar -b jar http://127.0.0.1:3000/    # views=2
//! redis-cli --scan                             # one key per session, named by a hash of its id
//! ```
//!
//! Without `REDIS_URL` it says so and exits with status 2. When Redis goes away, requests that
//! touch the session get a 503 until it is back (see `OutagePolicy` for the alternative).
use std::process::ExitCode;

use axum::{routing::get, Router};
use cookie_session::store::RedisStore;
use cookie_session::{KeyRing, Session, SessionConfig};

async fn visit(session: Session) -> String {
    let views = session.get::<u64>("views").unwrap_or(0) + 1;
    session.insert("views", views).expect("a number is JSON");
    format!("views={views}\n")
}

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        eprintln!("REDIS_URL is not set: point it at a Redis server, e.g. redis://127.0.0.1:6379/");
        return Ok(ExitCode::from(2));
    };
    let sessions = SessionConfig::new(KeyRing::from_env()?)
        .store(RedisStore::connect(&url).await?)
        .build()?;
    let app = Router::new().route("/", get(visit)).layer(sessions);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(ExitCode::SUCCESS)
}
