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
//! - **Read replicas** (optional, [`PgEscrowStore::with_read_pools`]): list pages of templates,
//!   assets and positions, the ledger and the audit log read from a replica within its lag
//!   limit; by-id reads and reads inside writes use the primary.
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
mod checkpoints;
mod combined;
mod contexts;
mod create;
mod db;
mod deliveries;
mod entities;
mod error;
mod generations;
mod kept_positions;
mod key_cache;
mod keys;
mod ledger;
mod paging;
mod policies;
mod positions;
mod rows;
mod schema;
mod store_impl;
mod transition;
mod transition_writes;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use gridstore::EventLog;
use gridstore::postgres::{
    PgConfig, PgEventLog, PgKvStore, PgListener, PgPool, PgReadPools, RetryPolicy, classify,
    migrate,
};

use crate::Result;

use contexts::ContextCache;
use db::StatementCounter;
use kept_positions::KeptPositions;
use key_cache::KeyCache;
use transition::WayCounters;

pub use key_cache::API_KEYS_CHANNEL;
pub use schema::{HISTORY_TABLE, MIGRATIONS};

/// Whether the history table named `$1` exists yet.
const HISTORY_EXISTS: &str = "select to_regclass($1) is not null";

/// The PostgreSQL [`EscrowStore`](super::EscrowStore). Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PgEscrowStore {
    pool: PgPool,
    /// Where list, ledger and audit reads go (replicas within their lag limit, else `pool`).
    reads: PgReadPools,
    retry: RetryPolicy,
    counter: StatementCounter,
    events: PgEventLog,
    /// Active API keys by token hash, when enabled ([`PgEscrowStore::with_api_key_cache`]).
    keys: Option<Arc<KeyCache>>,
    /// Creation contexts by institution and asset, so a create is one round trip
    /// (`store/postgres/create.rs`).
    contexts: Arc<ContextCache>,
    /// Positions as this instance last wrote them, so a transition is one round trip
    /// (`store/postgres/transition.rs`).
    kept: Arc<KeptPositions>,
    /// How its transitions were decided, for the metrics.
    ways: Arc<WayCounters>,
}

impl PgEscrowStore {
    /// Connects a pool with `config` (checking one connection). Does not migrate.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when the configuration is invalid,
    /// [`crate::Error::Unavailable`] when the server is unreachable.
    pub async fn connect(config: &PgConfig) -> Result<Self> {
        Ok(Self::new(PgPool::connect(config).await?))
    }

