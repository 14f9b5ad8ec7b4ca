//! [`check_store`]: the [`SessionStore`] contract, run against any implementation.

use std::time::SystemTime;

use serde_json::{json, Map, Value};

use crate::store::{Patch, Record, SessionId, SessionStore, StoreError, StoreKey, Update};
use crate::time::unix_secs;

/// How many updates of one record [`check_store`] sends at once.
const CONCURRENT_UPDATES: usize = 16;

/// The first promise of the [`SessionStore`] contract that a store broke, found by
/// [`check_store`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store check `{check}` failed: {detail}")]
#[non_exhaustive]
pub struct StoreCheckFailed {
    /// The check, in a few words (`"create refuses an existing key"`).
    pub check: &'static str,
    /// What the store did instead (the records it returned, or its error).
    pub detail: String,
}

/// Checks that `store` keeps the promises of the [`SessionStore`] contract, as every store of
/// this crate does: run it in your tests against your own store (a fresh or a shared
/// database alike).
///
/// It writes a few records under fresh random keys and users, with expiry times around the
/// real clock (backends that evict by themselves, like Redis, see sensible TTLs), and checks:
///
/// - `create` then `load` gives the record back; `create` refuses an existing key with
///   [`StoreError::Conflict`] and leaves the record as it was; an unknown key loads as `None`;
/// - a record is not live at its `expires_at` (whether or not the backend evicted it);
/// - `update` applies the [`Patch`] onto the record as it is *now*: keys set and removed, the
///   rest kept, the version bumped, the expiry moved, the user changed only when the patch
///   says so; a stale [`Patch::if_unchanged`] hint (another request wrote meanwhile) is merged,
///   not written over the other write; a replacing patch drops the other keys;
/// - 16 concurrent updates of one record, each setting its own key, all land (no lost update);
/// - `update` of an unknown or expired record answers [`Update::Gone`] and writes nothing; a
///   merged record larger than [`Patch::max_size`] answers [`Update::TooLarge`] and writes
///   nothing;
/// - `touch` moves a live record's expiry (`true`), and answers `false` for an unknown key;
/// - `delete` removes the record (and twice is not an error); an `update` after it does not
///   bring it back;
/// - `delete_user` removes exactly that user's records, following a user changed by `update`;
/// - `revoke_user` / `revoked_before`: none before, the time after, never lowered by an
///   earlier one, gone after its `until`;
/// - `cleanup` keeps live records.
///
/// It deletes its records when done (revocations stay until their `until`, a minute later).
///
/// # Examples
///
/// ```
/// use cookie_session::store::MemoryStore;
/// use cookie_session::testing::check_store;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // Your store here.
/// let store = MemoryStore::new();
/// check_store(&store).await.unwrap();
/// # });
/// ```
///
/// # Errors
///
/// [`StoreCheckFailed`] names the first check the store did not pass, and what it did
/// instead; a [`StoreError`] from the store is a failure too.
pub async fn check_store<S: SessionStore + ?Sized>(store: &S) -> Result<(), StoreCheckFailed> {
    let mut run = Run {
        store,
        keys: Vec::new(),
    };
    let outcome = run.all().await;
    for key in &run.keys {
        // Best effort: a store that failed a check may fail this too.
        let _ = store.delete(key).await;
    }
    outcome
}

struct Run<'s, S: ?Sized> {
    store: &'s S,
    /// Every key written, to delete at the end.
    keys: Vec<StoreKey>,
}

fn failed(check: &'static str, detail: impl Into<String>) -> StoreCheckFailed {
    StoreCheckFailed {
        check,
        detail: detail.into(),
    }
}

/// `check` holds, or fails with `detail`.
fn ensure(
    check: &'static str,
    holds: bool,
    detail: impl FnOnce() -> String,
) -> Result<(), StoreCheckFailed> {
    if holds {
        Ok(())
    } else {
        Err(failed(check, detail()))
    }
}

/// A store error fails `check`.
fn store_ok<T>(check: &'static str, result: Result<T, StoreError>) -> Result<T, StoreCheckFailed> {
    result.map_err(|e| failed(check, format!("the store answered an error: {e}")))
}

