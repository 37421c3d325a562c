//! The application behind the listener: store, router and (on PostgreSQL) the pool.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use gridstore::postgres::{PgConfig, PgPool, PgReadPools, ReplicaOptions};
use tracing::info;

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
}

/// What must be closed after the server stops.
#[derive(Debug)]
pub(super) struct Resources {
    pool: Option<PgPool>,
}

impl App {
    /// Opens the store named by the settings (migrating PostgreSQL unless told not to) and
    /// builds the router.
    pub(super) async fn open(settings: &Settings) -> Result<Self> {
        let (store, pool): (Arc<dyn EscrowStore>, Option<PgPool>) = match settings.store.backend {
            StoreBackend::Memory => (Arc::new(MemoryStore::new()), None),
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
                    info!("migrations skipped (MIGRATE_ON_START=false)");
                }
                let pool = store.pool().clone();
                (Arc::new(store), Some(pool))
            }
        };
        let mut state = AppState::new(store, api_settings(settings));
        if let Some(pool) = &pool {
            state = state.with_pool(pool.clone());
        }
        Ok(Self {
            router: api::router(state),
            resources: Resources { pool },
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
        },
        metrics_enabled: settings.http.metrics_enabled,
        public_docs_enabled: settings.http.public_docs_enabled,
        trust_proxy: settings.http.trust_proxy,
        store_backend: settings.store.backend.as_str().to_owned(),
        request_timeout: Duration::from_millis(settings.server.request_timeout_ms),
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
