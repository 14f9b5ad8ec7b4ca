//! [`MemoryStore`]: sessions in this process's memory. The embedded default: no setup, gone on
//! restart, one process only.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{BoxFuture, Patch, Record, SessionStore, StoreError, StoreKey, Update};

/// The default bound on how many sessions a [`MemoryStore`] keeps.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Sessions in memory, bounded: when full, expired records are evicted first, then the ones
/// closest to expiry, so a flood of new sessions cannot exhaust memory.
///
/// ```
/// use cookie_session::store::{MemoryStore, Record, SessionId, SessionStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = SessionId::generate().store_key();
/// let record = Record { data: Default::default(), version: 1, created_at: 0, expires_at: 100, user: None };
/// store.create(&key, &record).await.unwrap();
/// assert_eq!(store.load(&key, 50).await.unwrap(), Some(record));
/// assert_eq!(store.load(&key, 101).await.unwrap(), None); // expired on load
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<StoreKey, Record>,
    /// user → (revoked before, keep until)
    revocations: HashMap<String, (u64, u64)>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MemoryStore {
    /// A store holding at most `DEFAULT_CAPACITY` (100 000) sessions.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding at most `capacity` sessions (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// How many records it holds, expired ones included until evicted.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section is a single map operation (or a patch applied to one record,
        // which does not panic): a panic elsewhere cannot leave the maps half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn live(&self, key: &StoreKey, now: u64) -> Option<&Record> {
        self.records.get(key).filter(|r| r.expires_at > now)
    }

    /// Makes room for one more record.
    fn evict(&mut self, capacity: usize, now: u64) {
        if self.records.len() < capacity {
            return;
        }
        self.records.retain(|_, r| r.expires_at > now);
        while self.records.len() >= capacity {
            let soonest = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.expires_at)
                .map(|(k, _)| k.clone());
            match soonest {
                Some(key) => {
                    self.records.remove(&key);
                }
                None => break,
            }
        }
    }
}

impl SessionStore for MemoryStore {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut state = self.lock();
            if state.records.contains_key(key) {
                return Err(StoreError::Conflict);
            }
            state.evict(self.capacity, record.created_at);
            state.records.insert(key.clone(), record.clone());
            Ok(())
        })
    }

    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(async move { Ok(self.lock().live(key, now).cloned()) })
    }

    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        Box::pin(async move {
            // Applied under the lock: concurrent updates take turns on the current record.
            let mut state = self.lock();
            match state.records.get_mut(key).filter(|r| r.expires_at > now) {
                Some(record) => {
                    patch.apply(record);
                    Ok(Update::Saved)
                }
                None => Ok(Update::Gone),
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
            let mut state = self.lock();
            match state.records.get_mut(key).filter(|r| r.expires_at > now) {
                Some(record) => {
                    record.expires_at = expires_at;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock().records.remove(key);
            Ok(())
        })
    }

    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut state = self.lock();
            let before = state.records.len();
            state.records.retain(|_, r| r.user.as_deref() != Some(user));
            Ok((before - state.records.len()) as u64)
        })
    }

    fn revoke_user<'a>(
        &'a self,
        user: &'a str,
        at: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut state = self.lock();
            let entry = state
                .revocations
                .entry(user.to_owned())
                .or_insert((at, until));
            entry.0 = entry.0.max(at);
            entry.1 = entry.1.max(until);
            Ok(())
        })
    }

    fn revoked_before<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .revocations
                .get(user)
                .filter(|(_, until)| *until > now)
                .map(|(at, _)| *at))
        })
    }

    fn cleanup(&self, now: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut state = self.lock();
            let before = state.records.len();
            state.records.retain(|_, r| r.expires_at > now);
            state.revocations.retain(|_, (_, until)| *until > now);
            Ok((before - state.records.len()) as u64)
        })
    }
}
