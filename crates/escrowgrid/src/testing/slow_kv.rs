//! [`SlowKv`]: a KV store whose reservations (`set_if_absent`) are written at once but
//! answered late, like a database that commits and then stalls; for cancellation tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gridstore::kv::{Counter, KvStats};
use gridstore::{KvStore, Result};
use serde_json::Value;

/// Delegates to `inner`; `set_if_absent` writes first and answers after the current delay.
#[derive(Debug)]
pub struct SlowKv {
    inner: Arc<dyn KvStore>,
    delay_ms: AtomicU64,
    late: AtomicU64,
}

impl SlowKv {
    /// Wraps `inner` with no delay.
    pub fn new(inner: Arc<dyn KvStore>) -> Self {
        Self {
            inner,
            delay_ms: AtomicU64::new(0),
            late: AtomicU64::new(0),
        }
    }

    /// Answers later `set_if_absent` calls `delay` after their write (zero: at once).
    pub fn delay_reservations(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(millis, Ordering::SeqCst);
    }

    /// How many `set_if_absent` calls were answered late.
    pub fn late_reservations(&self) -> u64 {
        self.late.load(Ordering::SeqCst)
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

    async fn has(&self, key: &str) -> Result<bool> {
        self.inner.has(key).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }

    async fn set_if_absent(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<bool> {
        let written = self.inner.set_if_absent(key, value, ttl).await;
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            self.late.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
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
