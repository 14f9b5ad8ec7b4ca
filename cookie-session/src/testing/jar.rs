//! [`TestSession`]: a browser's cookie jar for one layer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use serde_json::{Map, Value};
use tower_layer::Layer as _;
use tower_service::Service;

use crate::layer::SessionLayer;
use crate::session::{Session, SessionError};

/// A cookie jar for one [`SessionLayer`], for tests. See the [module docs](super).
#[derive(Debug, Clone)]
pub struct TestSession {
    layer: SessionLayer,
    /// `name=value` pairs, in the order they were first set.
    cookies: Vec<(String, String)>,
}

impl TestSession {
    /// An empty jar: the first request carries no session.
    pub fn new(layer: SessionLayer) -> Self {
        Self {
            layer,
            cookies: Vec::new(),
        }
    }

    /// The layer the jar's cookies belong to.
    pub fn layer(&self) -> &SessionLayer {
        &self.layer
    }

    /// The `Cookie` header a browser would send now, if the jar holds any cookie.
    pub fn cookie_header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let header = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::try_from(header).ok()
    }

    /// Puts the jar's cookies on `request` (replacing any `Cookie` header it had).
    pub fn apply<B>(&self, request: &mut Request<B>) {
        request.headers_mut().remove(COOKIE);
        if let Some(header) = self.cookie_header() {
            request.headers_mut().insert(COOKIE, header);
        }
    }

    /// Takes the response's `Set-Cookie` headers into the jar, as a browser would: a cookie
    /// is set or replaced, and removed when it expires at once (`Max-Age=0`) or is empty.
    pub fn absorb<B>(&mut self, response: &Response<B>) {
        for header in response.headers().get_all(SET_COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            let mut attributes = text.split(';');
            let Some((name, value)) = attributes.next().and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            let removed =
                value.is_empty() || attributes.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            self.cookies.retain(|(n, _)| n != name);
            if !removed {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// Replaces the session with `data` (a JSON object), as a request whose handler called
    /// [`Session::replace`] would, and keeps the cookies it is given.
    ///
    /// # Errors
    ///
    /// [`SessionError::Serialize`] when `data` is not a JSON object, and any error the layer
    /// would answer with (a store failure, a session too large for a cookie).
    pub async fn set(&mut self, data: Value) -> Result<(), SessionError> {
        let Value::Object(map) = data else {
            return Err(SessionError::Serialize(
                "a session must be a JSON object".to_owned(),
            ));
        };
        self.run(move |session| session.replace(map)).await?;
        Ok(())
    }

    /// The session the jar's cookies stand for now, read through the layer (so with a
    /// store, the record). An empty map when there is no valid session.
    ///
    /// # Errors
    ///
    /// Any error the layer would answer with (a store failure).
    pub async fn data(&mut self) -> Result<Map<String, Value>, SessionError> {
        self.run(|session| session.data()).await
    }

    /// Runs one request through the layer whose handler calls `f` on the loaded session,
    /// and absorbs the response's cookies.
    async fn run<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Session) -> R + Send + 'static,
    ) -> Result<R, SessionError> {
        let mut request = Request::new(());
        self.apply(&mut request);
        let slot: Slot<R> = Arc::new(Mutex::new(None));
        let probe = Probe {
            handler: Some(Box::new(move |session: Session| -> ProbeFuture<R> {
                Box::pin(async move {
                    session.load().await?;
                    Ok(f(&session))
                })
            })),
            slot: slot.clone(),
        };
        let response = match self.layer.layer(probe).call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        self.absorb(&response);
        if let Some(error) = response.extensions().get::<SessionError>() {
            return Err(error.clone());
        }
        let result = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        result.unwrap_or(Err(SessionError::NotLoaded))
    }
}

type ProbeFuture<R> = Pin<Box<dyn Future<Output = Result<R, SessionError>> + Send>>;
type ProbeHandler<R> = Box<dyn FnOnce(Session) -> ProbeFuture<R> + Send>;
type Slot<R> = Arc<Mutex<Option<Result<R, SessionError>>>>;

/// A one-shot service that runs a closure on the request's session and keeps its result.
struct Probe<R> {
    handler: Option<ProbeHandler<R>>,
    slot: Slot<R>,
}

impl<R: Send + 'static> Service<Request<()>> for Probe<R> {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<()>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        let handler = self.handler.take();
        let session = request.extensions().get::<Session>().cloned();
        let slot = self.slot.clone();
        Box::pin(async move {
            let result = match (handler, session) {
                (Some(handler), Some(session)) => handler(session).await,
                _ => Err(SessionError::NotLoaded),
            };
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
            Ok(Response::new(()))
        })
    }
}
