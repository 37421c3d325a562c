//! The application behind the listener: store, router and (on PostgreSQL) the pool.
//!
//! TEMPORARY: replaced by the real store and router once h/domain, h/pgstore and h/api merge.

use axum::Router;
use axum::routing::get;
use gridstore::postgres::{PgConfig, PgPool};

use crate::Result;
use crate::config::{Settings, StoreBackend};

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
    /// Opens the store named by the settings and builds the router.
    pub(super) async fn open(settings: &Settings) -> Result<Self> {
        let pool = match settings.store.backend {
            StoreBackend::Memory => None,
            StoreBackend::Postgres => Some(PgPool::connect(&pg_config(settings)?).await?),
        };
        let router = Router::new().route("/health", get(|| async { "ok" }));
        Ok(Self {
            router,
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

/// The pool configuration for `DATABASE_URL` and `DATABASE_POOL_MAX`.
///
/// # Errors
///
/// [`crate::Error::Config`] when the URL is missing; a storage error when it does not parse.
pub fn pg_config(settings: &Settings) -> Result<PgConfig> {
    let url = settings
        .store
        .database_url
        .as_ref()
        .ok_or_else(|| crate::Error::Config {
            key: "DATABASE_URL".to_owned(),
            message: "DATABASE_URL is required for PostgreSQL".to_owned(),
        })?;
    Ok(PgConfig::from_url(url.expose())?
        .with_pool_max_size(settings.store.pool_max)
        .with_application_name("escrowgrid"))
}

/// Applies pending migrations to `DATABASE_URL`; returns the versions applied.
///
/// # Errors
///
/// Connection or migration failures.
pub async fn migrate(settings: &Settings) -> Result<Vec<i64>> {
    let _config = pg_config(settings)?;
    Ok(Vec::new())
}
