//! Login and logout: `regenerate()` at login against session fixation, `destroy()` at logout,
//! and `revoke_user` to end a user's sessions in every browser. Sessions live in the in-memory
//! store (feature `memory`, on by default); the cookie holds only a sealed session id.
//!
//! Run it:
//!
//! ```sh
//! export SESSION_KEYS=$(cargo run -q -p cookie-session-cli -- keygen)
//! cargo run -p cookie-session --example login
//! ```
//!
//! Then try it, with two "browsers" (cookie jars):
//!
//! ```sh
//! curl -c a -b a -X POST 'http://127.0.0.1:3000/login?user=alice'   # logged in as alice
//! curl -c b -b b -X POST 'http://127.0.0.1:3000/login?user=alice'   # alice, second browser
//! curl -b a http://127.0.0.1:3000/                                   # hello alice
//! curl -b a -X POST http://127.0.0.1:3000/logout-everywhere          # ended 2 sessions
//! curl -b b http://127.0.0.1:3000/                                   # not logged in
//! curl -c b -b b -X POST 'http://127.0.0.1:3000/login?user=bob'     # logged in as bob
//! curl -c b -b b -X POST http://127.0.0.1:3000/logout                # logged out
//! ```
use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{routing::get, routing::post, Router};
use cookie_session::store::MemoryStore;
use cookie_session::{KeyRing, Session, SessionConfig, SessionLayer};

/// The session key that names the user: the default `user_key`, which `revoke_user` reads.
const USER: &str = "user";

async fn home(session: Session) -> String {
    match session.get::<String>(USER) {
        Some(user) => format!("hello {user}\n"),
        None => "not logged in\n".to_owned(),
    }
}

async fn login(
    session: Session,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, (StatusCode, &'static str)> {
    // A real application checks a password here.
    let user = query
        .get("user")
        .filter(|user| !user.is_empty())
        .ok_or((StatusCode::BAD_REQUEST, "?user= is required\n"))?;
    // A new session id at every change of privilege: an id planted before login is worthless.
    session.regenerate();
    session
        .insert(USER, user)
        .map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "not saved\n"))?;
    Ok(format!("logged in as {user}\n"))
}

async fn logout(session: Session) -> &'static str {
    session.destroy();
    "logged out\n"
}

async fn logout_everywhere(
    State(sessions): State<SessionLayer>,
    session: Session,
) -> Result<String, (StatusCode, &'static str)> {
    let user = session
        .get::<String>(USER)
        .ok_or((StatusCode::UNAUTHORIZED, "not logged in\n"))?;
    let ended = sessions
        .revoke_user(&user)
        .await
        .map_err(|_| (StatusCode::SERVICE_UNAVAILABLE, "try again\n"))?;
    Ok(format!("ended {ended} sessions of {user}\n"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions = SessionConfig::new(KeyRing::from_env()?)
        .store(MemoryStore::new())
        .build()?;
    let app = Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/logout-everywhere", post(logout_everywhere))
        .layer(sessions.clone())
        .with_state(sessions);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
