//! [`Patch`]: what one request changed in a stored session, for [`SessionStore::update`].

use std::io;

use serde_json::{Map, Value};

use super::Record;
#[cfg(doc)]
use super::{SessionStore, Update};

/// What one request changed in a stored session: the keys it set or removed (or that it
/// replaced the whole session), the session's user when the change decides it, and the new
/// expiry. [`SessionStore::update`] applies it to the record *as it is in the store* at that
/// moment, atomically, so concurrent requests that change different keys all keep their
/// changes, and concurrent writes of one key end with one of the written values (the last
/// to reach the store).
///
/// Stores read the public fields; [`Patch::apply`] is the reference for what applying means.
///
/// # Examples
///
/// ```
/// use cookie_session::store::{Patch, Record};
/// use serde_json::json;
///
/// let mut record = Record {
///     data: json!({"cart": 2, "theme": "dark"}).as_object().cloned().unwrap(),
///     version: 4,
///     created_at: 0,
///     expires_at: 100,
///     user: None,
/// };
/// let patch = Patch::new(200)
///     .set("cart", json!(3))
///     .remove("theme")
///     .set("user", json!("alice"))
///     .with_user(Some("alice".into()));
/// patch.apply(&mut record);
/// assert_eq!(record.data, *json!({"cart": 3, "user": "alice"}).as_object().unwrap());
/// assert_eq!((record.version, record.expires_at, record.user.as_deref()), (5, 200, Some("alice")));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Patch {
    /// The session was replaced whole (cleared, or a typed value stored over it): the stored
    /// data is dropped before `entries` are applied, and `entries` then hold all of it.
    pub replace: bool,
    /// Keys set to a new value (`Some`) or removed (`None`), each key once, in the order the
    /// request first changed them. A key already stored keeps its place when set; a new key
    /// goes last.
    pub entries: Vec<(String, Option<Value>)>,
    /// The session's user after the change when the change decides it (it set, removed or
    /// replaced the user key configured with `SessionConfig::user_key`): `Some(Some(user))`,
    /// or `Some(None)` for no user. `None`: the user key was not touched, the stored user
    /// stays.
    pub user: Option<Option<String>>,
    /// The record's new expiry (Unix seconds).
    pub expires_at: u64,
    /// The record the request loaded, with this patch applied and its version *unchanged*:
    /// exactly what the store holds afterwards (with the version plus one) if nobody wrote
    /// since the request loaded it. A store may try a single compare-and-swap on
    /// `if_unchanged.version` first and merge only when that fails; its `user` tells a store
    /// with a user index which user to index before writing. `None` when unknown.
    pub if_unchanged: Option<Record>,
    /// The most bytes the merged record's data may take as JSON text (serde_json's compact
    /// encoding of the map, as [`Patch::oversize`] counts it). The request checked its own
    /// view before writing, but other writers' keys merged in can make the stored record
    /// larger: a store refuses a patch whose merged data is larger than this with
    /// [`Update::TooLarge`] and writes nothing. `None`: no limit.
    pub max_size: Option<usize>,
}

impl Patch {
    /// A patch that changes nothing but the expiry (add changes with [`set`](Self::set),
    /// [`remove`](Self::remove), [`replace_with`](Self::replace_with)).
    pub fn new(expires_at: u64) -> Self {
        Patch {
            replace: false,
            entries: Vec::new(),
            user: None,
            expires_at,
            if_unchanged: None,
            max_size: None,
        }
    }

    /// Also sets `key` to `value`.
    pub fn set(mut self, key: impl Into<String>, value: Value) -> Self {
        self.push(key.into(), Some(value));
        self
    }

    /// Also removes `key`.
    pub fn remove(mut self, key: impl Into<String>) -> Self {
        self.push(key.into(), None);
        self
    }

    /// Replaces the whole session with `data` (an empty map clears it).
    pub fn replace_with(mut self, data: Map<String, Value>) -> Self {
        self.replace = true;
        self.entries = data.into_iter().map(|(k, v)| (k, Some(v))).collect();
        self
    }

    /// Says who the session's user is after this patch (see [`Patch::user`]).
    pub fn with_user(mut self, user: Option<String>) -> Self {
        self.user = Some(user);
        self
    }

