//! Flash messages: set on one request, read (and removed) on the next — "You are logged in"
//! after a redirect.
//!
//! Messages are kept in the session under one key of their own, as a list, so they live
//! beside the session's other keys and survive a concurrent write to another key. They are
//! typed: any serde type, or the ready-made [`FlashMessage`] (a [`Level`] and a text). Reading
//! takes every message out of the session; a message that does not fit the type read is
//! dropped with the rest (logged at `debug`), never an error.
//!
//! ```
//! use cookie_session::flash::FlashMessage;
//! use cookie_session::Session;
//!
//! // POST /login: leave a message for the next page.
//! fn logged_in(session: &Session) -> Result<(), cookie_session::SessionError> {
//!     session.flash(FlashMessage::success("Welcome back!"))
//! }
//!
//! // GET /: show the messages once.
//! fn home(session: &Session) -> String {
//!     session
//!         .take_flashes::<FlashMessage>()
//!         .iter()
//!         .map(|m| format!("<p class=\"{}\">{}</p>", m.level.as_str(), m.text))
//!         .collect()
//! }
//! ```
//!
//! With axum or actix-web, the [`Flash`] extractor does the taking.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::session::{Session, SessionError};

/// The session key that holds the pending messages.
pub const FLASH_KEY: &str = "_flash";

/// How important a [`FlashMessage`] is (what a page uses to style it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Neutral information.
    Info,
    /// Something worked.
    Success,
    /// Something needs attention.
    Warning,
    /// Something failed.
    Error,
}

impl Level {
    /// The lowercase name, as serialized (`info`, `success`, `warning`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// A ready-made flash message: a level and a text. Kept in the session as
/// `{"level":"success","text":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashMessage {
    /// How important it is.
    pub level: Level,
    /// What it says (plain text: escape it when writing HTML).
    pub text: String,
}

impl FlashMessage {
    /// A message of `level`.
    pub fn new(level: Level, text: impl Into<String>) -> Self {
        Self {
            level,
            text: text.into(),
        }
    }

    /// An [`Level::Info`] message.
    pub fn info(text: impl Into<String>) -> Self {
        Self::new(Level::Info, text)
    }

    /// A [`Level::Success`] message.
    pub fn success(text: impl Into<String>) -> Self {
        Self::new(Level::Success, text)
    }

    /// A [`Level::Warning`] message.
    pub fn warning(text: impl Into<String>) -> Self {
        Self::new(Level::Warning, text)
    }

    /// An [`Level::Error`] message.
    pub fn error(text: impl Into<String>) -> Self {
        Self::new(Level::Error, text)
    }
}

impl Session {
    /// Leaves `message` for the next request that reads the flash messages (after the ones
    /// already pending). With a store, call [`Session::load`] first (the axum extractors do).
    ///
    /// # Errors
    ///
    /// [`SessionError::Serialize`] when `message` cannot be turned into JSON.
    pub fn flash<T: Serialize>(&self, message: T) -> Result<(), SessionError> {
        let message =
            serde_json::to_value(message).map_err(|e| SessionError::Serialize(e.to_string()))?;
        let mut pending = match self.get_value(FLASH_KEY) {
            Some(Value::Array(pending)) => pending,
            _ => Vec::new(),
        };
        pending.push(message);
        self.insert_value(FLASH_KEY, Value::Array(pending));
        Ok(())
    }

    /// Takes every pending flash message out of the session, oldest first. The session is
    /// written back without them; with none pending, nothing is written.
    pub fn take_flashes<T: DeserializeOwned>(&self) -> Vec<T> {
        let Some(pending) = self.remove(FLASH_KEY) else {
            return Vec::new();
        };
        let Value::Array(pending) = pending else {
            tracing::debug!("flash messages dropped: not a list");
            return Vec::new();
        };
        let total = pending.len();
        let messages: Vec<T> = pending
            .into_iter()
            .filter_map(|m| T::deserialize(m).ok())
            .collect();
        if messages.len() < total {
            tracing::debug!(
                dropped = total - messages.len(),
                "flash messages dropped: not of the type read"
            );
        }
        messages
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
mod extract {
    #[cfg(feature = "axum")]
    use axum::extract::FromRequestParts;
    #[cfg(feature = "axum")]
    use axum::http::request::Parts;
    #[cfg(feature = "axum")]
    use axum::http::StatusCode;
    #[cfg(feature = "axum")]
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::FlashMessage;
    use crate::session::{Session, SessionError};

    /// The extractor for flash messages (axum and actix-web): the messages left by the
    /// previous request (taken out of the session when extracted), and a way to leave new ones.
    ///
    /// ```
    /// # #[cfg(feature = "axum")] mod axum_example {
    /// use axum::response::Redirect;
    /// use cookie_session::extract::Flash;
    /// use cookie_session::flash::FlashMessage;
    ///
    /// async fn save(flash: Flash) -> Redirect {
    ///     flash.push(FlashMessage::success("Saved.")).ok();
    ///     Redirect::to("/")
    /// }
    ///
    /// async fn home(flash: Flash) -> String {
    ///     flash.iter().map(|m| m.text.as_str()).collect::<Vec<_>>().join("\n")
    /// }
    /// # }
    /// ```
    pub struct Flash<T = FlashMessage> {
        session: Session,
        messages: Vec<T>,
    }

    impl<T> Flash<T> {
        /// Takes the pending messages out of a loaded session: what every framework's
        /// extractor does.
        pub(crate) fn take(session: Session) -> Self
        where
            T: serde::de::DeserializeOwned,
        {
            let messages = session.take_flashes();
            Flash { session, messages }
        }

        /// The messages the previous request left, oldest first.
        pub fn messages(&self) -> &[T] {
            &self.messages
        }

        /// The messages, owned.
        pub fn into_messages(self) -> Vec<T> {
            self.messages
        }

        /// Leaves `message` for the next request.
        ///
        /// # Errors
        ///
        /// [`SessionError::Serialize`] when `message` cannot be turned into JSON.
        pub fn push(&self, message: T) -> Result<(), SessionError>
        where
            T: Serialize,
        {
            self.session.flash(message)
        }

        /// The underlying session handle.
        pub fn session(&self) -> &Session {
            &self.session
        }
    }

    impl<T> std::ops::Deref for Flash<T> {
        type Target = [T];

        fn deref(&self) -> &[T] {
            &self.messages
        }
    }

    impl<T: std::fmt::Debug> std::fmt::Debug for Flash<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Flash")
                .field("messages", &self.messages)
                .finish()
        }
    }

    #[cfg(feature = "axum")]
    impl<T, S> FromRequestParts<S> for Flash<T>
    where
        T: DeserializeOwned + Send,
        S: Send + Sync,
    {
        type Rejection = (StatusCode, &'static str);

        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
            let session = Session::from_request_parts(parts, state).await?;
            Ok(Flash::take(session))
        }
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
pub use extract::Flash;
