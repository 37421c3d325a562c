//! The sender: one per chain across all instances (a gridstore lease), following the outbox's
//! `ledger_event.recorded` events from its checkpoint, one event at a time, in commit order.
//!
//! Per event: skip rules → sign (nonce from the node) → persist the signed transaction in the
//! event's record → check the lease (fencing) → broadcast → wait for the receipt and
//! `confirmations` blocks → `confirmed`. A failure counts an attempt and waits
//! `retry_delay × 2^(attempt-1)`; the last attempt parks the event in the DLQ (`failed`) and
//! audits `ONCHAIN_LEDGER_RETRY_EXHAUSTED`. A record that already holds a signed transaction
//! is re-broadcast, never re-signed, unless the chain has passed its nonce without mining it
//! (the transaction can then never be mined, so a new one is safe).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::Bytes;
use gridstore::{Event, EventFilter, EventPosition, Lease, Subscription, SubscriptionOptions};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::Error;
use crate::domain::{AssetId, AssetTemplate, LedgerEvent};
use crate::store::{EscrowStore, Scope};

use super::chain::{ChainClient, ChainError, Mined};
use super::payload::{self, Skip};
use super::record::{OnchainStatus, Records, TxRecord};
use super::{OnchainPorts, SenderSettings, contract, sender_key};

mod redrive;

/// Why a worker stopped.
#[derive(Debug)]
pub(super) enum Stop {
    /// Shutdown.
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
            gridstore::Error::LockNotHeld { .. } => Self::LostLease,
            other => Self::Failed(other.into()),
        }
    }
}

type Step<T> = std::result::Result<T, Stop>;

/// Everything a worker uses.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) store: Arc<dyn EscrowStore>,
    pub(super) ports: OnchainPorts,
    pub(super) records: Records,
    pub(super) chain: ChainClient,
    pub(super) settings: SenderSettings,
}

/// Runs the sender under `lease` until it stops.
pub(super) async fn run(ctx: Arc<Context>, lease: Lease, stop: watch::Receiver<bool>) {
    let mut worker = Worker {
        ctx,
        lease,
        extended: Instant::now(),
        templates: HashMap::new(),
    };
    match worker.work(stop).await {
        Ok(()) | Err(Stop::Done) => {}
        Err(Stop::LostLease) => info!("on-chain sender lease lost, worker stops"),
        Err(Stop::Failed(err)) => warn!(error = %err, "on-chain sender failed"),
    }
    let _ = worker.ctx.ports.locks.release(&worker.lease).await;
}

pub(super) struct Worker {
    ctx: Arc<Context>,
    lease: Lease,
    extended: Instant,
    /// Templates by asset (assets and templates never change).
    templates: HashMap<AssetId, Option<AssetTemplate>>,
}

impl Worker {
    fn key(&self) -> String {
        sender_key(self.ctx.chain.chain_id())
    }