    /// Offers the outcome for a compare-and-swap (see [`Patch::if_unchanged`]).
    pub fn with_if_unchanged(mut self, record: Record) -> Self {
        self.if_unchanged = Some(record);
        self
    }

    /// Limits the merged record's data to `bytes` of JSON text (see [`Patch::max_size`]).
    pub fn with_max_size(mut self, bytes: usize) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// The length of `data` as JSON text when it is over [`Patch::max_size`]; `None` when it
    /// fits or there is no limit. Stores that apply the patch in Rust call it on the merged
    /// data before writing it, and answer [`Update::TooLarge`] when it is `Some`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cookie_session::store::Patch;
    /// use serde_json::json;
    ///
    /// let data = json!({"a": "xyz"}).as_object().cloned().unwrap(); // {"a":"xyz"}: 11 bytes
    /// assert_eq!(Patch::new(0).with_max_size(11).oversize(&data), None);
    /// assert_eq!(Patch::new(0).with_max_size(10).oversize(&data), Some(11));
    /// assert_eq!(Patch::new(0).oversize(&data), None);
    /// ```
    pub fn oversize(&self, data: &Map<String, Value>) -> Option<usize> {
        let limit = self.max_size?;
        let size = json_len(data);
        (size > limit).then_some(size)
    }

    fn push(&mut self, key: String, value: Option<Value>) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Applies the patch to `record` in place: the data, the user, the expiry, and the version
    /// plus one (wrapping). Stores that load, apply and write back under a lock or in a
    /// transaction call this.
    pub fn apply(&self, record: &mut Record) {
        self.apply_data(&mut record.data);
        if let Some(user) = &self.user {
            record.user.clone_from(user);
        }
        record.expires_at = self.expires_at;
        record.version = record.version.wrapping_add(1);
    }

    /// Applies the data part of the patch to `data`.
    pub fn apply_data(&self, data: &mut Map<String, Value>) {
        if self.replace {
            data.clear();
        }
        for (key, value) in &self.entries {
            match value {
                Some(value) => {
                    data.insert(key.clone(), value.clone());
                }
                None => {
                    data.shift_remove(key);
                }
            }
        }
    }
}

/// The length of `data` as JSON text (serde_json's compact encoding, as the stores write it),
/// counted without building the text.
pub(crate) fn json_len(data: &Map<String, Value>) -> usize {
    let mut counter = Counter(0);
    // Writing a map of JSON values to a counter cannot fail: every key is a string, every
    // number finite, and the counter never refuses bytes.
    match serde_json::to_writer(&mut counter, data) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// An `io::Write` that only counts.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn record(data: Value) -> Record {
        Record {
            data: map(data),
            version: u64::MAX,
            created_at: 1,
            expires_at: 10,
            user: Some("bob".into()),
        }
    }

    #[test]
    fn a_merge_keeps_other_writers_keys_and_their_order() {
        let mut r = record(json!({"a": 1, "b": 2, "other": "theirs"}));
        Patch::new(20)
            .set("a", json!(10))
            .remove("b")
            .set("c", json!(3))
            .set("a", json!(11))
            .apply(&mut r);
        assert_eq!(r.data, map(json!({"a": 11, "other": "theirs", "c": 3})));
        assert_eq!(
            r.data.keys().collect::<Vec<_>>(),
            ["a", "other", "c"],
            "a stored key keeps its place"
        );
        assert_eq!((r.version, r.expires_at), (0, 20), "the version wraps");
        assert_eq!(r.user.as_deref(), Some("bob"), "an untouched user stays");
    }

    #[test]
    fn a_replacement_wins_whole_and_decides_the_user() {
        let mut r = record(json!({"a": 1, "user": "bob"}));
        Patch::new(20)
            .replace_with(map(json!({"z": 0})))
            .with_user(None)
            .apply(&mut r);
        assert_eq!(r.data, map(json!({"z": 0})));
        assert_eq!(r.user, None);
        let mut r = record(json!({"a": 1}));
        Patch::new(20).replace_with(Map::new()).apply(&mut r);
        assert!(r.data.is_empty());
    }
}
