//! The application behind the listener: store, KV store (with its sweeper), router and (on
//! PostgreSQL) the pool.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use gridstore::Locks;
use gridstore::kv::SweeperHandle;
use gridstore::memory::MemoryKvStore;
use gridstore::postgres::event_log::DEFAULT_MONTHS_AHEAD;
use gridstore::postgres::{
    ListenerOptions, PgConfig, PgListener, PgLocks, PgPool, PgReadPools, ReplicaOptions,
};
use gridstore::{EventLog, KvStore};
use tokio::task::JoinHandle;
use tracing::info;

use crate::api::events::StreamSettings;
use crate::api::{self, ApiSettings, AppState, RateLimitSettings};
use crate::config::{FailureMode, Settings, StoreBackend};
use crate::onchain::{
    ChainTarget, OnchainApi, OnchainPorts, OnchainSender, SenderHandle, SenderSettings,
};
use crate::store::memory::MemoryStore;
use crate::store::postgres::{API_KEYS_CHANNEL, PgEscrowStore};
use crate::store::{EscrowStore, WebhookStore};
use crate::webhooks::{
    DeliveryClient, Dispatcher, DispatcherHandle, SecretBox, TargetPolicy, WebhookMetrics,
    WebhookPorts, WebhookService, WebhookSettings,
};
use crate::{Error, Result};

use super::checkpoints::{self, CheckpointTask};

/// What `serve` runs.
#[derive(Debug)]
pub(super) struct App {
    pub(super) router: Router,
    /// The router's state, to end live event streams at shutdown.
    pub(super) state: AppState,
    pub(super) resources: Resources,
}

/// What must be closed after the server stops.
#[derive(Debug)]
pub(super) struct Resources {
    pool: Option<PgPool>,
    dispatcher: Option<DispatcherHandle>,
    /// The on-chain ledger's sender, when enabled here.
    onchain_sender: Option<SenderHandle>,
    /// Creates the event log's monthly partitions ahead (PostgreSQL).
    partition_maintenance: Option<JoinHandle<()>>,
    /// Deletes expired idempotency keys and rate-limit counters; stops when dropped.
    _sweeper: SweeperHandle,
    /// Takes ledger checkpoints; stops when dropped.
    _checkpoints: Option<CheckpointTask>,
    /// Metrics upkeep and database health gauges (`telemetry.rs`).
    telemetry: JoinHandle<()>,
}

/// How often expired KV keys (idempotency records, rate-limit windows) are deleted, and how
/// many per statement.
const KV_SWEEP_INTERVAL: Duration = Duration::from_secs(60);
const KV_SWEEP_BATCH: usize = 1000;

/// How often the event log's partitions are checked (they are created months ahead).
const PARTITION_MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

