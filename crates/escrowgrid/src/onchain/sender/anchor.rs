//! Checkpoint anchoring: every ledger checkpoint's hash is recorded on chain with
//! `anchorCheckpoint(number, checkpointHash)`, by the same sender, lease and pipeline as the
//! events (signed transaction persisted in the anchor's record, `onchain:checkpoint:{number}`,
//! before its broadcast; re-broadcast, never re-signed, after a crash).
//!
//! The sender keeps the highest checkpoint number below which every anchor is final in the KV
//! (`onchain:{chainId}:anchored`); each round anchors at most `ONCHAIN_RETRY_BATCH_SIZE`
//! checkpoints after it. An anchor is never dead-lettered: a failed attempt waits
//! `retry_delay × 2^(attempts-1)` (at most 5 minutes) and tries again, since a checkpoint
//! left unanchored would weaken the evidence for good.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use serde_json::json;
use tracing::{info, warn};

use crate::worker::Step;

use super::super::contract;
use super::super::record::{OnchainStatus, TxRecord, checkpoint_key};
use super::Worker;
use super::batch::{Job, Outcome};

impl Worker {
    fn anchored_key(&self) -> String {
        format!("{}:anchored", self.cursor.key())
    }

    /// Anchors the checkpoints taken since the last round (unless a failed round is still
    /// waiting out its back-off).
    pub(super) async fn anchor(&mut self) -> Step<()> {
        if self
            .anchor_not_before
            .is_some_and(|not_before| Instant::now() < not_before)
        {
            return Ok(());
        }
        let kv = Arc::clone(&self.ctx.ports.kv);
        let after = kv
            .get(&self.anchored_key())
            .await?
            .and_then(|value| value.as_i64())
            .unwrap_or(0);
        let taken = self
            .ctx
            .store
            .ledger_checkpoints_after(after, self.ctx.settings.batch_size.max(1))
            .await?;
        if taken.is_empty() {
            return Ok(());
        }
        let mut jobs = Vec::with_capacity(taken.len());
        for checkpoint in &taken {
            let key = checkpoint_key(checkpoint.number);
            let stored = self.ctx.records.load_key(&key).await?;
            if stored.as_ref().is_some_and(|(record, _)| record.is_final()) {
                continue;
            }
            let Ok(hash) = checkpoint.hash.parse::<B256>() else {
                warn!(
                    checkpoint.number = checkpoint.number,
                    "checkpoint hash is not 32 bytes of hex; not anchored"
                );
                continue;
            };
            let (record, previous) = match stored {
                Some((record, raw)) => (record, Some(raw)),
                None => (
                    TxRecord::new(OnchainStatus::Pending, Some(self.ctx.chain.chain_id())),
                    None,
                ),
            };
            jobs.push(Job {
                key,
                ledger: None,
                input: contract::anchor_checkpoint(
                    u64::try_from(checkpoint.number).unwrap_or_default(),
                    hash,
                ),
                record,
                previous,
            });
        }
        let outcomes = self.attempt_batch(&mut jobs).await?;
        let mut failed_attempts = 0;
        let mut open = Vec::new();
        for (mut job, outcome) in jobs.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Confirmed(mined) => {
                    self.confirmed(&job, mined).await?;
                    info!(record = %job.key, block = mined.block_number, "ledger checkpoint anchored on chain");
                }
                Outcome::Failed(error) => {
                    job.record.attempts += 1;
                    job.record.note = Some(error.0.clone());
                    warn!(record = %job.key, attempt = job.record.attempts, error = %error, "checkpoint anchoring failed");
                    self.ctx.records.store_key(&job.key, &job.record).await?;
                    failed_attempts = failed_attempts.max(job.record.attempts);
                    open.push(job.key);
                }
                Outcome::Deferred => open.push(job.key),
            }
        }
        // Every checkpoint before the first open one is final: move the cursor past them.
        let through = taken
            .iter()
            .take_while(|checkpoint| !open.contains(&checkpoint_key(checkpoint.number)))
            .map(|checkpoint| checkpoint.number)
            .last();
        if let Some(through) = through {
            kv.set(&self.anchored_key(), json!(through), None).await?;
        }
        self.anchor_not_before = (failed_attempts > 0).then(|| {
            let factor = 1u32 << failed_attempts.saturating_sub(1).min(16);
            Instant::now() + (self.ctx.settings.retry_delay * factor).min(Duration::from_secs(300))
        });
        Ok(())
    }
}
