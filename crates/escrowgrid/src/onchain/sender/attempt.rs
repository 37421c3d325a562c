//! One pipelined attempt of a batch's jobs: every transaction is signed (consecutive nonces)
//! and persisted in its event's record before the first broadcast, then all are broadcast in
//! nonce order, then their receipts are awaited together.
//!
//! Exactly once, per transaction: a transaction is broadcast only after its record holds it;
//! a stored transaction is re-broadcast (same bytes), never re-signed, unless the account's
//! mined nonce had already passed its nonce (read **before** its receipt) while it has no
//! receipt: its nonce was then consumed by another transaction, so it can never be mined.

use std::time::{Duration, Instant};

use alloy::primitives::{B256, Bytes};
use futures_util::future::join_all;

use crate::worker::{Step, Stop};

use super::super::chain::ChainError;
use super::super::record::TxRecord;
use super::Worker;
use super::batch::{Job, Outcome};

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
        self.cursor.extend().await?;
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
        self.cursor.extend().await?;
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
            self.cursor.keep().await?;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
        Ok(())
    }
}
