//! Benchmark servers: `bench-server --server NAME [--port N]` serves `/visit`, `/read` and
//! `/plain` on 127.0.0.1:N with one session middleware (see `SERVERS` below).
//!
//! - `/visit` reads the session, increments `views` (the session also holds `user_id` = 42 and
//!   a 32-hex `csrf`, set on the first visit) and answers `views=N`: a full
//!   verify-modify-seal round trip with a `Set-Cookie` on every response;
//! - `/read` only reads `views` (no `Set-Cookie`);
//! - `/plain` never touches the session, though the middleware is installed.
//!
//! The `*-redis` servers keep the session in Redis (only its id in the cookie): ours through
//! `cookie_session::store::RedisStore`, actix-session through its `RedisSessionStore`. They
//! read the server's URL from `REDIS_URL` (`bench/run.sh` starts a throwaway one).
//!
//! `bench-server --server NAME --profile ROUTE --iterations N` drives the same router (or
//! actix-web app, called as a service) in process (no sockets) N times with a fixed valid
//! cookie: the loop `callgrind` profiles.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request};
use axum::routing::get;
use axum::Router;
use axum::ServiceExt;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};
use tower::{Layer as _, ServiceExt as _};

/// Every server name `--server` accepts.
const SERVERS: &[&str] = &[
    "bare",
    "bare-layered",
    "ours-encrypted",
    "ours-encrypted-xchacha",
    "ours-signed",
    "ours-express",
    "axum-extra-signed",
    "axum-extra-private",
    "tower-sessions-memory",
    "ours-encrypted-outer",
    "tower-sessions-memory-outer",
    "ours-redis",
    "actix-signed",
    "actix-private",
    "actix-redis",
    "actix-bare",
    "ours-actix-encrypted",
    "ours-actix-signed",
    "ours-actix-express",
    "ours-actix-redis",
];

/// The session secret of our layer (≥ 32 bytes, as the native formats require).
const SECRET: &str = "bench-secret-0123456789abcdef-0123456789abcdef";
/// The master key of the `cookie` crate's jars (64 bytes, as it requires).
const MASTER: &[u8; 64] = b"bench-master-key-0123456789abcdef-0123456789abcdef-0123456789abc";
/// The session's CSRF token: 32 hex characters.
const CSRF: &str = "0123456789abcdef0123456789abcdef";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let server = flag("--server").unwrap_or_else(|| usage());
    if !SERVERS.contains(&server.as_str()) {
        usage();
    }
    let port: u16 = flag("--port").map_or(3000, |p| p.parse().unwrap_or_else(|_| usage()));
    if let Some(route) = flag("--profile") {
        let iterations = flag("--iterations").map_or(10_000, |n| n.parse().unwrap_or(10_000));
        profile(&server, &route, iterations);
        return;
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match server.as_str() {
        "actix-signed" => actix::serve(addr, false),
        "actix-private" => actix::serve(addr, true),
        "actix-redis" => actix::serve_redis(addr),
        name if name.starts_with("ours-actix") || name == "actix-bare" => {
            ours_actix::serve(addr, name)
        }
        name => serve_axum(addr, name),
    }
    .unwrap_or_else(|e| {
        eprintln!("bench-server: {e}");
        std::process::exit(1)
    });
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-server --server NAME [--port N] [--profile /visit|/read|/plain --iterations N]\n\
         servers: {}",
        SERVERS.join(", ")
    );
    std::process::exit(2)
}

fn serve_axum(addr: SocketAddr, name: &str) -> std::io::Result<()> {
    // Under `taskset -c 0` the runtime sees one CPU, so it runs one worker thread.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            match outer(name) {
                Some("ours-encrypted") => {
                    let app = ours_layer("ours-encrypted").await?.layer(ours_routes());
                    axum::serve(
                        listener,
                        ServiceExt::<Request<Body>>::into_make_service(app),
                    )
                    .await
                }
                Some("tower-sessions-memory") => {
                    let app = ts_layer().layer(ts_routes());
                    axum::serve(
                        listener,
                        ServiceExt::<Request<Body>>::into_make_service(app),
                    )
                    .await
                }
                Some(_) => usage(),
                None => axum::serve(listener, router(name).await?).await,
            }
        })
}

