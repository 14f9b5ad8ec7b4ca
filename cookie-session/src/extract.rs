//! axum extractors (feature `axum`): [`Session`] itself, and [`Typed`], the whole session as
//! a serde struct.
//!
//! ```
//! use axum::{routing::get, Router};
//! use cookie_session::{KeyRing, Session, SessionConfig};
//!
//! async fn visit(session: Session) -> String {
//!     let views: u64 = session.get("views").unwrap_or(0) + 1;
//!     session.insert("views", views).ok();
//!     format!("views={views}")
//! }
//!
//! let keys = KeyRing::new(["a secret of at least thirty-two bytes!"]).unwrap();
//! let app: Router = Router::new()
//!     .route("/visit", get(visit))
//!     .layer(SessionConfig::new(keys).build().unwrap());
//! ```

use std::ops::{Deref, DerefMut};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Session, SessionError};

/// The message of the rejection when no [`SessionLayer`](crate::SessionLayer) runs in front.
const MISSING_LAYER: &str =
    "Can't extract the session: is `SessionLayer` installed on this router?";

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or((StatusCode::INTERNAL_SERVER_ERROR, MISSING_LAYER))?;
        // With a store: one round trip, here. A failure was logged by the session; the client
        // gets an opaque 503 (docs/SECURITY-CHECKLIST.md item 53).
        match session.load().await {
            Ok(()) => Ok(session),
            Err(_) => Err((StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")),
        }
    }
}

/// The whole session as a `T`. A session that does not fit `T` (an older schema, or a fresh
/// session) starts from `T::default()`; it never fails the request.
///
/// Changes made through `DerefMut` are written back to the session when the extractor is
/// dropped, which happens when the handler returns (or call [`Typed::save`] to see errors).
/// Only reading leaves the session untouched.
///
/// ```
/// use cookie_session::extract::Typed;
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Cart { items: Vec<String> }
///
/// async fn add(mut cart: Typed<Cart>) -> String {
///     cart.items.push("apple".into());
///     format!("{} items", cart.items.len())
/// }
/// ```
pub struct Typed<T: Serialize> {
    session: Session,
    value: T,
    modified: bool,
}

impl<T: Serialize> Typed<T> {
    /// Writes the value back to the session now.
    pub fn save(&mut self) -> Result<(), SessionError> {
        self.modified = false;
        self.session.set_as(&self.value)
    }

    /// The underlying session handle.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl<T: Serialize> Deref for Typed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Serialize> DerefMut for Typed<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.modified = true;
        &mut self.value
    }
}

impl<T: Serialize> Drop for Typed<T> {
    fn drop(&mut self) {
        if self.modified {
            if let Err(error) = self.save() {
                tracing::error!(%error, "typed session not saved");
            }
        }
    }
}

impl<T, S> FromRequestParts<S> for Typed<T>
where
    T: Serialize + DeserializeOwned + Default + Send,
    S: Send + Sync,
{
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let value = session.get_as::<T>().unwrap_or_default();
        Ok(Typed {
            session,
            value,
            modified: false,
        })
    }
}
