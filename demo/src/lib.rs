//! The example web app of `cookie-session`: log in, watch a counter survive reloads, tick
//! "remember me", log out, and look inside the cookie.
//!
//! `cargo run -p demo` serves it on <http://127.0.0.1:3000> with no setup: encrypted cookie
//! sessions under a random key made at start. [`config`] lists the environment variables
//! that change it.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /` | a visit counter kept in the session, and who is logged in |
//! | `GET /login`, `POST /login` | log in with a name and "remember me" (a 30-day cookie) |
//! | `POST /logout` | destroys the session; a flash says so on the next page |
//! | `GET /inside` | the raw cookie, what it decodes to, which key opened it, its dates, why it was refused |
//! | `GET /api` | the JSON API's documentation |
//! | `GET`/`POST`/`PUT`/`DELETE /api/session` | the JSON API, the same as the reference Express app's |
//!
//! The app is a plain [`Router`], so tests drive it without a socket:
//!
//! ```
//! use demo::{app, DemoConfig};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let config = DemoConfig::from_vars(|_| None).unwrap();
//! let request = axum::http::Request::get("/api/session").body(axum::body::Body::empty()).unwrap();
//! let response = app(config).oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # });
//! ```

mod api;
pub mod config;
mod html;
mod pages;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use cookie_session::format::Format;

pub use config::{ConfigError, DemoConfig, SecureMode, StoreChoice};
pub use html::escape_html;
pub use pages::REMEMBER_FOR;

/// What the handlers need to know about the configuration.
#[derive(Clone)]
pub(crate) struct AppState(Arc<StateInner>);

pub(crate) struct StateInner {
    pub(crate) format: Format,
    /// `SESSION_FORMAT=express-session`: the cookie is express-session's signed id.
    pub(crate) express_session: bool,
    pub(crate) cookie_name: String,
    /// The most `?max_age_ms=` may ask for ([`DemoConfig::session_lifetime`]).
    pub(crate) max_lifetime: std::time::Duration,
}

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

/// The app: every page and the JSON API, behind the session layer `config` describes.
///
/// With a store on a server or in a file, call [`DemoConfig::connect`] first; an unconnected
/// configuration gives a router that answers every request with a 503 saying so.
pub fn app(config: DemoConfig) -> Router {
    let state = AppState(Arc::new(StateInner {
        format: config.format(),
        express_session: config.express_session(),
        cookie_name: config.cookie_name().to_owned(),
        max_lifetime: config.session_lifetime(),
    }));
    let Some(layer) = config.layer() else {
        tracing::error!(
            store = config.store().kind(),
            "the session store is not connected: call DemoConfig::connect"
        );
        return Router::new().fallback(|| async {
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the session store is not connected",
            )
        });
    };
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", axum::routing::post(pages::logout))
        .route("/inside", get(pages::inside))
        .route("/api", get(api_docs))
        .route(
            "/api/session",
            get(api::get)
                .post(api::post)
                .put(api::put)
                .delete(api::delete),
        )
        .fallback(pages::not_found)
        // Express's `express.json()` refuses bodies over 100 kB; a cookie holds 4 kB anyway.
        .layer(axum::extract::DefaultBodyLimit::max(100 * 1024))
        .layer(layer)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every answer carries: the pages hold session data, so nothing is cached, no other
/// site may frame them, and only inline CSS runs.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in set {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// `GET /api`: how to use the JSON API.
async fn api_docs() -> Html<String> {
    let body = "<p>A JSON API for scripts and tests, the same as the reference Express app's, so \
one cookie jar can move between the two.</p>\n\
<dl>\n\
<dt><code>GET /api/session</code></dt><dd>the session as a JSON object (<code>{}</code> when new)</dd>\n\
<dt><code>POST /api/session</code> with a JSON object</dt><dd>merges its keys into the session, answers the session</dd>\n\
<dt><code>PUT /api/session</code> with a JSON object</dt><dd>replaces the whole session, answers it</dd>\n\
<dt><code>DELETE /api/session</code></dt><dd>destroys the session and clears the cookie (204)</dd>\n\
<dt><code>?max_age_ms=N</code></dt><dd>on <code>POST</code>, <code>PUT</code> and \
<code>DELETE</code>: this response's cookie lifetime in milliseconds (<code>0</code>: until the \
browser closes), at most the configured lifetime (<code>SESSION_MAX_AGE</code>, else 24 hours): \
a request can shorten its session, never lengthen it. Refused (400) on <code>GET</code>: a link \
from another site must not change the cookie.</dd>\n\
</dl>\n\
<p>A body that is not a JSON object gets 400 <code>{\"error\": \"…\"}</code> and the session is \
left as it was.</p>\n\
<p><strong>Why no CSRF token here:</strong> <code>POST</code> and <code>PUT</code> require \
<code>Content-Type: application/json</code> (anything else gets 415). A form on another site can \
only send form or plain-text bodies, and a script on another site needs a CORS preflight to send \
JSON (or to use <code>PUT</code> or <code>DELETE</code>), which this server never grants. The \
HTML forms, which a cross-site page <em>can</em> post, all carry a token.</p>\n\
<pre>curl -c jar -b jar -H 'Content-Type: application/json' -d '{\"views\": 1}' \
http://127.0.0.1:3000/api/session</pre>";
    Html(html::page("The JSON API", None, body))
}