/// The Redis server the `*-redis` servers use.
fn redis_url() -> std::io::Result<String> {
    std::env::var("REDIS_URL").map_err(|_| {
        std::io::Error::other("REDIS_URL is not set (bench/run.sh starts a throwaway Redis)")
    })
}

/// Our Redis store on `REDIS_URL`.
async fn ours_redis_store() -> std::io::Result<cookie_session::store::RedisStore> {
    let url = redis_url()?;
    cookie_session::store::RedisStore::connect(&url)
        .await
        .map_err(|e| std::io::Error::other(format!("Redis at {url}: {e}")))
}

/// The axum router of `name` (connects to Redis for `ours-redis`).
async fn router(name: &str) -> std::io::Result<Router> {
    Ok(match name {
        "bare" => Router::new()
            .route("/visit", get(bare::visit))
            .route("/read", get(bare::read))
            .route("/plain", get(plain)),
        // Bare axum behind a layer that does nothing (`Identity` hands back the route
        // itself): what `Router::layer` costs whatever the layer, the floor of a route
        // behind our layer that never touches the session.
        "bare-layered" => Router::new()
            .route("/visit", get(bare::visit))
            .route("/read", get(bare::read))
            .route("/plain", get(plain))
            .layer(tower::layer::util::Identity::new()),
        "ours-encrypted"
        | "ours-encrypted-xchacha"
        | "ours-signed"
        | "ours-express"
        | "ours-redis" => ours_routes().layer(ours_layer(name).await?),
        "axum-extra-signed" => Router::new()
            .route("/visit", get(jar::signed_visit))
            .route("/read", get(jar::signed_read))
            .route("/plain", get(plain))
            .with_state(axum_extra::extract::cookie::Key::from(MASTER)),
        "axum-extra-private" => Router::new()
            .route("/visit", get(jar::private_visit))
            .route("/read", get(jar::private_read))
            .route("/plain", get(plain))
            .with_state(axum_extra::extract::cookie::Key::from(MASTER)),
        "tower-sessions-memory" => ts_routes().layer(ts_layer()),
        _ => usage(),
    })
}

/// The server an `-outer` name wraps: the same session layer applied around the whole
/// router (`layer.layer(router)`, as tower-http's docs show for middleware that runs before
/// routing) instead of with `Router::layer`, which boxes the layer's future and clones the
/// layered service for every request, whatever the layer (see `bare-layered`).
fn outer(name: &str) -> Option<&str> {
    name.strip_suffix("-outer")
}

fn ours_routes() -> Router {
    Router::new()
        .route("/visit", get(ours::visit))
        .route("/read", get(ours::read))
        .route("/plain", get(plain))
}

/// Our layer for the `ours-*` server `name` (connects to Redis for `ours-redis`).
async fn ours_layer(name: &str) -> std::io::Result<cookie_session::SessionLayer> {
    use cookie_session::format::{Cipher, Format, SigAlgorithm};
    let format = match name {
        "ours-signed" => Format::Signed,
        "ours-express" => Format::Express(SigAlgorithm::Sha1),
        _ => Format::Encrypted,
    };
    let keys = cookie_session::KeyRing::new([SECRET]).expect("a valid key");
    let mut config = cookie_session::SessionConfig::new(keys).format(format);
    if name == "ours-encrypted-xchacha" {
        // The encrypted format pinned to version 1 (XChaCha20-Poly1305), as before
        // XAES-256-GCM; `ours-encrypted` seals with what this CPU picks.
        config = config.cipher(Cipher::XChaCha20Poly1305);
    }
    if name == "ours-redis" {
        config = config.store(ours_redis_store().await?);
    }
    Ok(config.build().expect("a valid configuration"))
}

