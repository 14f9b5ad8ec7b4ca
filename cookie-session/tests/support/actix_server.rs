//! A real actix-web server on a loopback port, on a thread and actix system of its own, and a
//! real HTTP/1 client (hyper) that answers with the `Response<Body>` the tower tests read.
//! Included with `#[path]` by the tests that run a suite through the actix-web middleware.

use std::net::{SocketAddr, TcpListener};

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer};
use axum::body::Body;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;

/// The server; stopped when dropped.
pub struct ActixServer {
    addr: SocketAddr,
    handle: ServerHandle,
}

impl ActixServer {
    /// Serves the apps `factory` makes on 127.0.0.1 (one worker: it serves many requests at
    /// once, as the concurrency tests need).
    pub fn start<F, T, B>(factory: F) -> Self
    where
        F: Fn() -> App<T> + Send + Clone + 'static,
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(factory)
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)
                    .unwrap()
                    .run();
                tx.send(server.handle()).unwrap();
                server.await
            })
        });
        let handle = rx.recv().unwrap();
        ActixServer { addr, handle }
    }

    /// Sends `req` over a new connection and reads the whole answer.
    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        send(self.addr, req).await
    }

    /// The server's address, for requests sent from other tasks ([`send`]).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Sends `req` to `addr` over a new connection and reads the whole answer.
pub async fn send(addr: SocketAddr, req: Request<Body>) -> Response<Body> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let (mut parts, body) = req.into_parts();
    parts
        .headers
        .insert(http::header::HOST, addr.to_string().parse().unwrap());
    let res = sender
        .send_request(Request::from_parts(parts, body))
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, Body::from(bytes))
}

impl Drop for ActixServer {
    fn drop(&mut self) {
        // Sends the stop command now; the server's thread ends once it has stopped.
        drop(self.handle.stop(false));
    }
}