fn data(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A user name no other run or application uses.
fn fresh_user() -> String {
    format!("check-store-{}", SessionId::generate().as_str())
}

impl<S: SessionStore + ?Sized> Run<'_, S> {
    fn fresh_key(&mut self) -> StoreKey {
        let key = SessionId::generate().store_key();
        self.keys.push(key.clone());
        key
    }

    async fn load(
        &self,
        check: &'static str,
        key: &StoreKey,
        now: u64,
    ) -> Result<Option<Record>, StoreCheckFailed> {
        store_ok(check, self.store.load(key, now).await)
    }

    /// The live record under `key`, which must be there.
    async fn live(
        &self,
        check: &'static str,
        key: &StoreKey,
        now: u64,
    ) -> Result<Record, StoreCheckFailed> {
        self.load(check, key, now)
            .await?
            .ok_or_else(|| failed(check, "the record is gone"))
    }

    async fn update(
        &self,
        check: &'static str,
        key: &StoreKey,
        patch: &Patch,
        now: u64,
    ) -> Result<Update, StoreCheckFailed> {
        store_ok(check, self.store.update(key, patch, now).await)
    }

    async fn all(&mut self) -> Result<(), StoreCheckFailed> {
        let now = unix_secs(SystemTime::now());
        let user = fresh_user();
        let other_user = fresh_user();

        // Create, load, conflict.
        const CREATE: &str = "create then load gives the record back";
        let key = self.fresh_key();
        let record = Record {
            data: data(json!({"a": 1, "b": "x", "nested": {"list": [1, 2.5, null, true]}})),
            version: 0,
            created_at: now,
            expires_at: now + 600,
            user: Some(user.clone()),
        };
        store_ok(CREATE, self.store.create(&key, &record).await)?;
        let loaded = self.live(CREATE, &key, now).await?;
        ensure(CREATE, loaded == record, || {
            format!("stored {record:?}, loaded {loaded:?}")
        })?;

        const CONFLICT: &str = "create refuses an existing key";
        let intruder = Record {
            data: data(json!({"intruder": true})),
            user: Some(other_user.clone()),
            ..record.clone()
        };
        match self.store.create(&key, &intruder).await {
            Err(StoreError::Conflict) => {}
            other => {
                return Err(failed(
                    CONFLICT,
                    format!("a second create answered {other:?}, not Err(Conflict)"),
                ))
            }
        }
        let loaded = self.live(CONFLICT, &key, now).await?;
        ensure(CONFLICT, loaded == record, || {
            format!("the record became {loaded:?}")
        })?;

        const UNKNOWN: &str = "an unknown key loads as None";
        let unknown = SessionId::generate().store_key();
        let loaded = self.load(UNKNOWN, &unknown, now).await?;
        ensure(UNKNOWN, loaded.is_none(), || format!("loaded {loaded:?}"))?;

        const EXPIRY: &str = "a record is not live at its expires_at";
        let loaded = self.load(EXPIRY, &key, record.expires_at).await?;
        ensure(EXPIRY, loaded.is_none(), || format!("loaded {loaded:?}"))?;

        // Updates.
        const MERGE: &str = "update applies the patch onto the stored record";
        let patch = Patch::new(now + 900)
            .set("b", json!("y"))
            .remove("a")
            .set("c", json!([1]));
        let update = self.update(MERGE, &key, &patch, now).await?;
        ensure(MERGE, update == Update::Saved, || {
            format!("answered {update:?}")
        })?;
        let loaded = self.live(MERGE, &key, now).await?;
        let expected = data(json!({"b": "y", "nested": {"list": [1, 2.5, null, true]}, "c": [1]}));
        ensure(MERGE, loaded.data == expected, || {
            format!("data {:?}, expected {expected:?}", loaded.data)
        })?;
        ensure(
            MERGE,
            loaded.version == record.version.wrapping_add(1),
            || {
                format!(
                    "version {} after one update of version {}",
                    loaded.version, record.version
                )
            },
        )?;
        ensure(MERGE, loaded.expires_at == now + 900, || {
            format!(
                "expires_at {}, the patch said {}",
                loaded.expires_at,
                now + 900
            )
        })?;
        ensure(MERGE, loaded.created_at == record.created_at, || {
            format!("created_at changed to {}", loaded.created_at)
        })?;
        ensure(MERGE, loaded.user == record.user, || {
            format!(
                "the user became {:?} though the patch did not say",
                loaded.user
            )
        })?;

        const STALE: &str = "update with a stale if_unchanged hint merges";
        // What this request would write if nobody else wrote since `loaded`...
        let stale = Patch::new(now + 900).set("e", json!(5));
        let mut outcome = loaded.clone();
        stale.apply(&mut outcome);
        outcome.version = loaded.version;
        let stale = stale.with_if_unchanged(outcome);
        // ...but another request writes first.
        let first = Patch::new(now + 900).set("d", json!(4));
        let update = self.update(STALE, &key, &first, now).await?;
        ensure(STALE, update == Update::Saved, || {
            format!("answered {update:?}")
        })?;
        let update = self.update(STALE, &key, &stale, now).await?;
        ensure(STALE, update == Update::Saved, || {
            format!("answered {update:?}")
        })?;
        let loaded = self.live(STALE, &key, now).await?;
        ensure(
            STALE,
            loaded.data.get("d") == Some(&json!(4)) && loaded.data.get("e") == Some(&json!(5)),
            || {
                format!(
                    "the other request's `d` or this one's `e` is missing: {:?}",
                    loaded.data
                )
            },
        )?;
        ensure(
            STALE,
            loaded.version == record.version.wrapping_add(3),
            || format!("version {} after three updates", loaded.version),
        )?;

        const CONCURRENT: &str = "concurrent updates of one record all land";
        let patches: Vec<Patch> = (0..CONCURRENT_UPDATES)
            .map(|i| Patch::new(now + 900).set(format!("k{i}"), json!(i)))
            .collect();
        let updates = futures_util::future::join_all(
            patches
                .iter()
                .map(|patch| self.store.update(&key, patch, now)),
        )
        .await;
        for update in updates {
            let update = store_ok(CONCURRENT, update)?;
            ensure(CONCURRENT, update == Update::Saved, || {
                format!("one answered {update:?}")
            })?;
        }
        let loaded = self.live(CONCURRENT, &key, now).await?;
        let missing: Vec<usize> = (0..CONCURRENT_UPDATES)
            .filter(|i| loaded.data.get(&format!("k{i}")) != Some(&json!(i)))
            .collect();
        ensure(CONCURRENT, missing.is_empty(), || {
            format!(
                "{} of {CONCURRENT_UPDATES} updates were lost (keys k{missing:?})",
                missing.len()
            )
        })?;
        ensure(CONCURRENT, loaded.data.get("d") == Some(&json!(4)), || {
            "an earlier key was lost".into()
        })?;
        ensure(
            CONCURRENT,
            loaded.version == record.version.wrapping_add(3 + CONCURRENT_UPDATES as u64),
            || {
                format!(
                    "version {} after {} updates",
                    loaded.version,
                    3 + CONCURRENT_UPDATES
                )
            },
        )?;

        const TOO_LARGE: &str = "update refuses a merged record over max_size";
        let big = Patch::new(now + 900)
            .set("big", json!("x".repeat(200)))
            .with_max_size(100);
        let update = self.update(TOO_LARGE, &key, &big, now).await?;
        ensure(
            TOO_LARGE,
            matches!(update, Update::TooLarge { size } if size > 100),
            || format!("answered {update:?}"),
        )?;
        let after = self.live(TOO_LARGE, &key, now).await?;
        ensure(TOO_LARGE, after == loaded, || {
            format!("the record changed to {after:?}")
        })?;

        const GONE: &str = "update of an unknown record is Gone and creates nothing";
        let update = self
            .update(
                GONE,
                &unknown,
                &Patch::new(now + 900).set("a", json!(1)),
                now,
            )
            .await?;
        ensure(GONE, update == Update::Gone, || {
            format!("answered {update:?}")
        })?;
        let loaded = self.load(GONE, &unknown, now).await?;
        ensure(GONE, loaded.is_none(), || {
            format!("the update created {loaded:?}")
        })?;

        const EXPIRED: &str = "update of an expired record is Gone and writes nothing";
        let short = self.fresh_key();
        let short_record = Record {
            expires_at: now + 30,
            user: None,
            ..record.clone()
        };
        store_ok(EXPIRED, self.store.create(&short, &short_record).await)?;
        let update = self
            .update(
                EXPIRED,
                &short,
                &Patch::new(now + 900).set("late", json!(true)),
                now + 30,
            )
            .await?;
        ensure(EXPIRED, update == Update::Gone, || {
            format!("answered {update:?}")
        })?;
        let loaded = self.load(EXPIRED, &short, now).await?;
        ensure(
            EXPIRED,
            loaded.as_ref().is_none_or(|r| *r == short_record),
            || format!("the record became {loaded:?}"),
        )?;

        // Users.
        const USER: &str = "update changes the user only when the patch says so";
        let moved = Patch::new(now + 900).with_user(Some(other_user.clone()));
        let update = self.update(USER, &key, &moved, now).await?;
        ensure(USER, update == Update::Saved, || {
            format!("answered {update:?}")
        })?;
        let loaded = self.live(USER, &key, now).await?;
        ensure(
            USER,
            loaded.user.as_deref() == Some(other_user.as_str()),
            || format!("the user is {:?}", loaded.user),
        )?;

        const DELETE_USER: &str = "delete_user removes exactly that user's records";
        let theirs = self.fresh_key();
        store_ok(
            DELETE_USER,
            self.store
                .create(
                    &theirs,
                    &Record {
                        user: Some(user.clone()),
                        ..record.clone()
                    },
                )
                .await,
        )?;
        let removed = store_ok(DELETE_USER, self.store.delete_user(&user).await)?;
        ensure(DELETE_USER, removed == 1, || {
            format!("removed {removed} records; the user had 1 (another was moved to another user)")
        })?;
        let loaded = self.load(DELETE_USER, &theirs, now).await?;
        ensure(DELETE_USER, loaded.is_none(), || {
            "the user's record is still there".into()
        })?;
        self.live(DELETE_USER, &key, now).await?;

        // Touch.
        const TOUCH: &str = "touch moves a live record's expiry";
        let touched = store_ok(TOUCH, self.store.touch(&key, now + 1200, now).await)?;
        ensure(TOUCH, touched, || "answered false for a live record".into())?;
        let loaded = self.live(TOUCH, &key, now + 1000).await?;
        ensure(TOUCH, loaded.expires_at == now + 1200, || {
            format!("expires_at {}", loaded.expires_at)
        })?;
        let touched = store_ok(TOUCH, self.store.touch(&unknown, now + 1200, now).await)?;
        ensure(TOUCH, !touched, || {
            "answered true for an unknown key".into()
        })?;
        let loaded = self.load(TOUCH, &unknown, now).await?;
        ensure(TOUCH, loaded.is_none(), || {
            format!("touch created {loaded:?}")
        })?;

        // Replace.
        const REPLACE: &str = "a replacing patch drops the other keys";
        let replace = Patch::new(now + 1200).replace_with(data(json!({"only": true})));
        let update = self.update(REPLACE, &key, &replace, now).await?;
        ensure(REPLACE, update == Update::Saved, || {
            format!("answered {update:?}")
        })?;
        let loaded = self.live(REPLACE, &key, now).await?;
        ensure(REPLACE, loaded.data == data(json!({"only": true})), || {
            format!("data {:?}", loaded.data)
        })?;

        // Delete.
        const DELETE: &str = "delete removes the record, and an update does not bring it back";
        store_ok(DELETE, self.store.delete(&key).await)?;
        let loaded = self.load(DELETE, &key, now).await?;
        ensure(DELETE, loaded.is_none(), || {
            format!("loaded {loaded:?} after delete")
        })?;
        let update = self
            .update(
                DELETE,
                &key,
                &Patch::new(now + 900).set("back", json!(1)),
                now,
            )
            .await?;
        ensure(DELETE, update == Update::Gone, || {
            format!("an update after delete answered {update:?}")
        })?;
        let loaded = self.load(DELETE, &key, now).await?;
        ensure(DELETE, loaded.is_none(), || {
            format!("the update brought back {loaded:?}")
        })?;
        store_ok(DELETE, self.store.delete(&key).await)?;

        // Revocation.
        const REVOKE: &str = "revoke_user and revoked_before";
        let revoked = fresh_user();
        let before = store_ok(REVOKE, self.store.revoked_before(&revoked, now).await)?;
        ensure(REVOKE, before.is_none(), || {
            format!("{before:?} before any revocation")
        })?;
        store_ok(
            REVOKE,
            self.store
                .revoke_user(&revoked, now.saturating_sub(10), now + 60)
                .await,
        )?;
        let before = store_ok(REVOKE, self.store.revoked_before(&revoked, now).await)?;
        ensure(REVOKE, before == Some(now.saturating_sub(10)), || {
            format!("{before:?}, revoked at {}", now.saturating_sub(10))
        })?;
        store_ok(
            REVOKE,
            self.store
                .revoke_user(&revoked, now.saturating_sub(20), now + 30)
                .await,
        )?;
        let before = store_ok(REVOKE, self.store.revoked_before(&revoked, now).await)?;
        ensure(REVOKE, before == Some(now.saturating_sub(10)), || {
            format!(
                "{before:?}: an earlier revocation lowered {}",
                now.saturating_sub(10)
            )
        })?;
        let before = store_ok(REVOKE, self.store.revoked_before(&revoked, now + 61).await)?;
        ensure(REVOKE, before.is_none(), || {
            format!("{before:?} after its until")
        })?;

        // Cleanup.
        const CLEANUP: &str = "cleanup keeps live records";
        let live = self.fresh_key();
        store_ok(
            CLEANUP,
            self.store
                .create(
                    &live,
                    &Record {
                        user: None,
                        ..record.clone()
                    },
                )
                .await,
        )?;
        store_ok(CLEANUP, self.store.cleanup(now).await)?;
        self.live(CLEANUP, &live, now).await?;
        Ok(())
    }
}