fn ts_routes() -> Router {
    Router::new()
        .route("/visit", get(ts::visit))
        .route("/read", get(ts::read))
        .route("/plain", get(plain))
}

fn ts_layer() -> tower_sessions::SessionManagerLayer<tower_sessions::MemoryStore> {
    tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
        .with_secure(false)
}

async fn plain() -> &'static str {
    "plain"
}

/// The session the jar-based servers keep in their cookie.
#[derive(Serialize, Deserialize)]
struct State {
    views: u64,
    user_id: u64,
    csrf: String,
}

impl State {
    fn fresh() -> Self {
        State {
            views: 0,
            user_id: 42,
            csrf: CSRF.to_owned(),
        }
    }

    /// base64url(JSON): the cookie crate's jars want cookie-safe values.
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(value: &str) -> Option<Self> {
        let json = URL_SAFE_NO_PAD.decode(value).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

/// The session servers' handlers format a number they read at run time; these format one
/// the compiler cannot see either (`black_box`), or `format!` of a constant would be folded
/// into a copied literal and bare axum would skip the formatting work every other server
/// does (about 530 instructions per request, counted with `bench/profile.sh`).
mod bare {
    use std::hint::black_box;

    pub async fn visit() -> String {
        format!("views={}", black_box(1u64))
    }

    pub async fn read() -> String {
        format!("views={}", black_box(0u64))
    }
}

mod ours {
    use cookie_session::Session;

    pub async fn visit(session: Session) -> String {
        let views = session.get::<u64>("views").unwrap_or(0) + 1;
        let _ = session.insert("views", views);
        if !session.contains_key("user_id") {
            let _ = session.insert("user_id", 42u64);
            let _ = session.insert("csrf", super::CSRF);
        }
        format!("views={views}")
    }

    pub async fn read(session: Session) -> String {
        format!("views={}", session.get::<u64>("views").unwrap_or(0))
    }
}

mod jar {
    use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite, SignedCookieJar};

    use super::State;

    fn cookie(state: &State) -> Cookie<'static> {
        Cookie::build(("session", state.encode()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .build()
    }

    fn load(value: Option<Cookie<'static>>) -> Option<State> {
        value.and_then(|c| State::decode(c.value()))
    }

    pub async fn signed_visit(jar: SignedCookieJar) -> (SignedCookieJar, String) {
        let mut state = load(jar.get("session")).unwrap_or_else(State::fresh);
        state.views += 1;
        let body = format!("views={}", state.views);
        (jar.add(cookie(&state)), body)
    }

    pub async fn signed_read(jar: SignedCookieJar) -> String {
        let views = load(jar.get("session")).map_or(0, |s| s.views);
        format!("views={views}")
    }

    pub async fn private_visit(jar: PrivateCookieJar) -> (PrivateCookieJar, String) {
        let mut state = load(jar.get("session")).unwrap_or_else(State::fresh);
        state.views += 1;
        let body = format!("views={}", state.views);
        (jar.add(cookie(&state)), body)
    }

    pub async fn private_read(jar: PrivateCookieJar) -> String {
        let views = load(jar.get("session")).map_or(0, |s| s.views);
        format!("views={views}")
    }
}

mod ts {
    use tower_sessions::Session;

    pub async fn visit(session: Session) -> String {
        let views = session
            .get::<u64>("views")
            .await
            .ok()
            .flatten()
            .unwrap_or(0)
            + 1;
        let _ = session.insert("views", views).await;
        if session.get::<u64>("user_id").await.ok().flatten().is_none() {
            let _ = session.insert("user_id", 42u64).await;
            let _ = session.insert("csrf", super::CSRF).await;
        }
        format!("views={views}")
    }

    pub async fn read(session: Session) -> String {
        let views = session
            .get::<u64>("views")
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
        format!("views={views}")
    }
}

mod actix {
    use std::net::SocketAddr;

    use actix_session::config::CookieContentSecurity;
    use actix_session::storage::{CookieSessionStore, RedisSessionStore, SessionStore};
    use actix_session::{Session, SessionMiddleware};
    use actix_web::body::MessageBody;
    use actix_web::cookie::Key;
    use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
    use actix_web::{web, App, HttpServer};

    async fn visit(session: Session) -> String {
        let views = session.get::<u64>("views").ok().flatten().unwrap_or(0) + 1;
        let _ = session.insert("views", views);
        if session.get::<u64>("user_id").ok().flatten().is_none() {
            let _ = session.insert("user_id", 42u64);
            let _ = session.insert("csrf", super::CSRF);
        }
        format!("views={views}")
    }

    async fn read(session: Session) -> String {
        let views = session.get::<u64>("views").ok().flatten().unwrap_or(0);
        format!("views={views}")
    }

    async fn plain() -> &'static str {
        "plain"
    }

    /// actix-session's cookie store, signed or private, around the three routes.
    pub fn app(
        private: bool,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let security = if private {
            CookieContentSecurity::Private
        } else {
            CookieContentSecurity::Signed
        };
        with_store(CookieSessionStore::default(), security)
    }

    /// actix-session's `RedisSessionStore` on `REDIS_URL`.
    pub async fn redis_store() -> std::io::Result<RedisSessionStore> {
        let url = super::redis_url()?;
        RedisSessionStore::new(url.clone())
            .await
            .map_err(|e| std::io::Error::other(format!("Redis at {url}: {e}")))
    }

    /// actix-session with `store` around the three routes. With a server-side store the cookie
    /// holds only the session key (private: encrypted, actix-session's default).
    pub fn with_store<S: SessionStore + 'static>(
        store: S,
        security: CookieContentSecurity,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        App::new()
            .wrap(
                SessionMiddleware::builder(store, Key::from(super::MASTER))
                    .cookie_name("session".to_owned())
                    .cookie_secure(false)
                    .cookie_content_security(security)
                    .build(),
            )
            .route("/visit", web::get().to(visit))
            .route("/read", web::get().to(read))
            .route("/plain", web::get().to(plain))
    }

