//! [`MemoryStore`]: sessions in this process's memory. The embedded default: no setup, gone on
//! restart, one process only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::mem::size_of;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};

use super::{BoxFuture, Patch, Record, SessionStore, StoreError, StoreKey, Update};

/// The default bound on how many sessions a [`MemoryStore`] keeps.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// What a record costs beyond its text: the entry, its three index slots and a share of the
/// maps' nodes. An estimate (the exact figure depends on the allocator and how full the maps
/// are), erring high.
const ENTRY_OVERHEAD: usize =
    2 * size_of::<StoreKey>() + size_of::<Entry>() + 5 * size_of::<u64>() + 64;

/// Sessions in memory, bounded twice: by count ([`with_capacity`](Self::with_capacity),
/// default `DEFAULT_CAPACITY`, 100 000) and by bytes ([`with_budget`](Self::with_budget),
/// default [`DEFAULT_BUDGET`](Self::DEFAULT_BUDGET), 64 MiB). To make room, expired records
/// go first, then the least recently used (loaded, written or touched) of the sessions
/// without a user ([`Record::user`]), then the least recently used of all, so a flood of new
/// sessions cannot exhaust memory, and a flood of anonymous ones (any visitor can start
/// them) evicts other anonymous ones before anyone logged in. The store never holds more than
/// its budget: size it for your traffic, as a full store still evicts logged-in sessions.
///
/// A record is held as its JSON text, and counted as that text, its key and user, and a fixed
/// overhead per record ([`bytes`](Self::bytes)). A record larger than the whole budget is
/// refused with [`StoreError::Backend`]. Revocations ([`SessionStore::revoke_user`]) are kept
/// apart and never evicted (evicting one would bring revoked sessions back); they leave when
/// they expire, at [`cleanup`](SessionStore::cleanup).
///
/// ```
/// use cookie_session::store::{MemoryStore, Record, SessionId, SessionStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new().with_budget(8 * 1024 * 1024);
/// let key = SessionId::generate().store_key();
/// let record = Record { data: Default::default(), version: 1, created_at: 0, expires_at: 100, user: None };
/// store.create(&key, &record).await.unwrap();
/// assert_eq!(store.load(&key, 50).await.unwrap(), Some(record));
/// assert_eq!(store.load(&key, 101).await.unwrap(), None); // expired on load
/// assert!(store.bytes() <= 8 * 1024 * 1024);
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    budget: usize,
    state: Mutex<State>,
}

/// A record as held: its data as JSON text (what is counted is what is kept).
///
/// The text is shared (`Arc`) so that a request can take it out of the lock and do the JSON
/// work — the bulk of a load or an update — while other requests use the store.
#[derive(Debug)]
struct Entry {
    data: Arc<str>,
    version: u64,
    created_at: u64,
    expires_at: u64,
    user: Option<Box<str>>,
    /// When it was last used, in the store's own ticks; its key in `State::recency`.
    tick: u64,
}

/// A record's data as the store keeps it. Done before taking the lock.
fn encode(data: &Map<String, Value>) -> Result<Arc<str>, StoreError> {
    serde_json::to_string(data)
        .map(Arc::from)
        .map_err(|e| StoreError::Backend(format!("encoding data: {e}")))
}

/// A copy of a held record, taken under the lock; [`Held::record`] decodes it after.
struct Held {
    data: Arc<str>,
    version: u64,
    created_at: u64,
    expires_at: u64,
    user: Option<String>,
}

impl Held {
    fn record(&self) -> Result<Record, StoreError> {
        let data: Map<String, Value> = serde_json::from_str(&self.data)
            .map_err(|e| StoreError::Corrupt(format!("data is not a JSON object: {e}")))?;
        Ok(Record {
            data,
            version: self.version,
            created_at: self.created_at,
            expires_at: self.expires_at,
            user: self.user.clone(),
        })
    }
}

impl Entry {
    fn new(record: &Record, data: Arc<str>, tick: u64) -> Self {
        Entry {
            data,
            version: record.version,
            created_at: record.created_at,
            expires_at: record.expires_at,
            user: record.user.as_deref().map(Box::from),
            tick,
        }
    }

