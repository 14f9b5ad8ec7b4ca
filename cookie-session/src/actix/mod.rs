//! The actix-web middleware (feature `actix`): [`SessionMiddleware`] puts the same lazy
//! [`Session`](crate::Session) as the tower layer in every request's extensions and writes the
//! cookie when the response leaves, by the same rules (`respond.rs`); `Session`, and the
//! typed, flash and CSRF extractors of [`extract`](crate::extract), are actix-web extractors
//! too.
//!
//! It is built from the same checked [`SessionConfig`](crate::SessionConfig): one
//! configuration, two frameworks.
//!
//! # Examples
//!
//! ```
//! use actix_web::{web, App, HttpServer};
//! use cookie_session::actix::SessionMiddleware;
//! use cookie_session::{KeyRing, Session, SessionConfig};
//!
//! async fn visit(session: Session) -> String {
//!     let views = session.get::<u64>("views").unwrap_or(0) + 1;
//!     session.insert("views", views).expect("a number is JSON");
//!     format!("views={views}")
//! }
//!
//! # fn run() -> std::io::Result<()> {
//! let keys = KeyRing::new(["a secret of at least thirty-two bytes!"]).unwrap();
//! let sessions = SessionMiddleware::new(SessionConfig::new(keys).build().unwrap());
//! actix_web::rt::System::new().block_on(
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(sessions.clone())
//!             .route("/", web::get().to(visit))
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run(),
//! )
//! # }
//! ```
//!
//! # What differs from the tower layer
//!
//! Nothing a client sees. actix-web 4 speaks the `http` 0.2 types, so the `Cookie` header
//! values are copied once into the `http` 1 types the session keeps (the tower layer only
//! clones a reference-counted value), and the response future is boxed, as actix-web
//! middleware futures are. A request counts as HTTPS when its URI says so, when the server was
//! bound with TLS (actix-web's `AppConfig::secure`), or — with
//! [`trust_proxy`](crate::SessionConfig::trust_proxy) — when the first `X-Forwarded-Proto`
//! value is `https`.
//!
//! actix-web keeps a request's extensions until its response is sent, so the middleware takes
//! the session out of them when it finishes the session (the cookie is then written): an
//! outer middleware finds no `Session` on the way out. This lets the middleware reuse the
//! handle for the next request, as the tower layer does, unless the handler kept a clone.

mod extract;
mod service;

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};

pub use service::SessionMiddlewareService;

use crate::metrics::MetricsSnapshot;
use crate::session::{Pool, Shared};
use crate::SessionLayer;

/// Adds cookie sessions to an actix-web `App` or scope (`App::new().wrap(middleware)`). Built
/// from a [`SessionLayer`], so its configuration is already checked. Cheap to clone: clones
/// share the configuration, the store and the counters.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    shared: Arc<Shared>,
    /// Handles of finished requests, reused by the next ones, as the tower layer does
    /// (`session/pool.rs`); shared by the clones every actix-web worker makes.
    pool: Arc<Pool>,
}

impl SessionMiddleware {
    /// The middleware for `layer`'s configuration. The layer stays usable (for
    /// [`SessionLayer::revoke_user`], say); both count into the same
    /// [`metrics`](Self::metrics).
    pub fn new(layer: SessionLayer) -> Self {
        Self {
            shared: layer.shared().clone(),
            pool: Arc::default(),
        }
    }

    /// The counters: refused cookies by reason, oversized sessions, store failures.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }
}

impl From<SessionLayer> for SessionMiddleware {
    fn from(layer: SessionLayer) -> Self {
        Self::new(layer)
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService::new(
            service,
            self.shared.clone(),
            self.pool.clone(),
        )))
    }
}
