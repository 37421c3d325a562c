//! Contract suites: one generic async fn per behaviour, expanded per backend by a macro.

pub mod checkpoint;
pub mod dlq;
pub mod event_log;
pub mod kv;
pub mod lock;
pub mod session;

use crate::Result;
use crate::postgres::{PgConfig, PgPool};

/// A pool on the database at `url` with every gridstore migration applied: the PostgreSQL
/// factories of the contract suites call it with a fresh `testkit` database.
///
/// # Errors
///
/// Connection and migration failures.
pub async fn migrated_pool(url: &str) -> Result<PgPool> {
    let pool = PgPool::connect(&PgConfig::from_url(url)?).await?;
    crate::postgres::migrations::migrate(&pool).await?;
    Ok(pool)
}
