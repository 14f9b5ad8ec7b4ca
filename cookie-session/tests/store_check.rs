//! `testing::check_store`, the store contract kit users run against their own stores: every
//! store of this crate passes it (memory, SQLite, PostgreSQL, Redis and a Redis Cluster, the
//! servers from `DATABASE_URL`, `REDIS_URL` and `REDIS_CLUSTER_URLS`), and stores broken the
//! ways hand-written stores break fail it, each at the check that names the broken promise.
#![cfg(all(feature = "testing", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/backends.rs"]
mod backends;
#[path = "skip/mod.rs"]
mod skip;

use cookie_session::store::{
    BoxFuture, MemoryStore, Patch, Record, SessionStore, StoreError, StoreKey, Update,
};
use cookie_session::testing::check_store;

#[tokio::test]
async fn every_store_passes() {
    for backend in backends::all().await {
        check_store(backend.store.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
        // Twice on one store: the kit's keys and users are fresh every run.
        check_store(backend.store.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{}, second run: {e}", backend.name));
    }
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_cluster_passes() {
    let seeds: Vec<String> = match std::env::var("REDIS_CLUSTER_URLS") {
        Ok(urls) if !urls.is_empty() => urls.split(',').map(str::to_owned).collect(),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("REDIS_CLUSTER_URLS must be set under CI")
        }
        _ => {
            skip::skipped("REDIS_CLUSTER_URLS is not set");
            return;
        }
    };
    let store = cookie_session::store::RedisStore::connect_cluster(&seeds)
        .await
        .unwrap()
        .with_prefix(format!("test:{}:", backends::unique()));
    check_store(&store).await.unwrap();
}

/// How a [`Broken`] store departs from the contract.
#[derive(Clone, Copy, Debug)]
enum Flaw {
    /// `create` writes over an existing record.
    CreateOverwrites,
    /// `load` ignores `expires_at`, as a store relying on its backend's eviction alone would.
    LoadsExpired,
    /// `update` reads the record, yields, and writes it back whole: concurrent updates lose
    /// each other's keys.
    ReadModifyWrite,
    /// `update` writes a patch's `if_unchanged` outcome without checking its version.
    TrustsTheHint,
    /// `update` of a missing record creates it.
    UpdateCreates,
    /// `update` ignores `max_size`.
    NoSizeLimit,
    /// `delete_user` ignores the user set by `update`.
    StaleUserIndex,
    /// `revoke_user` keeps the latest call, even an earlier time.
    RevocationLowered,
    /// `touch` answers `true` without checking the record.
    TouchAlwaysTrue,
}

/// [`MemoryStore`] with one flaw.
struct Broken {
    inner: MemoryStore,
    flaw: Flaw,
    /// The users as first created, for [`Flaw::StaleUserIndex`].
    created_users: std::sync::Mutex<Vec<(StoreKey, Option<String>)>>,
}

impl Broken {
    fn new(flaw: Flaw) -> Self {
        Broken {
            inner: MemoryStore::new(),
            flaw,
            created_users: std::sync::Mutex::default(),
        }
    }
}

impl SessionStore for Broken {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.created_users
                .lock()
                .unwrap()
                .push((key.clone(), record.user.clone()));
            if let Flaw::CreateOverwrites = self.flaw {
                self.inner.delete(key).await?;
            }
            self.inner.create(key, record).await
        })
    }

    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        match self.flaw {
            Flaw::LoadsExpired => self.inner.load(key, 0),
            _ => self.inner.load(key, now),
        }
    }

    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        Box::pin(async move {
            match self.flaw {
                Flaw::ReadModifyWrite => {
                    let Some(mut record) = self.inner.load(key, now).await? else {
                        return Ok(Update::Gone);
                    };
                    tokio::task::yield_now().await;
                    patch.apply(&mut record);
                    self.inner.delete(key).await?;
                    self.inner.create(key, &record).await?;
                    Ok(Update::Saved)
                }
                Flaw::TrustsTheHint if patch.if_unchanged.is_some() => {
                    let mut record = patch.if_unchanged.clone().unwrap();
                    record.version = record.version.wrapping_add(1);
                    self.inner.delete(key).await?;
                    self.inner.create(key, &record).await?;
                    Ok(Update::Saved)
                }
                Flaw::UpdateCreates if self.inner.load(key, now).await?.is_none() => {
                    let mut record = Record {
                        data: serde_json::Map::new(),
                        version: 0,
                        created_at: now,
                        expires_at: patch.expires_at,
                        user: None,
                    };
                    patch.apply(&mut record);
                    self.inner.create(key, &record).await?;
                    Ok(Update::Saved)
                }
                Flaw::NoSizeLimit => {
                    let mut unlimited = patch.clone();
                    unlimited.max_size = None;
                    self.inner.update(key, &unlimited, now).await
                }
                _ => self.inner.update(key, patch, now).await,
            }
        })
    }

    fn touch<'a>(
        &'a self,
        key: &'a StoreKey,
        expires_at: u64,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let touched = self.inner.touch(key, expires_at, now).await?;
            Ok(touched || matches!(self.flaw, Flaw::TouchAlwaysTrue))
        })
    }

    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.delete(key)
    }

    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            if let Flaw::StaleUserIndex = self.flaw {
                let keys: Vec<StoreKey> = self
                    .created_users
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(_, u)| u.as_deref() == Some(user))
                    .map(|(k, _)| k.clone())
                    .collect();
                let mut removed = 0;
                for key in keys {
                    if self.inner.load(&key, 0).await?.is_some() {
                        self.inner.delete(&key).await?;
                        removed += 1;
                    }
                }
                return Ok(removed);
            }
            self.inner.delete_user(user).await
        })
    }

    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        at: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if let Flaw::RevocationLowered = self.flaw {
                // Forget the earlier revocation: only the latest call counts.
                self.inner.cleanup(u64::MAX).await?;
            }
            self.inner.revoke_user(user, at, until).await
        })
    }

    fn revoked_before<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        self.inner.revoked_before(user, now)
    }

    fn cleanup(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.cleanup(now)
    }
}

