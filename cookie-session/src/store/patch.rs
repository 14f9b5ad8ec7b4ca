//! [`Patch`]: what one request changed in a stored session, for [`SessionStore::update`].

use serde_json::{Map, Value};

use super::Record;
#[cfg(doc)]
use super::SessionStore;

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
