//! The application behind the listener: store, KV store (with its sweeper), router and (on
//! PostgreSQL) the pool.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use gridstore::kv::SweeperHandle;
use gridstore::memory::MemoryKvStore;
use gridstore::postgres::{PgConfig, PgPool};
use tracing::info;

use crate::api::{self, ApiSettings, AppState, RateLimitSettings};
use crate::config::{Settings, StoreBackend};
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgEscrowStore;
use crate::{Error, Result};

/// What `serve` runs.
#[derive(Debug)]
pub(super) struct App {
    pub(super) router: Router,
    pub(super) resources: Resources,
}

/// What must be closed after the server stops.
#[derive(Debug)]
pub(super) struct Resources {
    pool: Option<PgPool>,
    /// Deletes expired idempotency keys and rate-limit counters; stops when dropped.
    _sweeper: SweeperHandle,
}

/// How often expired KV keys (idempotency records, rate-limit windows) are deleted, and how
/// many per statement.
const KV_SWEEP_INTERVAL: Duration = Duration::from_secs(60);
const KV_SWEEP_BATCH: usize = 1000;

impl App {
    /// Opens the store named by the settings (migrating PostgreSQL unless told not to) and
    /// its KV store (memory: in process; PostgreSQL: gridstore's KV on the same pool, shared
    /// by every instance), and builds the router.
    pub(super) async fn open(settings: &Settings) -> Result<Self> {
        let (state, resources) = match settings.store.backend {
            StoreBackend::Memory => {
                let kv = MemoryKvStore::new();
                let resources = Resources {
                    pool: None,
                    _sweeper: kv.spawn_sweeper(KV_SWEEP_INTERVAL, KV_SWEEP_BATCH),
                };
                let store = Arc::new(MemoryStore::new());
                (
                    AppState::new(store, Arc::new(kv), api_settings(settings)),
                    resources,
                )
            }
            StoreBackend::Postgres => {
                let config = pg_config(settings)?;
                info!(database = ?config, "connecting to postgresql");
                let store = PgEscrowStore::connect(&config).await?;
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
                let kv = store.kv_store();
                let resources = Resources {
                    pool: Some(store.pool().clone()),
                    _sweeper: kv.spawn_sweeper(KV_SWEEP_INTERVAL, KV_SWEEP_BATCH),
                };
                (
                    AppState::new(Arc::new(store), Arc::new(kv), api_settings(settings)),
                    resources,
                )
            }
        };
        Ok(Self {
            router: api::router(state),
            resources,
        })
    }
}

impl Resources {
    /// Closes the pool, if any.
    pub(super) fn close(&self) {
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
        trust_proxy: settings.http.trust_proxy,
        store_backend: settings.store.backend.as_str().to_owned(),
        request_timeout: Duration::from_millis(settings.server.request_timeout_ms),
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
