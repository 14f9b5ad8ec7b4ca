//! Test kits (feature `testing`): unit-testing your own handlers with a session, without a
//! server ([`TestSession`]), and checking your own [`SessionStore`](crate::store::SessionStore)
//! against the contract every store here keeps ([`check_store`]).
//!
//! # Handlers
//!
//! A [`TestSession`] plays the browser's cookie jar for one [`SessionLayer`](crate::SessionLayer): seed a session
//! with [`TestSession::set`], put its cookies on a request with [`TestSession::apply`], call
//! your service (wrapped in the same layer) directly, take the response's `Set-Cookie` back
//! with [`TestSession::absorb`], and read what the handler left in the session with
//! [`TestSession::data`]. Every step goes through the layer's real code, so it works the
//! same in cookie mode and with any store.
//!
//! ```
//! use axum::{body::Body, routing::post, Router};
//! use cookie_session::testing::TestSession;
//! use cookie_session::{KeyRing, Session, SessionConfig};
//! use http::Request;
//! use tower::ServiceExt;
//!
//! async fn add_to_cart(session: Session) -> &'static str {
//!     let mut cart: Vec<String> = session.get("cart").unwrap_or_default();
//!     cart.push("apple".into());
//!     session.insert("cart", cart).ok();
//!     "added"
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let keys = KeyRing::new(["a secret of at least thirty-two bytes!"]).unwrap();
//! let layer = SessionConfig::new(keys).build().unwrap();
//! let app = Router::new().route("/cart", post(add_to_cart)).layer(layer.clone());
//!
//! let mut jar = TestSession::new(layer);
//! jar.set(serde_json::json!({"user": "ada", "cart": ["pear"]})).await.unwrap();
//!
//! let mut request = Request::post("/cart").body(Body::empty()).unwrap();
//! jar.apply(&mut request);
//! let response = app.oneshot(request).await.unwrap();
//! jar.absorb(&response);
//!
//! let session = jar.data().await.unwrap();
//! assert_eq!(session["cart"], serde_json::json!(["pear", "apple"]));
//! assert_eq!(session["user"], "ada");
//! # });
//! ```

//!
//! # Stores
//!
//! [`check_store`] runs the store contract against any implementation of
//! [`SessionStore`](crate::store::SessionStore): see its documentation.

mod jar;
mod store;

pub use jar::TestSession;
pub use store::{check_store, StoreCheckFailed};
