//! CSRF protection with a synchronizer token: a random token kept in the session, sent back
//! by every state-changing request (a header or a hidden form field), compared in constant
//! time.
//!
//! - The token is 32 bytes from the OS CSPRNG, written as 43 base64url characters, kept in
//!   the session under [`CSRF_KEY`] and made on first use ([`Session::csrf_token`]).
//! - [`Session::verify_csrf_token`] compares in constant time (`subtle`); a session without a
//!   token matches nothing.
//! - [`Session::regenerate`] (call it at login) drops the token, so the next
//!   [`Session::csrf_token`] makes a new one: a token seen before login is worthless after.
//! - With axum or actix-web, [`CsrfGuard`] refuses unsafe methods (anything but
//!   `GET`, `HEAD`, `OPTIONS` and `TRACE`) without the [`CSRF_HEADER`] header, and
//!   [`CsrfForm`] also accepts the [`CSRF_FIELD`] form field; both
//!   answer `403 Forbidden`.
//!
//! What it protects against: a page on another site making the browser send a request with
//! the session cookie (the cookie's `SameSite=Lax` already stops most of these in current
//! browsers; the token covers the rest). What it does not: an attacker who can run script on
//! your origin (XSS reads the token), or one who can set cookies for your host — a sibling
//! subdomain can plant its own valid session cookie (with its own token) in the victim's
//! browser and so log the victim into the attacker's session. Only a `__Host-` cookie name
//! (with `secure(true)`, `Path=/`, no `Domain`) keeps sibling subdomains from setting the
//! session cookie.
//!
//! ```
//! use cookie_session::csrf::CSRF_FIELD;
//! use cookie_session::Session;
//!
//! // A form carries the session's token back...
//! fn form(session: &Session) -> String {
//!     format!(
//!         r#"<form method="post"><input type="hidden" name="{CSRF_FIELD}" value="{}"></form>"#,
//!         session.csrf_token()
//!     )
//! }
//!
//! // ...and the handler of the POST checks it before changing anything.
//! fn accept(session: &Session, submitted: &str) -> bool {
//!     session.verify_csrf_token(submitted)
//! }
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

use crate::session::Session;

/// The session key that holds the token.
pub const CSRF_KEY: &str = "_csrf";

/// The request header that carries the token back (`fetch`, XHR, htmx...).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The form field that carries the token back.
pub const CSRF_FIELD: &str = "csrf_token";

/// The token's length in random bytes.
const TOKEN_BYTES: usize = 32;

/// The token's length in base64url characters, without padding.
const TOKEN_CHARS: usize = 43;

impl Session {
    /// The session's CSRF token, made (and stored in the session) on first use. With a store,
    /// call [`Session::load`] first (the axum extractors do).
    pub fn csrf_token(&self) -> String {
        if let Some(token) = self.get::<String>(CSRF_KEY).filter(|t| is_token(t)) {
            return token;
        }
        let token = new_token();
        self.insert_value(CSRF_KEY, token.clone().into());
        token
    }

    /// Whether `submitted` is the session's CSRF token, compared in constant time. A session
    /// without a token never matches, and nothing is written to the session here.
    pub fn verify_csrf_token(&self, submitted: &str) -> bool {
        match self.get::<String>(CSRF_KEY) {
            Some(expected) if is_token(&expected) => {
                bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
            }
            _ => false,
        }
    }
}

/// 32 random bytes from the OS CSPRNG, base64url without padding.
fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether a stored value is a token this module made (anything else is replaced).
fn is_token(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|bytes| bytes.len() == TOKEN_BYTES)
}

