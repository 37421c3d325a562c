//! Webhook delivery: signed, retried, dead-lettered, one dispatcher per endpoint across all
//! instances.
//!
//! | concern | module |
//! |---|---|
//! | create / update / rotate / re-drive (SSRF check, secret sealing, DLQ re-open) | [`service`] |
//! | sealing secrets at rest (`WEBHOOKS_SECRET_KEY`) | [`secret_box`] |
//! | Standard Webhooks 1.0 signature and body | [`signing`] |
//! | SSRF policy and the resolver seam | [`target`] |
//! | one HTTP attempt (hyper, rustls) | [`client`] |
//! | settings: retry schedule, concurrency, leases | [`settings`] |
//! | the per-instance dispatcher: leases, one worker per endpoint | [`dispatcher`] |
//! | one endpoint's worker: subscription, checkpoint, lanes per position, re-drives | `worker`, `delivery` |
//! | counters (`taas_webhook_*`) | [`metrics`] |
//!
//! # Delivery semantics
//!
//! - **Source**: the institution's gridstore stream `inst:{institutionId}`, read by a gridstore
//!   [`Subscription`](gridstore::Subscription) (commit order, gap-free) from the endpoint's
//!   checkpoint (`webhook:{id}` in the checkpoint store). Creating an endpoint saves its first
//!   checkpoint: the log's tail read just before the endpoint was written
//!   ([`WebhookService::starting_at_the_tail`]), so it gets every event committed after its
//!   creation (and at most a few committed just before), never one skipped by a clock. Only
//!   when that save failed does it fall back to the events recorded since its `created_at`.
//! - **One dispatcher per endpoint** across instances: a worker holds the lease
//!   `webhook:{id}` (gridstore [`Locks`](gridstore::Locks)), extends it while it works, and
//!   stops the moment an extension fails. Its checkpoints are saved fenced by the lease's
//!   token ([`CheckpointStore::save_fenced`](gridstore::CheckpointStore::save_fenced)): once a
//!   newer holder saved, the store refuses an older holder's save, so a stale worker (paused
//!   past its lease, then waking up) can never move the endpoint's progress back; it stops.
//! - **At-least-once, in order per position**: a batch is split into lanes by correlation id
//!   (the position id for `position.*` and `ledger_event.recorded`; other events each get their
//!   own lane). Lanes run concurrently (`endpoint_parallelism`), a lane delivers its events one
//!   after another, and an event being retried holds back the later events of its lane only.
//!   The checkpoint moves after every lane of the batch finished (delivered or dead-lettered),
//!   so the next batch waits for the slowest retry of this one, and a crash re-delivers the
//!   batch (receivers de-duplicate on `webhook-id`).
//! - **Retries**: the schedule's delays (default 1 s, 5 s, 30 s, 2 min, 10 min: six attempts),
//!   each multiplied by a random factor in [0.5, 1.0] (jitter). After the last attempt the
//!   delivery goes to the gridstore DLQ (job `webhook:{id}`, parked until re-driven), its
//!   record becomes `failed` and an audit row `WEBHOOK_DELIVERY_FAILED` is written; the lane
//!   then continues with its next event. A worker that stops mid-schedule (crash, lost lease,
//!   shutdown) leaves the delivery `pending` with its attempt count and `next_attempt_at`; the
//!   next holder reads the same batch again and, for this first batch only, resumes each
//!   delivery from its record: a pending one keeps its count and is not attempted before its
//!   `next_attempt_at`, one that already succeeded or was dead-lettered is not sent again.
//! - **Re-drive**: `POST /webhooks/{id}/deliveries/{deliveryId}/retry` re-opens the DLQ item;
//!   the endpoint's worker claims it and makes one attempt (success resolves it; failure parks
//!   it again).

pub mod client;
mod delivery;
pub mod dispatcher;
pub mod metrics;
pub mod secret_box;
pub mod service;
pub mod settings;
pub mod signing;
pub mod target;
mod worker;

use std::sync::Arc;

use gridstore::{CheckpointStore, DeadLetterQueue, EventLog, Locks};

pub use client::{AttemptOutcome, DeliveryClient};
pub use dispatcher::{Dispatcher, DispatcherHandle};
pub use metrics::WebhookMetrics;
pub use secret_box::SecretBox;
pub use service::WebhookService;
pub use settings::WebhookSettings;
pub use target::{Resolver, SystemResolver, TargetError, TargetPolicy};

/// The gridstore primitives webhooks run on (memory or PostgreSQL backends alike).
#[derive(Debug, Clone)]
pub struct WebhookPorts {
    /// The event log holding the domain events (the outbox).
    pub events: Arc<dyn EventLog>,
    /// Leases: one dispatcher per endpoint.
    pub locks: Arc<dyn Locks>,
    /// Each endpoint's cursor.
    pub checkpoints: Arc<dyn CheckpointStore>,
    /// Deliveries that ran out of attempts.
    pub dlq: Arc<dyn DeadLetterQueue>,
}

impl WebhookPorts {
    /// Every port on gridstore's memory backends (one process).
    #[must_use]
    pub fn memory(events: Arc<dyn EventLog>) -> Self {
        use gridstore::memory::{MemoryCheckpointStore, MemoryDeadLetterQueue, MemoryLocks};
        Self {
            events,
            locks: Arc::new(MemoryLocks::new()),
            checkpoints: Arc::new(MemoryCheckpointStore::new()),
            dlq: Arc::new(MemoryDeadLetterQueue::new()),
        }
    }

    /// Every port on gridstore's PostgreSQL backends over `pool` (gridstore's migrations must
    /// be applied).
    #[must_use]
    pub fn postgres(pool: &gridstore::postgres::PgPool, events: Arc<dyn EventLog>) -> Self {
        use gridstore::postgres::{PgCheckpointStore, PgDeadLetterQueue, PgLocks};
        Self {
            events,
            locks: Arc::new(PgLocks::new(pool.clone())),
            checkpoints: Arc::new(PgCheckpointStore::new(pool.clone())),
            dlq: Arc::new(PgDeadLetterQueue::new(pool.clone())),
        }
    }
}

/// The DLQ job (and lease key, and checkpoint workflow) of an endpoint.
#[must_use]
pub fn endpoint_key(id: &crate::domain::WebhookId) -> String {
    format!("webhook:{id}")
}
