//! Leaving Express `cookie-session` for the encrypted format without logging anyone out: the
//! cut-over step of docs/MIGRATING-FROM-EXPRESS.md.
//!
//! The service seals sessions in the encrypted format under `SESSION_KEYS`, and also opens the
//! Express app's cookies (`session` + `session.sig`) with the Express keys, `EXPRESS_KEYS`: a
//! visitor who arrives with one keeps their session, which is re-issued encrypted on that
//! response while the Express pair is cleared. `GET /metrics` shows how many sessions each
//! format opened, so you can see when nobody arrives with an Express cookie any more.
//!
//! Run the reference Express app from the repository beside it, log in there, then visit the
//! Rust service with the same cookie jar:
//!
//! ```sh
//! export EXPRESS_KEYS=the-express-apps-key SESSION_KEYS=$(cargo run -q -p cookie-session-cli -- keygen)
//! (cd interop/express && npm ci && PORT=3001 SESSION_KEYS=$EXPRESS_KEYS node server.js) &
//! cargo run -p cookie-session --example migrate
//!
//! curl -c jar -b jar -X POST -H 'content-type: application/json' \
//!      -d '{"user":"ada"}' http://127.0.0.1:3001/api/session  # logged in on Express
//! curl -c jar -b jar -X POST http://127.0.0.1:3000/visit        # Rust: {"user":"ada","views":1}
//! grep session jar                                              # session is encrypted, no .sig
//! curl http://127.0.0.1:3000/metrics                            # {"encrypted":0,"express":1}
//! ```
use axum::{extract::State, routing::get, routing::post, Json, Router};
use cookie_session::migrate::Legacy;
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};
use serde_json::{Map, Value};

async fn show(session: Session) -> Json<Map<String, Value>> {
    Json(session.data())
}

async fn visit(session: Session) -> Json<Map<String, Value>> {
    let views = session.get::<u64>("views").unwrap_or(0) + 1;
    session.insert("views", views).expect("a number is JSON");
    Json(session.data())
}

/// Sessions opened per format: when `express` stops growing, retire `EXPRESS_KEYS`.
async fn metrics(State(layer): State<SessionLayer>) -> Json<Map<String, Value>> {
    let opened = layer.metrics().opened;
    Json(
        opened
            .into_iter()
            .map(|(format, count)| (format.to_owned(), count.into()))
            .collect(),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(express_keys) = std::env::var("EXPRESS_KEYS") else {
        eprintln!("migrate: EXPRESS_KEYS is not set: the Express app's keys, comma-separated");
        std::process::exit(2);
    };
    let sessions = SessionConfig::new(KeyRing::from_env()?)
        // The Express app's cookie: keygrip SHA-1, named `session`, `Path=/` (its defaults).
        .migrate_from(Legacy::express(KeyRing::parse_list(&express_keys)?))
        .build()?;
    let app = Router::new()
        .route("/api/session", get(show))
        .route("/visit", post(visit))
        .route("/metrics", get(metrics))
        .with_state(sessions.clone())
        .layer(sessions);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
