//! The on-chain ledger (`ONCHAIN_LEDGER_*`): position ledger events recorded on an EVM chain
//! through the `PositionLedger` contract (`contracts/PositionLedger.sol`,
//! `recordPositionEvent(string positionId, string kind, string payloadJson)`).
//!
//! | concern | module |
//! |---|---|
//! | the contract's `sol!` bindings and calldata | [`contract`] |
//! | the original's payload shapes and skip rules | [`payload`] |
//! | alloy client: signer, HTTP provider, bounded RPC calls | [`chain`] |
//! | each event's record (status, signed transaction) in the gridstore KV | [`record`] |
//! | the sender: lease, outbox subscription, sign → persist → broadcast → confirm, DLQ | `sender` |
//!
//! # Semantics (`docs/ONCHAIN.md`)
//!
//! - **Driven by the outbox, never by the request**: the sender follows the event log's
//!   `ledger_event.recorded` events (committed with the write) from its checkpoint
//!   (`onchain:{chainId}`); a write never waits for the chain in `queue` mode, so a node that is
//!   down never fails nor slows it.
//! - **One sender per chain** across instances: the gridstore lease `onchain:{chainId}`,
//!   extended (the fencing check) right before every broadcast; the checkpoint carries the
//!   lease's fencing token and a worker that finds a newer one stops.
//! - **Exactly once across a crash**: the signed transaction is stored in the event's record
//!   (compare-and-set) before its first broadcast; after a restart the stored transaction is
//!   re-broadcast (same nonce, same hash), never re-signed, unless the account's mined nonce has
//!   passed it without mining it.
//! - **Confirmation** after `ONCHAIN_CONFIRMATIONS` blocks; **retries** with exponential
//!   backoff from `ONCHAIN_RETRY_DELAY_MS`; after `ONCHAIN_MAX_RETRIES` attempts the event goes
//!   to the gridstore DLQ (job `onchain`; root lists and re-drives it), its status becomes `failed` and an audit
//!   row `ONCHAIN_LEDGER_RETRY_EXHAUSTED` is written.

pub mod chain;
pub mod contract;
mod exhausted;
pub mod payload;
pub mod record;
mod sender;

use std::sync::Arc;
use std::time::Duration;

use gridstore::{CheckpointStore, DeadLetterQueue, EventLog, Locks};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::OnchainConfig;
use crate::store::EscrowStore;

pub use chain::{ChainClient, ChainError};
pub use record::{OnchainStatus, OnchainView, Records};

/// The gridstore DLQ job of events whose retries ran out (every chain; the item names its
/// chain), listed and re-opened by root through `/ledger/onchain/failed`.
pub const DLQ_JOB: &str = "onchain";

/// The lease and checkpoint workflow of the sender of `chain_id`.
#[must_use]
pub fn sender_key(chain_id: u64) -> String {
    format!("onchain:{chain_id}")
}

/// What this instance's sender reports to `GET /health`: nothing while it works, or why it
/// refuses to send (e.g. the node reports another chain than `ONCHAIN_CHAIN_ID`).
#[derive(Debug, Clone, Default)]
pub struct SenderHealth(Arc<std::sync::RwLock<Option<String>>>);

impl SenderHealth {
    /// Why the sender does not send, if it does not.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, problem: Option<String>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = problem;
    }
}

/// The gridstore primitives the sender runs on (memory or PostgreSQL alike).
#[derive(Debug, Clone)]
pub struct OnchainPorts {
    /// The event log holding the domain events (the outbox).
    pub events: Arc<dyn EventLog>,
    /// Leases: one sender per chain.
    pub locks: Arc<dyn Locks>,
    /// The sender's cursor.
    pub checkpoints: Arc<dyn CheckpointStore>,
    /// Events that ran out of attempts.
    pub dlq: Arc<dyn DeadLetterQueue>,
    /// Each event's record.
    pub kv: Arc<dyn gridstore::KvStore>,
    /// The sender's state, shown by `GET /health`.
    pub health: SenderHealth,
}

