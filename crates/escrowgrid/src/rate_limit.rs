//! Fixed-window rate limits counted on gridstore's [`KvStore`] port.
//!
//! A hit is one atomic `increment` of `rate:<name>:<key>`, whose TTL (the window) is set when
//! the counter is created: hits `1..=max` of a window pass, later ones are rejected with the
//! time left until the window ends. Instances sharing the KV store (gridstore's PostgreSQL KV)
//! share one budget, so N instances grant `max` in total per window, not N times `max`; on the
//! memory KV store the count stays in the process. Rejected hits are counted too, which
//! changes no answer: the window ends at the same instant whatever the count. Expired windows
//! are deleted by the KV store's sweeper.

use std::time::Duration;

use gridstore::KvStore;

use crate::Result;

/// The prefix of every rate-limit counter in the KV store.
pub const KEY_PREFIX: &str = "rate:";

/// A rejection: the caller may retry after this many whole seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// At most `max` hits per `window` and key.
#[derive(Debug, Clone)]
pub struct FixedWindow {
    name: &'static str,
    window: Duration,
    max: u32,
}

impl FixedWindow {
    /// A limit named `name` (part of its counters' keys) allowing `max` hits per `window`.
    pub fn new(name: &'static str, window: Duration, max: u32) -> Self {
        Self { name, window, max }
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The hits allowed per window.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Counts a hit for `key` in `kv`; `Ok(Err(..))` when the window is already full.
    ///
    /// # Errors
    /// The storage variants of [`crate::Error`] when the KV store fails.
    pub async fn hit(
        &self,
        kv: &dyn KvStore,
        key: &str,
    ) -> Result<std::result::Result<(), RetryAfter>> {
        let counter_key = format!("{KEY_PREFIX}{}:{key}", self.name);
        let window = self.window.max(Duration::from_millis(1));
        let counter = kv.increment(&counter_key, 1, Some(window)).await?;
        if counter.value <= i64::from(self.max) {
            return Ok(Ok(()));
        }
        let left = counter.expires_in.unwrap_or(window);
        Ok(Err(RetryAfter(ceil_secs(left))))
    }
}

/// Whole seconds, rounded up, and at least 1.
fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gridstore::memory::{ManualClock, MemoryKvStore};

    use super::*;

    fn kv() -> (MemoryKvStore, ManualClock) {
        let clock = ManualClock::default();
        (MemoryKvStore::with_clock(Arc::new(clock.clone())), clock)
    }

    async fn hit(limit: &FixedWindow, kv: &MemoryKvStore, key: &str) -> Result<(), RetryAfter> {
        limit.hit(kv, key).await.expect("kv")
    }

    #[tokio::test]
    async fn requests_up_to_the_maximum_pass_and_the_next_one_is_rejected() {
        let (kv, _clock) = kv();
        let limit = FixedWindow::new("t", Duration::from_secs(60), 2);
        assert_eq!(hit(&limit, &kv, "k").await, Ok(()));
        assert_eq!(hit(&limit, &kv, "k").await, Ok(()));
        assert_eq!(hit(&limit, &kv, "k").await, Err(RetryAfter(60)));
        assert_eq!(hit(&limit, &kv, "other").await, Ok(()));
    }

    #[tokio::test]
    async fn retry_after_counts_whole_seconds_to_the_end_of_the_window() {
        let (kv, clock) = kv();
        let limit = FixedWindow::new("t", Duration::from_secs(60), 1);
        assert_eq!(hit(&limit, &kv, "k").await, Ok(()));
        clock.advance(chrono::Duration::milliseconds(20_500));
        assert_eq!(hit(&limit, &kv, "k").await, Err(RetryAfter(40)));
    }

    #[tokio::test]
    async fn a_new_window_starts_after_the_old_one_ends() {
        let (kv, clock) = kv();
        let limit = FixedWindow::new("t", Duration::from_secs(1), 1);
        assert_eq!(hit(&limit, &kv, "k").await, Ok(()));
        assert!(hit(&limit, &kv, "k").await.is_err());
        clock.advance(chrono::Duration::seconds(1));
        assert_eq!(hit(&limit, &kv, "k").await, Ok(()));
    }

    #[tokio::test]
    async fn limits_with_other_names_count_apart() {
        let (kv, _clock) = kv();
        let first = FixedWindow::new("a", Duration::from_secs(60), 1);
        let second = FixedWindow::new("b", Duration::from_secs(60), 1);
        assert_eq!(hit(&first, &kv, "k").await, Ok(()));
        assert_eq!(hit(&second, &kv, "k").await, Ok(()));
        assert!(hit(&first, &kv, "k").await.is_err());
    }

    #[tokio::test]
    async fn expired_windows_are_swept() {
        let (kv, clock) = kv();
        let limit = FixedWindow::new("t", Duration::from_secs(1), 5);
        for key in ["a", "b", "c"] {
            assert_eq!(hit(&limit, &kv, key).await, Ok(()));
        }
        clock.advance(chrono::Duration::seconds(2));
        assert_eq!(hit(&limit, &kv, "d").await, Ok(()));
        assert_eq!(kv.sweep_expired(100).await.expect("sweep"), 3);
        assert_eq!(kv.stats().await.expect("stats").keys, 1);
    }
}