    async fn work(&mut self, mut stop: watch::Receiver<bool>) -> Step<()> {
        let start = self.checkpoint().await?;
        let filter = EventFilter::all().event_type("ledger_event.recorded");
        let options = SubscriptionOptions {
            batch_size: self.ctx.settings.batch_size.max(1),
            poll_interval: self.ctx.settings.poll_interval,
        };
        let mut subscription =
            Subscription::new(Arc::clone(&self.ctx.ports.events), start, filter, options)
                .with_name(self.key());
        let tick = self.ctx.settings.poll_interval;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(tick, subscription.next_batch()) => next,
                _ = stop.changed() => return Err(Stop::Done),
            };
            if let Ok(batch) = next {
                for event in batch? {
                    self.handle(&event, &mut stop).await?;
                }
                self.save_checkpoint(subscription.position()).await?;
            }
            self.keep_lease().await?;
            self.redrive().await?;
            if *stop.borrow() {
                return Err(Stop::Done);
            }
        }
    }

    /// Extends the lease when a third of its TTL has passed.
    async fn keep_lease(&mut self) -> Step<()> {
        if self.extended.elapsed() >= self.ctx.settings.lease_ttl / 3 {
            self.extend_lease().await?;
        }
        Ok(())
    }

    /// Extends the lease: the fencing check before every send (fails once another instance
    /// took it).
    async fn extend_lease(&mut self) -> Step<()> {
        self.lease = self
            .ctx
            .ports
            .locks
            .extend(&self.lease, self.ctx.settings.lease_ttl)
            .await?;
        self.extended = Instant::now();
        Ok(())
    }

    /// Where to resume; stops when a newer lease holder already wrote a checkpoint.
    async fn checkpoint(&self) -> Step<Option<EventPosition>> {
        let Some(saved) = self.ctx.ports.checkpoints.load_latest(&self.key()).await? else {
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

    async fn save_checkpoint(&mut self, position: EventPosition) -> Step<()> {
        self.extend_lease().await?;
        self.checkpoint().await?;
        let data =
            json!({"position": position.to_string(), "fencingToken": self.lease.fencing_token});
        let key = self.key();
        self.ctx.ports.checkpoints.save(&key, data).await?;
        self.ctx.ports.checkpoints.keep_last(&key, 1).await?;
        Ok(())
    }

    /// Takes one `ledger_event.recorded` event to a final status.
    async fn handle(&mut self, event: &Event, stop: &mut watch::Receiver<bool>) -> Step<()> {
        let Some(ledger) = event
            .payload
            .get("data")
            .cloned()
            .and_then(|data| serde_json::from_value::<LedgerEvent>(data).ok())
        else {
            warn!(position = %event.position, "ledger event without a readable payload skipped");
            return Ok(());
        };
        let mut stored = self.ctx.records.load(&ledger.id).await?;
        if stored.as_ref().is_some_and(|(record, _)| record.is_final()) {
            return Ok(());
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
                return Ok(());
            }
        }
        let (kind, payload_json) = payload::build(&ledger, &position);
        let input =
            contract::record_position_event(ledger.position_id.as_str(), &kind, &payload_json);
        loop {
            let (mut record, previous) = match stored.take() {
                Some((record, raw)) => (record, Some(raw)),
                None => (
                    TxRecord::new(OnchainStatus::Pending, Some(self.ctx.chain.chain_id())),
                    None,
                ),
            };
            match self
                .attempt(&ledger, &input, &mut record, previous.as_ref())
                .await
            {
                Ok(mined) => {
                    record.view.status = OnchainStatus::Confirmed;
                    record.view.block_number = Some(mined.block_number);
                    record.raw_tx = None;
                    record.note = None;
                    self.ctx.records.store(&ledger.id, &record).await?;
                    debug!(ledger_event_id = %ledger.id, block = mined.block_number, "on-chain event confirmed");
                    return Ok(());
                }
                Err(Attempt::Stop(stop)) => return Err(stop),
                Err(Attempt::Chain(error)) => {
                    record.attempts += 1;
                    record.note = Some(error.0.clone());
                    warn!(ledger_event_id = %ledger.id, attempt = record.attempts, error = %error, "on-chain attempt failed");
                    if record.attempts >= self.ctx.settings.max_retries {
                        return super::exhausted::dead_letter(&self.ctx, &ledger, record)
                            .await
                            .map_err(Stop::from);
                    }
                    let raw = self.ctx.records.store(&ledger.id, &record).await?;
                    stored = Some((record.clone(), raw));
                    self.back_off(record.attempts, stop).await?;
                }
            }
        }
    }

    /// The original's skip rules on the position's template (`Ok(Err(skip))` to skip); a
    /// missing asset or template skips too.
    async fn skip_rule(&mut self, asset_id: &AssetId) -> Step<std::result::Result<(), Skip>> {
        if !self.templates.contains_key(asset_id) {
            let template = match self.ctx.store.get_asset(&Scope::Root, asset_id).await {
                Ok(asset) => match self
                    .ctx
                    .store
                    .get_asset_template(&Scope::Root, &asset.template_id)
                    .await
                {
                    Ok(template) => Some(template),
                    Err(Error::NotFound { .. }) => None,
                    Err(other) => return Err(Stop::Failed(other)),
                },
                Err(Error::NotFound { .. }) => None,
                Err(other) => return Err(Stop::Failed(other)),
            };
            self.templates.insert(asset_id.clone(), template);
        }
        Ok(
            match self.templates.get(asset_id).and_then(Option::as_ref) {
                Some(template) => {
                    payload::check_template(template, self.ctx.settings.configured_chain_id)
                }
                None => Err(Skip::NotEnabled),
            },
        )
    }

    /// One attempt: sign and persist (unless a signed transaction is stored), check the lease,
    /// broadcast, wait for the receipt and the confirmations.
    async fn attempt(
        &mut self,
        ledger: &LedgerEvent,
        input: &Bytes,
        record: &mut TxRecord,
        previous: Option<&Value>,
    ) -> std::result::Result<Mined, Attempt> {
        let chain = self.ctx.chain.clone();
        if let (Some(raw), Some(hash), Some(nonce)) = (
            record.raw_tx.clone(),
            record.view.tx_hash.clone(),
            record.nonce,
        ) {
            let hash = hash
                .parse()
                .map_err(|_| Attempt::Chain(ChainError("stored tx hash does not parse".into())))?;
            if chain.receipt(hash).await?.is_none() && chain.mined_nonce().await? > nonce {
                // Its nonce was used by another transaction: this one can never be mined.
                record.raw_tx = None;
                record.view.tx_hash = None;
                record.nonce = None;
            } else {
                let raw: Bytes = raw
                    .parse()
                    .map_err(|_| Attempt::Chain(ChainError("stored tx does not parse".into())))?;
                self.extend_lease().await.map_err(Attempt::Stop)?;
                chain.broadcast(&raw).await?;
                return self.confirm(hash).await;
            }
        }
        let nonce = chain.pending_nonce().await?;
        let signed = chain.sign(input.clone(), nonce).await?;
        record.view.tx_hash = Some(signed.hash.to_string());
        record.view.chain_id = Some(chain.chain_id());
        record.nonce = Some(signed.nonce);
        record.raw_tx = Some(signed.raw.to_string());
        // Persist before broadcast: a crash from here on re-broadcasts this very transaction.
        let written = self
            .ctx
            .records
            .replace(&ledger.id, previous, record)
            .await
            .map_err(|e| Attempt::Stop(Stop::Failed(e)))?;
        if !written {
            // Someone else (a former lease holder) wrote the record meanwhile: take theirs.
            return Err(Attempt::Stop(Stop::LostLease));
        }
        self.extend_lease().await.map_err(Attempt::Stop)?;
        chain.broadcast(&signed.raw).await?;
        self.confirm(signed.hash).await
    }

    /// Waits for the receipt, then for `confirmations` blocks; keeps the lease meanwhile.
    async fn confirm(
        &mut self,
        hash: alloy::primitives::B256,
    ) -> std::result::Result<Mined, Attempt> {
        let chain = self.ctx.chain.clone();
        let deadline = Instant::now() + self.ctx.settings.confirm_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            if let Some(mined) = chain.receipt(hash).await? {
                if !mined.success {
                    return Err(Attempt::Chain(ChainError(
                        "the transaction reverted".into(),
                    )));
                }
                let needed = mined.block_number + self.ctx.settings.confirmations.max(1) - 1;
                if chain.head().await? >= needed {
                    return Ok(mined);
                }
            }
            if Instant::now() >= deadline {
                return Err(Attempt::Chain(ChainError(format!(
                    "not confirmed within {:?}",
                    self.ctx.settings.confirm_timeout
                ))));
            }
            self.keep_lease().await.map_err(Attempt::Stop)?;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Waits `retry_delay × 2^(attempts-1)` (capped at 5 minutes), keeping the lease.
    async fn back_off(&mut self, attempts: u32, stop: &mut watch::Receiver<bool>) -> Step<()> {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        let delay = (self.ctx.settings.retry_delay * factor).min(Duration::from_secs(300));
        let until = Instant::now() + delay;
        while Instant::now() < until {
            let beat = (self.ctx.settings.lease_ttl / 3).min(until - Instant::now());
            tokio::select! {
                () = tokio::time::sleep(beat) => {}
                _ = stop.changed() => return Err(Stop::Done),
            }
            self.keep_lease().await?;
        }
        Ok(())
    }
}

/// How an attempt ended without a confirmation.
pub(super) enum Attempt {
    /// A chain failure: counts as an attempt.
    Chain(ChainError),
    /// The worker must stop (lost lease, storage failure).
    Stop(Stop),
}

impl From<ChainError> for Attempt {
    fn from(error: ChainError) -> Self {
        Self::Chain(error)
    }
}
