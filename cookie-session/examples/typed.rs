//! A typed session value: a shopping cart as a serde struct under the session key `cart`,
//! through the `Typed<T>` extractor.
//!
//! Run it:
//!
//! ```sh
//! export SESSION_KEYS=$(cargo run -q -p cookie-session-cli -- keygen)
//! cargo run -p cookie-session --example typed
//! ```
//!
//! Then try it:
//!
//! ```sh
//! curl -c jar -b jar -X POST 'http://127.0.0.1:3000/cart?item=apple'   # {"items":["apple"]}
//! curl -c jar -b jar -X POST 'http://127.0.0.1:3000/cart?item=pear'    # {"items":["apple","pear"]}
//! curl -c jar -b jar http://127.0.0.1:3000/cart                        # the same, no Set-Cookie
//! ```
//!
//! A session that does not fit `Cart` (a fresh one, or one written by an older version of the
//! program) starts from `Cart::default()`; a handler that only reads writes nothing back.
use std::collections::HashMap;

use axum::extract::Query;
use axum::{routing::get, Json, Router};
use cookie_session::extract::{SessionValue, Typed};
use cookie_session::{KeyRing, SessionConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Cart {
    items: Vec<String>,
}

/// The cart lives under its own session key, beside whatever else the session holds (a
/// logged-in user, flash messages): `Typed<Cart>` reads and writes only `"cart"`.
impl SessionValue for Cart {
    const KEY: &'static str = "cart";
}

async fn show(cart: Typed<Cart>) -> Json<Cart> {
    Json((*cart).clone())
}

async fn add(mut cart: Typed<Cart>, Query(query): Query<HashMap<String, String>>) -> Json<Cart> {
    if let Some(item) = query.get("item") {
        // Written back to the session when `cart` is dropped, after the handler returns.
        cart.items.push(item.clone());
    }
    Json((*cart).clone())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions = SessionConfig::new(KeyRing::from_env()?).build()?;
    let app = Router::new()
        .route("/cart", get(show).post(add))
        .layer(sessions);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
