//! Idempotency keys on gridstore's [`KvStore`]: the protocol behind the API's
//! `Idempotency-Key` header.
//!
//! One KV key per (scope, key): `idem:<scope>:<key>` (scopes never contain `:`, so the split
//! is unambiguous). Its value goes through two states:
//!
//! - **reserved** `{"state":"reserved","requestHash":..,"holder":<uuid>}`, written with
//!   `set_if_absent` and the **lease** as TTL: a request with this hash runs. The holder id is
//!   unique per request, so only the request that reserved the key can complete or release it.
//!   A crashed instance's reservation frees itself when the lease ends.
//! - **completed** `{"state":"completed","requestHash":..,"status":..,"body":..}`, swapped in
//!   with `compare_and_set` (expected: this request's reservation) and the **retention**
//!   (24 hours) as TTL: replayed until it expires.
//!
//! Releasing is `compare_and_delete` of the request's own reservation, so a release can never
//! remove a completed response or another request's reservation (a plain `delete` could, after
//! a completion whose outcome was unknown). A release that fails (the store is down or
//! frozen) is retried in the background with a doubling pause until it succeeds or the lease
//! would free the key anyway, so a key is free again as soon as the store answers; the request
//! that failed does not wait for it. A completion that fails is released the same way.
//!
//! **Cancellation.** The API's request timeout drops the request's future at any await point.
//! Every KV write here therefore runs on its own task, which finishes whatever happens to the
//! request: a reservation committed after the request was cut off is handed back inside a
//! [`Held`], whose `Drop` releases it; a completion in flight is never cut in half. So a key is
//! never left reserved by a request that is gone, except when the process itself dies (then
//! the lease frees it).
//!
//! Atomic across instances sharing the KV store: of concurrent callers on a free key exactly
//! one gets [`Reservation::Reserved`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use gridstore::KvStore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;

mod claim;

pub use self::claim::Held;
use self::claim::{Claim, detached};

/// How long a stored idempotent response is replayed: 24 hours.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The default lease of a reservation: 60 seconds. It must exceed the longest time a request
/// may run (the API's request timeout), or a slow request's key could be taken by another.
pub const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(60);

/// The prefix of every idempotency key in the KV store.
pub const KEY_PREFIX: &str = "idem:";

/// One KV record (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
enum Record {
    #[serde(rename_all = "camelCase")]
    Reserved {
        request_hash: String,
        holder: String,
    },
    #[serde(rename_all = "camelCase")]
    Completed {
        request_hash: String,
        status: u16,
        body: String,
    },
}

impl Record {
    fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A response remembered for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Body text (the API's bodies are JSON, hence UTF-8).
    pub body: String,
}

/// The answer to [`IdempotencyKeys::reserve`].
#[derive(Debug)]
pub enum Reservation {
    /// The key is now reserved for the caller, who runs the request and then calls
    /// [`Held::complete`] (final answer) or [`Held::release`] (anything else); dropping the
    /// [`Held`] releases it in the background.
    Reserved(Held),
    /// A request with the same hash completed: replay its response.
    Replay(StoredResponse),
    /// The key is held (completed, or reserved and unexpired) by a request with another hash.
    Mismatch,
    /// A request with the same hash holds an unexpired reservation: it is still running.
    InProgress,
}

/// Idempotency keys on a KV store. Cheap to clone.
#[derive(Clone)]
pub struct IdempotencyKeys {
    kv: Arc<dyn KvStore>,
    retention: Duration,
}

impl fmt::Debug for IdempotencyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyKeys")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl IdempotencyKeys {
    /// Keys on `kv`, replaying responses for [`IDEMPOTENCY_TTL`].
    pub fn new(kv: Arc<dyn KvStore>) -> Self {
        Self {
            kv,
            retention: IDEMPOTENCY_TTL,
        }
    }

    /// Replays responses for `retention` instead (tests).
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Reserves (`scope`, `key`) for a request with `request_hash` for `lease`, or says why
    /// not. Runs on its own task (see the module docs on cancellation).
    ///
    /// # Errors
    /// The storage variants of [`Error`](crate::Error) when the KV store fails.
    pub async fn reserve(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        lease: Duration,
    ) -> Result<Reservation> {
        let claim = Claim {
            kv: Arc::clone(&self.kv),
            key: format!("{KEY_PREFIX}{scope}:{key}"),
            retention: self.retention,
            request_hash: request_hash.to_owned(),
            // Read before the write: the store's lease ends a little later, never earlier.
            lease_ends: tokio::time::Instant::now() + lease,
            reservation: Record::Reserved {
                request_hash: request_hash.to_owned(),
                holder: uuid::Uuid::new_v4().to_string(),
            }
            .to_value(),
        };
        detached(claim.reserve(lease)).await?
    }
}

#[cfg(test)]
mod tests {
    use gridstore::memory::{ManualClock, MemoryKvStore};

    use super::*;

    #[tokio::test]
    async fn a_response_is_replayed_for_exactly_twenty_four_hours() {
        let clock = ManualClock::default();
        let keys =
            IdempotencyKeys::new(Arc::new(MemoryKvStore::with_clock(Arc::new(clock.clone()))));
        let Reservation::Reserved(held) = keys
            .reserve("root", "k", "h", IDEMPOTENCY_LEASE)
            .await
            .unwrap()
        else {
            panic!("the key was free");
        };
        let stored = StoredResponse {
            status: 201,
            body: "{}".to_owned(),
        };
        assert!(held.complete(stored.clone()).await);

        clock.advance(chrono::Duration::hours(24) - chrono::Duration::milliseconds(1));
        let replay = keys
            .reserve("root", "k", "h", IDEMPOTENCY_LEASE)
            .await
            .unwrap();
        clock.advance(chrono::Duration::milliseconds(1));
        let after = keys
            .reserve("root", "k", "other", IDEMPOTENCY_LEASE)
            .await
            .unwrap();

        assert!(
            matches!(replay, Reservation::Replay(ref s) if *s == stored),
            "{replay:?}"
        );
        assert!(matches!(after, Reservation::Reserved(_)), "{after:?}");
    }

    #[test]
    fn records_have_the_documented_shape() {
        let reserved = Record::Reserved {
            request_hash: "h".into(),
            holder: "u".into(),
        };
        let completed = Record::Completed {
            request_hash: "h".into(),
            status: 201,
            body: "{}".into(),
        };
        assert_eq!(
            reserved.to_value(),
            serde_json::json!({"state": "reserved", "requestHash": "h", "holder": "u"})
        );
        assert_eq!(
            completed.to_value(),
            serde_json::json!({"state": "completed", "requestHash": "h", "status": 201, "body": "{}"})
        );
    }
}
