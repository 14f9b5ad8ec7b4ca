//! The JSON API at `/api/session`, the same as the reference Express app's
//! (`interop/express/server.js`), so one cookie jar can move between the two.
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/session` | 200, the session as a JSON object (`{}` when new) |
//! | `POST /api/session` + object | merges its keys into the session, 200 + the session |
//! | `PUT /api/session` + object | replaces the session, 200 + the session |
//! | `DELETE /api/session` | destroys the session (the cookie is cleared), 204 |
//!
//! `?max_age_ms=N` on `POST`, `PUT` and `DELETE` sets this response's cookie lifetime (Express's
//! `req.sessionOptions.maxAge = N`), cut to the configured lifetime (`SESSION_MAX_AGE`, else the
//! 24 hours of browser-session cookies): a request may shorten its session, never lengthen it,
//! so a stolen cookie cannot be kept alive past the configuration. On `GET` it is refused
//! (400): `SameSite=Lax` sends the cookie with a top-level link from another site, and such a
//! link must not change the cookie (when a read re-issues it, after a key rotation say).
//! A bad `max_age_ms`, a body that is not JSON or not a JSON object gives 400
//! `{"error": …}` and the session is not touched (not even read).
//!
//! CSRF: these routes take no token. They only accept `Content-Type: application/json`
//! (anything else is 415), and a cross-site HTML form can only send
//! `application/x-www-form-urlencoded`, `multipart/form-data` or `text/plain`; a cross-site
//! script sending `application/json` needs a CORS preflight, which this server never grants.
//! `DELETE` has no body, but is not a method a form can use either, and needs a preflight too.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cookie_session::format::Format;
use cookie_session::Session;
use serde_json::{json, Map, Value};

use crate::AppState;

/// The API's error answer: `{"error": "…"}` with a status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
    }
}

/// `max_age_ms` from the query string, checked as Express checks it (`^-?[0-9]{1,15}$`).
/// `Ok(None)`: absent.
fn max_age_ms(query: Option<&str>) -> Result<Option<i64>, ApiError> {
    let bad = || {
        error(
            StatusCode::BAD_REQUEST,
            "max_age_ms must be an integer number of milliseconds",
        )
    };
    let Some(query) = query else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (percent_decode(name), percent_decode(value));
        if name != "max_age_ms" {
            continue;
        }
        // Twice is an array in Express's query parser: not a string, so refused.
        if found.is_some() {
            return Err(bad());
        }
        found = Some(value);
    }
    let Some(value) = found else {
        return Ok(None);
    };
    let value = value.as_str();
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    value.parse().map(Some).map_err(|_| bad())
}

/// `application/x-www-form-urlencoded` decoding of one query component (`+` is a space), as
/// Node's `querystring` does; invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Applies `max_age_ms` the way Express's `cookies` does (`0` is a browser-session cookie, a
/// negative value an already-expired one), but never longer than `max`, the configured
/// lifetime.
fn apply_max_age(session: &Session, ms: Option<i64>, max: Duration) {
    match ms {
        None => {}
        Some(0) => session.set_max_age(None),
        Some(ms) if ms < 0 => session.set_max_age(Some(Duration::ZERO)),
        Some(ms) => session.set_max_age(Some(Duration::from_millis(ms.unsigned_abs()).min(max))),
    }
}

/// The JSON object body, or the error answer. Requires `Content-Type: application/json`.
fn object_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be sent with Content-Type: application/json",
        ));
    }
    let body = body.map_err(|rejection| error(rejection.status(), rejection.body_text()))?;
    // body-parser reads an empty JSON body as `{}`.
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {e}"),
        )),
    }
}

/// Reads the session, only once the request is known to be valid: a refused request leaves
/// the session unread (no `Vary: Cookie`), as the Express app does. (The `Session` extractor
/// would load it before the handler runs, so these handlers take it from the extensions.)
async fn load(session: &Session) -> Result<(), ApiError> {
    session.load().await.map_err(|_| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the session could not be loaded",
        )
    })
}

/// `GET /api/session`. A read never changes the cookie's options: `max_age_ms` is refused.
pub(crate) async fn get(
    RawQuery(query): RawQuery,
    Extension(session): Extension<Session>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    if max_age_ms(query.as_deref())?.is_some() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "max_age_ms is not accepted on GET (a read never changes the cookie); use POST, PUT or DELETE",
        ));
    }
    load(&session).await?;
    Ok(Json(session.data()))
}

/// `POST /api/session`: merges the body's keys into the session.
pub(crate) async fn post(
    axum::extract::State(state): axum::extract::State<AppState>,
    RawQuery(query): RawQuery,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let ms = max_age_ms(query.as_deref())?;
    let body = object_body(&headers, body)?;
    load(&session).await?;
    apply_max_age(&session, ms, state.max_lifetime);
    // The Express format drops the keys Express's Session object already has through its
    // prototype (`isNew`, `toString`, `__proto__`…), as the reference app does.
    let body = match state.format {
        _ if state.express_session => body
            .into_iter()
            .filter(|(key, _)| {
                key != "cookie"
                    && !cookie_session::format::express_session::RESERVED_KEYS
                        .contains(&key.as_str())
            })
            .collect(),
        Format::Express(_) => cookie_session::format::express::filter_reserved(body),
        _ => body,
    };
    for (key, value) in body {
        session.insert_value(key, value);
    }
    Ok(Json(session.data()))
}

/// `PUT /api/session`: replaces the session with the body.
pub(crate) async fn put(
    axum::extract::State(state): axum::extract::State<AppState>,
    RawQuery(query): RawQuery,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let ms = max_age_ms(query.as_deref())?;
    let body = object_body(&headers, body)?;
    load(&session).await?;
    apply_max_age(&session, ms, state.max_lifetime);
    session.replace(body);
    Ok(Json(session.data()))
}

/// `DELETE /api/session`: destroys the session.
pub(crate) async fn delete(
    axum::extract::State(state): axum::extract::State<AppState>,
    RawQuery(query): RawQuery,
    Extension(session): Extension<Session>,
) -> Result<StatusCode, ApiError> {
    let ms = max_age_ms(query.as_deref())?;
    load(&session).await?;
    apply_max_age(&session, ms, state.max_lifetime);
    session.destroy();
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_ms_parsing() {
        assert_eq!(max_age_ms(None).ok(), Some(None));
        assert_eq!(max_age_ms(Some("a=1")).ok(), Some(None));
        assert_eq!(max_age_ms(Some("max_age_ms=1500")).ok(), Some(Some(1500)));
        assert_eq!(max_age_ms(Some("max_age_ms=-5")).ok(), Some(Some(-5)));
        assert_eq!(
            max_age_ms(Some("x=%zz&max%5Fage_ms=%31")).ok(),
            Some(Some(1))
        );
        assert_eq!(
            max_age_ms(Some("max_age_ms=999999999999999")).ok(),
            Some(Some(999_999_999_999_999))
        );
        for bad in [
            "max_age_ms=",
            "max_age_ms",
            "max_age_ms=1.5",
            "max_age_ms=abc",
            "max_age_ms=-",
            "max_age_ms=1000000000000000",
            "max_age_ms=1&max_age_ms=2",
        ] {
            assert!(max_age_ms(Some(bad)).is_err(), "{bad}");
        }
    }
}