    pub fn serve(addr: SocketAddr, private: bool) -> std::io::Result<()> {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || app(private))
                .workers(1)
                .bind(addr)?
                .run()
                .await
        })
    }

    pub fn serve_redis(addr: SocketAddr) -> std::io::Result<()> {
        actix_web::rt::System::new().block_on(async move {
            let store = redis_store().await?;
            HttpServer::new(move || with_store(store.clone(), CookieContentSecurity::Private))
                .workers(1)
                .bind(addr)?
                .run()
                .await
        })
    }
}

/// Our actix-web middleware (`cookie_session::actix`), and actix-web without a session as its
/// reference: the same routes as the axum servers.
mod ours_actix {
    use std::net::SocketAddr;
    use std::time::Instant;

    use actix_session::config::CookieContentSecurity;
    use actix_web::body::MessageBody;
    use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
    use actix_web::{test, web, App, HttpServer};
    use cookie_session::actix::SessionMiddleware;
    use cookie_session::format::{Format, SigAlgorithm};
    use cookie_session::{KeyRing, Session, SessionConfig};

    async fn visit(session: Session) -> String {
        let views = session.get::<u64>("views").unwrap_or(0) + 1;
        let _ = session.insert("views", views);
        if !session.contains_key("user_id") {
            let _ = session.insert("user_id", 42u64);
            let _ = session.insert("csrf", super::CSRF);
        }
        format!("views={views}")
    }

    async fn read(session: Session) -> String {
        format!("views={}", session.get::<u64>("views").unwrap_or(0))
    }

