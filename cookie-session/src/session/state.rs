//! The state of one request's session, once loaded.

use super::migrate::Migration;
use super::persist::user_of;
use crate::format::{Data, Rejection, Timestamps, Unsealed};
use crate::store::{Patch, Record, SessionId, StoreKey};

/// The loaded session.
pub(crate) struct Current {
    pub(crate) data: Data,
    pub(crate) origin: Origin,
    /// Set by every mutation; a loaded cookie session is compared only when dirty.
    pub(crate) dirty: bool,
    /// Why the request's cookie was refused, if one was.
    pub(crate) rejection: Option<Rejection>,
    /// What this request changed, for the per-key merge of store mode.
    pub(crate) changes: Changes,
    /// Store records to delete when the response leaves (`destroy`, `regenerate`).
    pub(crate) doomed: Vec<StoreKey>,
    /// A session that must never be persisted (the store was down and the outage policy
    /// chose to go on anonymously).
    pub(crate) anonymous: bool,
    /// Old-format cookies to clear, and whether the session came from one.
    pub(crate) migration: Migration,
    /// The express-session record this session was loaded from (express-session mode).
    pub(crate) express: Option<Box<super::express_session::Loaded>>,
}

pub(crate) enum Origin {
    /// No usable cookie came with the request, or the session was started again.
    New,
    /// Read from the request's cookie (and, in store mode, its record).
    Cookie {
        key_index: usize,
        times: Option<Timestamps>,
        /// The canonical text the cookie held (cookie mode) — see `Codec::canonical`; empty
        /// when it is the data's source text (see [`Current::loaded_canonical`]).
        canonical: Vec<u8>,
        /// The record behind it (store mode).
        record: Option<RecordMeta>,
    },
    /// `destroy()` was called.
    Destroyed,
}

/// Where a store-mode session lives.
#[derive(Clone)]
pub(crate) struct RecordMeta {
    pub(crate) id: SessionId,
    pub(crate) version: u64,
    pub(crate) created_at: u64,
    pub(crate) expires_at: u64,
}

/// The keys a request changed. These, and only these, go to the store as a [`Patch`], applied
/// there to the record as it is then, so concurrent writes to different keys all survive.
#[derive(Default)]
pub(crate) struct Changes {
    /// The whole session was replaced or cleared.
    pub(crate) replaced: bool,
    /// Keys set or removed (the final value, or absence, is in `Current::data`).
    pub(crate) keys: Vec<String>,
}

impl Changes {
    pub(crate) fn key(&mut self, key: &str) {
        if !self.replaced && !self.keys.iter().any(|k| k == key) {
            self.keys.push(key.to_owned());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.replaced && self.keys.is_empty()
    }

    /// The store patch for these changes, taking the values from `mine` (the session as
    /// this request left it); the user is decided when the user key was changed.
    pub(crate) fn patch(&self, mine: &Data, user_key: &str, expires_at: u64) -> Patch {
        let mut patch = Patch::new(expires_at);
        if self.replaced {
            patch = patch.replace_with(mine.to_map());
        } else {
            for key in &self.keys {
                patch = match mine.get_value(key) {
                    Some(value) => patch.set(key.clone(), value),
                    None => patch.remove(key.clone()),
                };
            }
        }
        if self.replaced || self.keys.iter().any(|k| k == user_key) {
            patch = patch.with_user(user_of(mine, user_key));
        }
        patch
    }
}

impl Current {
    pub(crate) fn fresh() -> Self {
        Current::of(Data::default(), Origin::New)
    }

    /// A session of `data` and `origin`, with nothing else set. Every field is written here
    /// rather than by `..Current::fresh()`, which would build (and drop) an empty map too.
    fn of(data: Data, origin: Origin) -> Self {
        Current {
            data,
            origin,
            dirty: false,
            rejection: None,
            changes: Changes::default(),
            doomed: Vec::new(),
            anonymous: false,
            migration: Migration::default(),
            express: None,
        }
    }

    pub(crate) fn rejected(reason: Rejection) -> Self {
        let rejection = (reason != Rejection::Missing).then_some(reason);
        Current {
            rejection,
            ..Current::fresh()
        }
    }

    pub(crate) fn from_cookie(loaded: Unsealed) -> Self {
        Current::of(
            loaded.data,
            Origin::Cookie {
                key_index: loaded.key_index,
                times: loaded.times,
                canonical: loaded.canonical,
                record: None,
            },
        )
    }

    pub(crate) fn from_record(loaded: &Unsealed, id: SessionId, record: Record) -> Self {
        Current::of(
            Data::from_map(record.data),
            Origin::Cookie {
                key_index: loaded.key_index,
                times: loaded.times,
                canonical: Vec::new(),
                record: Some(RecordMeta {
                    id,
                    version: record.version,
                    created_at: record.created_at,
                    expires_at: record.expires_at,
                }),
            },
        )
    }

    /// Records that `key` was set or removed, for the per-key merge of store mode. Only a
    /// session backed by a record can ever be merged (a session without one at mutation time
    /// never gains one in this request), so cookie mode skips the bookkeeping and its
    /// allocations.
    #[inline]
    pub(crate) fn track(&mut self, key: &str) {
        if self.record().is_some() || self.express.is_some() {
            self.changes.key(key);
        }
    }

    /// Writing after `destroy` starts a new session.
    pub(crate) fn revive(&mut self) {
        if matches!(self.origin, Origin::Destroyed) {
            self.origin = Origin::New;
            self.changes = Changes {
                replaced: true,
                keys: Vec::new(),
            };
        }
    }

    /// The canonical text of the cookie this session was read from (empty for a new one).
    pub(crate) fn loaded_canonical(&self) -> &[u8] {
        match &self.origin {
            Origin::Cookie { canonical, .. } if canonical.is_empty() => self.data.source(),
            Origin::Cookie { canonical, .. } => canonical,
            _ => &[],
        }
    }

    /// The record this session was loaded from, if any.
    pub(crate) fn record(&self) -> Option<&RecordMeta> {
        match &self.origin {
            Origin::Cookie { record, .. } => record.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn map(v: Value) -> Data {
        Data::from_map(v.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn a_patch_holds_only_this_requests_keys() {
        let mine = map(json!({"a": 10, "c": 3, "user": 7}));
        let mut changes = Changes::default();
        changes.key("a");
        changes.key("b");
        changes.key("c");
        changes.key("a");
        assert_eq!(changes.keys, ["a", "b", "c"]);
        let patch = changes.patch(&mine, "user", 99);
        assert_eq!(
            patch,
            Patch::new(99)
                .set("a", json!(10))
                .remove("b")
                .set("c", json!(3))
        );
        assert_eq!(patch.user, None, "the user key was not touched");
        changes.key("user");
        let patch = changes.patch(&mine, "user", 99);
        assert_eq!(patch.user, Some(Some("7".into())));
    }

    #[test]
    fn a_replacement_wins_whole() {
        let mine = map(json!({"z": 0}));
        let changes = Changes {
            replaced: true,
            keys: Vec::new(),
        };
        let patch = changes.patch(&mine, "user", 5);
        assert!(patch.replace);
        assert_eq!(patch.entries, [("z".to_owned(), Some(json!(0)))]);
        assert_eq!(patch.user, Some(None));
        assert!(!changes.is_empty());
        assert!(Changes::default().is_empty());
    }
}
