//! The application behind the listener: store, router and (on PostgreSQL) the pool.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use gridstore::postgres::event_log::DEFAULT_MONTHS_AHEAD;
use gridstore::postgres::{PgConfig, PgListener, PgPool};
use tokio::task::JoinHandle;
use tracing::info;

use crate::api::events::StreamSettings;
use crate::api::{self, ApiSettings, AppState, RateLimitSettings};
use crate::config::{Settings, StoreBackend};
use crate::store::EscrowStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgEscrowStore;
use crate::{Error, Result};

/// What `serve` runs.
#[derive(Debug)]
pub(super) struct App {
    pub(super) router: Router,
    pub(super) resources: Resources,
    /// The router's state, to end live event streams at shutdown.
    pub(super) state: AppState,
}

/// What must be closed after the server stops.
#[derive(Debug)]
pub(super) struct Resources {
    pool: Option<PgPool>,
    /// Creates the event log's monthly partitions ahead (PostgreSQL).
    partition_maintenance: Option<JoinHandle<()>>,
}

/// How often the event log's partitions are checked (they are created months ahead).
const PARTITION_MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

impl App {
    /// Opens the store named by the settings (migrating PostgreSQL unless told not to) and
    /// builds the router.
    pub(super) async fn open(settings: &Settings) -> Result<Self> {
        let mut partition_maintenance = None;
        let (store, pool): (Arc<dyn EscrowStore>, Option<PgPool>) = match settings.store.backend {
            StoreBackend::Memory => (Arc::new(MemoryStore::new()), None),
            StoreBackend::Postgres => {
                let config = pg_config(settings)?;
                info!(database = ?config, "connecting to postgresql");
                let store = PgEscrowStore::connect(&config).await?;
                if settings.store.migrate_on_start {
                    let applied = store.migrate().await?;
                    info!(applied = ?applied, "migrations checked");
                } else {
                    info!("migrations skipped (MIGRATE_ON_START=false)");
                }
                // One LISTEN connection per process wakes every event stream subscriber.
                let listener = PgListener::start(&config).await?;
                let store = store.with_event_listener(listener);
                partition_maintenance = Some(store.event_log().spawn_partition_maintenance(
                    PARTITION_MAINTENANCE_EVERY,
                    DEFAULT_MONTHS_AHEAD,
                ));
                let pool = store.pool().clone();
                (Arc::new(store), Some(pool))
            }
        };
        let mut state = AppState::new(store, api_settings(settings));
        if let Some(pool) = &pool {
            state = state.with_pool(pool.clone());
        }
        Ok(Self {
            router: api::router(state.clone()),
            state,
            resources: Resources {
                pool,
                partition_maintenance,
            },
        })
    }
}

impl Resources {
    /// Stops partition maintenance and closes the pool, if any.
    pub(super) fn close(&self) {
        if let Some(task) = &self.partition_maintenance {
            task.abort();
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
        },
        metrics_enabled: settings.http.metrics_enabled,
        public_docs_enabled: settings.http.public_docs_enabled,
        trust_proxy: settings.http.trust_proxy,
        store_backend: settings.store.backend.as_str().to_owned(),
        request_timeout: Duration::from_millis(settings.server.request_timeout_ms),
        events_stream: StreamSettings {
            heartbeat: Duration::from_millis(settings.events.stream_heartbeat_ms),
            max_buffer: settings.events.stream_max_buffer,
        },
        ..ApiSettings::default()
    }
}

/// The pool configuration for `DATABASE_URL` and `DATABASE_POOL_MAX`.
///
/// # Errors
///
/// [`Error::Config`] when the URL is missing; a storage error when it does not parse.
pub fn pg_config(settings: &Settings) -> Result<PgConfig> {
    let url = settings
        .store
        .database_url
        .as_ref()
        .ok_or_else(|| Error::Config {
            key: "DATABASE_URL".to_owned(),
            message: "DATABASE_URL is required for PostgreSQL".to_owned(),
        })?;
    Ok(PgConfig::from_url(url.expose())?
        .with_pool_max_size(settings.store.pool_max)
        .with_application_name("escrowgrid"))
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
