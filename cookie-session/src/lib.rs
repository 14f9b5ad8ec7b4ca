//! Cookie sessions for tower and axum: encrypted, signed, a JWT (feature `jwt`), or
//! byte-for-byte compatible with Express's `cookie-session`.
//!
//! A [`SessionLayer`] (built and checked by [`SessionConfig`]) puts a lazy [`Session`] in every
//! request; handlers read and write it like Express's `req.session`; the layer writes the
//! cookie when the response leaves, only when needed. With the feature `actix`, actix-web 4
//! gets the same sessions from the same configuration: `actix::SessionMiddleware`.
//!
//! ```
//! use cookie_session::{KeyRing, Session, SessionConfig};
//! # #[cfg(feature = "axum")]
//! # fn app() -> axum::Router {
//! use axum::{routing::get, Router};
//!
//! async fn visit(session: Session) -> String {
//!     let views = session.get::<u64>("views").unwrap_or(0) + 1;
//!     session.insert("views", views).expect("a number is JSON");
//!     format!("views={views}")
//! }
//!
//! let keys = KeyRing::new(["a secret of at least thirty-two bytes!"]).unwrap(); // or KeyRing::from_env()
//! Router::new()
//!     .route("/", get(visit))
//!     .layer(SessionConfig::new(keys).build().unwrap())
//! # }
//! ```
//!
//! # Modules
//!
//! | module | what it holds |
//! |---|---|
//! | [`key`] | the key ring: the first key seals, every key opens |
//! | [`format`](mod@format) | pure cookie codecs, one per format (`encrypted`, `signed`, `jwt`, `express`) |
//! | [`cookie`] | finding a cookie in a request, attributes and their rules, `Set-Cookie` rendering |
//! | [`layer`] | the tower middleware |
//! | [`migrate`] | leaving an older format (Express `cookie-session`) without logging anyone out |
//! | `actix` | the actix-web middleware (feature `actix`) |
//! | [`store`] | server-side stores behind one trait, and express-session's two layouts |
//! | `extract` | extractors (features `axum`, `actix`): the session, typed values, flash messages, CSRF checks |
//! | [`flash`] | one-shot flash messages |
//! | [`csrf`] | CSRF tokens bound to the session |
//! | `testing` | unit-testing handlers with a session, without a server, and checking your own store against the store contract (feature `testing`) |
//!
//! # serde_json's features change for your whole build
//!
//! This crate turns on serde_json's `preserve_order` and `float_roundtrip` features, and Cargo
//! unifies features: every crate of an application that depends on this one gets them too.
//! `serde_json::Map` then keeps insertion order (an `IndexMap` instead of a `BTreeMap`:
//! maps iterate and serialize in insertion order rather than sorted, and `Map::remove` moves
//! the last entry into the hole — use `shift_remove` to keep the order), and floats are parsed
//! exactly, a little more slowly. Both are needed here: the `express` format must write
//! `JSON.stringify`'s exact bytes, which follow insertion order, and a session must load back
//! with its keys in order and its floats bit for bit, or it would be rewritten on every read.
//! (Built without `preserve_order`, the recorded Express vectors are no longer reproduced byte
//! for byte: `tests/express_layer.rs` and `tests/express_vectors.rs` fail.) Code that relies
//! on sorted `serde_json::Map` output should sort explicitly.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | yes | `FromRequestParts` for [`Session`], the typed `extract::Typed<T>`, `extract::Flash`, `extract::CsrfGuard` and `extract::CsrfForm` |
//! | `actix` | no | `actix::SessionMiddleware`, the same sessions for actix-web 4, and the extractors of `extract` for actix-web (adds `actix-web` without its default features) |
//! | `testing` | no | `testing::TestSession`: drive your handlers with a session in unit tests; `testing::check_store`: the store contract, run against your own `SessionStore` (adds `futures-util`) |
//! | `jwt` | no | the `jwt` format (`format::jwt`, `Format::Jwt`): the session as an HS256 JWS other services can read (adds `jsonwebtoken` and `ring`) |
//! | `memory` | yes | [`store::MemoryStore`], the embedded server-side store |
//! | `sqlite` | no | `store::SqliteStore`: sessions in a SQLite file (sqlx, SQLite bundled), and `store::spawn_cleanup` |
//! | `postgres` | no | `store::PostgresStore`: sessions in PostgreSQL (sqlx), and `store::spawn_cleanup` |
//! | `redis` | no | `store::RedisStore`, sessions in Redis (single server or Cluster layout) |
//!
//! # Sharing sessions with express-session
//!
//! [`SessionConfig::express_session`] reads and writes the sessions of an Express app that uses
//! express-session 1.19 — its signed `connect.sid` cookie, its records in Redis
//! (`store::ExpressRedisStore`, feature `redis`) or PostgreSQL (`store::ExpressPgStore`,
//! feature `postgres`) — through the same [`Session`] API; see [`ExpressSessionMode`].
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "actix")]
pub mod actix;
mod config;
pub mod cookie;
pub mod csrf;
pub mod flash;
pub mod format;
pub mod key;
pub mod layer;
mod metrics;
pub mod migrate;
mod rejection;
mod respond;
mod session;
pub mod store;
mod time;

#[cfg(any(feature = "axum", feature = "actix"))]
pub mod extract;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{
    ConfigError, SessionConfig, DEFAULT_COOKIE_NAME, DEFAULT_MAX_COOKIE_SIZE,
    DEFAULT_MAX_SESSION_SIZE, DEFAULT_TTL, MAX_CLOCK_SKEW,
};
pub use key::{KeyError, KeyRing};
pub use layer::{SessionLayer, SessionService};
pub use metrics::MetricsSnapshot;
pub use rejection::Rejection;
pub use session::{ExpressSessionMode, Session, SessionError};
pub use time::{from_unix_secs, unix_secs, Clock, SystemClock, TimePolicy};