    async fn plain() -> &'static str {
        "plain"
    }

    /// As `bare::visit`: a number the compiler cannot fold.
    async fn bare_visit() -> String {
        format!("views={}", std::hint::black_box(1u64))
    }

    /// Our middleware for `name`: a format, or the encrypted format with our Redis store for
    /// `ours-actix-redis`; none for `actix-bare`.
    async fn middleware(name: &str) -> std::io::Result<Option<SessionMiddleware>> {
        let format = match name {
            "ours-actix-encrypted" | "ours-actix-redis" => Format::Encrypted,
            "ours-actix-signed" => Format::Signed,
            "ours-actix-express" => Format::Express(SigAlgorithm::Sha1),
            _ => return Ok(None),
        };
        let keys = KeyRing::new([super::SECRET]).expect("a valid key");
        let mut config = SessionConfig::new(keys).format(format);
        if name == "ours-actix-redis" {
            config = config.store(super::ours_redis_store().await?);
        }
        Ok(Some(SessionMiddleware::new(
            config.build().expect("a valid config"),
        )))
    }

    /// The app around `sessions`, or `actix-bare` without them.
    fn app(
        sessions: Option<SessionMiddleware>,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        // Without a middleware (actix-bare) it is left out by a condition, so both apps have
        // the same type.
        let bare = sessions.is_none();
        let app = App::new().wrap(actix_web::middleware::Condition::new(
            !bare,
            sessions.unwrap_or_else(|| {
                SessionMiddleware::new(
                    SessionConfig::new(KeyRing::new([super::SECRET]).expect("a valid key"))
                        .build()
                        .expect("a valid config"),
                )
            }),
        ));
        if bare {
            app.route("/visit", web::get().to(bare_visit))
                .route("/read", web::get().to(bare_visit))
                .route("/plain", web::get().to(plain))
        } else {
            app.route("/visit", web::get().to(visit))
                .route("/read", web::get().to(read))
                .route("/plain", web::get().to(plain))
        }
    }

    pub fn serve(addr: SocketAddr, name: &str) -> std::io::Result<()> {
        actix_web::rt::System::new().block_on(async move {
            let sessions = middleware(name).await?;
            HttpServer::new(move || app(sessions.clone()))
                .workers(1)
                .bind(addr)?
                .run()
                .await
        })
    }

    /// The in-process loop of `--profile`, for actix-web: the app as a service, called with
    /// test requests (no sockets), a fixed valid cookie.
    pub fn profile(server: &str, route: &str, iterations: u64) {
        let fail = |e: std::io::Error| -> ! {
            eprintln!("bench-server: {e}");
            std::process::exit(1)
        };
        actix_web::rt::System::new().block_on(async move {
            match server {
                "actix-signed" => {
                    profile_app(super::actix::app(false), server, route, iterations).await
                }
                "actix-private" => {
                    profile_app(super::actix::app(true), server, route, iterations).await
                }
                "actix-redis" => {
                    let store = super::actix::redis_store()
                        .await
                        .unwrap_or_else(|e| fail(e));
                    let app = super::actix::with_store(store, CookieContentSecurity::Private);
                    profile_app(app, server, route, iterations).await
                }
                _ => {
                    let sessions = middleware(server).await.unwrap_or_else(|e| fail(e));
                    profile_app(app(sessions), server, route, iterations).await
                }
            }
        });
    }

    async fn profile_app<T, B>(app: App<T>, server: &str, route: &str, iterations: u64)
    where
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let app = test::init_service(app).await;
        let first =
            test::call_service(&app, test::TestRequest::get().uri("/visit").to_request()).await;
        let cookie = super::request_cookie(
            first
                .headers()
                .get_all("set-cookie")
                .filter_map(|v| v.to_str().ok()),
        );
        let start = Instant::now();
        let mut bytes = 0usize;
        for _ in 0..iterations {
            let req = test::TestRequest::get()
                .uri(route)
                .insert_header(("cookie", cookie.as_str()))
                .to_request();
            let response = app.call(req).await.expect("a response");
            bytes += response.headers().len();
            bytes += test::read_body(response).await.len();
        }
        let elapsed = start.elapsed();
        eprintln!(
            "{server} {route}: {iterations} requests, {:.0} ns/request (cookie {} bytes, checksum {bytes})",
            elapsed.as_nanos() as f64 / iterations as f64,
            cookie.len()
        );
    }
}