    /// Wraps an existing pool, retrying transactions with the default [`RetryPolicy`].
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self {
            counter: StatementCounter::new(pool.clone()),
            reads: PgReadPools::primary_only(pool.clone()),
            events: PgEventLog::new(pool.clone()),
            pool,
            retry: RetryPolicy::default(),
            keys: None,
            contexts: Arc::default(),
            kept: Arc::default(),
            ways: Arc::default(),
        }
    }

    /// Sends list, ledger and audit reads to `reads` (read replicas); by-id reads and every read
    /// inside a write stay on the primary, so they see the caller's own writes.
    #[must_use]
    pub fn with_read_pools(mut self, reads: PgReadPools) -> Self {
        self.reads = reads;
        self
    }

    /// Wakes the event log's subscribers through `listener` (share one per process); without
    /// one, subscriptions to [`EscrowStore::events`](super::EscrowStore::events) poll only.
    #[must_use]
    pub fn with_event_listener(mut self, listener: PgListener) -> Self {
        self.events = self.events.with_listener(listener);
        self
    }

    /// Caches active API keys for at most `ttl` after each database read, dropping a key as
    /// soon as `listener` (which must listen on [`API_KEYS_CHANNEL`]) reports its revocation by
    /// any instance; see `store/postgres/key_cache.rs`. Without it every authentication reads
    /// the database. Must be called inside a Tokio runtime (it spawns the follower task).
    ///
    /// # Errors
    /// [`crate::Error::Config`] when `listener` does not listen on [`API_KEYS_CHANNEL`]
    /// (revocations would go unseen for the whole TTL).
    pub fn with_api_key_cache(mut self, listener: PgListener, ttl: Duration) -> Result<Self> {
        if !listener.listens_on(API_KEYS_CHANNEL) {
            return Err(crate::Error::Config {
                key: "api key cache".to_owned(),
                message: format!("the listener must listen on {API_KEYS_CHANNEL}"),
            });
        }
        self.keys = Some(KeyCache::start(listener, ttl));
        Ok(self)
    }

    /// [`EscrowStore::find_api_key_by_token`](super::EscrowStore::find_api_key_by_token) as
    /// of `now`, the instant the API-key cache measures an entry's age against (a cached key
    /// read at least its TTL before `now` is read again).
    ///
    /// # Errors
    /// The storage variants of [`crate::Error`].
    pub async fn find_api_key_at(
        &self,
        token: &str,
        now: std::time::Instant,
    ) -> Result<Option<crate::domain::ApiKey>> {
        gridstore::postgres::retry(&self.retry, || self.api_key_by_token(token, now)).await
    }

    /// The PostgreSQL event log the writes append to (for partition maintenance).
    #[must_use]
    pub fn event_log(&self) -> &PgEventLog {
        &self.events
    }

    pub(super) fn shared_events(&self) -> Arc<dyn EventLog> {
        Arc::new(self.events.clone())
    }

    /// Replaces the retry policy of transactions and reads.
    #[must_use]
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Applies pending migrations, gridstore's first (the outbox's event log lives in its
    /// `gs_events`; idempotency keys and rate-limit counters in its KV table, where
    /// EscrowGrid's migration 0005 moves stored responses); returns the versions of
    /// EscrowGrid's own migrations this call applied
    /// (empty when the schema was already current).
    ///
    /// # Errors
    /// [`crate::Error::Storage`] when a migration fails or an applied one was edited.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let primitives = gridstore::postgres::migrations::migrate(&self.pool).await?;
        if !primitives.is_empty() {
            tracing::info!(applied = ?primitives, "gridstore migrations applied");
        }
        Ok(migrate(&self.pool, HISTORY_TABLE, MIGRATIONS).await?)
    }

    /// The migrations (gridstore's and EscrowGrid's, by history table and version) the
    /// database lacks; empty when its schema is current. For starts that skip migrations: a
    /// binary must not serve a schema it was not written for (before 0005 it would keep
    /// idempotency keys where instances of the previous version do not look).
    ///
    /// # Errors
    /// The storage variants of [`crate::Error`] when the database cannot be read.
    pub async fn pending_migrations(&self) -> Result<Vec<(&'static str, i64)>> {
        let client = self.pool.get().await?;
        let mut pending = Vec::new();
        let lists = [
            (
                gridstore::postgres::migrations::HISTORY_TABLE,
                gridstore::postgres::migrations::MIGRATIONS,
            ),
            (HISTORY_TABLE, MIGRATIONS),
        ];
        for (table, migrations) in lists {
            let exists: bool = client
                .query_one(HISTORY_EXISTS, &[&table])
                .await
                .map_err(classify)?
                .try_get(0)
                .map_err(classify)?;
            let mut applied = Vec::new();
            if exists {
                // `table` is one of the two constant history table names, not input.
                let rows = client
                    .query(&format!("select version from {table}"), &[])
                    .await
                    .map_err(classify)?;
                for row in rows {
                    applied.push(row.try_get::<_, i64>(0).map_err(classify)?);
                }
            }
            pending.extend(
                migrations
                    .iter()
                    .filter(|m| !applied.contains(&m.version))
                    .map(|m| (table, m.version)),
            );
        }
        Ok(pending)
    }

    /// A gridstore KV store on this store's pool (idempotency keys and rate-limit counters
    /// shared by every instance on the database).
    #[must_use]
    pub fn kv_store(&self) -> PgKvStore {
        PgKvStore::new(self.pool.clone())
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
