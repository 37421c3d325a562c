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

use crate::{Error, Result, StorageCause};

/// How long a stored idempotent response is replayed: 24 hours.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The default lease of a reservation: 60 seconds. It must exceed the longest time a request
/// may run (the API's request timeout), or a slow request's key could be taken by another.
pub const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(60);

/// The prefix of every idempotency key in the KV store.
pub const KEY_PREFIX: &str = "idem:";

/// How many times a reservation is attempted when the key is freed between the failed
/// `set_if_absent` and the read of its holder.
const RESERVE_ATTEMPTS: usize = 5;

/// The first pause before a failed release is tried again; it doubles up to
/// [`RELEASE_RETRY_MAX`].
const RELEASE_RETRY_FIRST: Duration = Duration::from_millis(50);

/// The longest pause between two release attempts.
const RELEASE_RETRY_MAX: Duration = Duration::from_secs(2);

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
    /// The storage variants of [`Error`] when the KV store fails.
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

/// The KV key and this request's reservation value.
#[derive(Clone)]
struct Claim {
    kv: Arc<dyn KvStore>,
    key: String,
    retention: Duration,
    request_hash: String,
    /// When the reservation's lease ends at the latest (retrying a release after that is
    /// pointless: the key is free or another request's).
    lease_ends: tokio::time::Instant,
    reservation: Value,
}

impl Claim {
    async fn reserve(self, lease: Duration) -> Result<Reservation> {
        for _ in 0..RESERVE_ATTEMPTS {
            let value = self.reservation.clone();
            if self.kv.set_if_absent(&self.key, value, Some(lease)).await? {
                return Ok(Reservation::Reserved(Held { claim: Some(self) }));
            }
            let Some(existing) = self.kv.get(&self.key).await? else {
                continue;
            };
            let record: Record = serde_json::from_value(existing).map_err(|err| {
                Error::Storage(StorageCause::described(format!(
                    "unreadable idempotency record {}: {err}",
                    self.key
                )))
            })?;
            return Ok(match record {
                Record::Completed {
                    request_hash: held,
                    status,
                    body,
                } if held == self.request_hash => {
                    Reservation::Replay(StoredResponse { status, body })
                }
                Record::Reserved {
                    request_hash: held, ..
                } if held == self.request_hash => Reservation::InProgress,
                _ => Reservation::Mismatch,
            });
        }
        // Reachable only if the key changed under every attempt: someone else is using it.
        tracing::warn!(key = self.key, "idempotency reservation kept racing");
        Ok(Reservation::InProgress)
    }

    /// Deletes this request's reservation once; `Ok` also when it is already gone.
    async fn try_release(&self) -> gridstore::Result<()> {
        if !self
            .kv
            .compare_and_delete(&self.key, &self.reservation)
            .await?
        {
            tracing::debug!(key = self.key, "idempotency reservation already gone");
        }
        Ok(())
    }

    /// Releases the reservation; when that fails, keeps trying on a background task (see
    /// the module docs) and returns at once.
    async fn release(self) {
        if let Err(err) = self.try_release().await {
            tracing::warn!(key = self.key, error = %err, "idempotency reservation not released, retrying");
            tokio::spawn(self.retry_release());
        }
    }

    /// Retries the release with a doubling pause until it succeeds or the lease ends.
    async fn retry_release(self) {
        let mut pause = RELEASE_RETRY_FIRST;
        let mut attempt: u32 = 1;
        loop {
            if tokio::time::Instant::now() + pause >= self.lease_ends {
                tracing::warn!(
                    key = self.key,
                    attempts = attempt,
                    "idempotency reservation left to its lease"
                );
                return;
            }
            tokio::time::sleep(pause).await;
            attempt += 1;
            match self.try_release().await {
                Ok(()) => {
                    tracing::info!(
                        key = self.key,
                        attempts = attempt,
                        "idempotency reservation released after retrying"
                    );
                    return;
                }
                Err(err) => {
                    tracing::debug!(key = self.key, attempts = attempt, error = %err, "idempotency release failed again");
                }
            }
            pause = (pause * 2).min(RELEASE_RETRY_MAX);
        }
    }
}

/// A reservation held by the running request. Completing or releasing it consumes it;
/// dropped while still held (cancellation, panic, an unreadable response), it is released in
/// a background task.
pub struct Held {
    claim: Option<Claim>,
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.claim.as_ref().map(|claim| claim.key.as_str());
        f.debug_struct("Held").field("key", &key).finish()
    }
}

impl Held {
    /// Stores the final response for the retention period; returns whether it was stored. On
    /// a storage failure the reservation is released, so a retry runs the request again (as
    /// it would have without a key). Runs on its own task: cancelling the caller does not cut
    /// the swap in half.
    pub async fn complete(mut self, response: StoredResponse) -> bool {
        let Some(claim) = self.claim.take() else {
            return false;
        };
        let stored = detached(async move {
            let completed = Record::Completed {
                request_hash: claim.request_hash.clone(),
                status: response.status,
                body: response.body,
            }
            .to_value();
            let swapped = claim
                .kv
                .compare_and_set(
                    &claim.key,
                    &claim.reservation,
                    completed,
                    Some(claim.retention),
                )
                .await;
            match swapped {
                Ok(true) => true,
                Ok(false) => {
                    tracing::warn!(
                        key = claim.key,
                        "idempotency reservation lost before completion"
                    );
                    false
                }
                Err(err) => {
                    tracing::warn!(key = claim.key, error = %err, "idempotent response not stored");
                    claim.release().await;
                    false
                }
            }
        })
        .await;
        stored.unwrap_or(false)
    }

    /// Releases the reservation after an answer that is not stored.
    pub async fn release(mut self) {
        if let Some(claim) = self.claim.take() {
            let _ = detached(claim.release()).await;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(claim) = self.claim.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key = claim.key, "idempotency reservation left to its lease");
            return;
        };
        runtime.spawn(claim.release());
    }
}

/// Runs `work` on its own task and waits for it. Dropping the wait does not stop the task.
async fn detached<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Result<T> {
    tokio::spawn(work).await.map_err(|err| {
        Error::Storage(StorageCause::described(format!(
            "idempotency task failed: {err}"
        )))
    })
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
