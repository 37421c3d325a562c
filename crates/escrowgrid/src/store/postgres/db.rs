//! Statement execution: every SQL statement of the store goes through [`Db`], which prepares
//! it through the pool (once per connection with the statement cache, or as a typed unnamed
//! statement without it, behind PgBouncer: see `gridstore::postgres::statements`), classifies
//! driver errors through gridstore's `classify` and counts it (see [`StatementCounter`]).
//!
//! Pipelining: futures of one connection polled together (`tokio::try_join!`) share round
//! trips, and tokio-postgres sends each request when its future is first polled. Statements
//! whose order matters (a write's rows, then its outbox append) are therefore prepared first
//! ([`Db::prepare`]) and then executed with [`Db::execute_prepared`], whose request goes out on
//! the first poll, in `join!(biased; ..)` order. The results are then checked in that order:
//! after a failed statement the later ones only report the aborted transaction (25P02), so
//! the first error is the one that says what happened.
//!
//! Writes run on a [`PgTransaction`] in two round trips: [`Db::begin_with`] sends `BEGIN` with
//! the reads before the write (or the prepares, which cost nothing once cached), and
//! [`Db::commit_with`] sends the writes with `COMMIT`. The writes given to it must be
//! executions of prepared statements ([`Db::execute_prepared`] and the helpers built on it) or
//! [`Db::append_events`], whose request goes out on the first poll: anything that awaited
//! first would reach the server after the `COMMIT`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::Transaction;
use gridstore::NewEvent;
use gridstore::postgres::{
    PgClient, PgConnection, PgEventLog, PgPool, PgStatement, PgTransaction, PgWrite, classify,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// Counts the SQL statements a store has executed (prepares, `begin` and `commit` excluded),
/// and holds the pool that prepares them.
///
/// Lets tests check statement budgets honestly (e.g. a page of positions with their events is
/// two statements whatever the page size) and can feed metrics.
#[derive(Debug, Clone)]
pub(crate) struct StatementCounter {
    count: Arc<AtomicU64>,
    pool: PgPool,
}

impl StatementCounter {
    /// A counter at zero for statements prepared by `pool`.
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            count: Arc::default(),
            pool,
        }
    }

    /// The number of statements executed so far.
    pub(crate) fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn increment(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Parameters of one statement.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A connection or transaction plus the store's statement counter.
pub(crate) struct Db<'a, C: PgConnection> {
    client: &'a C,
    counter: &'a StatementCounter,
}

impl<'a, C: PgConnection> Db<'a, C> {
    /// Wraps `client`, counting into `counter`.
    pub(crate) fn new(client: &'a C, counter: &'a StatementCounter) -> Self {
        Self { client, counter }
    }

    /// Runs a statement and returns all its rows.
    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> gridstore::Result<Vec<Row>> {
        let statement = self.prepare(sql).await?;
        self.counter.increment();
        statement.query(self.client, params).await.map_err(classify)
    }

    /// Runs a statement and returns its only row, if any.
    pub(crate) async fn query_opt(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> gridstore::Result<Option<Row>> {
        let statement = self.prepare(sql).await?;
        self.counter.increment();
        statement
            .query_opt(self.client, params)
            .await
            .map_err(classify)
    }

    /// Prepares a statement (once per connection, or once per pool without the cache).
    pub(crate) async fn prepare(&self, sql: &str) -> gridstore::Result<PgStatement> {
        self.counter.pool.prepare(self.client, sql).await
    }

    /// Runs a prepared statement and returns the number of rows it affected. The request is
    /// sent when the future is first polled.
    pub(crate) async fn execute_prepared(
        &self,
        statement: &PgStatement,
        params: &Params<'_>,
    ) -> gridstore::Result<u64> {
        self.counter.increment();
        statement
            .execute(self.client, params)
            .await
            .map_err(classify)
    }

    /// Appends domain events to the event log in this transaction (the outbox): one
    /// statement, sent on the first poll. Returns the number of events appended. The writes
    /// of positions fold their append into their own statement instead
    /// (`gridstore::postgres::event_log::AppendRows`).
    pub(crate) async fn append_events(&self, events: &[NewEvent]) -> gridstore::Result<u64> {
        if events.is_empty() {
            return Ok(0);
        }
        self.counter.increment();
        let appended = PgEventLog::append_in(self.client, events).await?;
        Ok(u64::try_from(appended.len()).unwrap_or(u64::MAX))
    }

    /// Runs a statement and returns the number of rows it affected.
    pub(crate) async fn execute(&self, sql: &str, params: &Params<'_>) -> gridstore::Result<u64> {
        let statement = self.prepare(sql).await?;
        self.counter.increment();
        statement
            .execute(self.client, params)
            .await
            .map_err(classify)
    }
}

impl Db<'_, PgTransaction> {
    /// Sends `BEGIN` and then `first` (the reads before the writes) in one round trip; see
    /// [`PgTransaction::begin_with`].
    pub(crate) async fn begin_with<T, E, F>(&self, first: F) -> Result<T, E>
    where
        E: From<gridstore::Error>,
        F: Future<Output = Result<T, E>>,
    {
        self.client.begin_with(first).await
    }

    /// Sends `writes` (see the [module docs](self)) and then `COMMIT` in one round trip; the
    /// rows each write affected, in order. See [`PgTransaction::commit_with`].
    pub(crate) async fn commit_with(
        &self,
        writes: Vec<PgWrite<'_>>,
    ) -> gridstore::Result<Vec<u64>> {
        self.client.commit_with(writes).await
    }

    /// Runs `write` (one prepared statement) as a transaction of its own, without `BEGIN`: one
    /// message each way. See [`PgTransaction::run_alone`].
    pub(crate) async fn run_alone(&self, write: PgWrite<'_>) -> gridstore::Result<u64> {
        self.client.run_alone(write).await
    }
}

/// Whether a guarded write went through: `true` when it did, `false` when its guard raised
/// the version conflict (GS409) whose key starts with `key_prefix` (nothing was written); any
/// other error as it is. The guards are the functions of migrations 0011 and 0012.
pub(crate) fn guard_held(
    written: gridstore::Result<u64>,
    key_prefix: &str,
) -> gridstore::Result<bool> {
    match written {
        Ok(_) => Ok(true),
        Err(gridstore::Error::VersionConflict { key, .. }) if key.starts_with(key_prefix) => {
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Begins a transaction (read committed) on a pooled connection.
pub(crate) async fn begin(client: &mut PgClient) -> gridstore::Result<Transaction<'_>> {
    client.transaction().await.map_err(classify)
}
