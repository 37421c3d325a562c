//! [`FlakyKv`]: a KV store whose next few releases (`compare_and_delete`) and completions
//! (`compare_and_set`) fail as if the database were down, without touching the data; for the
//! idempotency tests of a key that must not stay reserved after a failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gridstore::kv::{Counter, KvStats};
use gridstore::{Error, KvStore, Result};
use serde_json::Value;

/// Delegates to `inner`, except that the next [`FlakyKv::fail_next_releases`]
/// `compare_and_delete` calls and [`FlakyKv::fail_next_completions`] `compare_and_set` calls
/// answer a connection error and change nothing.
#[derive(Debug)]
pub struct FlakyKv {
    inner: Arc<dyn KvStore>,
    failing_releases: AtomicU32,
    failing_completions: AtomicU32,
    failed: AtomicU32,
}

impl FlakyKv {
    /// Wraps `inner`; nothing fails.
    pub fn new(inner: Arc<dyn KvStore>) -> Self {
        Self {
            inner,
            failing_releases: AtomicU32::new(0),
            failing_completions: AtomicU32::new(0),
            failed: AtomicU32::new(0),
        }
    }

    /// The next `count` `compare_and_delete` calls fail.
    pub fn fail_next_releases(&self, count: u32) {
        self.failing_releases.store(count, Ordering::SeqCst);
    }

    /// The next `count` `compare_and_set` calls fail.
    pub fn fail_next_completions(&self, count: u32) {
        self.failing_completions.store(count, Ordering::SeqCst);
    }

    /// How many calls failed so far.
    pub fn failures(&self) -> u32 {
        self.failed.load(Ordering::SeqCst)
    }

    fn take_failure(&self, budget: &AtomicU32) -> Result<()> {
        let fail = budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if fail {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(Error::Connection("flaky kv: connection refused".into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl KvStore for FlakyKv {
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
        self.inner.set_if_absent(key, value, ttl).await
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: Value,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        self.take_failure(&self.failing_completions)?;
        self.inner.compare_and_set(key, expected, new, ttl).await
    }

    async fn compare_and_delete(&self, key: &str, expected: &Value) -> Result<bool> {
        self.take_failure(&self.failing_releases)?;
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
