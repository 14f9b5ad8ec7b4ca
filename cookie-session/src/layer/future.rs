use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::{SET_COOKIE, VARY};
use http::{HeaderValue, Response, StatusCode};
use pin_project_lite::pin_project;

use crate::session::SessionError;
use crate::session::{Finish, Outcome, Session};

pin_project! {
    /// The response future of [`SessionService`](super::SessionService): when the inner
    /// service answers, finishes the session (saving it, with a store) and adds its
    /// `Set-Cookie` and `Vary: Cookie` headers.
    pub struct ResponseFuture<F, B> {
        #[pin]
        inner: F,
        session: Session,
        saving: Option<(Response<B>, Pin<Box<dyn Future<Output = Outcome> + Send>>)>,
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn new(inner: F, session: Session) -> Self {
        Self {
            inner,
            session,
            saving: None,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some((_, saving)) = this.saving {
            let outcome = ready!(saving.as_mut().poll(cx));
            let Some((response, _)) = this.saving.take() else {
                return Poll::Pending;
            };
            return Poll::Ready(Ok(apply(response, outcome)));
        }
        let response = ready!(this.inner.poll(cx))?;
        match this.session.finish() {
            Finish::Ready(outcome) => Poll::Ready(Ok(apply(response, outcome))),
            Finish::Pending(mut saving) => match saving.as_mut().poll(cx) {
                Poll::Ready(outcome) => Poll::Ready(Ok(apply(response, outcome))),
                Poll::Pending => {
                    *this.saving = Some((response, saving));
                    Poll::Pending
                }
            },
        }
    }
}

/// Puts the session's outcome on the response.
fn apply<B: Default>(mut response: Response<B>, outcome: Outcome) -> Response<B> {
    if outcome.touched {
        add_vary_cookie(&mut response);
    }
    if let Some(error) = outcome.error {
        return failed(error);
    }
    for cookie in outcome.set_cookies {
        match HeaderValue::try_from(cookie) {
            Ok(value) => {
                response.headers_mut().append(SET_COOKIE, value);
            }
            // Unreachable by construction (names, paths and domains are validated, values
            // are base64); logged rather than panicking.
            Err(_) => tracing::error!("session cookie is not a valid header value"),
        }
    }
    response
}

/// The response that replaces the handler's when the session could not be sent or saved.
///
/// Size honesty (docs/SECURITY-CHECKLIST.md item 30): an oversized cookie is never dropped silently. The browser
/// keeps its previous, valid cookie; the operator sees which cookie and how large; the client
/// sees a plain 500; an outer layer can read the typed error from the extensions. A store
/// outage is an opaque 503 (the store's own words go to the log only).
fn failed<B: Default>(error: SessionError) -> Response<B> {
    let status = match error {
        SessionError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::error!(%error, "session not sent");
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static("cookie"));
    response.extensions_mut().insert(error);
    response
}

/// `Vary: Cookie` on every response whose session was read or written, so no cache serves one
/// visitor's page to another (Flask CVE-2023-30861; docs/SECURITY-CHECKLIST.md item 57).
fn add_vary_cookie<B>(response: &mut Response<B>) {
    let headers = response.headers_mut();
    let present = headers.get_all(VARY).iter().any(|v| {
        v.to_str()
            .map(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("cookie") || t.trim() == "*")
            })
            .unwrap_or(false)
    });
    if !present {
        headers.append(VARY, HeaderValue::from_static("cookie"));
    }
}
