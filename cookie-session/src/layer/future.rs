use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::header::{Entry, SET_COOKIE, VARY};
use http::{HeaderValue, Response, StatusCode};
use pin_project_lite::pin_project;

use crate::respond::{varies_on_cookie, Reply};
use crate::session::{Finish, Outcome, Pool, Session};

pin_project! {
    /// The response future of [`SessionService`](super::SessionService): when the inner
    /// service answers, finishes the session (saving it, with a store) and adds its
    /// `Set-Cookie` and `Vary: Cookie` headers.
    pub struct ResponseFuture<F, B> {
        #[pin]
        inner: F,
        // Taken when the session is finished, and given back to the pool.
        session: Option<Session>,
        pool: Arc<Pool>,
        saving: Option<(Response<B>, Pin<Box<dyn Future<Output = Outcome> + Send>>)>,
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn new(inner: F, session: Session, pool: Arc<Pool>) -> Self {
        Self {
            inner,
            session: Some(session),
            pool,
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
            return Poll::Ready(Ok(apply(response, outcome).0));
        }
        let response = ready!(this.inner.poll(cx))?;
        let Some(session) = this.session.take() else {
            // Polled again after it completed (which futures need not support): the
            // session was finished the first time.
            return Poll::Ready(Ok(response));
        };
        // The handler has returned: unless it kept a clone, `session` is the last handle and
        // goes back to the pool once finished.
        match session.finish() {
            // Untouched: nothing to add (the common case of a route that never reads it).
            Finish::Ready(Outcome {
                touched: false,
                set_cookies,
                error: None,
            }) if set_cookies.is_empty() => {
                this.pool.give_back(session, set_cookies);
                Poll::Ready(Ok(response))
            }
            Finish::Ready(outcome) => {
                let (response, set_cookies) = apply(response, outcome);
                this.pool.give_back(session, set_cookies);
                Poll::Ready(Ok(response))
            }
            Finish::Pending(mut saving) => {
                this.pool.give_back(session, Vec::new());
                match saving.as_mut().poll(cx) {
                    Poll::Ready(outcome) => Poll::Ready(Ok(apply(response, outcome).0)),
                    Poll::Pending => {
                        *this.saving = Some((response, saving));
                        Poll::Pending
                    }
                }
            }
        }
    }
}

/// Puts the session's outcome on the response, by the rules of `respond.rs`. Returns the
/// emptied list of `Set-Cookie` values too, which the pool keeps for the session's next
/// response.
fn apply<B: Default>(mut response: Response<B>, outcome: Outcome) -> (Response<B>, Vec<String>) {
    match outcome.reply() {
        Reply::Keep {
            vary,
            mut set_cookies,
        } => {
            let headers = response.headers_mut();
            if vary {
                // One lookup of `Vary` for both the check and the append.
                match headers.entry(VARY) {
                    Entry::Occupied(mut values) => {
                        if !varies_on_cookie(values.iter().map(HeaderValue::as_bytes)) {
                            values.append(HeaderValue::from_static("cookie"));
                        }
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(HeaderValue::from_static("cookie"));
                    }
                }
            }
            for cookie in set_cookies.drain(..) {
                match HeaderValue::try_from(cookie) {
                    Ok(value) => {
                        headers.append(SET_COOKIE, value);
                    }
                    // Unreachable by construction (names, paths and domains are validated,
                    // values are base64); logged rather than panicking.
                    Err(_) => tracing::error!("session cookie is not a valid header value"),
                }
            }
            (response, set_cookies)
        }
        Reply::Fail { status, error } => {
            let mut response = Response::new(B::default());
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response
                .headers_mut()
                .insert(VARY, HeaderValue::from_static("cookie"));
            response.extensions_mut().insert(error);
            (response, Vec::new())
        }
    }
}
