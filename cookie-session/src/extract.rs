//! Extractors (features `axum` and `actix`): [`Session`] itself, [`Typed`], a serde struct
//! kept under a key of its own, and the [`Flash`] and [`CsrfGuard`] helpers. Each is an axum
//! extractor with the feature `axum`, and an actix-web one with the feature `actix` (see the
//! `actix` module there).
//!
//! ```
//! # #[cfg(feature = "axum")] {
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
//! # }
//! ```

use std::ops::{Deref, DerefMut};

#[cfg(feature = "axum")]
use axum::extract::FromRequestParts;
#[cfg(feature = "axum")]
use axum::http::request::Parts;
#[cfg(feature = "axum")]
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::csrf::{CsrfForm, CsrfGuard, CsrfRejection};
pub use crate::flash::Flash;
use crate::session::{Session, SessionError};

/// The message of the rejection when no [`SessionLayer`](crate::SessionLayer) runs in front.
#[cfg(feature = "axum")]
const MISSING_LAYER: &str =
    "Can't extract the session: is `SessionLayer` installed on this router?";

#[cfg(feature = "axum")]
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or((StatusCode::INTERNAL_SERVER_ERROR, MISSING_LAYER))?;
        // Cookie mode: loaded here, without the future of `load`.
        if session.load_without_store() {
            return Ok(session);
        }
        // With a store: one round trip, here. A failure was logged by the session; the client
        // gets an opaque 503 (docs/SECURITY-CHECKLIST.md item 53).
        match session.load().await {
            Ok(()) => Ok(session),
            Err(_) => Err((StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")),
        }
    }
}

/// A type kept in the session under a key of its own, for [`Typed`].
///
/// The key keeps the value beside the session's other keys: a `Typed<Cart>` never touches a
/// logged-in `user`, and a concurrent request writing another key is not overwritten (store
/// mode merges per key).
///
/// ```
/// use cookie_session::extract::SessionValue;
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Cart { items: Vec<String> }
///
/// impl SessionValue for Cart {
///     const KEY: &'static str = "cart";
/// }
/// ```
pub trait SessionValue: Serialize + DeserializeOwned + Default {
    /// The session key the value is stored under.
    const KEY: &'static str;
}

/// A typed value of the session, stored under [`SessionValue::KEY`]. A value that is absent
/// or does not fit `T` (an older schema, or a fresh session) starts from `T::default()`; it
/// never fails the request.
///
/// Changes made through `DerefMut` are written back to the session's `T::KEY` (and only
/// there) when the extractor is dropped, which happens when the handler returns, or call
/// [`Typed::save`] to see errors. Only reading leaves the session untouched, and so does a
/// write that leaves the value as it was. When the handler [destroys](Session::destroy) the
/// session after the value was read, the value is not written back when dropped: the session
/// it belonged to has ended (an explicit [`Typed::save`] still writes it, into the new one).
///
/// ```
/// use cookie_session::extract::{SessionValue, Typed};
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Cart { items: Vec<String> }
///
/// impl SessionValue for Cart {
///     const KEY: &'static str = "cart";
/// }
///
/// async fn add(mut cart: Typed<Cart>) -> String {
///     cart.items.push("apple".into());
///     format!("{} items", cart.items.len())
/// }
/// ```
pub struct Typed<T: SessionValue> {
    session: Session,
    value: T,
    modified: bool,
    /// [`Session::destroys`] when the value was read.
    destroys: u32,
}

impl<T: SessionValue> Typed<T> {
    /// The value of a loaded session: what every framework's extractor does.
    pub(crate) fn read(session: Session) -> Self {
        let value = session.get::<T>(T::KEY).unwrap_or_default();
        let destroys = session.destroys();
        Typed {
            session,
            value,
            modified: false,
            destroys,
        }
    }

    /// Writes the value back to the session's `T::KEY` now.
    ///
    /// # Errors
    ///
    /// [`SessionError::Serialize`] when `T` cannot be turned into JSON.
    pub fn save(&mut self) -> Result<(), SessionError> {
        self.modified = false;
        let value = serde_json::to_value(&self.value)
            .map_err(|e| SessionError::Serialize(e.to_string()))?;
        // Unchanged: no write, so neither a cookie nor a store round trip.
        if self.session.get_value(T::KEY).as_ref() != Some(&value) {
            self.session.insert_value(T::KEY, value);
        }
        Ok(())
    }

    /// The underlying session handle.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl<T: SessionValue> Deref for Typed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: SessionValue> DerefMut for Typed<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.modified = true;
        &mut self.value
    }
}

impl<T: SessionValue> Drop for Typed<T> {
    fn drop(&mut self) {
        // A value of a session the handler destroyed since is not written into the session
        // that follows (a cart emptied, then the user logged out: the logout wins).
        if self.modified && self.session.destroys() == self.destroys {
            if let Err(error) = self.save() {
                tracing::error!(%error, "typed session value not saved");
            }
        }
    }
}

#[cfg(feature = "axum")]
impl<T, S> FromRequestParts<S> for Typed<T>
where
    T: SessionValue + Send,
    S: Send + Sync,
{
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        Ok(Typed::read(session))
    }
}