impl App {
    /// Opens the store named by the settings (migrating PostgreSQL unless told not to) and
    /// its KV store (memory: in process; PostgreSQL: gridstore's KV on the same pool, shared
    /// by every instance), starts the webhook dispatcher when enabled, and builds the router.
    pub(super) async fn open(settings: &Settings) -> Result<Self> {
        let interval = Duration::from_millis(settings.ledger.checkpoint_interval_ms);
        let mut partition_maintenance = None;
        let mut locks: Option<Arc<dyn Locks>> = None;
        let (store, webhook_store, kv, pool): Stores = match settings.store.backend {
            StoreBackend::Memory => {
                let store = Arc::new(MemoryStore::new());
                (store.clone(), store, Arc::new(MemoryKvStore::new()), None)
            }
            StoreBackend::Postgres => {
                let config = pg_config(settings)?;
                info!(database = ?config, "connecting to postgresql");
                let mut store = PgEscrowStore::connect(&config).await?;
                if let Some(reads) = read_pools(settings, store.pool()).await? {
                    store = store.with_read_pools(reads);
                }
                if settings.store.migrate_on_start {
                    let applied = store.migrate().await?;
                    info!(applied = ?applied, "migrations checked");
                } else {
                    let pending = store.pending_migrations().await?;
                    if !pending.is_empty() {
                        return Err(Error::Config {
                            key: "MIGRATE_ON_START".to_owned(),
                            message: format!(
                                "the database lacks migrations {pending:?} (history table, \
                                 version); run `escrowgrid migrate` before starting with \
                                 --no-migrate"
                            ),
                        });
                    }
                    info!("migrations skipped (MIGRATE_ON_START=false), schema current");
                }
                // One LISTEN connection per process wakes every event subscriber (streams,
                // webhook dispatchers) and tells the API-key cache about revocations.
                let listener = PgListener::start_with_channels(
                    &config,
                    ListenerOptions::default(),
                    &[API_KEYS_CHANNEL],
                )
                .await?;
                let mut store = store.with_event_listener(listener.clone());
                let key_ttl = Duration::from_millis(settings.store.api_key_cache_ttl_ms);
                if !key_ttl.is_zero() {
                    store = store.with_api_key_cache(listener, key_ttl)?;
                }
                partition_maintenance = Some(store.event_log().spawn_partition_maintenance(
                    PARTITION_MAINTENANCE_EVERY,
                    DEFAULT_MONTHS_AHEAD,
                ));
                let pool = store.pool().clone();
                locks = Some(Arc::new(PgLocks::new(pool.clone())));
                let kv = Arc::new(store.kv_store());
                let store = Arc::new(store);
                (store.clone(), store, kv, Some(pool))
            }
        };
        let checkpoints = checkpoints::spawn(Arc::clone(&store), locks, interval);
        let sweeper =
            gridstore::kv::spawn_sweeper(Arc::clone(&kv), KV_SWEEP_INTERVAL, KV_SWEEP_BATCH);
        let events = store.events();
        let onchain_store = Arc::clone(&store);
        let onchain_kv = Arc::clone(&kv);
        let mut state = AppState::new(store, kv, api_settings(settings));
        let mut onchain_sender = None;
        if let Some(target) = ChainTarget::from_config(&settings.onchain) {
            let ports = match pool.as_ref() {
                None => OnchainPorts::memory(Arc::clone(&events), Arc::clone(&onchain_kv)),
                Some(pool) => {
                    OnchainPorts::postgres(pool, Arc::clone(&events), Arc::clone(&onchain_kv))
                }
            };
            let fail_wait = (settings.onchain.failure_mode == FailureMode::Fail)
                .then(|| Duration::from_millis(settings.onchain.receipt_timeout_ms));
            state = state.with_onchain(OnchainApi::new(&ports, fail_wait));
            if settings.onchain.retry_worker_enabled {
                let sender_settings = SenderSettings::from_config(&settings.onchain);
                onchain_sender = Some(OnchainSender::spawn(
                    onchain_store,
                    ports,
                    target,
                    sender_settings,
                ));
            }
        }
        let mut dispatcher = None;
        if settings.webhooks.enabled {
            let (service, handle) = webhooks(settings, webhook_store, events, pool.as_ref())?;
            state = state.with_webhooks(service);
            dispatcher = Some(handle);
        }
        let telemetry = super::telemetry::spawn(state.clone(), pool.clone());
        Ok(Self {
            router: api::router(state.clone()),
            state,
            resources: Resources {
                pool,
                dispatcher,
                onchain_sender,
                partition_maintenance,
                _sweeper: sweeper,
                _checkpoints: checkpoints,
                telemetry,
            },
        })
    }
}

type Stores = (
    Arc<dyn EscrowStore>,
    Arc<dyn WebhookStore>,
    Arc<dyn KvStore>,
    Option<PgPool>,
);

/// The webhook service for the API and this instance's dispatcher.
///
/// The dispatcher follows the store's own event log (the transactional outbox), so a webhook
/// fires for exactly the writes that committed.
fn webhooks(
    settings: &Settings,
    store: Arc<dyn WebhookStore>,
    events: Arc<dyn EventLog>,
    pool: Option<&PgPool>,
) -> Result<(WebhookService, DispatcherHandle)> {
    let config = &settings.webhooks;
    let ports = match pool {
        None => WebhookPorts::memory(events),
        Some(pool) => WebhookPorts::postgres(pool, events),
    };
    let secrets = match &config.secret_key {
        Some(key) => SecretBox::from_base64_key(key.expose()).map_err(|message| Error::Config {
            key: "WEBHOOKS_SECRET_KEY".into(),
            message,
        })?,
        None => SecretBox::plain(),
    };
    let policy = TargetPolicy::new(config.allow_private_targets);
    let timeout = Duration::from_millis(config.timeout_ms);
    let client = DeliveryClient::new(policy.clone(), timeout).map_err(|message| Error::Config {
        key: "webhooks".into(),
        message,
    })?;
    let dispatch = WebhookSettings {
        concurrency: config.concurrency,
        retry_schedule: config
            .retry_schedule_ms
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect(),
        timeout,
        ..WebhookSettings::default()
    };
    let metrics = Arc::new(WebhookMetrics::default());
    let service = WebhookService::new(
        Arc::clone(&store),
        Arc::clone(&ports.dlq),
        policy,
        secrets.clone(),
        Arc::clone(&metrics),
    )
    .starting_at_the_tail(Arc::clone(&ports.events), Arc::clone(&ports.checkpoints));
    let handle = Dispatcher::spawn(store, ports, client, secrets, dispatch, metrics);
    Ok((service, handle))
}

