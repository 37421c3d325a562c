//! The leased-worker loop the on-chain sender ([`crate::onchain`]) and the webhook dispatcher
//! ([`crate::webhooks`]) share: a worker runs under a gridstore lease with a fencing token,
//! renews it every third of its TTL, follows the event log from its checkpoint, saves the
//! checkpoint after each batch and gives the lease back when it stops.
//!
//! What each worker does with a batch, and when it saves, stays with it; this module holds the
//! lease, the checkpoint and the wait for the next batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridstore::{
    CheckpointStore, DeadLetterQueue, DlqOutcome, Event, EventFilter, EventLog, EventPosition,
    Lease, Locks, NewDlqItem, Subscription, SubscriptionOptions,
};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// Why a worker stopped.
#[derive(Debug)]
pub(crate) enum Stop {
    /// Shutdown, or the worker has nothing left to do.
    Done,
    /// Another holder has the lease (or a newer fencing token wrote the checkpoint).
    LostLease,
    /// A storage failure; the manager starts again on its next round.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(err: Error) -> Self {
        Self::Failed(err)
    }
}

impl From<gridstore::Error> for Stop {
    fn from(err: gridstore::Error) -> Self {
        match err {
            gridstore::Error::LockNotHeld { .. } | gridstore::Error::Fenced { .. } => {
                Self::LostLease
            }
            other => Self::Failed(other.into()),
        }
    }
}

/// A step of a worker: [`Stop`] ends it.
pub(crate) type Step<T> = std::result::Result<T, Stop>;

/// A held lease and the checkpoint of the workflow it guards (both under one key).
#[derive(Debug)]
pub(crate) struct LeasedCursor {
    locks: Arc<dyn Locks>,
    checkpoints: Arc<dyn CheckpointStore>,
    key: String,
    lease: Lease,
    ttl: Duration,
    /// When the lease was last extended.
    extended: Instant,
}

impl LeasedCursor {
    /// Wraps `lease`, just acquired for `ttl`, on the workflow `key`.
    pub(crate) fn new(
        locks: Arc<dyn Locks>,
        checkpoints: Arc<dyn CheckpointStore>,
        key: String,
        lease: Lease,
        ttl: Duration,
    ) -> Self {
        Self {
            locks,
            checkpoints,
            key,
            lease,
            ttl,
            extended: Instant::now(),
        }
    }

    /// The workflow's key (the lease's and the checkpoint's).
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// How often the lease is renewed: a third of its TTL.
    pub(crate) fn beat(&self) -> Duration {
        self.ttl / 3
    }

    /// Extends the lease when a third of its TTL has passed.
    pub(crate) async fn keep(&mut self) -> Step<()> {
        if self.extended.elapsed() >= self.beat() {
            self.extend().await?;
        }
        Ok(())
    }

    /// Extends the lease: the fencing check ([`Stop::LostLease`] once another holder has it).
    pub(crate) async fn extend(&mut self) -> Step<()> {
        self.lease = self.locks.extend(&self.lease, self.ttl).await?;
        self.extended = Instant::now();
        Ok(())
    }

    /// Gives the lease back (errors ignored: it expires anyway).
    pub(crate) async fn release(&self) {
        let _ = self.locks.release(&self.lease).await;
    }

    /// Where to resume; [`Stop::LostLease`] when a newer lease holder already wrote a
    /// checkpoint.
    pub(crate) async fn resume_position(&self) -> Step<Option<EventPosition>> {
        let Some(saved) = self.checkpoints.load_latest(&self.key).await? else {
            return Ok(None);
        };
        let token = saved.data.get("fencingToken").and_then(Value::as_u64);
        if token.is_some_and(|token| token > self.lease.fencing_token) {
            return Err(Stop::LostLease);
        }
        Ok(saved
            .data
            .get("position")
            .and_then(Value::as_str)
            .and_then(|text| text.parse().ok()))
    }

    /// Subscribes to `events` from the checkpoint ([`Self::resume_position`]), named by the key.
    pub(crate) async fn subscribe(
        &self,
        events: &Arc<dyn EventLog>,
        filter: EventFilter,
        options: SubscriptionOptions,
    ) -> Step<Subscription> {
        let start = self.resume_position().await?;
        Ok(
            Subscription::new(Arc::clone(events), start, filter, options)
                .with_name(self.key.clone()),
        )
    }

    /// Extends the lease, checks that no newer holder saved, saves `position` and keeps only
    /// that checkpoint.
    pub(crate) async fn save_checked(&mut self, position: EventPosition) -> Step<()> {
        self.extend().await?;
        self.resume_position().await?;
        self.checkpoints
            .save(&self.key, self.data(position))
            .await?;
        self.checkpoints.keep_last(&self.key, 1).await?;
        Ok(())
    }

    /// Extends the lease and saves `position` fenced by the lease's token: once a newer holder
    /// saved, the store refuses this worker's saves ([`Stop::LostLease`]), so a stale worker can
    /// never move the progress back. `prune` also drops the older checkpoints.
    pub(crate) async fn save_fenced(&mut self, position: EventPosition, prune: bool) -> Step<()> {
        self.extend().await?;
        let token = self.lease.fencing_token;
        self.checkpoints
            .save_fenced(&self.key, token, self.data(position))
            .await?;
        if prune {
            self.checkpoints.keep_last(&self.key, 1).await?;
        }
        Ok(())
    }

    fn data(&self, position: EventPosition) -> Value {
        json!({"position": position.to_string(), "fencingToken": self.lease.fencing_token})
    }
}

/// Waits at most `tick` for the next batch: `Ok(None)` when none came in time,
/// [`Stop::Done`] when `stop` changes first.
pub(crate) async fn next_batch(
    subscription: &mut Subscription,
    tick: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Step<Option<Vec<Event>>> {
    tokio::select! {
        next = tokio::time::timeout(tick, subscription.next_batch()) => match next {
            Ok(batch) => Ok(Some(batch?)),
            Err(_) => Ok(None),
        },
        _ = stop.changed() => Err(Stop::Done),
    }
}

/// A running background task (the on-chain sender, the webhook dispatcher) and its stop
/// signal. Dropping it aborts the task, like a crash: its leases are not given back, they
/// expire after their TTL.
#[derive(Debug)]
pub struct TaskHandle {
    task: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl TaskHandle {
    /// Spawns `run` on the current tokio runtime with the receiving end of the stop signal.
    pub(crate) fn spawn<F>(run: impl FnOnce(watch::Receiver<bool>) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(stop_rx));
        Self {
            task: Some(task),
            stop: stop_tx,
        }
    }

    /// Asks the task to stop after its current batch, waits for it (its workers give their
    /// leases back) and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops everything at once, mid-batch: leases are not given back (they expire).
    pub fn abort(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Enqueues `item` in `dlq` and parks it at once (`Ineligible`, with the item's error as the
/// reason) until someone re-drives it; returns the stored item's id.
pub(crate) async fn park_in_dlq(dlq: &dyn DeadLetterQueue, item: NewDlqItem) -> Result<i64> {
    let reason = item.error.clone();
    let stored = dlq.enqueue(item).await?;
    dlq.force_settle(stored.id, DlqOutcome::Ineligible { reason })
        .await?;
    Ok(stored.id)
}
