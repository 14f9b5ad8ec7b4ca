//! The README's example: a visit counter in an encrypted cookie session.
//!
//! `SESSION_KEYS=$(cargo run -q -p cookie-session-cli -- keygen) cargo run -p cookie-session --features axum --example axum`
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
