//! The sender: one per chain across all instances (a gridstore lease), following the outbox's
//! `ledger_event.recorded` events from its checkpoint in batches of at most
//! `ONCHAIN_RETRY_BATCH_SIZE`, in commit order.
//!
//! Per batch (`batch`): skip rules → sign one transaction per event (consecutive nonces from
//! the node) → persist each in its event's record → check the lease (fencing) → broadcast them
//! in nonce order → wait for the receipts and `confirmations` blocks → `confirmed`. A failure
//! counts an attempt for that event and waits `retry_delay × 2^(attempt-1)`; the last attempt
//! parks the event in the DLQ (`failed`) and audits `ONCHAIN_LEDGER_RETRY_EXHAUSTED`. A record
//! that already holds a signed transaction is re-broadcast, never re-signed, unless the chain
//! has passed its nonce without mining it (the transaction can then never be mined, so a new
//! one is safe).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gridstore::{EventFilter, Lease, SubscriptionOptions};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::Error;
use crate::domain::{AssetId, AssetTemplate};
use crate::store::{EscrowStore, Scope};
use crate::worker::{self, LeasedCursor, Step, Stop};

use super::chain::ChainClient;
use super::payload::{self, Skip};
use super::record::Records;
use super::{OnchainPorts, SenderSettings, sender_key};

mod anchor;
mod attempt;
mod batch;
mod redrive;

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
    let cursor = LeasedCursor::new(
        Arc::clone(&ctx.ports.locks),
        Arc::clone(&ctx.ports.checkpoints),
        sender_key(ctx.chain.chain_id()),
        lease,
        ctx.settings.lease_ttl,
    );
    let mut worker = Worker {
        ctx,
        cursor,
        templates: HashMap::new(),
        anchor_not_before: None,
    };
    match worker.work(stop).await {
        Ok(()) | Err(Stop::Done) => {}
        Err(Stop::LostLease) => info!("on-chain sender lease lost, worker stops"),
        Err(Stop::Failed(err)) => warn!(error = %err, "on-chain sender failed"),
    }
    worker.cursor.release().await;
}

pub(super) struct Worker {
    ctx: Arc<Context>,
    /// The sender's lease and checkpoint.
    cursor: LeasedCursor,
    /// Templates by asset (assets and templates never change).
    templates: HashMap<AssetId, Option<AssetTemplate>>,
    /// When checkpoint anchoring may try again after a failed round.
    anchor_not_before: Option<Instant>,
}

impl Worker {
    async fn work(&mut self, mut stop: watch::Receiver<bool>) -> Step<()> {
        let filter = EventFilter::all().event_type("ledger_event.recorded");
        let options = SubscriptionOptions {
            batch_size: self.ctx.settings.batch_size.max(1),
            poll_interval: self.ctx.settings.poll_interval,
        };
        let mut subscription = self
            .cursor
            .subscribe(&self.ctx.ports.events, filter, options)
            .await?;
        let tick = self.ctx.settings.poll_interval;
        loop {
            if let Some(batch) = worker::next_batch(&mut subscription, tick, &mut stop).await? {
                self.handle_batch(&batch, &mut stop).await?;
                self.cursor.save_checked(subscription.position()).await?;
            }
            self.cursor.keep().await?;
            self.redrive().await?;
            self.anchor().await?;
            if *stop.borrow() {
                return Err(Stop::Done);
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

    /// Waits `retry_delay × 2^(attempts-1)` (capped at 5 minutes), keeping the lease.
    async fn back_off(&mut self, attempts: u32, stop: &mut watch::Receiver<bool>) -> Step<()> {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        let delay = (self.ctx.settings.retry_delay * factor).min(Duration::from_secs(300));
        let until = Instant::now() + delay;
        while Instant::now() < until {
            let beat = self.cursor.beat().min(until - Instant::now());
            tokio::select! {
                () = tokio::time::sleep(beat) => {}
                _ = stop.changed() => return Err(Stop::Done),
            }
            self.cursor.keep().await?;
        }
        Ok(())
    }
}
