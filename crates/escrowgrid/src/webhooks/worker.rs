//! One endpoint's worker: follows the institution's stream from the endpoint's checkpoint,
//! delivers each batch in lanes (one per position), moves the checkpoint, keeps its lease.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use gridstore::{Event, EventFilter, EventPosition, Lease, Subscription, SubscriptionOptions};
use serde_json::json;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::Error;
use crate::domain::{WebhookId, WebhookUrl};

use super::delivery::{self, Endpoint, Message};
use super::dispatcher::Context;
use super::endpoint_key;

/// Why a worker stopped.
#[derive(Debug)]
enum Stop {
    /// The endpoint was deleted or disabled, the worker idled long enough, or shutdown.
    Done,
    /// Another holder has the lease (or a newer fencing token wrote the checkpoint).
    LostLease,
    /// A storage failure; the manager starts a new worker on its next round.
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

/// Runs the worker of `id` under `lease` until it stops; returns `id` for the manager.
pub(super) async fn run(
    ctx: Arc<Context>,
    lease: Lease,
    id: WebhookId,
    stop: watch::Receiver<bool>,
) -> WebhookId {
    let mut worker = Worker {
        ctx,
        lease,
        id: id.clone(),
        saves: 0,
        extended: Instant::now(),
    };
    match worker.work(stop).await {
        Err(Stop::Done) | Ok(()) => {}
        Err(Stop::LostLease) => info!(webhook_id = %id, "webhook lease lost, worker stops"),
        Err(Stop::Failed(err)) => warn!(webhook_id = %id, error = %err, "webhook worker failed"),
    }
    let _ = worker.ctx.ports.locks.release(&worker.lease).await;
    id
}

struct Worker {
    ctx: Arc<Context>,
    lease: Lease,
    id: WebhookId,
    saves: u64,
    /// When the lease was last extended (it is extended every third of its TTL).
    extended: Instant,
}

impl Worker {
    async fn work(&mut self, mut stop: watch::Receiver<bool>) -> std::result::Result<(), Stop> {
        let key = endpoint_key(&self.id);
        let mut endpoint = self.endpoint().await?;
        let start = self.checkpoint().await?;
        let filter = EventFilter::all()
            .stream(format!("inst:{}", endpoint.webhook.institution_id))
            .recorded_between(Some(endpoint.webhook.created_at), None);
        let options = SubscriptionOptions {
            batch_size: self.ctx.settings.batch_size.max(1),
            poll_interval: self.ctx.settings.refresh_interval,
        };
        let mut subscription =
            Subscription::new(Arc::clone(&self.ctx.ports.events), start, filter, options)
                .with_name(key);
        let tick = self.ctx.settings.refresh_interval;
        let mut idle = Duration::ZERO;
        // The first batch after taking the lease may repeat one an earlier holder did not
        // finish: its deliveries resume from their records (see `delivery::deliver`).
        let mut resume = true;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(tick, subscription.next_batch()) => next,
                _ = stop.changed() => return Err(Stop::Done),
            };
            match next {
                Err(_) => idle += tick,
                Ok(batch) => {
                    let batch = batch?;
                    idle = Duration::ZERO;
                    self.deliver_batch(&endpoint, &batch, resume, &mut stop)
                        .await?;
                    resume = false;
                    self.save_checkpoint(subscription.position()).await?;
                }
            }
            if self.extended.elapsed() >= self.ctx.settings.lease_ttl / 3 {
                self.extend_lease().await?;
            }
            delivery::redrive(&self.ctx, &endpoint).await?;
            if *stop.borrow() || idle >= self.ctx.settings.idle_release {
                return Err(Stop::Done);
            }
            endpoint = self.endpoint().await?;
        }
    }

    /// Extends the lease; [`Stop::LostLease`] when another holder has it.
    async fn extend_lease(&mut self) -> std::result::Result<(), Stop> {
        self.lease = self
            .ctx
            .ports
            .locks
            .extend(&self.lease, self.ctx.settings.lease_ttl)
            .await?;
        self.extended = Instant::now();
        Ok(())
    }

    /// The endpoint as stored now (URL, types and secret may have changed).
    async fn endpoint(&self) -> std::result::Result<Endpoint, Stop> {
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

    /// Where to resume; stops when a newer lease holder already wrote a checkpoint.
    async fn checkpoint(&self) -> std::result::Result<Option<EventPosition>, Stop> {
        let Some(saved) = self
            .ctx
            .ports
            .checkpoints
            .load_latest(&endpoint_key(&self.id))
            .await?
        else {
            return Ok(None);
        };
        let token = saved
            .data
            .get("fencingToken")
            .and_then(serde_json::Value::as_u64);
        if token.is_some_and(|token| token > self.lease.fencing_token) {
            return Err(Stop::LostLease);
        }
        Ok(saved
            .data
            .get("position")
            .and_then(serde_json::Value::as_str)
            .and_then(|text| text.parse().ok()))
    }

    /// Extends the lease and saves the cursor fenced by the lease's token: once a newer holder
    /// saved, the store refuses this worker's saves ([`Stop::LostLease`]), so a stale worker
    /// can never move the endpoint's progress back.
    async fn save_checkpoint(&mut self, position: EventPosition) -> std::result::Result<(), Stop> {
        let workflow = endpoint_key(&self.id);
        self.extend_lease().await?;
        let token = self.lease.fencing_token;
        let data = json!({"position": position.to_string(), "fencingToken": token});
        self.ctx
            .ports
            .checkpoints
            .save_fenced(&workflow, token, data)
            .await?;
        self.saves += 1;
        if self.saves % 64 == 0 {
            self.ctx.ports.checkpoints.keep_last(&workflow, 1).await?;
        }
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
    ) -> std::result::Result<(), Stop> {
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
        let beat = self.ctx.settings.lease_ttl / 3;
        loop {
            tokio::select! {
                done = &mut work => return done.map_err(Stop::Failed),
                // Shutdown mid-batch: the batch is delivered again by the next holder.
                _ = stop.changed() => return Err(Stop::Done),
                () = tokio::time::sleep(beat) => {
                    self.extend_lease().await?;
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
