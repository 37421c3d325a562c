//! One batch of events (at most `ONCHAIN_RETRY_BATCH_SIZE`, one subscription batch), pipelined:
//! every transaction is signed (consecutive nonces) and persisted in its event's record before
//! the first broadcast, then all are broadcast in nonce order, then their receipts are awaited
//! together.
//!
//! Exactly once, per transaction: a transaction is broadcast only after its record holds it;
//! a stored transaction is re-broadcast (same bytes), never re-signed, unless the account's
//! mined nonce had already passed its nonce (read **before** its receipt) while it has no
//! receipt: its nonce was then consumed by another transaction, so it can never be mined.

use std::time::{Duration, Instant};

use alloy::primitives::{B256, Bytes};
use futures_util::future::join_all;
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::domain::LedgerEvent;
use crate::store::Scope;

use super::super::chain::{ChainError, Mined};
use super::super::record::{OnchainStatus, TxRecord};
use super::super::{contract, payload};
use super::{Step, Stop, Worker};

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

/// A stored transaction, parsed.
struct Stored {
    raw: Bytes,
    hash: B256,
    nonce: u64,
}

fn stored(record: &TxRecord) -> Option<Result<Stored, ChainError>> {
    let (raw, hash, nonce) = (
        record.raw_tx.as_ref()?,
        record.view.tx_hash.as_ref()?,
        record.nonce?,
    );
    Some(match (raw.parse(), hash.parse()) {
        (Ok(raw), Ok(hash)) => Ok(Stored { raw, hash, nonce }),
        _ => Err(ChainError("the stored transaction does not parse".into())),
    })
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

    /// One attempt for every job: re-broadcast stored transactions (or drop those whose nonce
    /// was consumed by another), sign and persist the others, broadcast, await the receipts.
    /// One outcome per job, in order.
    pub(super) async fn attempt_batch(&mut self, jobs: &mut [Job]) -> Step<Vec<Outcome>> {
        let mut outcomes: Vec<Option<Outcome>> = jobs.iter().map(|_| None).collect();
        let mut sent: Vec<Option<B256>> = vec![None; jobs.len()];
        self.resend_stored(jobs, &mut outcomes, &mut sent).await?;
        self.sign_and_send(jobs, &mut outcomes, &mut sent).await?;
        self.confirm_all(&sent, &mut outcomes).await?;
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Outcome::Deferred))
            .collect())
    }

    /// Phase 1: jobs whose record holds a signed transaction.
    async fn resend_stored(
        &mut self,
        jobs: &mut [Job],
        outcomes: &mut [Option<Outcome>],
        sent: &mut [Option<B256>],
    ) -> Step<()> {
        if !jobs.iter().any(|job| job.record.raw_tx.is_some()) {
            return Ok(());
        }
        let chain = self.ctx.chain.clone();
        // The mined nonce is read before any receipt: a transaction without a receipt whose
        // nonce is below it can no longer be mined (if it had been mined in between, the
        // receipt read afterwards would show it).
        let mined_nonce = match chain.mined_nonce().await {
            Ok(nonce) => nonce,
            Err(error) => {
                for (i, job) in jobs.iter().enumerate() {
                    if job.record.raw_tx.is_some() {
                        outcomes[i] = Some(Outcome::Failed(error.clone()));
                    }
                }
                return Ok(());
            }
        };
        let mut resend: Vec<(u64, usize, Bytes, B256)> = Vec::new();
        for (i, job) in jobs.iter_mut().enumerate() {
            let stored = match stored(&job.record) {
                None => continue,
                Some(Err(error)) => {
                    outcomes[i] = Some(Outcome::Failed(error));
                    continue;
                }
                Some(Ok(stored)) => stored,
            };
            match chain.receipt(stored.hash).await {
                Err(error) => outcomes[i] = Some(Outcome::Failed(error)),
                Ok(Some(_)) => sent[i] = Some(stored.hash),
                Ok(None) if stored.nonce < mined_nonce => {
                    // Its nonce was used by another transaction: this one can never be mined.
                    job.record.raw_tx = None;
                    job.record.view.tx_hash = None;
                    job.record.nonce = None;
                }
                Ok(None) => resend.push((stored.nonce, i, stored.raw, stored.hash)),
            }
        }
        if resend.is_empty() {
            return Ok(());
        }
        resend.sort_by_key(|(nonce, ..)| *nonce);
        self.extend_lease().await?;
        for (_, i, raw, hash) in resend {
            match chain.broadcast(&raw).await {
                Ok(()) => sent[i] = Some(hash),
                Err(error) => outcomes[i] = Some(Outcome::Failed(error)),
            }
        }
        Ok(())
    }

    /// Phase 2: jobs without a stored transaction get one each (consecutive nonces), all
    /// persisted before the first broadcast.
    async fn sign_and_send(
        &mut self,
        jobs: &mut [Job],
        outcomes: &mut [Option<Outcome>],
        sent: &mut [Option<B256>],
    ) -> Step<()> {
        let todo: Vec<usize> = (0..jobs.len())
            .filter(|&i| outcomes[i].is_none() && sent[i].is_none())
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        let chain = self.ctx.chain.clone();
        let fail_all = |outcomes: &mut [Option<Outcome>], error: ChainError| {
            for &i in &todo {
                outcomes[i] = Some(Outcome::Failed(error.clone()));
            }
        };
        let (nonce, fees) = match (chain.pending_nonce().await, chain.fees().await) {
            (Ok(nonce), Ok(fees)) => (nonce, fees),
            (Err(error), _) | (_, Err(error)) => {
                fail_all(outcomes, error);
                return Ok(());
            }
        };
        let gas = join_all(
            todo.iter()
                .map(|&i| chain.estimate_gas(jobs[i].input.clone())),
        )
        .await;
        let mut next_nonce = nonce;
        let mut signed = Vec::new();
        for (&i, gas) in todo.iter().zip(gas) {
            let gas = match gas {
                Ok(gas) => gas,
                Err(error) => {
                    // No nonce is taken: the later ones keep the nonces consecutive.
                    outcomes[i] = Some(Outcome::Failed(error));
                    continue;
                }
            };
            match chain
                .sign_with(jobs[i].input.clone(), next_nonce, gas, fees)
                .await
            {
                Ok(tx) => {
                    next_nonce += 1;
                    let record = &mut jobs[i].record;
                    record.view.tx_hash = Some(tx.hash.to_string());
                    record.view.chain_id = Some(chain.chain_id());
                    record.nonce = Some(tx.nonce);
                    record.raw_tx = Some(tx.raw.to_string());
                    signed.push((i, tx));
                }
                Err(error) => outcomes[i] = Some(Outcome::Failed(error)),
            }
        }
        // Persist before broadcast: a crash from here on re-broadcasts these very transactions.
        let records = &self.ctx.records;
        let written = join_all(signed.iter().map(|(i, _)| {
            let job = &jobs[*i];
            records.replace(&job.key, job.previous.as_ref(), &job.record)
        }))
        .await;
        for ((i, _), written) in signed.iter().zip(written) {
            match written.map_err(Stop::Failed)? {
                Some(value) => jobs[*i].previous = Some(value),
                // Someone else (a former lease holder) wrote the record meanwhile.
                None => return Err(Stop::LostLease),
            }
        }
        if signed.is_empty() {
            return Ok(());
        }
        self.extend_lease().await?;
        for (i, tx) in signed {
            match chain.broadcast(&tx.raw).await {
                Ok(()) => sent[i] = Some(tx.hash),
                Err(error) => outcomes[i] = Some(Outcome::Failed(error)),
            }
        }
        Ok(())
    }

    /// Phase 3: waits for the receipts of every sent transaction, then for `confirmations`
    /// blocks; keeps the lease meanwhile.
    async fn confirm_all(
        &mut self,
        sent: &[Option<B256>],
        outcomes: &mut [Option<Outcome>],
    ) -> Step<()> {
        let chain = self.ctx.chain.clone();
        let deadline = Instant::now() + self.ctx.settings.confirm_timeout;
        let confirmations = self.ctx.settings.confirmations.max(1);
        let mut pause = Duration::from_millis(10);
        let mut waiting: Vec<(usize, B256)> = sent
            .iter()
            .enumerate()
            .filter_map(|(i, hash)| hash.filter(|_| outcomes[i].is_none()).map(|h| (i, h)))
            .collect();
        while !waiting.is_empty() {
            let receipts = join_all(waiting.iter().map(|(_, hash)| chain.receipt(*hash))).await;
            let mut mined = Vec::new();
            let mut still = Vec::new();
            for ((i, hash), receipt) in waiting.into_iter().zip(receipts) {
                match receipt {
                    Err(error) => outcomes[i] = Some(Outcome::Failed(error)),
                    Ok(Some(m)) if !m.success => {
                        outcomes[i] = Some(Outcome::Failed(ChainError(
                            "the transaction reverted".into(),
                        )));
                    }
                    Ok(Some(m)) => mined.push((i, hash, m)),
                    Ok(None) => still.push((i, hash)),
                }
            }
            if !mined.is_empty() {
                match chain.head().await {
                    Ok(head) => {
                        for (i, hash, m) in mined {
                            if head >= m.block_number + confirmations - 1 {
                                outcomes[i] = Some(Outcome::Confirmed(m));
                            } else {
                                still.push((i, hash));
                            }
                        }
                    }
                    Err(error) => {
                        for (i, ..) in mined {
                            outcomes[i] = Some(Outcome::Failed(error.clone()));
                        }
                    }
                }
            }
            waiting = still;
            if waiting.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let error = ChainError(format!(
                    "not confirmed within {:?}",
                    self.ctx.settings.confirm_timeout
                ));
                for (i, _) in waiting {
                    outcomes[i] = Some(Outcome::Failed(error.clone()));
                }
                break;
            }
            self.keep_lease().await?;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
        Ok(())
    }
}
