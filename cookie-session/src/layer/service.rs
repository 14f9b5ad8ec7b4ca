use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::Scheme;
use http::{Request, Response};

use super::ResponseFuture;
use crate::respond::forwarded_https;
use crate::session::{CookieHeaders, Pool, Shared};

/// The service [`SessionLayer`](super::SessionLayer) produces.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
    pool: Arc<Pool>,
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>, pool: Arc<Pool>) -> Self {
        Self {
            inner,
            shared,
            pool,
        }
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for SessionService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // Only the header values are kept (reference-counted, not copied); nothing is parsed
        // until the handler touches the session.
        let cookies = CookieHeaders::of(req.headers());
        let secure = request_is_secure(&req, self.shared.trust_proxy);
        let session = self.pool.take(&self.shared, cookies, secure);
        req.extensions_mut().insert(session.clone());
        ResponseFuture::new(self.inner.call(req), session, self.pool.clone())
    }
}

/// Whether the request came over HTTPS: its URI says so, or — only when the application trusts
/// its proxy, like Express's `trust proxy` — the first `X-Forwarded-Proto` value is `https`.
fn request_is_secure<B>(req: &Request<B>, trust_proxy: bool) -> bool {
    if req.uri().scheme() == Some(&Scheme::HTTPS) {
        return true;
    }
    trust_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|v| forwarded_https(v.as_bytes()))
}
