//! Key-value with per-key TTL.
//!
//! # Semantics
//!
//! - **Values** are any JSON, including `null`: a stored `null` reads back as
//!   `Some(Value::Null)`, distinct from a missing key (`None`).
//! - Values follow the [payload rules](crate::payload) (no NUL character).
//! - **Keys** are non-empty strings of at most [`MAX_KEY_LEN`] bytes. There are no namespaces
//!   in the store: callers prefix keys (`"idem:<id>"`, `"rate:<client>"`), which keeps one
//!   primary-key lookup per operation.
//! - **TTL.** `ttl: None` never expires. `Some(ttl)` must be at least one millisecond
//!   ([`Error::InvalidInput`] otherwise); the key expires at `now + ttl`, computed with the
//!   backend's clock (the database clock for PostgreSQL) and truncated to the millisecond.
//!   Every write (`set`, a successful `set_if_absent` or `compare_and_set`) replaces the TTL
//!   with the one it carries.
//! - **Expired keys are invisible at once**: every read and conditional write treats a key
//!   whose `expires_at <= now` as absent (`get` is `None`, `has` and `delete` are `false`,
//!   `set_if_absent` succeeds over it, `compare_and_set` fails on it). Their rows are removed
//!   later, in batches, by [`KvStore::sweep_expired`], which [`spawn_sweeper`] runs in the
//!   background; until then they are counted in [`KvStats::expired_pending`].
//! - **`compare_and_set`** replaces the value only if the key is live and its value equals
//!   `expected` by the backend's JSON equality. PostgreSQL compares `jsonb` values (object key
//!   order never matters, numbers compare numerically so `1.0` equals `1`); the memory backend
//!   compares [`serde_json::Value`]s, where numbers compare by their written form (`1.0` is not
//!   `1`). Write numbers in one canonical form if a CAS depends on them.
//! - **`compare_and_delete`** deletes the key only if it is live and its value equals
//!   `expected` (same equality as `compare_and_set`): a holder releases its own claim without
//!   removing whatever replaced it.
//! - **Counters.** [`KvStore::increment`] adds `by` to the integer under the key in one atomic
//!   step and returns the sum; concurrent increments never lose one. A missing or expired key
//!   starts from zero and takes the TTL of that call (`now + ttl`); a live key **keeps its
//!   expiry**, so a counter with a TTL is a fixed window that resets when it expires (the
//!   rate-limit use case). A live key holding anything but an integer, or a sum outside `i64`,
//!   is [`Error::InvalidInput`] and changes nothing. The answer also says how long the window
//!   has left ([`Counter::expires_in`], measured with the same clock reading that decided the
//!   increment).
//! - KV is never touched by [`crate::session::SessionStore::clear`].
//!
//! # Example
//!
//! An idempotency key that remembers a request for a day:
//!
//! ```
//! use std::time::Duration;
//!
//! use gridstore::KvStore;
//! use gridstore::memory::MemoryKvStore;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> gridstore::Result<()> {
//! let kv = MemoryKvStore::new();
//! let day = Some(Duration::from_secs(24 * 3600));
//! assert!(kv.set_if_absent("idem:req-1", json!({"status": 201}), day).await?);
//! assert!(!kv.set_if_absent("idem:req-1", json!({"status": 201}), day).await?);
//! assert_eq!(kv.get("idem:req-1").await?, Some(json!({"status": 201})));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Counts of stored keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvStats {
    /// Live keys (not expired).
    pub keys: u64,
    /// Expired keys not swept yet (invisible to reads).
    pub expired_pending: u64,
}

/// A counter after [`KvStore::increment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// The counter's value after the increment.
    pub value: i64,
    /// Time left until the counter expires (and a later increment starts from zero), rounded
    /// up to the millisecond; `None` when it never expires.
    pub expires_in: Option<Duration>,
}

