use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, COOKIE, SET_COOKIE, VARY};
use actix_web::http::uri::Scheme;
use actix_web::http::StatusCode;
use actix_web::{HttpMessage as _, HttpResponse};

use crate::respond::{forwarded_https, varies_on_cookie, Reply};
use crate::session::{CookieHeaders, Finish, Outcome, Pool, Session, Shared};

/// The service [`SessionMiddleware`](super::SessionMiddleware) wraps around an app's.
#[derive(Debug)]
pub struct SessionMiddlewareService<S> {
    service: S,
    shared: Arc<Shared>,
    pool: Arc<Pool>,
}

impl<S> SessionMiddlewareService<S> {
    pub(super) fn new(service: S, shared: Arc<Shared>, pool: Arc<Pool>) -> Self {
        Self {
            service,
            shared,
            pool,
        }
    }
}

type Reply_<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Reply_<B>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // Only the header values are kept; nothing is parsed until the handler touches the
        // session.
        let cookies =
            CookieHeaders::from_values(req.headers().get_all(COOKIE).map(HeaderValue::as_bytes));
        let secure = request_is_secure(&req, self.shared.trust_proxy);
        let session = self.pool.take(&self.shared, cookies, secure);
        req.extensions_mut().insert(session.clone());
        let response = self.service.call(req);
        let pool = self.pool.clone();
        Box::pin(async move {
            let response = response.await?;
            // actix-web keeps the request, and so its extensions, until the response is sent:
            // the session's clone there leaves now, so that unless the handler kept one,
            // `session` is the last handle and goes back to the pool once finished.
            response.request().extensions_mut().remove::<Session>();
            match session.finish() {
                Finish::Ready(outcome) => {
                    let (response, set_cookies) = apply(response, outcome);
                    pool.give_back(session, set_cookies);
                    Ok(response)
                }
                Finish::Pending(saving) => {
                    pool.give_back(session, Vec::new());
                    Ok(apply(response, saving.await).0)
                }
            }
        })
    }
}

/// Whether the request came over HTTPS: its URI says so, the server was bound with TLS, or —
/// only when the application trusts its proxy — the first `X-Forwarded-Proto` value is
/// `https`.
fn request_is_secure(req: &ServiceRequest, trust_proxy: bool) -> bool {
    if req.uri().scheme() == Some(&Scheme::HTTPS) || req.app_config().secure() {
        return true;
    }
    trust_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|v| forwarded_https(v.as_bytes()))
}

/// Puts the session's outcome on the response, by the rules of `respond.rs`. Returns the
/// emptied list of `Set-Cookie` values too, which the pool keeps for the session's next
/// response.
fn apply<B>(
    mut response: ServiceResponse<B>,
    outcome: Outcome,
) -> (ServiceResponse<EitherBody<B>>, Vec<String>) {
    match outcome.reply() {
        Reply::Keep {
            vary,
            mut set_cookies,
        } => {
            let headers = response.headers_mut();
            if vary && !varies_on_cookie(headers.get_all(VARY).map(HeaderValue::as_bytes)) {
                headers.append(VARY, HeaderValue::from_static("cookie"));
            }
            for cookie in set_cookies.drain(..) {
                match HeaderValue::try_from(cookie) {
                    Ok(value) => headers.append(SET_COOKIE, value),
                    // Unreachable by construction (names, paths and domains are validated,
                    // values are base64); logged rather than panicking.
                    Err(_) => tracing::error!("session cookie is not a valid header value"),
                }
            }
            (response.map_into_left_body(), set_cookies)
        }
        Reply::Fail { status, error } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut failed = HttpResponse::new(status);
            failed
                .headers_mut()
                .insert(VARY, HeaderValue::from_static("cookie"));
            failed.extensions_mut().insert(error);
            let (request, _) = response.into_parts();
            let failed = ServiceResponse::new(request, failed).map_into_right_body();
            (failed, Vec::new())
        }
    }
}
