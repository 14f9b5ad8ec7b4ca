//! An opt-in background task that deletes expired records, for the SQL stores (features
//! `sqlite` and `postgres`): their expired rows stay until something deletes them, while
//! Redis and [`MemoryStore`](super::MemoryStore) evict by themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::SessionStore;
use crate::time::unix_secs;

/// The shortest period between two rounds.
const MIN_PERIOD: Duration = Duration::from_secs(1);

/// Starts a tokio task that calls [`SessionStore::cleanup`] at once, then every `period`,
/// until [`CleanupTask::stop`] (or dropping the handle). A failed round is logged
/// (`tracing::warn!`) and the next one runs as planned. Needs a tokio runtime.
///
/// ```no_run
/// # async fn run() -> Result<(), cookie_session::store::StoreError> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use cookie_session::store::{spawn_cleanup, SessionStore, SqliteStore};
///
/// let store: Arc<dyn SessionStore> = Arc::new(SqliteStore::open("sessions.db").await?);
/// let cleanup = spawn_cleanup(store.clone(), Duration::from_secs(3600));
/// // ... serve with `SessionConfig::new(keys).shared_store(store)` ...
/// let deleted = cleanup.stop().await;
/// # Ok(()) }
/// ```
///
/// A `period` under one second counts as one second.
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn` does.
pub fn spawn_cleanup(store: Arc<dyn SessionStore>, period: Duration) -> CleanupTask {
    let period = period.max(MIN_PERIOD);
    let deleted = Arc::new(AtomicU64::new(0));
    let (stop, mut stopped) = watch::channel(false);
    let counter = deleted.clone();
    let handle = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.changed() => break,
            }
            match store.cleanup(unix_secs(SystemTime::now())).await {
                Ok(n) => {
                    counter.fetch_add(n, Ordering::Relaxed);
                    tracing::debug!(deleted = n, "expired sessions deleted");
                }
                Err(error) => tracing::warn!(%error, "expired sessions not deleted"),
            }
        }
    });
    CleanupTask {
        stop,
        handle: Some(handle),
        deleted,
    }
}

/// The handle of the task [`spawn_cleanup`] started. Dropping it stops the task too.
#[derive(Debug)]
pub struct CleanupTask {
    stop: watch::Sender<bool>,
    handle: Option<JoinHandle<()>>,
    deleted: Arc<AtomicU64>,
}

impl CleanupTask {
    /// How many records the task has deleted so far.
    pub fn deleted(&self) -> u64 {
        self.deleted.load(Ordering::Relaxed)
    }

    /// Stops the task, waiting for a round under way to finish; returns how many records it
    /// deleted in all.
    pub async fn stop(mut self) -> u64 {
        let _ = self.stop.send(true);
        if let Some(handle) = self.handle.take() {
            // A panic in the store's `cleanup` ended the task early; nothing more to stop.
            let _ = handle.await;
        }
        self.deleted()
    }
}

impl Drop for CleanupTask {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
