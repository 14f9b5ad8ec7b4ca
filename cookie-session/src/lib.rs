//! Cookie sessions for tower and axum.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod config;
pub mod cookie;
pub mod format;
pub mod key;
pub mod layer;
mod session;
mod time;

pub use config::{
    ConfigError, SessionConfig, DEFAULT_COOKIE_NAME, DEFAULT_MAX_COOKIE_SIZE, DEFAULT_TTL,
};
pub use key::{KeyError, KeyRing};
pub use layer::{SessionLayer, SessionService};
pub use session::{Session, SessionError};
pub use time::{from_unix_secs, unix_secs, Clock, SystemClock, TimePolicy};

#[cfg(feature = "axum")]
pub mod extract;
