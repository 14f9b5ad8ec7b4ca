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

use serde_json::{Map, Value};

use crate::format::{Loaded, Rejection};
use crate::session::Shared;
use crate::{Session, SessionError};

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

    /// Reads a session from `Cookie` header values exactly as a request would, with every
    /// check (signature, key, name, expiry). For tools and tests; the `decode` command uses it.
    ///
    /// ```
    /// # use cookie_session::{KeyRing, SessionConfig, format::Rejection};
    /// let layer = SessionConfig::new(KeyRing::new(["a secret of at least thirty-two bytes!"])?).build()?;
    /// assert_eq!(layer.decode(["session=forged"]).unwrap_err(), Rejection::Malformed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode<'h, I>(&self, cookie_headers: I) -> Result<Loaded, Rejection>
    where
        I: IntoIterator<Item = &'h str> + Clone,
    {
        self.shared.open(cookie_headers)
    }

    /// The `Set-Cookie` header values a response would carry for a new session holding
    /// `data`, over a plain-HTTP request. For tools and tests; the `sign` command uses it.
    ///
    /// ```
    /// # use cookie_session::{KeyRing, SessionConfig};
    /// let layer = SessionConfig::new(KeyRing::new(["a secret of at least thirty-two bytes!"])?).build()?;
    /// let data = serde_json::json!({"views": 1}).as_object().cloned().unwrap();
    /// let headers = layer.encode(data.clone())?;
    /// let cookie = headers[0].split(';').next().unwrap();
    /// assert_eq!(layer.decode([cookie]).unwrap().data, data);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self, data: Map<String, Value>) -> Result<Vec<String>, SessionError> {
        let session = Session::new(self.shared.clone(), Vec::new(), false);
        session.replace(data);
        let outcome = session.finish();
        match outcome.error {
            Some(error) => Err(error),
            None => Ok(outcome.set_cookies),
        }
    }
}

impl<S> tower_layer::Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.shared.clone())
    }
}