impl OnchainPorts {
    /// Every port on gridstore's memory backends (one process), records on `kv`.
    #[must_use]
    pub fn memory(events: Arc<dyn EventLog>, kv: Arc<dyn gridstore::KvStore>) -> Self {
        use gridstore::memory::{MemoryCheckpointStore, MemoryDeadLetterQueue, MemoryLocks};
        Self {
            events,
            locks: Arc::new(MemoryLocks::new()),
            checkpoints: Arc::new(MemoryCheckpointStore::new()),
            dlq: Arc::new(MemoryDeadLetterQueue::new()),
            kv,
            health: SenderHealth::default(),
        }
    }

    /// Every port on gridstore's PostgreSQL backends over `pool` (shared by every instance),
    /// records on `kv`.
    #[must_use]
    pub fn postgres(
        pool: &gridstore::postgres::PgPool,
        events: Arc<dyn EventLog>,
        kv: Arc<dyn gridstore::KvStore>,
    ) -> Self {
        use gridstore::postgres::{PgCheckpointStore, PgDeadLetterQueue, PgLocks};
        Self {
            events,
            locks: Arc::new(PgLocks::new(pool.clone())),
            checkpoints: Arc::new(PgCheckpointStore::new(pool.clone())),
            dlq: Arc::new(PgDeadLetterQueue::new(pool.clone())),
            kv,
            health: SenderHealth::default(),
        }
    }
}

/// What the API uses of the on-chain ledger: the records (shown with ledger events), the DLQ
/// (root lists and re-opens failed events) and, in `fail` mode, how long a write waits.
#[derive(Debug, Clone)]
pub struct OnchainApi {
    /// Each event's record.
    pub records: Records,
    /// The DLQ holding failed events (job [`DLQ_JOB`]).
    pub dlq: Arc<dyn DeadLetterQueue>,
    /// `ONCHAIN_FAILURE_MODE=fail`: how long a position write waits for its confirmation.
    pub fail_wait: Option<Duration>,
    /// This instance's sender's state.
    pub sender: SenderHealth,
}

impl OnchainApi {
    /// The API's view of `ports`.
    #[must_use]
    pub fn new(ports: &OnchainPorts, fail_wait: Option<Duration>) -> Self {
        Self {
            records: Records::new(Arc::clone(&ports.kv)),
            dlq: Arc::clone(&ports.dlq),
            fail_wait,
            sender: ports.health.clone(),
        }
    }
}

/// How the sender works (from [`OnchainConfig`], with test-friendly overrides).
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// This instance's name, the lease holder.
    pub instance: String,
    /// `ONCHAIN_CHAIN_ID`.
    pub configured_chain_id: Option<u64>,
    /// `ONCHAIN_MAX_RETRIES`: attempts per event.
    pub max_retries: u32,
    /// `ONCHAIN_RETRY_DELAY_MS`: the first retry delay.
    pub retry_delay: Duration,
    /// `ONCHAIN_RETRY_BATCH_SIZE`.
    pub batch_size: usize,
    /// `ONCHAIN_CONFIRMATIONS`.
    pub confirmations: u64,
    /// How long one attempt waits for its receipt and confirmations.
    pub confirm_timeout: Duration,
    /// How often an idle sender polls the outbox, and a waiting instance the lease.
    pub poll_interval: Duration,
    /// The lease's TTL (extended every third of it).
    pub lease_ttl: Duration,
}

impl SenderSettings {
    /// The settings of `config`.
    #[must_use]
    pub fn from_config(config: &OnchainConfig) -> Self {
        Self {
            instance: format!("onchain-{}", uuid::Uuid::new_v4().simple()),
            configured_chain_id: config.chain_id,
            max_retries: config.max_retries.max(1),
            retry_delay: Duration::from_millis(config.retry_delay_ms),
            batch_size: config.retry_batch_size.max(1),
            confirmations: config.confirmations.max(1),
            confirm_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
            lease_ttl: Duration::from_secs(15),
        }
    }
}

