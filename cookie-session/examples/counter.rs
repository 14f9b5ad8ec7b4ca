//! The counter: a visit count in an encrypted cookie session (the README's program).
//!
//! Run it (the keys come from `SESSION_KEYS`, or a `.env` file):
//!
//! ```sh
//! export SESSION_KEYS=$(cargo run -q -p cookie-session-cli -- keygen)
//! cargo run -p cookie-session --example counter
//! ```
//!
//! Then try it (`ADDR` picks another address; the program prints the one it listens on):
//!
//! ```sh
//! curl -c jar -b jar http://127.0.0.1:3000/    # views=1
//! curl -c jar -b jar http://127.0.0.1:3000/    # views=2
//! cat jar                                      # one opaque `session` cookie
//! ```
use axum::{routing::get, Router};
use cookie_session::{KeyRing, Session, SessionConfig};

async fn visit(session: Session) -> String {
    let views = session.get::<u64>("views").unwrap_or(0) + 1;
    session.insert("views", views).expect("a number is JSON");
    format!("views={views}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions = SessionConfig::new(KeyRing::from_env()?).build()?;
    let app = Router::new().route("/", get(visit)).layer(sessions);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
