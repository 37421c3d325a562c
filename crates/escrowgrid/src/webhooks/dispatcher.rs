//! The per-instance dispatcher: finds enabled endpoints, takes the lease of each one it has
//! room for (`concurrency`), and runs one worker per leased endpoint.
//!
//! Dropping or aborting the [`DispatcherHandle`] stops everything at once (a crash, for the
//! endpoints' purposes: their leases expire after `lease_ttl` and another instance resumes
//! from the checkpoints); [`DispatcherHandle::shutdown`] lets workers finish their current
//! batch and give their leases back.

use std::collections::HashSet;
use std::sync::Arc;

use gridstore::DlqStatus;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::domain::WebhookId;
use crate::store::WebhookStore;

use super::client::DeliveryClient;
use super::metrics::WebhookMetrics;
use super::secret_box::SecretBox;
use super::settings::WebhookSettings;
use super::{WebhookPorts, endpoint_key, worker};

/// Everything workers share.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) store: Arc<dyn WebhookStore>,
    pub(super) ports: WebhookPorts,
    pub(super) client: DeliveryClient,
    pub(super) secrets: SecretBox,
    pub(super) settings: WebhookSettings,
    pub(super) metrics: Arc<WebhookMetrics>,
}

/// Starts dispatchers.
#[derive(Debug)]
pub struct Dispatcher;

impl Dispatcher {
    /// Spawns this instance's dispatcher on the current tokio runtime.
    #[must_use]
    pub fn spawn(
        store: Arc<dyn WebhookStore>,
        ports: WebhookPorts,
        client: DeliveryClient,
        secrets: SecretBox,
        settings: WebhookSettings,
        metrics: Arc<WebhookMetrics>,
    ) -> DispatcherHandle {
        let context = Arc::new(Context {
            store,
            ports,
            client,
            secrets,
            settings,
            metrics,
        });
        DispatcherHandle::spawn(|stop| manage(context, stop))
    }
}

/// The running dispatcher: [`DispatcherHandle::shutdown`] lets workers finish their current batch and
/// give their leases back; dropping it aborts every worker (like a crash).
pub use crate::worker::TaskHandle as DispatcherHandle;

async fn manage(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    // Owned here: aborting this task drops the set, which aborts every worker.
    let mut workers: JoinSet<WebhookId> = JoinSet::new();
    let mut running: HashSet<WebhookId> = HashSet::new();
    loop {
        while let Some(done) = workers.try_join_next() {
            if let Ok(id) = done {
                running.remove(&id);
            }
        }
        if *stop.borrow() {
            break;
        }
        start_workers(&ctx, &mut workers, &mut running, &stop).await;
        update_dlq_depth(&ctx).await;
        tokio::select! {
            () = tokio::time::sleep(ctx.settings.refresh_interval) => {}
            _ = stop.changed() => {}
        }
    }
    while workers.join_next().await.is_some() {}
}

async fn start_workers(
    ctx: &Arc<Context>,
    workers: &mut JoinSet<WebhookId>,
    running: &mut HashSet<WebhookId>,
    stop: &watch::Receiver<bool>,
) {
    let endpoints = match ctx.store.enabled_webhooks().await {
        Ok(endpoints) => endpoints,
        Err(err) => {
            warn!(error = %err, "cannot list webhook endpoints");
            return;
        }
    };
    for webhook in endpoints {
        if running.len() >= ctx.settings.concurrency.max(1) {
            break;
        }
        if running.contains(&webhook.id) {
            continue;
        }
        let key = endpoint_key(&webhook.id);
        match ctx
            .ports
            .locks
            .acquire(&key, &ctx.settings.instance, ctx.settings.lease_ttl)
            .await
        {
            Ok(lease) => {
                running.insert(webhook.id.clone());
                let id = webhook.id.clone();
                workers.spawn(worker::run(Arc::clone(ctx), lease, id, stop.clone()));
            }
            Err(gridstore::Error::LockHeld { holder, .. }) => {
                debug!(webhook_id = %webhook.id, holder, "endpoint dispatched elsewhere");
            }
            Err(err) => warn!(webhook_id = %webhook.id, error = %err, "cannot lease endpoint"),
        }
    }
}

async fn update_dlq_depth(ctx: &Context) {
    if let Ok(stats) = ctx.ports.dlq.stats(None).await {
        let unresolved: u64 = stats
            .by_status
            .iter()
            .filter(|(status, _)| **status != DlqStatus::Resolved)
            .map(|(_, count)| *count)
            .sum();
        ctx.metrics.set_dlq_depth(unresolved);
    }
}
