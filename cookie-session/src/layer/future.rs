use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::{SET_COOKIE, VARY};
use http::{HeaderValue, Response, StatusCode};
use pin_project_lite::pin_project;

use crate::session::Session;

pin_project! {
    /// The response future of [`SessionService`](super::SessionService): when the inner
    /// service answers, adds the session's `Set-Cookie` and `Vary: Cookie` headers.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        session: Session,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, session: Session) -> Self {
        Self { inner, session }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let outcome = this.session.finish();
        if outcome.touched {
            add_vary_cookie(&mut response);
        }
        if let Some(error) = outcome.error {
            // Size honesty (issue #2 §6): never a silent drop. The browser keeps its previous,
            // valid cookie; the operator sees which cookie and how large; the client sees a
            // plain 500; an outer layer can read the typed error from the extensions.
            tracing::error!(%error, "session cookie not sent");
            let mut failed = Response::new(ResBody::default());
            *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            failed
                .headers_mut()
                .insert(VARY, HeaderValue::from_static("cookie"));
            failed.extensions_mut().insert(error);
            return Poll::Ready(Ok(failed));
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
        Poll::Ready(Ok(response))
    }
}

/// `Vary: Cookie` on every response whose session was read or written, so no cache serves one
/// visitor's page to another (Flask CVE-2023-30861; SECURITY.md §8.7 item 57).
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
