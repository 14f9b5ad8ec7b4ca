//! What the express-session stores (connect-redis and connect-pg-simple layouts) answer.

use crate::format::express_session::{Record, RecordError};

/// What an express-session store's `load` found under a sid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// A live record, and its text as stored (the compare-and-swap token for `save`).
    Live {
        /// The parsed record (boxed: it is much larger than the other variants).
        record: Box<Record>,
        /// The record text as the store holds it.
        text: String,
    },
    /// No such key.
    Missing,
    /// The key exists but the session has ended
    /// ([`is_live`](crate::format::express_session::is_live)).
    Expired,
    /// The value is not a record express-session could have written; it is left as it is.
    Refused(RecordError),
}

impl Loaded {
    /// What a stored value says, for both layouts: [`Loaded::Refused`] when it is not a
    /// record, [`Loaded::Expired`] when [`is_live`] says the session has ended
    /// (`store_expires_ms`: when the store itself drops it, if it does), else live.
    #[cfg(any(feature = "redis", feature = "postgres"))]
    pub(crate) fn from_stored(text: String, now_ms: i64, store_expires_ms: Option<i64>) -> Self {
        let record = match Record::parse(&text) {
            Ok(record) => record,
            Err(reason) => return Loaded::Refused(reason),
        };
        if !crate::format::express_session::is_live(record.cookie(), now_ms, store_expires_ms) {
            return Loaded::Expired;
        }
        Loaded::Live {
            record: Box::new(record),
            text,
        }
    }
}

/// The result of an express-session store's `save`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written (or deleted, when the record's own expiry had passed).
    Saved,
    /// The value changed since it was loaded (another request, maybe the Express app, wrote
    /// it): nothing was written; load it again and re-apply the changes.
    Changed,
    /// The key is gone (destroyed or expired): nothing was written.
    Gone,
}
