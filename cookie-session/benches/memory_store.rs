//! [`MemoryStore`] throughput with one tokio worker thread against two (docs/PERFORMANCE.md,
//! "MemoryStore on more than one thread"): what the store's lock costs when requests run on
//! several cores.
//!
//! 64 tasks, each with its own sessions (4 096 in all, ~200 bytes of JSON each), do what a
//! store-mode request that changes its session does: `load`, then `update` with a patch of one
//! key and a new expiry. Each round runs for a fixed time on a runtime of 1, then 2 worker
//! threads, alternated (`ROUNDS`, default 3; `SECONDS` per run, default 2), and prints
//! operations (a load plus an update) per second.
//!
//! `cargo bench -p cookie-session --bench memory_store` (release build; the machine should have
//! at least two idle cores).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cookie_session::store::{MemoryStore, Patch, Record, SessionId, SessionStore, StoreKey};
use serde_json::{json, Map, Value};

const TASKS: usize = 64;
const SESSIONS: usize = 4_096;
const NOW: u64 = 1_000_000;

fn record() -> Record {
    let mut data = Map::new();
    data.insert("user_id".into(), json!(42));
    data.insert("csrf".into(), json!("0123456789abcdef0123456789abcdef"));
    data.insert("views".into(), json!(0));
    data.insert(
        "cart".into(),
        json!(["apple", "pear", {"sku": 1234, "n": 2}]),
    );
    data.insert(
        "theme".into(),
        json!("a fairly long preference string, for size"),
    );
    Record {
        data,
        version: 1,
        created_at: NOW,
        expires_at: NOW + 3_600,
        user: None,
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Load-then-update operations per second on `threads` worker threads.
fn run(threads: usize, keys: &Arc<Vec<StoreKey>>, store: &Arc<MemoryStore>, secs: u64) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (keys, store) = (keys.clone(), store.clone());
                let (stop, done) = (stop.clone(), done.clone());
                tokio::spawn(async move {
                    let mine = keys.iter().skip(t).step_by(TASKS).cycle();
                    let mut n = 0u64;
                    for key in mine {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let loaded = store.load(key, NOW).await.expect("load");
                        let views = loaded.expect("present").data["views"].as_u64().unwrap_or(0);
                        let patch = Patch::new(NOW + 3_600).set("views", Value::from(views + 1));
                        store.update(key, &patch, NOW).await.expect("update");
                        n += 1;
                        // Let the other tasks of this thread run, as requests would.
                        if n.is_multiple_of(16) {
                            tokio::task::yield_now().await;
                        }
                    }
                    done.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.expect("a task");
        }
        done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    })
}

fn main() {
    let rounds = env("ROUNDS", 3);
    let secs = env("SECONDS", 2);
    let store = Arc::new(MemoryStore::new());
    let keys: Arc<Vec<StoreKey>> = Arc::new(
        (0..SESSIONS)
            .map(|_| SessionId::generate().store_key())
            .collect(),
    );
    let setup = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    setup.block_on(async {
        for key in keys.iter() {
            store.create(key, &record()).await.expect("create");
        }
    });
    println!("MemoryStore, {TASKS} tasks, {SESSIONS} sessions, load + update per operation");
    for round in 1..=rounds {
        let one = run(1, &keys, &store, secs);
        let two = run(2, &keys, &store, secs);
        println!(
            "round {round}: 1 thread {one:.0} ops/s, 2 threads {two:.0} ops/s ({:.2}×)",
            two / one
        );
    }
}