impl Resources {
    /// Stops partition maintenance and the dispatcher (workers finish their batch and give
    /// their leases back), then closes the pool, if any.
    pub(super) async fn close(self) {
        if let Some(task) = &self.partition_maintenance {
            task.abort();
        }
        self.telemetry.abort();
        if let Some(dispatcher) = self.dispatcher {
            dispatcher.shutdown().await;
        }
        if let Some(sender) = self.onchain_sender {
            sender.shutdown().await;
        }
        if let Some(pool) = &self.pool {
            pool.close();
        }
    }
}

/// The API's settings from the process settings.
pub fn api_settings(settings: &Settings) -> ApiSettings {
    ApiSettings {
        root_api_key: settings
            .auth
            .root_api_key
            .as_ref()
            .map(|key| key.expose().clone()),
        root_api_key_allowed_ips: settings.auth.root_api_key_allowed_ips.clone(),
        cors_allowed_origins: settings.http.cors_allowed_origins.clone(),
        production: settings.production(),
        rate_limit: RateLimitSettings {
            enabled: settings.rate_limit.enabled,
            window: Duration::from_millis(settings.rate_limit.window_ms),
            max_requests: settings.rate_limit.max_requests,
            institution_creations_per_hour: settings.rate_limit.institution_creations_per_hour,
            api_key_creations_per_hour: settings.rate_limit.api_key_creations_per_hour,
        },
        metrics_enabled: settings.http.metrics_enabled,
        public_docs_enabled: settings.http.public_docs_enabled,
        console_enabled: settings.http.console_enabled,
        events_stream: StreamSettings {
            heartbeat: Duration::from_millis(settings.events.stream_heartbeat_ms),
            max_buffer: settings.events.stream_max_buffer,
        },
        trust_proxy: settings.http.trust_proxy,
        store_backend: settings.store.backend.as_str().to_owned(),
        request_timeout: Duration::from_millis(settings.server.request_timeout_ms),
        max_in_flight_requests: settings.http.max_in_flight_requests,
        ..ApiSettings::default()
    }
}

/// The pool configuration for `DATABASE_URL`, `DATABASE_POOL_MAX`, `DATABASE_STATEMENT_CACHE`
/// and `DATABASE_DIRECT_URL` (migrations run there).
///
/// # Errors
///
/// [`Error::Config`] when the URL is missing; a storage error when a URL does not parse.
pub fn pg_config(settings: &Settings) -> Result<PgConfig> {
    let url = settings
        .store
        .database_url
        .as_ref()
        .ok_or_else(|| Error::Config {
            key: "DATABASE_URL".to_owned(),
            message: "DATABASE_URL is required for PostgreSQL".to_owned(),
        })?;
    let direct = match &settings.store.database_direct_url {
        Some(url) => Some(PgConfig::from_url(url.expose())?.with_application_name("escrowgrid")),
        None => None,
    };
    Ok(PgConfig::from_url(url.expose())?
        .with_pool_max_size(settings.store.pool_max)
        .with_statement_cache(settings.store.statement_cache)
        .with_direct(direct)
        .with_application_name("escrowgrid"))
}

/// The read replicas of `DATABASE_READ_URLS` (with the primary's pool size and statement
/// mode), or `None` when there are none.
async fn read_pools(settings: &Settings, primary: &PgPool) -> Result<Option<PgReadPools>> {
    let Some(urls) = &settings.store.database_read_urls else {
        return Ok(None);
    };
    let mut replicas = Vec::new();
    for url in urls
        .expose()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        replicas.push(
            PgConfig::from_url(url)?
                .with_pool_max_size(settings.store.pool_max)
                .with_statement_cache(settings.store.statement_cache)
                .with_application_name("escrowgrid"),
        );
    }
    let options = ReplicaOptions {
        max_lag: Duration::from_millis(settings.store.replica_max_lag_ms),
        ..ReplicaOptions::default()
    };
    info!(replicas = replicas.len(), "using read replicas");
    Ok(Some(
        PgReadPools::connect(primary.clone(), &replicas, options).await?,
    ))
}

/// Applies pending migrations to `DATABASE_URL` (whatever `STORE_BACKEND` says); returns the
/// versions applied.
///
/// # Errors
///
/// Connection or migration failures.
pub async fn migrate(settings: &Settings) -> Result<Vec<i64>> {
    let config = pg_config(settings)?.with_pool_max_size(1);
    let store = PgEscrowStore::connect(&config).await?;
    let applied = store.migrate().await;
    store.pool().close();
    applied
}
