//! In-memory [`Locks`]: a map of leases under a mutex and a token counter.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};

use crate::lock::{Lease, Locks, not_held, record_contention, validate_acquire, validate_ttl};
use crate::memory::clock::{Clock, SystemClock};
use crate::metrics::record;
use crate::{Error, Result};

const PRIMITIVE: &str = "lock";
const BACKEND: &str = "memory";

/// In-memory leases, with fencing tokens from a per-store counter and expiry read from an
/// injectable [`Clock`].
#[derive(Debug)]
pub struct MemoryLocks {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryLocks {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Default)]
struct State {
    leases: BTreeMap<String, Lease>,
    last_token: u64,
}

impl MemoryLocks {
    /// A store with no leases, on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A store with no leases reading time from `clock` (e.g. a
    /// [`crate::memory::ManualClock`]).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(3)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquire_now(&self, key: &str, holder: &str, ttl: Duration) -> Result<Lease> {
        validate_acquire(key, holder, ttl)?;
        let now = self.now();
        let expires_at = expiry(now, ttl)?;
        let mut state = self.lock();
        if let Some(current) = state.leases.get(key) {
            if current.expires_at > now && current.holder != holder {
                record_contention(BACKEND);
                return Err(Error::LockHeld {
                    key: key.to_owned(),
                    holder: current.holder.clone(),
                    expires_at: current.expires_at,
                });
            }
        }
        state.last_token += 1;
        let lease = Lease {
            key: key.to_owned(),
            holder: holder.to_owned(),
            fencing_token: state.last_token,
            acquired_at: now,
            expires_at,
        };
        state.leases.insert(key.to_owned(), lease.clone());
        Ok(lease)
    }

    fn extend_now(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        validate_ttl(ttl)?;
        let now = self.now();
        let expires_at = expiry(now, ttl)?;
        let mut state = self.lock();
        match state.leases.get_mut(&lease.key) {
            Some(current) if same_grant(current, lease) && current.expires_at > now => {
                current.expires_at = expires_at;
                Ok(current.clone())
            }
            _ => Err(not_held(lease)),
        }
    }

    fn release_now(&self, lease: &Lease) -> Result<()> {
        let mut state = self.lock();
        match state.leases.get(&lease.key) {
            Some(current) if same_grant(current, lease) => {
                state.leases.remove(&lease.key);
                Ok(())
            }
            _ => Err(not_held(lease)),
        }
    }
}

fn expiry(now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>> {
    let ttl = chrono::Duration::from_std(ttl)
        .map_err(|_| Error::InvalidInput("lock ttl is too large".into()))?;
    now.checked_add_signed(ttl)
        .map(|t| t.trunc_subsecs(3))
        .ok_or_else(|| Error::InvalidInput("lock ttl is too large".into()))
}

fn same_grant(current: &Lease, lease: &Lease) -> bool {
    current.holder == lease.holder && current.fencing_token == lease.fencing_token
}

#[async_trait]
impl Locks for MemoryLocks {
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration) -> Result<Lease> {
        let started = Instant::now();
        let result = self.acquire_now(key, holder, ttl);
        record(PRIMITIVE, "acquire", BACKEND, started, &result);
        result
    }

    async fn extend(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        let started = Instant::now();
        let result = self.extend_now(lease, ttl);
        record(PRIMITIVE, "extend", BACKEND, started, &result);
        result
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let started = Instant::now();
        let result = self.release_now(lease);
        record(PRIMITIVE, "release", BACKEND, started, &result);
        result
    }

    async fn force_release(&self, key: &str) -> Result<bool> {
        let started = Instant::now();
        let result = Ok(self.lock().leases.remove(key).is_some());
        record(PRIMITIVE, "force_release", BACKEND, started, &result);
        result
    }

    async fn get(&self, key: &str) -> Result<Option<Lease>> {
        let started = Instant::now();
        let now = self.now();
        let lease = self
            .lock()
            .leases
            .get(key)
            .filter(|l| l.expires_at > now)
            .cloned();
        let result = Ok(lease);
        record(PRIMITIVE, "get", BACKEND, started, &result);
        result
    }

    async fn list(&self) -> Result<Vec<Lease>> {
        let started = Instant::now();
        let now = self.now();
        let leases = self
            .lock()
            .leases
            .values()
            .filter(|l| l.expires_at > now)
            .cloned()
            .collect();
        let result = Ok(leases);
        record(PRIMITIVE, "list", BACKEND, started, &result);
        result
    }
}
