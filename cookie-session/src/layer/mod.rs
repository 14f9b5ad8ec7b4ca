//! The tower middleware: [`SessionLayer`] wraps a service in a [`SessionService`], which puts
//! a lazy [`Session`] in every request's extensions and writes the cookie
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

use crate::cookie::MAX_COOKIE_LIFETIME;
use crate::format::Loaded;
use crate::metrics::MetricsSnapshot;
use crate::rejection::Rejection;
use crate::session::{
    Backend, CookieHeaders, Finish, Outcome, Pool, Session, SessionError, Shared,
};
use crate::store::StoreError;
use crate::time::unix_secs;

/// Adds cookie sessions to a service. Built by [`SessionConfig::build`](crate::SessionConfig::build),
/// so its configuration is already checked. Cheap to clone.
///
/// # Around the whole router
///
/// `Router::layer(sessions)` is the usual way, and what the README shows. axum then wraps
/// each route in the layer separately, boxing the layer's future and cloning the layered
/// route for every request, whatever the layer: about 880 instructions a request
/// (docs/PERFORMANCE.md, round five). Applied around the whole router instead, the layer runs
/// once before routing, for every request (unmatched paths included), and that cost goes:
///
/// ```no_run
/// use axum::extract::Request;
/// use axum::{routing::get, Router, ServiceExt};
/// use cookie_session::{KeyRing, Session, SessionConfig};
/// use tower::Layer;
///
/// async fn visit(session: Session) -> String {
///     let views = session.get::<u64>("views").unwrap_or(0) + 1;
///     session.insert("views", views).expect("a number is JSON");
///     format!("views={views}")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = SessionConfig::new(KeyRing::from_env()?).build()?;
/// let app = sessions.layer(Router::new().route("/", get(visit)));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
    /// Handles of finished requests, reused by the next ones (shared by every service this
    /// layer makes, as routers clone their services per request).
    pool: Arc<Pool>,
}

impl SessionLayer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            pool: Arc::default(),
        }
    }

    /// The checked configuration every session of this layer shares (the actix-web
    /// middleware is built from it).
    #[cfg(feature = "actix")]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The layer's counters: refused cookies by reason, oversized sessions, store failures.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    /// Reads a session from `Cookie` header values exactly as a request would, with every
    /// check (signature, key, name, expiry). For tools and tests; the `decode` command uses it.
    ///
    /// ```
    /// # use cookie_session::{KeyRing, Rejection, SessionConfig};
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
    ///
    /// Cookie mode only: with a server-side store (or an express-session source to
    /// [migrate from](crate::SessionConfig::migrate_from)) it fails, as a store round trip is
    /// something this synchronous helper does not make.
    pub fn encode(&self, data: Map<String, Value>) -> Result<Vec<String>, SessionError> {
        if self.shared.is_async() {
            return Err(SessionError::Store(StoreError::Backend(
                "encode works in cookie mode only, without an express-session source".into(),
            )));
        }
        let session = Session::new(self.shared.clone(), CookieHeaders::None, false);
        session.replace(data);
        let outcome = match session.finish() {
            Finish::Ready(outcome) => outcome,
            Finish::Pending(_) => Outcome::default(),
        };
        match outcome.error {
            Some(error) => Err(error),
            None => Ok(outcome.set_cookies),
        }
    }

    /// Ends every session of `user` (the value at the configured
    /// [`user_key`](crate::SessionConfig::user_key)), in every browser: with a store, deletes
    /// the user's records; with a revocation store, revokes every cookie session created
    /// before now. Returns how many records were deleted (0 in cookie mode).
    ///
    /// Revocation in cookie mode counts whole seconds, as the sealed times do: a cookie
    /// created in the same second as the revocation, by this instance's clock, is not revoked
    /// (nor one sealed by an instance whose clock runs ahead). Revoking that second too would
    /// log out the session a handler issues right after revoking (a password change that
    /// keeps its own browser logged in). With a store, every record is deleted, whenever made.
    ///
    /// Fails with [`StoreError::Backend`] when the layer has no store: plain cookie sessions
    /// cannot be revoked (they stay valid until they expire — configure
    /// [`SessionConfig::revocation`](crate::SessionConfig::revocation)).
    pub async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        let now = unix_secs(self.shared.now());
        match &self.shared.backend {
            Backend::Cookie => Err(StoreError::Backend(
                "no store configured: cookie sessions cannot be revoked".into(),
            )),
            Backend::Store(backend) => backend.store.delete_user(user).await,
            Backend::ExpressSession(_) => Err(StoreError::Backend(
                "express-session records name no user: they cannot be revoked by user".into(),
            )),
            Backend::Revocable(backend) => {
                // Keep the mark as long as a cookie created before now can live: its
                // absolute deadline, or for ever when rolling has no such limit.
                let until = match (self.shared.time.absolute_lifetime, self.shared.rolling) {
                    (Some(limit), _) => now.saturating_add(limit.as_secs()),
                    (None, true) => u64::MAX,
                    (None, false) => {
                        now.saturating_add(self.shared.ttl.max(MAX_COOKIE_LIFETIME).as_secs())
                    }
                };
                backend.store.revoke_user(user, now, until).await?;
                Ok(0)
            }
        }
    }
}

impl<S> tower_layer::Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.shared.clone(), self.pool.clone())
    }
}
