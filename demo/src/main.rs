//! `cargo run -p demo`: serves the example app on <http://127.0.0.1:3000>.
//!
//! Configuration comes from the environment and `.env` (see `demo::config`). A bad value is
//! reported on one line, and the process exits with status 2.

use std::io::IsTerminal as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;

use demo::{app, DemoConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The redis crate logs a warning per cluster node it cannot reach; the demo reports an
    // unreachable store itself, on one line. `RUST_LOG=redis=…` still shows them.
    if !std::env::var("RUST_LOG").is_ok_and(|v| v.contains("redis")) {
        if let Ok(quiet) = "redis=error".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let config = match DemoConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("demo: {error}");
            return ExitCode::from(2);
        }
    };
    let config = match config.connect().await {
        Ok(config) => config,
        Err(error) => {
            eprintln!("demo: {error}");
            return ExitCode::from(2);
        }
    };
    if config.generated_key() {
        tracing::warn!(
            "SESSION_KEYS is not set: using a random key for this run, so sessions will not \
             survive a restart. To keep them, run `cookie-session keygen` and put \
             SESSION_KEYS=<the key> in .env"
        );
    }

    let listener = match tokio::net::TcpListener::bind(config.addr()).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "demo: cannot listen on {}: {error} (set PORT or ADDR to change it)",
                config.addr()
            );
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(config.addr());
    let url = format!("http://{}", browsable(bound));
    // Never a key or a cookie: only what a visitor could see anyway.
    tracing::info!(
        format = config.format_name(),
        cookie = config.cookie_name(),
        keys = config.key_count(),
        store = config.store().kind(),
        migrate_from = config.migrate_from().join(","),
        "demo listening on {bound}"
    );
    println!("Open {url} in your browser");

    if let Err(error) = axum::serve(listener, app(config))
        .with_graceful_shutdown(shutdown())
        .await
    {
        eprintln!("demo: server error: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The address to type in a browser: a wildcard bind is reachable on loopback.
fn browsable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