/// Key-value with per-key TTL. See the [module docs](self) for the rules.
#[async_trait::async_trait]
pub trait KvStore: Send + Sync + fmt::Debug + 'static {
    /// Stores `value` under `key`, replacing any value and TTL.
    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()>;

    /// The live value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Value>>;

    /// The live values under `keys`, in the same order (`None` for a missing or expired key),
    /// in one round trip.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>>;

    /// Whether `key` holds a live value.
    async fn has(&self, key: &str) -> Result<bool>;

    /// Deletes `key`; returns whether it held a live value.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Stores `value` only if `key` holds no live value; returns whether it did.
    async fn set_if_absent(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<bool>;

    /// Replaces the live value equal to `expected` with `new`; returns whether it did.
    async fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: Value,
        ttl: Option<Duration>,
    ) -> Result<bool>;

    /// Deletes the live value equal to `expected`; returns whether it did.
    async fn compare_and_delete(&self, key: &str, expected: &Value) -> Result<bool>;

    /// Adds `by` to the integer counter under `key` (a missing or expired key counts from
    /// zero and expires `ttl` from now; a live one keeps its expiry) and returns it.
    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<Counter>;

    /// Live and expired-but-unswept key counts.
    async fn stats(&self) -> Result<KvStats>;

    /// Deletes up to `batch` expired keys; returns how many. `batch = 0` deletes nothing.
    async fn sweep_expired(&self, batch: usize) -> Result<u64>;
}

/// Runs [`KvStore::sweep_expired`] every `interval`, repeating within a round while full
/// batches come back, until the returned handle is dropped or stopped. Sweep errors are logged
/// and retried at the next round.
///
/// # Panics
///
/// When called outside a tokio runtime, or with a zero `interval`.
pub fn spawn_sweeper<S: KvStore + ?Sized>(
    store: Arc<S>,
    interval: Duration,
    batch: usize,
) -> SweeperHandle {
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            sweep_round(store.as_ref(), batch).await;
        }
    });
    SweeperHandle { task: Some(task) }
}

async fn sweep_round<S: KvStore + ?Sized>(store: &S, batch: usize) {
    let mut total = 0_u64;
    loop {
        match store.sweep_expired(batch).await {
            Ok(deleted) => {
                total += deleted;
                if batch == 0 || deleted < batch as u64 {
                    break;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "kv sweep failed");
                break;
            }
        }
    }
    if total > 0 {
        tracing::debug!(deleted = total, "kv sweep removed expired keys");
    }
}

/// The background sweeper started by [`spawn_sweeper`]; dropping it stops the sweeper.
#[derive(Debug)]
pub struct SweeperHandle {
    task: Option<JoinHandle<()>>,
}

impl SweeperHandle {
    /// Stops the sweeper and waits until it has stopped (a sweep in flight is cancelled).
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            if let Err(err) = task.await {
                if !err.is_cancelled() {
                    tracing::warn!(error = %err, "kv sweeper task failed");
                }
            }
        }
    }
}

impl Drop for SweeperHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Checks a key and the value about to be written under it.
pub(crate) fn validate_write(key: &str, value: &Value) -> Result<()> {
    validate_key(key)?;
    crate::payload::check_storable(value)
}

/// Checks a key against the rules in the module docs.
pub(crate) fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidInput("kv key must not be empty".into()));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidInput(format!(
            "kv key must be at most {MAX_KEY_LEN} bytes"
        )));
    }
    Ok(())
}

/// The error of an increment on a value that is not an integer, or that would overflow.
pub(crate) fn not_a_counter(key: &str) -> Error {
    Error::InvalidInput(format!(
        "kv key {key} does not hold an integer counter, or the increment overflows i64"
    ))
}

/// The TTL in whole milliseconds, rejecting TTLs under one millisecond or too large to store.
pub(crate) fn ttl_millis(ttl: Option<Duration>) -> Result<Option<i64>> {
    let Some(ttl) = ttl else { return Ok(None) };
    let millis = ttl.as_millis();
    if millis == 0 {
        return Err(Error::InvalidInput(
            "kv ttl must be at least 1 millisecond".into(),
        ));
    }
    // 100 years is far beyond any sensible TTL and well inside timestamp ranges.
    const MAX_MILLIS: u128 = 100 * 365 * 24 * 3600 * 1000;
    if millis > MAX_MILLIS {
        return Err(Error::InvalidInput(
            "kv ttl must be at most 100 years".into(),
        ));
    }
    i64::try_from(millis)
        .map(Some)
        .map_err(|_| Error::InvalidInput("kv ttl is too large".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ttl_under_one_millisecond_is_invalid() {
        assert!(ttl_millis(Some(Duration::from_micros(999))).is_err());
        assert_eq!(
            ttl_millis(Some(Duration::from_millis(1))).ok(),
            Some(Some(1))
        );
        assert_eq!(ttl_millis(None).ok(), Some(None));
    }

    #[test]
    fn empty_and_overlong_keys_are_invalid() {
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(validate_key("idem:1").is_ok());
    }
}
