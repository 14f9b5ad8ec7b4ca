//! actix-web's `FromRequest` for the session and the extractors of [`crate::extract`]: the
//! same decisions as the axum extractors (they share them), with actix-web's types.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, ResponseError};
use serde::de::DeserializeOwned;

use crate::csrf::{CsrfForm, CsrfGuard, CsrfRejection, CSRF_HEADER};
use crate::extract::{SessionValue, Typed};
use crate::flash::Flash;
use crate::session::Session;

/// The message of the rejection when no [`SessionMiddleware`](super::SessionMiddleware) runs
/// in front.
const MISSING_MIDDLEWARE: &str =
    "Can't extract the session: is `SessionMiddleware` installed on this app?";

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// The request's session, loaded: with a store, one round trip, here. A failure was logged by
/// the session; the client gets an opaque 503 (docs/SECURITY-CHECKLIST.md item 53).
async fn loaded(session: Option<Session>) -> Result<Session, actix_web::Error> {
    let session = session
        .ok_or_else(|| InternalError::new(MISSING_MIDDLEWARE, StatusCode::INTERNAL_SERVER_ERROR))?;
    match session.load().await {
        Ok(()) => Ok(session),
        Err(_) => {
            Err(InternalError::new("Service Unavailable", StatusCode::SERVICE_UNAVAILABLE).into())
        }
    }
}

fn session_of(req: &HttpRequest) -> Option<Session> {
    req.extensions().get::<Session>().cloned()
}

impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(loaded(session_of(req)))
    }
}

impl<T: SessionValue + 'static> FromRequest for Typed<T> {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = session_of(req);
        Box::pin(async move { Ok(Typed::read(loaded(session).await?)) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Flash<T> {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = session_of(req);
        Box::pin(async move { Ok(Flash::take(loaded(session).await?)) })
    }
}

impl ResponseError for CsrfRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status().as_u16()).unwrap_or(StatusCode::FORBIDDEN)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

fn header_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl FromRequest for CsrfGuard {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = session_of(req);
        let method = req.method().clone();
        let header = header_token(req);
        Box::pin(async move {
            let session = loaded(session).await?;
            Ok(CsrfGuard::check(
                session,
                method.as_str(),
                header.as_deref(),
            )?)
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    /// Like axum's `RawForm`, which the axum extractor reads: a `GET` or `HEAD` form is the
    /// query string; any other must be an `application/x-www-form-urlencoded` body (read with
    /// actix-web's `Bytes` extractor and its limit).
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = session_of(req);
        let method = req.method().clone();
        let header = header_token(req);
        let body = if method == Method::GET || method == Method::HEAD {
            Ok(None)
        } else if is_urlencoded(req) {
            Ok(Some(Bytes::from_request(req, payload)))
        } else {
            Err(CsrfRejection::not_a_form())
        };
        let query = Bytes::copy_from_slice(req.query_string().as_bytes());
        Box::pin(async move {
            let session = loaded(session).await?;
            let bytes = match body? {
                None => query,
                Some(reading) => reading.await.map_err(|_| CsrfRejection::not_a_form())?,
            };
            Ok(CsrfForm::check(
                session,
                method.as_str(),
                header.as_deref(),
                &bytes,
            )?)
        })
    }
}

/// Whether the body is declared an urlencoded form (parameters such as `charset` allowed).
fn is_urlencoded(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}