#[tokio::test]
async fn each_broken_store_fails_at_its_check() {
    for (flaw, check) in [
        (Flaw::CreateOverwrites, "create refuses an existing key"),
        (Flaw::LoadsExpired, "a record is not live at its expires_at"),
        (
            Flaw::ReadModifyWrite,
            "concurrent updates of one record all land",
        ),
        (
            Flaw::TrustsTheHint,
            "update with a stale if_unchanged hint merges",
        ),
        (
            Flaw::UpdateCreates,
            "update of an unknown record is Gone and creates nothing",
        ),
        (
            Flaw::NoSizeLimit,
            "update refuses a merged record over max_size",
        ),
        (
            Flaw::StaleUserIndex,
            "delete_user removes exactly that user's records",
        ),
        (Flaw::RevocationLowered, "revoke_user and revoked_before"),
        (Flaw::TouchAlwaysTrue, "touch moves a live record's expiry"),
    ] {
        let failed = check_store(&Broken::new(flaw))
            .await
            .expect_err(&format!("{flaw:?} passed"));
        assert_eq!(failed.check, check, "{flaw:?}: {failed}");
        assert!(!failed.detail.is_empty());
        assert!(failed.to_string().contains(check));
    }
}

#[tokio::test]
async fn a_store_error_is_a_failure() {
    struct Down;
    fn down<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, StoreError>> {
        Box::pin(async { Err(StoreError::Backend("connection refused".into())) })
    }
    impl SessionStore for Down {
        fn create<'a>(
            &'a self,
            _: &'a StoreKey,
            _: &'a Record,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            down()
        }
        fn load<'a>(
            &'a self,
            _: &'a StoreKey,
            _: u64,
        ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
            down()
        }
        fn update<'a>(
            &'a self,
            _: &'a StoreKey,
            _: &'a Patch,
            _: u64,
        ) -> BoxFuture<'a, Result<Update, StoreError>> {
            down()
        }
        fn touch<'a>(
            &'a self,
            _: &'a StoreKey,
            _: u64,
            _: u64,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            down()
        }
        fn delete<'a>(&'a self, _: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
            down()
        }
        fn delete_user<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
            down()
        }
        fn revoke_user<'a>(
            &'a self,
            _: &'a str,
            _: u64,
            _: u64,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            down()
        }
        fn revoked_before<'a>(
            &'a self,
            _: &'a str,
            _: u64,
        ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
            down()
        }
        fn cleanup(&self, _: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
            down()
        }
    }
    let failed = check_store(&Down).await.unwrap_err();
    assert_eq!(failed.check, "create then load gives the record back");
    assert!(failed.detail.contains("connection refused"), "{failed}");
}
