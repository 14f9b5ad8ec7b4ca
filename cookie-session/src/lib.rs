//! Cookie sessions for tower and axum.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod format;
pub mod key;

pub use key::{KeyError, KeyRing};
