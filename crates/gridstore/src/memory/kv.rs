//! In-memory [`KvStore`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

use crate::Result;
use crate::kv::{
    Counter, KvStats, KvStore, SweeperHandle, not_a_counter, spawn_sweeper, ttl_millis,
    validate_key, validate_write,
};
use crate::memory::clock::{Clock, SystemClock};
use crate::metrics::observe;

const PRIMITIVE: &str = "kv";
const BACKEND: &str = "memory";

#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    expires_at: Option<DateTime<Utc>>,
}

impl Entry {
    fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// Keys in a process-local map, with TTLs read from an injectable [`Clock`]. Clones are
/// handles to the same keys; nothing survives the process. Expired keys are invisible at once
/// and removed by [`KvStore::sweep_expired`] (see [`MemoryKvStore::spawn_sweeper`]).
#[derive(Debug, Clone)]
pub struct MemoryKvStore {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryKvStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryKvStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store reading time from `clock` (e.g. a [`crate::memory::ManualClock`]).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Arc::default(),
            clock,
        }
    }

    /// Starts a background sweeper on this store (see [`spawn_sweeper`]).
    pub fn spawn_sweeper(&self, interval: Duration, batch: usize) -> SweeperHandle {
        spawn_sweeper(Arc::new(self.clone()), interval, batch)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Every write is a single insert or removal, so a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(3)
    }

    fn entry(&self, value: Value, ttl: Option<Duration>) -> Result<Entry> {
        let expires_at = ttl_millis(ttl)?.map(|ms| self.now() + chrono::Duration::milliseconds(ms));
        Ok(Entry { value, expires_at })
    }
}

#[async_trait::async_trait]
impl KvStore for MemoryKvStore {
    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        observe(PRIMITIVE, "set", BACKEND, async {
            validate_write(key, &value)?;
            let entry = self.entry(value, ttl)?;
            self.lock().insert(key.to_owned(), entry);
            Ok(())
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        observe(PRIMITIVE, "get", BACKEND, async {
            let now = self.now();
            Ok(self
                .lock()
                .get(key)
                .filter(|e| e.is_live(now))
                .map(|e| e.value.clone()))
        })
        .await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>> {
        observe(PRIMITIVE, "get_many", BACKEND, async {
            let now = self.now();
            let entries = self.lock();
            Ok(keys
                .iter()
                .map(|key| {
                    entries
                        .get(key)
                        .filter(|e| e.is_live(now))
                        .map(|e| e.value.clone())
                })
                .collect())
        })
        .await
    }

    async fn has(&self, key: &str) -> Result<bool> {
        observe(PRIMITIVE, "has", BACKEND, async {
            let now = self.now();
            Ok(self.lock().get(key).is_some_and(|e| e.is_live(now)))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        observe(PRIMITIVE, "delete", BACKEND, async {
            let now = self.now();
            Ok(self.lock().remove(key).is_some_and(|e| e.is_live(now)))
        })
        .await
    }

    async fn set_if_absent(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<bool> {
        observe(PRIMITIVE, "set_if_absent", BACKEND, async {
            validate_write(key, &value)?;
            let entry = self.entry(value, ttl)?;
            let now = self.now();
            let mut entries = self.lock();
            if entries.get(key).is_some_and(|e| e.is_live(now)) {
                return Ok(false);
            }
            entries.insert(key.to_owned(), entry);
            Ok(true)
        })
        .await
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: Value,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        observe(PRIMITIVE, "compare_and_set", BACKEND, async {
            validate_write(key, &new)?;
            let entry = self.entry(new, ttl)?;
            let now = self.now();
            let mut entries = self.lock();
            match entries.get_mut(key) {
                Some(current) if current.is_live(now) && current.value == *expected => {
                    *current = entry;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .await
    }

    async fn compare_and_delete(&self, key: &str, expected: &Value) -> Result<bool> {
        observe(PRIMITIVE, "compare_and_delete", BACKEND, async {
            let now = self.now();
            let mut entries = self.lock();
            let matches = entries
                .get(key)
                .is_some_and(|e| e.is_live(now) && e.value == *expected);
            if matches {
                entries.remove(key);
            }
            Ok(matches)
        })
        .await
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<Counter> {
        observe(PRIMITIVE, "increment", BACKEND, async {
            validate_key(key)?;
            let ttl = ttl_millis(ttl)?;
            let now = self.now();
            let mut entries = self.lock();
            let (value, expires_at) = match entries.get(key).filter(|e| e.is_live(now)) {
                Some(current) => {
                    let sum = current
                        .value
                        .as_i64()
                        .and_then(|value| value.checked_add(by))
                        .ok_or_else(|| not_a_counter(key))?;
                    (sum, current.expires_at)
                }
                None => (by, ttl.map(|ms| now + chrono::Duration::milliseconds(ms))),
            };
            entries.insert(
                key.to_owned(),
                Entry {
                    value: Value::from(value),
                    expires_at,
                },
            );
            let expires_in = expires_at.map(|at| (at - now).to_std().unwrap_or_default());
            Ok(Counter { value, expires_in })
        })
        .await
    }

    async fn stats(&self) -> Result<KvStats> {
        observe(PRIMITIVE, "stats", BACKEND, async {
            let now = self.now();
            let entries = self.lock();
            let keys = entries.values().filter(|e| e.is_live(now)).count() as u64;
            Ok(KvStats {
                keys,
                expired_pending: entries.len() as u64 - keys,
            })
        })
        .await
    }

    async fn sweep_expired(&self, batch: usize) -> Result<u64> {
        observe(PRIMITIVE, "sweep_expired", BACKEND, async {
            let now = self.now();
            let mut entries = self.lock();
            let expired: Vec<String> = entries
                .iter()
                .filter(|(_, e)| !e.is_live(now))
                .map(|(k, _)| k.clone())
                .take(batch)
                .collect();
            for key in &expired {
                entries.remove(key);
            }
            Ok(expired.len() as u64)
        })
        .await
    }
}