/// Where the sender sends.
#[derive(Debug, Clone)]
pub struct ChainTarget {
    /// `ONCHAIN_RPC_URL`.
    pub rpc_url: String,
    /// `ONCHAIN_PRIVATE_KEY` (never logged).
    pub private_key: crate::config::Secret<String>,
    /// `ONCHAIN_CONTRACT_ADDRESS`.
    pub contract: alloy::primitives::Address,
}

impl ChainTarget {
    /// The target of an enabled, validated `config`; `None` when the ledger is disabled.
    #[must_use]
    pub fn from_config(config: &OnchainConfig) -> Option<Self> {
        if !config.enabled {
            return None;
        }
        Some(Self {
            rpc_url: config.rpc_url.as_ref()?.expose().clone(),
            private_key: config.private_key.clone()?,
            contract: config.contract_address.as_deref()?.parse().ok()?,
        })
    }
}

/// Starts senders.
#[derive(Debug)]
pub struct OnchainSender;

impl OnchainSender {
    /// Spawns this instance's sender: it learns the chain id from the node (checking it against
    /// `ONCHAIN_CHAIN_ID`), then takes the chain's lease whenever it is free and sends.
    #[must_use]
    pub fn spawn(
        store: Arc<dyn EscrowStore>,
        ports: OnchainPorts,
        target: ChainTarget,
        settings: SenderSettings,
    ) -> SenderHandle {
        SenderHandle::spawn(|stop| manage(store, ports, target, settings, stop))
    }
}

/// The running sender: [`SenderHandle::shutdown`] stops it after the current event and gives the
/// lease back; dropping it aborts it (like a crash: the lease expires).
pub use crate::worker::TaskHandle as SenderHandle;

async fn manage(
    store: Arc<dyn EscrowStore>,
    ports: OnchainPorts,
    target: ChainTarget,
    settings: SenderSettings,
    mut stop: watch::Receiver<bool>,
) {
    let pause = settings.poll_interval.max(Duration::from_millis(50)) * 5;
    let wait = |stop: &mut watch::Receiver<bool>| {
        let mut stop = stop.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep(pause) => false,
                _ = stop.changed() => true,
            }
        }
    };
    let chain_id = loop {
        if *stop.borrow() {
            return;
        }
        match ChainClient::node_chain_id(&target.rpc_url).await {
            Ok(id) if settings.configured_chain_id.is_none_or(|want| want == id) => break id,
            Ok(id) => {
                // A wrong node or a wrong setting: retrying cannot fix it, sending would sign
                // for the wrong chain. Refuse, and say so in the log and in `GET /health`.
                let problem = format!(
                    "the node reports chain id {id} but ONCHAIN_CHAIN_ID is {}; the on-chain sender refuses to send until the setting or the node is fixed and the instance restarted",
                    settings.configured_chain_id.unwrap_or_default()
                );
                error!(node_chain_id = id, configured = ?settings.configured_chain_id, "{problem}");
                ports.health.set(Some(problem));
                return;
            }
            Err(error) => warn!(error = %error, "on-chain node unreachable; retrying"),
        }
        if wait(&mut stop).await {
            return;
        }
    };
    let chain = match ChainClient::new(
        &target.rpc_url,
        target.private_key.expose(),
        target.contract,
        chain_id,
    ) {
        Ok(chain) => chain,
        Err(error) => {
            warn!(error = %error, "on-chain ledger misconfigured; nothing is sent");
            return;
        }
    };
    info!(chain_id, from = %chain.from(), contract = %target.contract, "on-chain sender ready");
    let records = Records::new(Arc::clone(&ports.kv));
    let ctx = Arc::new(sender::Context {
        store,
        ports,
        records,
        chain,
        settings,
    });
    let key = sender_key(chain_id);
    loop {
        if *stop.borrow() {
            return;
        }
        match ctx
            .ports
            .locks
            .acquire(&key, &ctx.settings.instance, ctx.settings.lease_ttl)
            .await
        {
            Ok(lease) => sender::run(Arc::clone(&ctx), lease, stop.clone()).await,
            Err(gridstore::Error::LockHeld { .. }) => {}
            Err(error) => warn!(error = %error, "cannot lease the on-chain sender"),
        }
        if wait(&mut stop).await {
            return;
        }
    }
}