/// Drives the router in process: one `/visit` to get a cookie, then `iterations` requests to
/// `route` with it. The instruction count of this loop, minus the same loop on `bare`, is the
/// layer's cost per request (deterministic under callgrind).
fn profile(server: &str, route: &str, iterations: u64) {
    if server.contains("actix") {
        ours_actix::profile(server, route, iterations);
        return;
    }
    let mut builder = tokio::runtime::Builder::new_current_thread();
    if server.ends_with("-redis") {
        // The Redis client needs the IO and time drivers; the cookie servers' loop stays
        // without them, so their instruction counts are those measured before.
        builder.enable_all();
    }
    let rt = builder.build().expect("a runtime");
    rt.block_on(async move {
        let fail = |e: std::io::Error| -> ! {
            eprintln!("bench-server: {e}");
            std::process::exit(1)
        };
        // `with_state(())` turns every route into its final service once, as `axum::serve`
        // does (axum 0.8.9 `Router::into_make_service`); without it, each request would
        // build its route and apply the layers again, which no server does.
        match outer(server) {
            Some("ours-encrypted") => {
                let layer = ours_layer("ours-encrypted")
                    .await
                    .unwrap_or_else(|e| fail(e));
                drive(
                    layer.layer(ours_routes().with_state(())),
                    server,
                    route,
                    iterations,
                )
                .await
            }
            Some("tower-sessions-memory") => {
                drive(
                    ts_layer().layer(ts_routes().with_state(())),
                    server,
                    route,
                    iterations,
                )
                .await
            }
            Some(_) => usage(),
            None => {
                let app = router(server).await.unwrap_or_else(|e| fail(e));
                drive(app.with_state(()), server, route, iterations).await
            }
        }
    });
}

/// The loop of [`profile`] on the service `app`.
async fn drive<S, B>(app: S, server: &str, route: &str, iterations: u64)
where
    S: tower::Service<
            Request<Body>,
            Response = axum::http::Response<B>,
            Error = std::convert::Infallible,
        > + Clone,
    B: axum::body::HttpBody,
    B::Error: std::fmt::Debug,
{
    let first = app
        .clone()
        .oneshot(
            Request::get("/visit")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("infallible");
    let cookie = request_cookie(
        first
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let value = header::HeaderValue::try_from(cookie.as_str()).expect("a header value");
    // hyper hands over header values that share the connection's read buffer: cloning
    // one bumps a count. A value parsed from a string allocates on its first clone
    // instead, so clone it once before the loop to match.
    let _ = value.clone();
    let start = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..iterations {
        let req = Request::get(route).header(header::COOKIE, value.clone());
        let response = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("a request"))
            .await
            .expect("infallible");
        bytes += response.headers().len();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        bytes += body.len();
    }
    let elapsed = start.elapsed();
    eprintln!(
        "{server} {route}: {iterations} requests, {:.0} ns/request (cookie {} bytes, checksum {bytes})",
        elapsed.as_nanos() as f64 / iterations as f64,
        cookie.len()
    );
}

/// The `Cookie` header a browser would send back for these `Set-Cookie` values. A server
/// without a session still gets a `Cookie` header of the usual size, so request parsing costs
/// the same everywhere.
fn request_cookie<'a>(set_cookies: impl Iterator<Item = &'a str>) -> String {
    let pairs: Vec<&str> = set_cookies.filter_map(|v| v.split(';').next()).collect();
    if pairs.is_empty() {
        return format!("session={}", "A".repeat(180));
    }
    pairs.join("; ")
}
