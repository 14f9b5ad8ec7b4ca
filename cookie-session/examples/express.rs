//! Express interop: a Rust service that shares one session with an Express app using
//! `cookie-session` 2.x, by writing the same cookies (`session` = base64 JSON, `session.sig` =
//! its keygrip signature) with the same keys.
//!
//! This shares the Express format as it is, for as long as both services run. It has no
//! server-side expiry (an Express cookie is valid as long as its key is in the ring), so it is
//! a bridge, not a destination; moving the sessions over to a native format is a separate step,
//! not shown here. The wire format and what this library does differently are in
//! docs/EXPRESS-COMPATIBILITY.md in the repository.
//!
//! Run it, and the reference Express app from the repository beside it, with the same keys:
//!
//! ```sh
//! export SESSION_KEYS=a-key-both-services-share
//! (cd interop/express && npm ci && PORT=3001 node server.js) &
//! cargo run -p cookie-session --example express
//! ```
//!
//! Then try it (curl sends cookies to both ports of 127.0.0.1, as a browser would):
//!
//! ```sh
//! curl -c jar -b jar -X POST http://127.0.0.1:3000/visit         # Rust: {"views":1}
//! curl -c jar -b jar http://127.0.0.1:3001/api/session           # Express reads {"views":1}
//! curl -c jar -b jar -X POST -H 'content-type: application/json' \
//!      -d '{"from":"express"}' http://127.0.0.1:3001/api/session # Express adds a key
//! curl -c jar -b jar -X POST http://127.0.0.1:3000/visit         # Rust: {"views":2,"from":"express"}
//! ```
use axum::{routing::get, routing::post, Json, Router};
use cookie_session::format::{Format, SigAlgorithm};
use cookie_session::{KeyRing, Session, SessionConfig};
use serde_json::{Map, Value};

async fn show(session: Session) -> Json<Map<String, Value>> {
    Json(session.data())
}

async fn visit(session: Session) -> Json<Map<String, Value>> {
    let views = session.get::<u64>("views").unwrap_or(0) + 1;
    session.insert("views", views).expect("a number is JSON");
    Json(session.data())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions = SessionConfig::new(KeyRing::from_env()?)
        // keygrip's default algorithm; Express apps built with `new Keygrip(keys, 'sha256')`
        // use `SigAlgorithm::Sha256`.
        .format(Format::Express(SigAlgorithm::Sha1))
        // Express's default has no SameSite attribute: write the same headers it does.
        .same_site(None)
        .build()?;
    let app = Router::new()
        .route("/api/session", get(show))
        .route("/visit", post(visit))
        .layer(sessions);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
