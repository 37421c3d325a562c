//! The background task that takes ledger checkpoints every `LEDGER_CHECKPOINT_INTERVAL_MS`.
//!
//! On PostgreSQL one instance at a time takes them: each tick first (re)acquires the gridstore
//! lease [`LEASE_KEY`] for three intervals; another instance's live lease makes the tick a
//! no-op, and a crashed leader's lease expires so another instance takes over. The
//! checkpoint's primary key (its number) rejects a second checkpoint with the same number even
//! if two leaders ever overlapped. On memory there is one process: the task just runs.

use std::sync::Arc;
use std::time::Duration;

use gridstore::Locks;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::domain::now_millis;
use crate::store::EscrowStore;

/// The lease that elects the checkpointing instance.
pub const LEASE_KEY: &str = "escrowgrid:ledger-checkpoints";

/// The running task; aborted when dropped.
#[derive(Debug)]
pub(super) struct CheckpointTask(JoinHandle<()>);

impl Drop for CheckpointTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the task (`None` when `interval` is zero: disabled).
pub(super) fn spawn(
    store: Arc<dyn EscrowStore>,
    locks: Option<Arc<dyn Locks>>,
    interval: Duration,
) -> Option<CheckpointTask> {
    if interval.is_zero() {
        return None;
    }
    let holder = format!("escrowgrid-{}", uuid::Uuid::new_v4());
    Some(CheckpointTask(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Some(locks) = &locks {
                match locks.acquire(LEASE_KEY, &holder, interval * 3).await {
                    Ok(_) => {}
                    Err(gridstore::Error::LockHeld { .. }) => continue,
                    Err(error) => {
                        warn!(%error, "cannot acquire the ledger checkpoint lease");
                        continue;
                    }
                }
            }
            match store.create_ledger_checkpoint(now_millis()).await {
                Ok(Some(taken)) => info!(
                    checkpoint.number = taken.number,
                    checkpoint.events = taken.event_count,
                    "ledger checkpoint taken"
                ),
                Ok(None) => debug!("no ledger events since the last checkpoint"),
                Err(error) => warn!(%error, "ledger checkpoint failed"),
            }
        }
    })))
}
