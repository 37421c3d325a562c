//! One endpoint's worker: follows the institution's stream from the endpoint's checkpoint,
//! delivers each batch in lanes (one per position), moves the checkpoint, keeps its lease.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use gridstore::{Event, EventFilter, EventPosition, Lease, SubscriptionOptions};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::Error;
use crate::domain::{WebhookId, WebhookUrl};
use crate::worker::{self, LeasedCursor, Step, Stop};

use super::delivery::{self, Endpoint, Message};
use super::dispatcher::Context;
use super::endpoint_key;

/// Runs the worker of `id` under `lease` until it stops; returns `id` for the manager.
pub(super) async fn run(
    ctx: Arc<Context>,
    lease: Lease,
    id: WebhookId,
    stop: watch::Receiver<bool>,
) -> WebhookId {
    let cursor = LeasedCursor::new(
        Arc::clone(&ctx.ports.locks),
        Arc::clone(&ctx.ports.checkpoints),
        endpoint_key(&id),
        lease,
        ctx.settings.lease_ttl,
    );
    let mut worker = Worker {
        ctx,
        cursor,
        id: id.clone(),
        saves: 0,
    };
    match worker.work(stop).await {
        Err(Stop::Done) | Ok(()) => {}
        Err(Stop::LostLease) => info!(webhook_id = %id, "webhook lease lost, worker stops"),
        Err(Stop::Failed(err)) => warn!(webhook_id = %id, error = %err, "webhook worker failed"),
    }
    worker.cursor.release().await;
    id
}

struct Worker {
    ctx: Arc<Context>,
    /// The endpoint's lease and checkpoint.
    cursor: LeasedCursor,
    id: WebhookId,
    saves: u64,
}

impl Worker {
    async fn work(&mut self, mut stop: watch::Receiver<bool>) -> Step<()> {
        let mut endpoint = self.endpoint().await?;
        let filter = EventFilter::all()
            .stream(format!("inst:{}", endpoint.webhook.institution_id))
            .recorded_between(Some(endpoint.webhook.created_at), None);
        let options = SubscriptionOptions {
            batch_size: self.ctx.settings.batch_size.max(1),
            poll_interval: self.ctx.settings.refresh_interval,
        };
        let mut subscription = self
            .cursor
            .subscribe(&self.ctx.ports.events, filter, options)
            .await?;
        let tick = self.ctx.settings.refresh_interval;
        let mut idle = Duration::ZERO;
        // The first batch after taking the lease may repeat one an earlier holder did not
        // finish: its deliveries resume from their records (see `delivery::deliver`).
        let mut resume = true;
        loop {
            match worker::next_batch(&mut subscription, tick, &mut stop).await? {
                None => idle += tick,
                Some(batch) => {
                    idle = Duration::ZERO;
                    self.deliver_batch(&endpoint, &batch, resume, &mut stop)
                        .await?;
                    resume = false;
                    self.save_checkpoint(subscription.position()).await?;
                }
            }
            self.cursor.keep().await?;
            delivery::redrive(&self.ctx, &endpoint).await?;
            if *stop.borrow() || idle >= self.ctx.settings.idle_release {
                return Err(Stop::Done);
            }
            endpoint = self.endpoint().await?;
        }
    }

    /// The endpoint as stored now (URL, types and secret may have changed).
    async fn endpoint(&self) -> Step<Endpoint> {
        let target = self.ctx.store.webhook_target(&self.id).await?;
        let Some(target) = target.filter(|target| target.webhook.enabled) else {
            return Err(Stop::Done);
        };
        let url = WebhookUrl::parse(&target.webhook.url).map_err(|message| {
            Stop::Failed(Error::Config {
                key: "url".into(),
                message,
            })
        })?;
        let secret = self
            .ctx
            .secrets
            .open(&self.id, &target.sealed_secret)
            .map_err(|message| {
                Stop::Failed(Error::Config {
                    key: "WEBHOOKS_SECRET_KEY".into(),
                    message,
                })
            })?;
        Ok(Endpoint {
            webhook: target.webhook,
            url,
            secret,
        })
    }

    /// Saves the cursor fenced by the lease's token ([`LeasedCursor::save_fenced`]), dropping
    /// the older checkpoints every 64 saves.
    async fn save_checkpoint(&mut self, position: EventPosition) -> Step<()> {
        let prune = (self.saves + 1) % 64 == 0;
        self.cursor.save_fenced(position, prune).await?;
        self.saves += 1;
        Ok(())
    }

    /// Delivers the wanted events of a batch, lane by lane, keeping the lease alive; gives up
    /// (without moving the checkpoint) on shutdown or when the lease is lost.
    async fn deliver_batch(
        &mut self,
        endpoint: &Endpoint,
        batch: &[Event],
        resume: bool,
        stop: &mut watch::Receiver<bool>,
    ) -> Step<()> {
        let lanes = lanes(endpoint, batch);
        let ctx = Arc::clone(&self.ctx);
        let parallelism = ctx.settings.endpoint_parallelism.max(1);
        let work = futures_util::stream::iter(lanes)
            .map(|lane| {
                let ctx = &ctx;
                async move {
                    for message in lane {
                        delivery::deliver(ctx, endpoint, &message, resume).await?;
                    }
                    Ok::<(), Error>(())
                }
            })
            .buffer_unordered(parallelism)
            .fold(Ok(()), |acc, lane| async move { acc.and(lane) });
        tokio::pin!(work);
        let beat = self.cursor.beat();
        loop {
            tokio::select! {
                done = &mut work => return done.map_err(Stop::Failed),
                // Shutdown mid-batch: the batch is delivered again by the next holder.
                _ = stop.changed() => return Err(Stop::Done),
                () = tokio::time::sleep(beat) => {
                    self.cursor.extend().await?;
                }
            }
        }
    }
}

/// Splits the wanted events of a batch into lanes: one per correlation id (position), in
/// batch order; events without one get a lane each.
fn lanes(endpoint: &Endpoint, batch: &[Event]) -> Vec<Vec<Message>> {
    let mut lanes: Vec<Vec<Message>> = Vec::new();
    let mut by_key: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for event in batch {
        if !endpoint.webhook.wants(&event.event_type) {
            continue;
        }
        let Some(message) = Message::from_event(event) else {
            warn!(position = %event.position, "event without the webhook payload fields skipped");
            continue;
        };
        match event.correlation_id.as_deref() {
            Some(key) => {
                let index = *by_key.entry(key).or_insert_with(|| {
                    lanes.push(Vec::new());
                    lanes.len() - 1
                });
                lanes[index].push(message);
            }
            None => lanes.push(vec![message]),
        }
    }
    lanes
}
