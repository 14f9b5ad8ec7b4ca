//! Plain tower and hyper, no axum: the session layer around a `service_fn`, served by hyper.
//!
//! A project that does not use axum depends on the library without its default features
//! (`cookie-session = { version = "0.1", default-features = false }`, plus `memory` for the
//! in-memory store) and finds the [`Session`] in the request extensions, where the layer puts
//! it. With a server-side store, call [`Session::load`] before reading it (the axum extractor
//! does that for axum users).
//!
//! Run it:
//!
//! ```sh
//! export SESSION_KEYS=$(cargo run -q -p cookie-session-cli -- keygen)
//! cargo run -p cookie-session --example tower
//! ```
//!
//! Then try it:
//!
//! ```sh
//! curl -c jar -b jar http://127.0.0.1:3000/    # views=1
//! curl -c jar -b jar http://127.0.0.1:3000/    # views=2
//! ```
use std::convert::Infallible;

use cookie_session::{KeyRing, Session, SessionConfig};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower_layer::Layer;

async fn visit(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return Ok(text(StatusCode::INTERNAL_SERVER_ERROR, "no session layer"));
    };
    // Cookie mode needs no round trip, but `load` is what makes a store-backed session work.
    if session.load().await.is_err() {
        return Ok(text(StatusCode::SERVICE_UNAVAILABLE, "try again"));
    }
    let views = session.get::<u64>("views").unwrap_or(0) + 1;
    session.insert("views", views).expect("a number is JSON");
    Ok(text(StatusCode::OK, &format!("views={views}\n")))
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions = SessionConfig::new(KeyRing::from_env()?).build()?;
    let service = sessions.layer(tower::service_fn(visit));
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {error}");
            }
        });
    }
}