/// Whether a method can change state (RFC 9110 §9.2.1: all but the safe methods).
#[cfg(any(feature = "axum", feature = "actix"))]
fn is_unsafe(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

#[cfg(any(feature = "axum", feature = "actix"))]
mod extract {
    #[cfg(feature = "axum")]
    use axum::extract::{FromRequest, FromRequestParts, RawForm, Request};
    #[cfg(feature = "axum")]
    use axum::http::request::Parts;
    #[cfg(feature = "axum")]
    use axum::response::{IntoResponse, Response};
    use http::StatusCode;
    use serde::de::DeserializeOwned;

    use super::is_unsafe;
    #[cfg(feature = "axum")]
    use super::CSRF_HEADER;
    use crate::session::Session;

    /// Why a request was refused: its CSRF token is missing or wrong (`403 Forbidden`), or
    /// the session could not be loaded.
    #[derive(Debug)]
    pub struct CsrfRejection {
        status: StatusCode,
        message: &'static str,
    }

    impl CsrfRejection {
        fn forbidden() -> Self {
            CsrfRejection {
                status: StatusCode::FORBIDDEN,
                message: "Forbidden: missing or invalid CSRF token",
            }
        }

        /// A body that could not be read as an urlencoded form.
        pub(crate) fn not_a_form() -> Self {
            CsrfRejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "Unsupported Media Type: expected an urlencoded form",
            }
        }

        /// The status the rejection answers with.
        pub fn status(&self) -> StatusCode {
            self.status
        }
    }

    impl std::fmt::Display for CsrfRejection {
        /// The response body: a short sentence, never the token.
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.message)
        }
    }

    impl From<(StatusCode, &'static str)> for CsrfRejection {
        fn from((status, message): (StatusCode, &'static str)) -> Self {
            CsrfRejection { status, message }
        }
    }

    #[cfg(feature = "axum")]
    impl IntoResponse for CsrfRejection {
        fn into_response(self) -> Response {
            (self.status, self.message).into_response()
        }
    }

    /// Refuses a request with an unsafe method (`POST`, `PUT`, `PATCH`, `DELETE`, ...) unless
    /// its `x-csrf-token` header holds the session's token; safe methods pass. Derefs to the
    /// [`Session`]. An axum and an actix-web extractor.
    ///
    /// ```
    /// # #[cfg(feature = "axum")] {
    /// use axum::{routing::post, Router};
    /// use cookie_session::extract::CsrfGuard;
    ///
    /// // `fetch("/api/cart", {method: "POST", headers: {"x-csrf-token": token}})`
    /// async fn add_to_cart(session: CsrfGuard) -> &'static str {
    ///     session.insert("cart", ["apple"]).ok();
    ///     "added"
    /// }
    /// let app: Router = Router::new().route("/api/cart", post(add_to_cart));
    /// # }
    /// ```
    #[derive(Debug, Clone)]
    pub struct CsrfGuard(pub Session);

    impl std::ops::Deref for CsrfGuard {
        type Target = Session;

        fn deref(&self) -> &Session {
            &self.0
        }
    }

    impl CsrfGuard {
        /// The guard's decision for a loaded session, a request method and its token header:
        /// what every framework's extractor does.
        pub(crate) fn check(
            session: Session,
            method: &str,
            header: Option<&str>,
        ) -> Result<Self, CsrfRejection> {
            if is_unsafe(method) && !header.is_some_and(|t| session.verify_csrf_token(t)) {
                return Err(CsrfRejection::forbidden());
            }
            Ok(CsrfGuard(session))
        }
    }

    #[cfg(feature = "axum")]
    fn header_token(parts: &Parts) -> Option<&str> {
        parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok())
    }

    #[cfg(feature = "axum")]
    impl<S: Send + Sync> FromRequestParts<S> for CsrfGuard {
        type Rejection = CsrfRejection;

        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
            let session = Session::from_request_parts(parts, state).await?;
            CsrfGuard::check(session, parts.method.as_str(), header_token(parts))
        }
    }

    /// An `application/x-www-form-urlencoded` form whose `csrf_token` field (or
    /// `x-csrf-token` header) must hold the session's token when the method is unsafe; then
    /// the form is deserialized as `T` (which may ignore the field). A form that does not
    /// parse as `T` is a `422`. An axum and an actix-web extractor.
    ///
    /// ```
    /// # #[cfg(feature = "axum")] {
    /// use axum::{routing::post, Router};
    /// use cookie_session::extract::CsrfForm;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Rename { name: String }
    ///
    /// async fn rename(CsrfForm(session, form): CsrfForm<Rename>) -> String {
    ///     session.insert("name", &form.name).ok();
    ///     format!("renamed to {}", form.name)
    /// }
    /// let app: Router = Router::new().route("/rename", post(rename));
    /// # }
    /// ```
    #[derive(Debug, Clone)]
    pub struct CsrfForm<T>(pub Session, pub T);

    /// The token field: `CSRF_FIELD` (serde needs the name spelled out).
    #[derive(serde::Deserialize)]
    struct TokenField {
        #[serde(rename = "csrf_token")]
        token: Option<String>,
    }

    impl<T: DeserializeOwned> CsrfForm<T> {
        /// The form's decision for a loaded session, a request method, its token header and
        /// the form's bytes: what every framework's extractor does.
        pub(crate) fn check(
            session: Session,
            method: &str,
            header: Option<&str>,
            bytes: &[u8],
        ) -> Result<Self, CsrfRejection> {
            if is_unsafe(method) {
                let field = serde_urlencoded::from_bytes::<TokenField>(bytes)
                    .ok()
                    .and_then(|f| f.token);
                let ok = field
                    .as_deref()
                    .or(header)
                    .is_some_and(|token| session.verify_csrf_token(token));
                if !ok {
                    return Err(CsrfRejection::forbidden());
                }
            }
            let form = serde_urlencoded::from_bytes::<T>(bytes).map_err(|_| CsrfRejection {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: "Unprocessable Entity: the form does not have the expected fields",
            })?;
            Ok(CsrfForm(session, form))
        }
    }

    #[cfg(feature = "axum")]
    impl<T, S> FromRequest<S> for CsrfForm<T>
    where
        T: DeserializeOwned,
        S: Send + Sync,
    {
        type Rejection = CsrfRejection;

        async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
            let (mut parts, body) = req.into_parts();
            let session = Session::from_request_parts(&mut parts, state).await?;
            let header = header_token(&parts).map(str::to_owned);
            let method = parts.method.clone();
            let RawForm(bytes) = RawForm::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(|_| CsrfRejection::not_a_form())?;
            CsrfForm::check(session, method.as_str(), header.as_deref(), &bytes)
        }
    }
}

#[cfg(any(feature = "axum", feature = "actix"))]
pub use extract::{CsrfForm, CsrfGuard, CsrfRejection};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_in_base64url() {
        let a = new_token();
        assert_eq!(a.len(), TOKEN_CHARS);
        assert!(is_token(&a));
        assert_ne!(a, new_token());
        assert!(!is_token("short"));
        assert!(!is_token(&"!".repeat(TOKEN_CHARS)));
    }
}
