//! The tower middleware: [`SessionLayer`] wraps a service in a [`SessionService`], which puts
//! a lazy [`Session`](crate::Session) in every request's extensions and writes the cookie
//! when the response leaves.
//!
//! ```
//! use cookie_session::{KeyRing, Session, SessionConfig};
//! use http::{Request, Response};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # tokio_test();
//! # fn tokio_test() { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let keys = KeyRing::new(["a secret of at least thirty-two bytes!"]).unwrap();
//! let layer = SessionConfig::new(keys).build().unwrap();
//! let service = layer.layer(service_fn(|req: Request<String>| async move {
//!     let session = req.extensions().get::<Session>().unwrap();
//!     session.insert("views", 1).unwrap();
//!     Ok::<_, std::convert::Infallible>(Response::new(String::new()))
//! }));
//! let response = service.oneshot(Request::new(String::new())).await.unwrap();
//! assert!(response.headers()["set-cookie"].to_str().unwrap().starts_with("session="));
//! # }) }
//! ```

mod future;
mod service;

use std::sync::Arc;

pub use future::ResponseFuture;
pub use service::SessionService;

use crate::session::Shared;

/// Adds cookie sessions to a service. Built by [`SessionConfig::build`](crate::SessionConfig::build),
/// so its configuration is already checked. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl SessionLayer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl<S> tower_layer::Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.shared.clone())
    }
}