    fn held(&self) -> Held {
        Held {
            data: self.data.clone(),
            version: self.version,
            created_at: self.created_at,
            expires_at: self.expires_at,
            user: self.user.as_deref().map(str::to_owned),
        }
    }

    /// Whether this is the entry `held` was taken from, unchanged since: the same text (the
    /// `Arc` that `held` keeps alive, so its address cannot be reused) and version.
    fn is(&self, held: &Held) -> bool {
        Arc::ptr_eq(&self.data, &held.data) && self.version == held.version
    }

    /// The bytes it takes under `key`, as the budget counts them.
    fn cost(&self, key: &StoreKey) -> usize {
        // The key is held twice: in the map and in the recency index.
        ENTRY_OVERHEAD
            + 2 * key.as_str().len()
            + self.data.len()
            + self.user.as_deref().map_or(0, str::len)
    }

    fn live(&self, now: u64) -> bool {
        self.expires_at > now
    }
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<StoreKey, Entry>,
    /// tick → key, least recently used first.
    recency: BTreeMap<u64, StoreKey>,
    /// (expires_at, tick), soonest first.
    expiry: BTreeSet<(u64, u64)>,
    /// The ticks of the records without a user, least recently used first: evicted before
    /// anyone's.
    anonymous: BTreeSet<u64>,
    next_tick: u64,
    /// The sum of the records' costs.
    bytes: usize,
    /// user → (revoked before, keep until)
    revocations: HashMap<String, (u64, u64)>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MemoryStore {
    /// The default bound on how many bytes its sessions take: 64 MiB, a thousand sessions at
    /// the layer's default size limit
    /// ([`DEFAULT_MAX_SESSION_SIZE`](crate::DEFAULT_MAX_SESSION_SIZE)), far more of usual size.
    pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;

    /// A store holding at most `DEFAULT_CAPACITY` (100 000) sessions in at most
    /// [`DEFAULT_BUDGET`](Self::DEFAULT_BUDGET) (64 MiB).
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding at most `capacity` sessions (at least 1), within
    /// [`DEFAULT_BUDGET`](Self::DEFAULT_BUDGET).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            budget: Self::DEFAULT_BUDGET,
            state: Mutex::new(State::default()),
        }
    }

    /// The same store with a budget of `bytes` for its sessions, counted as
    /// [`bytes`](Self::bytes) counts them.
    ///
    /// ```
    /// let store = cookie_session::store::MemoryStore::with_capacity(10_000).with_budget(16 << 20);
    /// assert_eq!(store.budget(), 16 << 20);
    /// ```
    pub fn with_budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// The most bytes its sessions may take.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// How many records it holds, expired ones included until evicted.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many bytes its records take, as the budget counts them: each record's JSON text,
    /// key and user, and a fixed overhead per record. Never more than [`budget`](Self::budget).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// `(capacity, budget)`, as [`State::put`] takes them.
    fn limits(&self) -> (usize, usize) {
        (self.capacity, self.budget)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the maps consistent before it can panic (the only
        // fallible steps, encoding and decoding, come before or after the changes; a patch is
        // applied to a decoded copy, which does not panic).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn live(&self, key: &StoreKey, now: u64) -> Option<&Entry> {
        self.records.get(key).filter(|e| e.live(now))
    }

    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    /// Adds `entry` under `key` (absent), indexed and counted.
    fn insert(&mut self, key: StoreKey, entry: Entry) {
        self.bytes += entry.cost(&key);
        self.recency.insert(entry.tick, key.clone());
        self.expiry.insert((entry.expires_at, entry.tick));
        if entry.user.is_none() {
            self.anonymous.insert(entry.tick);
        }
        self.records.insert(key, entry);
    }

    /// Removes the record under `key`, from the indexes and the count.
    fn remove(&mut self, key: &StoreKey) -> Option<Entry> {
        let entry = self.records.remove(key)?;
        self.bytes -= entry.cost(key);
        self.recency.remove(&entry.tick);
        self.expiry.remove(&(entry.expires_at, entry.tick));
        self.anonymous.remove(&entry.tick);
        Some(entry)
    }

    /// Marks the record under `key` used now, and gives it a new expiry.
    fn used(&mut self, key: &StoreKey, expires_at: Option<u64>) {
        let tick = self.tick();
        let Some(entry) = self.records.get_mut(key) else {
            return;
        };
        self.recency.remove(&entry.tick);
        self.expiry.remove(&(entry.expires_at, entry.tick));
        if entry.user.is_none() {
            self.anonymous.remove(&entry.tick);
            self.anonymous.insert(tick);
        }
        entry.tick = tick;
        entry.expires_at = expires_at.unwrap_or(entry.expires_at);
        self.recency.insert(tick, key.clone());
        self.expiry.insert((entry.expires_at, tick));
    }

    /// Makes room for one more record of `cost` bytes: expired records first, then the least
    /// recently used without a user, then the least recently used.
    fn evict(&mut self, cost: usize, capacity: usize, budget: usize, now: u64) {
        while !self.records.is_empty()
            && (self.records.len() >= capacity || self.bytes + cost > budget)
        {
            let expired = self.expiry.first().filter(|(at, _)| *at <= now);
            let tick = match (expired, self.anonymous.first()) {
                (Some((_, tick)), _) | (None, Some(tick)) => *tick,
                (None, None) => match self.recency.first_key_value() {
                    Some((tick, _)) => *tick,
                    None => break,
                },
            };
            match self.recency.get(&tick).cloned() {
                Some(key) => {
                    self.remove(&key);
                }
                None => break,
            }
        }
    }

    /// Stores `record` (its data already [`encode`]d) under `key`, replacing any record there,
    /// making room. A record larger than the whole budget is refused and nothing changes.
    fn put(
        &mut self,
        key: &StoreKey,
        record: &Record,
        data: Arc<str>,
        limits: (usize, usize),
        now: u64,
    ) -> Result<(), StoreError> {
        let (capacity, budget) = limits;
        let tick = self.tick();
        let entry = Entry::new(record, data, tick);
        let cost = entry.cost(key);
        if cost > budget {
            return Err(too_large(cost, budget));
        }
        self.remove(key);
        self.evict(cost, capacity, budget, now);
        self.insert(key.clone(), entry);
        Ok(())
    }
}

