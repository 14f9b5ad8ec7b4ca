//! actix-web: the same sessions as the tower layer, as an actix-web middleware and extractors.
//!
//! The [`SessionMiddleware`] is built from the same checked [`SessionConfig`]; handlers take
//! the [`Session`], or a [`Typed`] value, or [`Flash`] messages, as arguments, exactly as with
//! axum. The library is used with the feature `actix`
//! (`cookie-session = { version = "0.1", features = ["actix"] }`).
//!
//! Run it:
//!
//! ```sh
//! export SESSION_KEYS=$(cargo run -q -p cookie-session-cli -- keygen)
//! cargo run -p cookie-session --features actix --example actix
//! ```
//!
//! Then try it:
//!
//! ```sh
//! curl -c jar -b jar http://127.0.0.1:3000/                         # views=1
//! curl -c jar -b jar http://127.0.0.1:3000/                         # views=2
//! curl -c jar -b jar -X POST 'http://127.0.0.1:3000/cart?item=apple' # {"items":["apple"]}
//! curl -c jar -b jar http://127.0.0.1:3000/cart                     # read only: no Set-Cookie
//! ```
use actix_web::{web, App, HttpServer};
use cookie_session::actix::SessionMiddleware;
use cookie_session::extract::{Flash, SessionValue, Typed};
use cookie_session::flash::FlashMessage;
use cookie_session::{KeyRing, Session, SessionConfig};
use serde::{Deserialize, Serialize};

async fn visit(session: Session) -> String {
    let views = session.get::<u64>("views").unwrap_or(0) + 1;
    session.insert("views", views).expect("a number is JSON");
    format!("views={views}")
}

/// A cart kept in the session under its own key.
#[derive(Default, Serialize, Deserialize)]
struct Cart {
    items: Vec<String>,
}

impl SessionValue for Cart {
    const KEY: &'static str = "cart";
}

#[derive(Deserialize)]
struct Item {
    item: String,
}

/// `POST /cart?item=apple`: adds an item (and leaves a flash message for the next page).
async fn add(mut cart: Typed<Cart>, flash: Flash, query: web::Query<Item>) -> web::Json<Cart> {
    cart.items.push(query.into_inner().item);
    flash.push(FlashMessage::success("Added.")).ok();
    // The change is written back to the session when `cart` is dropped, as the handler ends.
    web::Json(Cart {
        items: cart.items.clone(),
    })
}

/// `GET /cart`: only reads, so no cookie is sent.
async fn show(cart: Typed<Cart>) -> web::Json<Cart> {
    web::Json(Cart {
        items: cart.items.clone(),
    })
}

/// `GET /flash`: the messages the previous request left, shown once.
async fn messages(flash: Flash) -> String {
    flash
        .iter()
        .map(|m| m.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions = SessionMiddleware::new(SessionConfig::new(KeyRing::from_env()?).build()?);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .wrap(sessions.clone())
                .route("/", web::get().to(visit))
                .route("/cart", web::post().to(add))
                .route("/cart", web::get().to(show))
                .route("/flash", web::get().to(messages))
        })
        .workers(2)
        .bind(addr)?;
        println!("listening on http://{}", server.addrs()[0]);
        server.run().await
    })?;
    Ok(())
}
