//! PostgreSQL backend of [`EscrowStore`](super::EscrowStore).
//!
//! - **Schema** by the numbered migrations in `crates/escrowgrid/migrations/`, embedded here
//!   and applied by [`PgEscrowStore::migrate`] (history table `escrowgrid_migrations`, under
//!   an advisory lock so several instances can start at once). Enums are text with CHECK
//!   constraints, amounts `NUMERIC(32,8)`, composite foreign keys keep a template's, an
//!   asset's and a position's institution consistent, and `ledger_events` rejects UPDATE,
//!   DELETE and TRUNCATE by trigger.
//! - **One transaction per write** (entity + ledger + audit rows), retried on serialization
//!   failures, deadlocks and lost connections by gridstore's `transaction`; the statements of
//!   a write are pipelined.
//! - **Tenant scoping** is part of every statement's `where` clause (or checked before any
//!   statement for inserts, whose foreign keys then pin the institution).
//! - **Errors**: SQLSTATEs are classified by `gridstore::postgres::classify` only; the result
//!   is translated into domain errors in one function (`postgres/error.rs`).
//! - **No N+1**: a page of positions with their events is two statements whatever its size.
//!
//! ```no_run
//! # async fn demo() -> escrowgrid::Result<()> {
//! use escrowgrid::store::postgres::PgEscrowStore;
//! use gridstore::postgres::PgConfig;
//!
//! let config = PgConfig::from_url("postgres://postgres@127.0.0.1:5432/escrowgrid")?;
//! let store = PgEscrowStore::connect(&config).await?;
//! store.migrate().await?;
//! # Ok(())
//! # }
//! ```

mod audit;
mod db;
mod deliveries;
mod entities;
mod error;
mod idempotency;
mod keys;
mod ledger;
mod paging;
mod policies;
mod positions;
mod rows;
mod schema;
mod store_impl;
mod transition;
mod webhooks;

use gridstore::postgres::{PgConfig, PgPool, RetryPolicy, migrate};

use crate::Result;

use db::StatementCounter;

pub use schema::{HISTORY_TABLE, MIGRATIONS};

/// The PostgreSQL [`EscrowStore`](super::EscrowStore). Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PgEscrowStore {
    pool: PgPool,
    retry: RetryPolicy,
    counter: StatementCounter,
}

impl PgEscrowStore {
    /// Connects a pool with `config` (checking one connection). Does not migrate.
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when the configuration is invalid or the server unreachable.
    pub async fn connect(config: &PgConfig) -> Result<Self> {
        Ok(Self::new(PgPool::connect(config).await?))
    }

    /// Wraps an existing pool, retrying transactions with the default [`RetryPolicy`].
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            retry: RetryPolicy::default(),
            counter: StatementCounter::default(),
        }
    }

    /// Replaces the retry policy of transactions and reads.
    #[must_use]
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Applies pending migrations; returns the versions this call applied (empty when the
    /// schema was already current).
    ///
    /// # Errors
    /// [`crate::Error::Storage`] with `gridstore::Error::Migration` when a migration fails
    /// or an applied one was edited.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        Ok(migrate(&self.pool, HISTORY_TABLE, MIGRATIONS).await?)
    }

    /// The connection pool (for readiness checks and pool metrics).
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many SQL statements this store (and its clones) executed so far, not counting
    /// prepares, `begin` and `commit`. Lets tests hold the store to its statement budgets.
    #[must_use]
    pub fn statement_count(&self) -> u64 {
        self.counter.get()
    }
}