fn too_large(cost: usize, budget: usize) -> StoreError {
    StoreError::Backend(format!(
        "a session of {cost} bytes does not fit in the memory store's {budget}-byte budget"
    ))
}

impl SessionStore for MemoryStore {
    fn create<'a>(
        &'a self,
        key: &'a StoreKey,
        record: &'a Record,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let data = encode(&record.data)?;
            let mut state = self.lock();
            if state.records.contains_key(key) {
                return Err(StoreError::Conflict);
            }
            state.put(key, record, data, self.limits(), record.created_at)
        })
    }

    fn load<'a>(
        &'a self,
        key: &'a StoreKey,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<Record>, StoreError>> {
        Box::pin(async move {
            let held = {
                let mut state = self.lock();
                let Some(entry) = state.live(key, now) else {
                    return Ok(None);
                };
                let held = entry.held();
                state.used(key, None);
                held
            };
            held.record().map(Some)
        })
    }

    fn update<'a>(
        &'a self,
        key: &'a StoreKey,
        patch: &'a Patch,
        now: u64,
    ) -> BoxFuture<'a, Result<Update, StoreError>> {
        Box::pin(async move {
            // The patch is applied to a copy outside the lock and stored only if the record is
            // still the one copied (a compare-and-swap); otherwise it is applied again to the
            // record that won. Every retry follows another writer's success, so concurrent
            // updates to one record take turns and none is lost.
            loop {
                let held = match self.lock().live(key, now) {
                    Some(entry) => entry.held(),
                    None => return Ok(Update::Gone),
                };
                let record = match &patch.if_unchanged {
                    // What the request loaded is still there: the patched record is known.
                    Some(expected) if expected.version == held.version => {
                        let mut record = expected.clone();
                        record.version = record.version.wrapping_add(1);
                        record
                    }
                    _ => {
                        let mut record = held.record()?;
                        patch.apply(&mut record);
                        record
                    }
                };
                if let Some(size) = patch.oversize(&record.data) {
                    return Ok(Update::TooLarge { size });
                }
                let data = encode(&record.data)?;
                let mut state = self.lock();
                match state.live(key, now) {
                    Some(entry) if entry.is(&held) => {}
                    Some(_) => continue,
                    None => return Ok(Update::Gone),
                }
                state.put(key, &record, data, self.limits(), now)?;
                return Ok(Update::Saved);
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
            if state.live(key, now).is_none() {
                return Ok(false);
            }
            state.used(key, Some(expires_at));
            Ok(true)
        })
    }

    fn delete<'a>(&'a self, key: &'a StoreKey) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock().remove(key);
            Ok(())
        })
    }

    fn delete_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut state = self.lock();
            let theirs: Vec<StoreKey> = state
                .records
                .iter()
                .filter(|(_, e)| e.user.as_deref() == Some(user))
                .map(|(k, _)| k.clone())
                .collect();
            for key in &theirs {
                state.remove(key);
            }
            Ok(theirs.len() as u64)
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
            let expired: Vec<StoreKey> = state
                .records
                .iter()
                .filter(|(_, e)| !e.live(now))
                .map(|(k, _)| k.clone())
                .collect();
            for key in &expired {
                state.remove(key);
            }
            state.revocations.retain(|_, (_, until)| *until > now);
            Ok(expired.len() as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SessionId;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        match tokio::runtime::Builder::new_current_thread().build() {
            Ok(rt) => rt.block_on(f),
            Err(e) => panic!("no runtime: {e}"),
        }
    }

    fn record(text: &str, expires_at: u64) -> Record {
        let mut data = Map::new();
        data.insert("p".into(), Value::String(text.to_owned()));
        Record {
            data,
            version: 1,
            created_at: 0,
            expires_at,
            user: None,
        }
    }

    /// What `bytes` must be: recounted from scratch, with the indexes checked against the map.
    fn recount(store: &MemoryStore) -> usize {
        let state = store.lock();
        assert_eq!(state.recency.len(), state.records.len());
        assert_eq!(state.expiry.len(), state.records.len());
        let anonymous = state.records.values().filter(|e| e.user.is_none()).count();
        assert_eq!(state.anonymous.len(), anonymous);
        for (key, entry) in &state.records {
            assert_eq!(state.recency.get(&entry.tick), Some(key));
            assert!(state.expiry.contains(&(entry.expires_at, entry.tick)));
            assert_eq!(state.anonymous.contains(&entry.tick), entry.user.is_none());
        }
        state.records.iter().map(|(k, e)| e.cost(k)).sum()
    }

    #[test]
    fn the_budget_is_never_exceeded() {
        block_on(async {
            let store = MemoryStore::with_capacity(1_000).with_budget(20_000);
            let keys: Vec<StoreKey> = (0..40).map(|_| SessionId::generate().store_key()).collect();
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            let mut next = |below: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % below
            };
            let mut evicted = false;
            for now in 0..2_000u64 {
                let key = &keys[next(keys.len() as u64) as usize];
                let text = "é".repeat(next(1_500) as usize);
                match next(4) {
                    0 => {
                        let r = record(&text, now + next(300));
                        let _ = store.create(key, &r).await;
                    }
                    1 => {
                        if let Ok(Some(_)) = store.load(key, now).await {
                            let patch = Patch::new(now + next(300)).set("p", Value::String(text));
                            assert_eq!(store.update(key, &patch, now).await, Ok(Update::Saved));
                        }
                    }
                    2 => {
                        let _ = store.touch(key, now + next(300), now).await;
                    }
                    _ => {
                        let _ = store.load(key, now).await;
                    }
                }
                let bytes = store.bytes();
                assert!(bytes <= store.budget(), "{bytes} at step {now}");
                assert_eq!(bytes, recount(&store), "step {now}");
                evicted |= store.len() < keys.len() && bytes + 3_000 + ENTRY_OVERHEAD > 20_000;
            }
            assert!(evicted, "the budget was reached and records evicted");
            for key in &keys {
                store.delete(key).await.unwrap_or_default();
            }
            assert_eq!((store.len(), store.bytes()), (0, 0));
        });
    }

    #[test]
    fn expired_records_go_first_then_the_least_recently_used() {
        block_on(async {
            let [a, b, c, d, e] = std::array::from_fn(|_| SessionId::generate().store_key());
            let one = {
                let probe = MemoryStore::new();
                probe.create(&a, &record("x", 10)).await.unwrap_or_default();
                probe.bytes()
            };
            // Room for exactly three records of this size.
            let store = MemoryStore::new().with_budget(3 * one + one / 2);
            store
                .create(&a, &record("x", 1_000))
                .await
                .unwrap_or_default();
            store
                .create(&b, &record("x", 1_000))
                .await
                .unwrap_or_default();
            store.create(&c, &record("x", 50)).await.unwrap_or_default();
            assert_eq!(store.len(), 3);
            // `a` is used; `c`, written last, has expired by 100.
            assert!(store.load(&a, 100).await.unwrap_or_default().is_some());

            let at = |created_at| Record {
                created_at,
                ..record("x", 1_000)
            };
            store.create(&d, &at(100)).await.unwrap_or_default();
            assert!(!store.lock().records.contains_key(&c), "expired first");
            store.create(&e, &at(100)).await.unwrap_or_default();
            let state = store.lock();
            assert!(
                !state.records.contains_key(&b),
                "then the least recently used"
            );
            for kept in [&a, &d, &e] {
                assert!(state.records.contains_key(kept));
            }
            assert!(state.bytes <= 3 * one + one / 2);
        });
    }

    #[test]
    fn a_record_larger_than_the_whole_budget_is_refused_and_nothing_changes() {
        block_on(async {
            let store = MemoryStore::new().with_budget(4_096);
            let (a, b) = (
                SessionId::generate().store_key(),
                SessionId::generate().store_key(),
            );
            store
                .create(&a, &record("small", 100))
                .await
                .unwrap_or_default();
            let before = store.bytes();
            let big = record(&"x".repeat(5_000), 100);
            assert!(matches!(
                store.create(&b, &big).await,
                Err(StoreError::Backend(_))
            ));
            let bigger = Patch::new(100).set("p", Value::String("x".repeat(5_000)));
            assert!(matches!(
                store.update(&a, &bigger, 5).await,
                Err(StoreError::Backend(_))
            ));
            assert_eq!(store.bytes(), before);
            assert_eq!(
                store.load(&a, 5).await.ok().flatten(),
                Some(record("small", 100))
            );
        });
    }

    #[test]
    fn held_bytes_are_the_text_the_key_and_the_user() {
        block_on(async {
            let store = MemoryStore::new();
            let key = SessionId::generate().store_key();
            let r = Record {
                user: Some("ü".repeat(10)),
                ..record(&"\u{0}".repeat(100), 100)
            };
            store.create(&key, &r).await.unwrap_or_default();
            // {"p":"\u0000…"}: 8 bytes of frame, 6 per escaped NUL; the user is 20 bytes.
            let text = 8 + 6 * 100;
            assert_eq!(store.bytes(), ENTRY_OVERHEAD + 2 * 64 + text + 20);
            assert_eq!(store.load(&key, 5).await.ok().flatten(), Some(r));
            assert_eq!(store.delete_user(&"ü".repeat(10)).await, Ok(1));
            assert_eq!(store.bytes(), 0);
            store
                .create(&key, &record("x", 10))
                .await
                .unwrap_or_default();
            assert_eq!(store.cleanup(10).await, Ok(1));
            assert_eq!((store.len(), store.bytes()), (0, 0));
        });
    }

    /// Updates race on one record from several threads, half of them offering an outcome
    /// computed from a record that is stale by then (`if_unchanged`): every key each one set
    /// is there at the end, and the version counts every write.
    /// A flood of sessions without a user (any visitor can start them) evicts other such
    /// sessions first: logged-in ones go only when no anonymous one is left, least recently
    /// used first (docs/SECURITY-CHECKLIST.md, the memory store's eviction).
    #[test]
    fn anonymous_sessions_are_evicted_before_logged_in_ones() {
        block_on(async {
            let store = MemoryStore::with_capacity(4);
            let logged_in = |user: &str| Record {
                user: Some(user.into()),
                ..record("u", 1_000)
            };
            let ada = SessionId::generate().store_key();
            store.create(&ada, &logged_in("ada")).await.unwrap();
            let bob = SessionId::generate().store_key();
            store.create(&bob, &logged_in("bob")).await.unwrap();
            // A hundred anonymous sessions through a store of four: ada and bob stay.
            let mut last = Vec::new();
            for _ in 0..100 {
                let key = SessionId::generate().store_key();
                store.create(&key, &record("a", 1_000)).await.unwrap();
                last.push(key);
            }
            assert_eq!(store.len(), 4);
            assert!(store.load(&ada, 1).await.unwrap().is_some());
            assert!(store.load(&bob, 1).await.unwrap().is_some());
            assert!(store.load(&last[99], 1).await.unwrap().is_some());
            assert!(store.load(&last[97], 1).await.unwrap().is_none());
            // An anonymous session that logs in (a patch sets its user) is no longer first to go.
            let patch = Patch::new(1_000).with_user(Some("cy".into()));
            assert_eq!(store.update(&last[98], &patch, 1).await, Ok(Update::Saved));
            // Logged-in sessions only: the least recently used goes (ada was loaded before bob).
            let dan = SessionId::generate().store_key();
            store.create(&dan, &logged_in("dan")).await.unwrap();
            assert!(
                store.load(&last[99], 1).await.unwrap().is_none(),
                "anonymous first"
            );
            let eve = SessionId::generate().store_key();
            store.create(&eve, &logged_in("eve")).await.unwrap();
            assert!(store.load(&ada, 1).await.unwrap().is_none(), "then the LRU");
            for key in [&bob, &last[98], &dan, &eve] {
                assert!(store.load(key, 1).await.unwrap().is_some());
            }
            assert_eq!(recount(&store), store.bytes());
        });
    }

    #[test]
    fn concurrent_updates_of_one_record_lose_nothing() {
        const THREADS: u64 = 4;
        const WRITES: u64 = 200;
        let store = std::sync::Arc::new(MemoryStore::new());
        let key = SessionId::generate().store_key();
        let first = record("x", 10_000);
        block_on(store.create(&key, &first)).unwrap_or_default();
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (store, key, first) = (store.clone(), key.clone(), first.clone());
                std::thread::spawn(move || {
                    block_on(async {
                        for i in 0..WRITES {
                            let name = format!("t{t}-{i}");
                            let mut patch = Patch::new(10_000).set(name.clone(), Value::from(i));
                            if t % 2 == 0 {
                                // The outcome as if nobody else had written since the create.
                                let mut stale = first.clone();
                                stale.data.insert(name, Value::from(i));
                                patch = patch.with_if_unchanged(stale);
                            }
                            assert_eq!(store.update(&key, &patch, 1).await, Ok(Update::Saved));
                        }
                    });
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().is_ok(), "a writer panicked");
        }
        let last = block_on(store.load(&key, 1)).ok().flatten();
        let last = last.unwrap_or_else(|| panic!("the record is gone"));
        assert_eq!(last.version, 1 + THREADS * WRITES);
        for t in 0..THREADS {
            for i in 0..WRITES {
                assert_eq!(last.data.get(&format!("t{t}-{i}")), Some(&Value::from(i)));
            }
        }
        assert_eq!(last.data.get("p"), Some(&Value::from("x")));
        assert_eq!(store.bytes(), recount(&store));
    }
}
