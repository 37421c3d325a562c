//! One request's claim on an idempotency key: reserving it, completing it with the response,
//! and releasing it (retried in the background when the store fails), from a task of its own
//! so that cancelling the request cuts none of it in half (see the parent module).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use gridstore::KvStore;
use serde_json::Value;

use super::{Record, Reservation, StoredResponse};
use crate::{Error, Result, StorageCause};

/// How many times a reservation is attempted when the key is freed between the failed
/// `set_if_absent` and the read of its holder.
const RESERVE_ATTEMPTS: usize = 5;

/// The first pause before a failed release is tried again; it doubles up to
/// [`RELEASE_RETRY_MAX`].
const RELEASE_RETRY_FIRST: Duration = Duration::from_millis(50);

/// The longest pause between two release attempts.
const RELEASE_RETRY_MAX: Duration = Duration::from_secs(2);

/// The KV key and this request's reservation value.
#[derive(Clone)]
pub(super) struct Claim {
    pub(super) kv: Arc<dyn KvStore>,
    pub(super) key: String,
    pub(super) retention: Duration,
    pub(super) request_hash: String,
    /// When the reservation's lease ends at the latest (retrying a release after that is
    /// pointless: the key is free or another request's).
    pub(super) lease_ends: tokio::time::Instant,
    pub(super) reservation: Value,
}

impl Claim {
    /// Reserves the key for `lease`, or reads who holds it (see [`Reservation`]).
    pub(super) async fn reserve(self, lease: Duration) -> Result<Reservation> {
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
pub(super) async fn detached<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T> {
    tokio::spawn(work).await.map_err(|err| {
        Error::Storage(StorageCause::described(format!(
            "idempotency task failed: {err}"
        )))
    })
}
