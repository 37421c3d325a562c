//! One batch of events (at most `ONCHAIN_RETRY_BATCH_SIZE`, one subscription batch): each
//! event becomes a [`Job`] (or is skipped), then the jobs are attempted together
//! ([`super::attempt`]) until each is confirmed or dead-lettered, backing off between rounds.

use alloy::primitives::Bytes;
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::domain::LedgerEvent;
use crate::store::Scope;
use crate::worker::Step;

use super::super::chain::{ChainError, Mined};
use super::super::record::{OnchainStatus, TxRecord};
use super::super::{contract, payload};
use super::Worker;

/// One transaction's subject on its way to the chain: a ledger event or a checkpoint anchor.
pub(super) struct Job {
    /// Its record's KV key.
    pub(super) key: String,
    /// The ledger event (`None` for a checkpoint anchor).
    pub(super) ledger: Option<LedgerEvent>,
    /// The contract call's calldata.
    pub(super) input: Bytes,
    /// The record as the sender will write it next.
    pub(super) record: TxRecord,
    /// The record as stored (compare-and-set), `None` when none is stored.
    pub(super) previous: Option<Value>,
}

/// How one job's attempt ended.
pub(super) enum Outcome {
    /// Mined and confirmed.
    Confirmed(Mined),
    /// A chain failure: counts as an attempt.
    Failed(ChainError),
    /// Not attempted this round (an earlier failure held it back): no attempt counted.
    Deferred,
}

impl Worker {
    /// Takes a batch of `ledger_event.recorded` events to a final status: skips, then attempts
    /// the rest together until each is confirmed or dead-lettered.
    pub(super) async fn handle_batch(
        &mut self,
        events: &[gridstore::Event],
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Step<()> {
        let mut jobs = Vec::with_capacity(events.len());
        for event in events {
            if let Some(job) = self.prepare(event).await? {
                jobs.push(job);
            }
        }
        while !jobs.is_empty() {
            let outcomes = self.attempt_batch(&mut jobs).await?;
            let mut retry = Vec::new();
            let mut most = 0;
            for (mut job, outcome) in jobs.into_iter().zip(outcomes) {
                match outcome {
                    Outcome::Confirmed(mined) => self.confirmed(&job, mined).await?,
                    Outcome::Deferred => retry.push(job),
                    Outcome::Failed(error) => {
                        job.record.attempts += 1;
                        job.record.note = Some(error.0.clone());
                        warn!(record = %job.key, attempt = job.record.attempts, error = %error, "on-chain attempt failed");
                        if let Some(ledger) = job
                            .ledger
                            .as_ref()
                            .filter(|_| job.record.attempts >= self.ctx.settings.max_retries)
                        {
                            super::super::exhausted::dead_letter(&self.ctx, ledger, job.record)
                                .await?;
                            continue;
                        }
                        job.previous =
                            Some(self.ctx.records.store_key(&job.key, &job.record).await?);
                        most = most.max(job.record.attempts);
                        retry.push(job);
                    }
                }
            }
            jobs = retry;
            if !jobs.is_empty() {
                self.back_off(most.max(1), stop).await?;
            }
        }
        Ok(())
    }

    /// The job of one outbox event; `None` when there is nothing to send (final already,
    /// skipped by the rules, unreadable).
    async fn prepare(&mut self, event: &gridstore::Event) -> Step<Option<Job>> {
        let Some(ledger) = event
            .payload
            .get("data")
            .cloned()
            .and_then(|data| serde_json::from_value::<LedgerEvent>(data).ok())
        else {
            warn!(position = %event.position, "ledger event without a readable payload skipped");
            return Ok(None);
        };
        let stored = self.ctx.records.load(&ledger.id).await?;
        if stored.as_ref().is_some_and(|(record, _)| record.is_final()) {
            return Ok(None);
        }
        let position = self
            .ctx
            .store
            .get_position(&Scope::Root, &ledger.position_id)
            .await?;
        if stored.is_none() {
            if let Err(skip) = self.skip_rule(&position.asset_id).await? {
                let mut record = TxRecord::new(OnchainStatus::Skipped, None);
                record.note = Some(skip.reason());
                self.ctx.records.store(&ledger.id, &record).await?;
                info!(ledger_event_id = %ledger.id, reason = %skip.reason(), "onchain_ledger_skip");
                return Ok(None);
            }
        }
        let (kind, payload_json) = payload::build(&ledger, &position);
        let input =
            contract::record_position_event(ledger.position_id.as_str(), &kind, &payload_json);
        let (record, previous) = match stored {
            Some((record, raw)) => (record, Some(raw)),
            None => (
                TxRecord::new(OnchainStatus::Pending, Some(self.ctx.chain.chain_id())),
                None,
            ),
        };
        Ok(Some(Job {
            key: super::super::record::key(&ledger.id),
            ledger: Some(ledger),
            input,
            record,
            previous,
        }))
    }

    /// Writes a confirmed record.
    pub(super) async fn confirmed(&self, job: &Job, mined: Mined) -> Step<()> {
        let mut record = job.record.clone();
        record.view.status = OnchainStatus::Confirmed;
        record.view.block_number = Some(mined.block_number);
        record.raw_tx = None;
        record.note = None;
        self.ctx.records.store_key(&job.key, &record).await?;
        debug!(record = %job.key, block = mined.block_number, "on-chain transaction confirmed");
        Ok(())
    }
}
