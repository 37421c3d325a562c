//! [`SlowKv`]: a KV store whose reservations (`set_if_absent`) can be written at once but
//! answered only when the test says so, like a database that commits and then stalls; for
//! cancellation tests. A gate, not a delay: the test decides when the answer comes, so the
//! outcome never depends on how fast the machine is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use gridstore::kv::{Counter, KvStats};
use gridstore::{KvStore, Result};
use serde_json::Value;
use tokio::sync::Notify;

/// Delegates to `inner`; after [`SlowKv::hold_next_reservation`] the next `set_if_absent`
/// writes first and answers only after [`SlowKv::release_held`].
#[derive(Debug)]
pub struct SlowKv {
    inner: Arc<dyn KvStore>,
    hold_next: AtomicBool,
    released: AtomicBool,
    gate: Notify,
    late: AtomicU64,
}

impl SlowKv {
    /// Wraps `inner`; nothing is held.
    pub fn new(inner: Arc<dyn KvStore>) -> Self {
        Self {
            inner,
            hold_next: AtomicBool::new(false),
            released: AtomicBool::new(false),
            gate: Notify::new(),
            late: AtomicU64::new(0),
        }
    }

    /// The next `set_if_absent` writes, then waits for [`SlowKv::release_held`] to answer.
    pub fn hold_next_reservation(&self) {
        self.released.store(false, Ordering::SeqCst);
        self.hold_next.store(true, Ordering::SeqCst);
    }

    /// Lets a held `set_if_absent` answer.
    pub fn release_held(&self) {
        self.released.store(true, Ordering::SeqCst);
        self.gate.notify_waiters();
    }

    /// How many `set_if_absent` calls were held.
    pub fn late_reservations(&self) -> u64 {
        self.late.load(Ordering::SeqCst)
    }

    async fn wait_for_release(&self) {
        loop {
            let opened = self.gate.notified();
            if self.released.load(Ordering::SeqCst) {
                return;
            }
            opened.await;
        }
    }
}

#[async_trait::async_trait]
impl KvStore for SlowKv {
    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        self.inner.set(key, value, ttl).await
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>> {
        self.inner.get_many(keys).await
    }

    async fn has(&self, key: &str) -> Result<bool> {
        self.inner.has(key).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }

    async fn set_if_absent(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<bool> {
        let written = self.inner.set_if_absent(key, value, ttl).await;
        if self.hold_next.swap(false, Ordering::SeqCst) {
            self.late.fetch_add(1, Ordering::SeqCst);
            self.wait_for_release().await;
        }
        written
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: Value,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.inner.compare_and_set(key, expected, new, ttl).await
    }

    async fn compare_and_delete(&self, key: &str, expected: &Value) -> Result<bool> {
        self.inner.compare_and_delete(key, expected).await
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<Counter> {
        self.inner.increment(key, by, ttl).await
    }

    async fn stats(&self) -> Result<KvStats> {
        self.inner.stats().await
    }

    async fn sweep_expired(&self, batch: usize) -> Result<u64> {
        self.inner.sweep_expired(batch).await
    }
}
