//! The API-key cache of the PostgreSQL store: authentication of a cached key costs no pool
//! checkout and no round trip, so a request checks a connection out once (for its own work).
//!
//! - **Revocation is seen by every instance at once**: a revoke sends
//!   `pg_notify('escrowgrid_api_keys', <key id>)` in its transaction; every instance's
//!   [`PgListener`] (the process's one LISTEN connection, also listening on this channel)
//!   hands the notification to [`follow`], which drops the key (within milliseconds of the
//!   commit). The revoking instance also drops it itself right after its commit.
//! - **A read cannot resurrect a revoked key**: every invalidation bumps an epoch; a read fills
//!   the cache only if no invalidation happened since it started ([`Ticket`]), so a read that
//!   raced with a revoke is answered but not kept.
//! - **Never trusted beyond the TTL**: an entry is used for at most the TTL after the read that
//!   fetched it started, notification or not (a revoke by hand in SQL, a listener connection
//!   that died silently).
//! - **Only while listening**: while the LISTEN connection is down (notifications would be
//!   lost) every lookup reads the database and nothing is cached; a disconnect or reconnect
//!   clears the cache ([`ChannelNotice::Reset`]).
//! - Only active keys are cached (an unknown token always reads the database), at most
//!   [`CAPACITY`] of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use gridstore::postgres::{ChannelNotice, PgListener};
use tokio::sync::broadcast;

use crate::domain::ApiKey;

/// The channel a revoke notifies (payload: the key's id); the server's listener listens on it.
pub const API_KEYS_CHANNEL: &str = "escrowgrid_api_keys";

/// Keys kept at most (a fill beyond it first drops expired entries, then is skipped).
const CAPACITY: usize = 10_000;

/// The cache; shared by every clone of the store.
#[derive(Debug)]
pub(super) struct KeyCache {
    state: Mutex<State>,
    ttl: Duration,
    listener: PgListener,
}

#[derive(Debug, Default)]
struct State {
    /// By the SHA-256 hex of the token.
    by_hash: HashMap<String, Entry>,
    /// Bumped by every invalidation.
    epoch: u64,
}

#[derive(Debug)]
struct Entry {
    key: ApiKey,
    read_at: Instant,
}

/// Taken before a database read: allows filling the cache with its result if nothing was
/// invalidated meanwhile.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    epoch: u64,
    read_at: Instant,
}

impl KeyCache {
    /// A cache kept fresh by `listener`'s notices on [`API_KEYS_CHANNEL`]; entries live at
    /// most `ttl`. Spawns the follower task (it ends with the cache or the listener).
    pub(super) fn start(listener: PgListener, ttl: Duration) -> Arc<Self> {
        let notices = listener.notices();
        let cache = Arc::new(Self {
            state: Mutex::default(),
            ttl,
            listener,
        });
        tokio::spawn(follow(Arc::downgrade(&cache), notices));
        cache
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent map (no invariant spans calls).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached key of `hash` if it was read less than the TTL before `now`; otherwise the
    /// ticket for the read that replaces it.
    pub(super) fn get(&self, hash: &str, now: Instant) -> Result<ApiKey, Ticket> {
        let mut state = self.lock();
        let ticket = Ticket {
            epoch: state.epoch,
            read_at: now,
        };
        if !self.listener.is_connected() {
            return Err(ticket);
        }
        match state.by_hash.get(hash) {
            Some(entry) if self.fresh(entry, now) => Ok(entry.key.clone()),
            Some(_) => {
                state.by_hash.remove(hash);
                Err(ticket)
            }
            None => Err(ticket),
        }
    }

    /// Keeps `key` (just read from the database under `ticket`) unless a key was invalidated
    /// since the ticket was taken or the listener is down.
    pub(super) fn fill(&self, hash: String, key: ApiKey, ticket: Ticket) {
        let mut state = self.lock();
        if state.epoch != ticket.epoch || !self.listener.is_connected() {
            return;
        }
        if state.by_hash.len() >= CAPACITY {
            let ttl = self.ttl;
            state
                .by_hash
                .retain(|_, entry| ticket.read_at.saturating_duration_since(entry.read_at) < ttl);
            if state.by_hash.len() >= CAPACITY {
                return;
            }
        }
        let read_at = ticket.read_at;
        state.by_hash.insert(hash, Entry { key, read_at });
    }

    /// Drops the key `id` (revoked).
    pub(super) fn invalidate(&self, id: &str) {
        let mut state = self.lock();
        state.epoch += 1;
        state.by_hash.retain(|_, entry| entry.key.id.as_str() != id);
    }

    /// Drops every key (notifications may have been lost).
    fn clear(&self) {
        let mut state = self.lock();
        state.epoch += 1;
        state.by_hash.clear();
    }

    fn fresh(&self, entry: &Entry, now: Instant) -> bool {
        now.checked_duration_since(entry.read_at)
            .is_some_and(|age| age < self.ttl)
    }
}

/// Applies the listener's notices to the cache until either is gone.
async fn follow(cache: Weak<KeyCache>, mut notices: broadcast::Receiver<ChannelNotice>) {
    loop {
        let notice = notices.recv().await;
        let Some(cache) = cache.upgrade() else {
            return;
        };
        match notice {
            Ok(ChannelNotice::Notification { channel, payload }) => {
                if channel == API_KEYS_CHANNEL {
                    tracing::debug!(api_key_id = %payload, "api key invalidated by notification");
                    cache.invalidate(&payload);
                }
            }
            Ok(ChannelNotice::Reset) | Err(broadcast::error::RecvError::Lagged(_)) => {
                tracing::debug!("api key cache cleared (listener reset)");
                cache.clear();
            }
            Err(broadcast::error::RecvError::Closed) => {
                cache.clear();
                return;
            }
        }
    }
}
