//! PostgreSQL [`EventLog`]: `gs_events`, range-partitioned by month (migration 0004).
//!
//! # Design
//!
//! - **Append** is one `insert … select * from unnest($1::text[], …)` statement: one round trip
//!   for any batch size, positions returned by `returning`. Binary COPY was not used: it needs
//!   several protocol round trips (and a temp table to return positions), while server-side
//!   `unnest` reaches about 87% of COPY's rate on a partitioned table (pg-limits.md §2).
//!   [`PgEventLog::append_in`] appends inside the caller's transaction (transactional outbox).
//! - **Order and fence**: rows carry `tx_id xid8 default pg_current_xact_id()`; the fenced read
//!   is `where (tx_id, seq) > cursor and tx_id < pg_snapshot_xmin(pg_current_snapshot()) order
//!   by tx_id, seq`, so a transaction that commits late is never skipped (prior-art §0.1). The
//!   read runs as one autocommit statement outside any transaction of the caller (a reader
//!   holding an xid would fence itself), and it selects `tx_id` as text under another name:
//!   `order by tx_id` must sort the `xid8` column (numerically, through the index), not a text
//!   alias. Subscriptions use the scanned form, which computes the fence once in an outer
//!   query and returns it with the rows: when fewer than `limit` rows came back, the read
//!   looked up to `(fence - 1, i64::MAX)`, since every transaction that can still commit has an
//!   id at or above the fence. One long transaction anywhere in the cluster (any database)
//!   delays subscribers; bound `idle_in_transaction_session_timeout` and watch
//!   `gridstore_subscription_lag_seconds`.
//! - **Wake-ups** are announced after commit, not notified in the appending transaction: a
//!   `NOTIFY` takes a database-wide lock from its commit until the transaction ends, so writers
//!   that notify commit one at a time (on a durable server, an outbox write with its trigger
//!   ran at 41% of the same writes without the outbox at 32 clients, and at 77% without the
//!   trigger; migration 0010 dropped it). [`EventLog::append`] announces itself; after
//!   [`PgEventLog::append_in`], the caller calls [`PgEventLog::announce`] once committed. The
//!   shared [`PgListener`] per process ([`PgEventLog::with_listener`]) wakes local subscribers
//!   at once and folds a burst of announcements into one `notify gs_events` for the other
//!   processes. Without a listener, subscriptions poll only, which is correct, just slower.
//! - **Indexes** follow the query API: `(tx_id, seq)` for subscriptions, `(stream, tx_id, seq)`
//!   and `(event_type, tx_id, seq)` for filtered reads in position order, and a partial btree
//!   on `correlation_id`. The GIN `jsonb_path_ops` index on `payload` for `@>` is opt-in
//!   ([`PgEventLog::create_containment_index`]): every append paid for it (one entry per
//!   payload path; ~15% of the WAL of an escrow write with its outbox events) while
//!   containment, like text search below, usually runs over rows a stream, type, correlation
//!   or time predicate has narrowed down (migration 0011).
//! - **Full-text search** (`to_tsvector('simple', payload) @@ plainto_tsquery('simple', $1)`)
//!   has no index, on measurement: loading 200,000 events (~250 B payloads) twice into
//!   migration 0004's schema on this 2-core box wrote 278 and 310 MB of WAL without an
//!   expression GIN on `to_tsvector('simple', payload)` and 391 and 424 MB with it (+37–41%
//!   on every append; load times were within the ±30% noise). Searching one stream took
//!   1.5 ms without the index (the stream btree narrows first) and 23 ms with it (the planner
//!   preferred the GIN); an unbounded search over 400,000 events took 1.6 s without it and
//!   64 ms with it. Text search is an operator query and usually scoped by stream, type or
//!   time (partition pruning), so writes do not pay for it; add the expression index in a
//!   later migration if a workload needs fast unbounded text search.
//! - **Partitions**: monthly, created ahead (see [`partitions`]);
//!   [`EventLog::drop_months_before`] detaches and drops whole months,
//!   [`PgEventLog::detach_months_before`] only detaches them (archive them with `pg_dump -t`,
//!   then drop).
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use gridstore::postgres::{PgConfig, PgEventLog, PgListener, PgPool, migrations};
//! use gridstore::{EventFilter, EventLog, NewEvent, Subscription, SubscriptionOptions};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> gridstore::Result<()> {
//! let config = PgConfig::from_url("postgres://app@localhost/app")?;
//! let pool = PgPool::connect(&config).await?;
//! migrations::migrate(&pool).await?;
//! let listener = PgListener::start(&config).await?; // one per process, shared
//! let log = PgEventLog::new(pool.clone()).with_listener(listener);
//!
//! // Transactional outbox: the event commits with the caller's other writes.
//! let mut client = pool.get().await?;
//! let tx = client.transaction().await.map_err(gridstore::Error::from)?;
//! // ... tx.execute("update escrows ...", &[]) ...
//! PgEventLog::append_in(&tx, &[NewEvent::new("escrow-1", "escrow.funded", json!({}))]).await?;
//! gridstore::postgres::commit(tx).await?;
//! log.announce(); // wake subscribers now, here and in other processes
//!
//! let log: Arc<dyn EventLog> = Arc::new(log);
//! let mut sub = Subscription::new(log, None, EventFilter::all(), SubscriptionOptions::default());
//! let batch = sub.next_batch().await?;
//! # let _ = batch;
//! # Ok(())
//! # }
//! ```

mod append;
pub use append::AppendRows;
pub mod partitions;
mod read;
mod sql;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use self::sql::{Shape, Statement};

/// [`partitions::ensure`] in a transaction of its own: its statement is prepared by name, and a
/// transaction pooler keeps a transaction on one server connection.
async fn ensure_in_transaction(
    client: &mut PgClient,
    months_ahead: u32,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<String>> {
    let tx = client.transaction().await?;
    let created = partitions::ensure(&tx, months_ahead, at).await?;
    tx.commit().await?;
    Ok(created)
}

use crate::Result;
use crate::event_log::{
    Event, EventFilter, EventLog, EventPosition, NewEvent, ScannedBatch, StreamStats, Wakeups,
};
use crate::metrics::observe;
use crate::postgres::{PgClient, PgListener, PgPool};

pub(crate) use partitions::MISSING as MISSING_PARTITIONS;
pub use partitions::{DEFAULT_MONTHS_AHEAD, DEFAULT_PARTITION_LOCK_TIMEOUT};

const PRIMITIVE: &str = "event_log";
const BACKEND: &str = "postgres";

/// The PostgreSQL event log. Cheap to clone (a pool and a listener handle).
#[derive(Clone, Debug)]
pub struct PgEventLog {
    pool: PgPool,
    listener: Option<PgListener>,
    partition_lock_timeout: Duration,
}

impl PgEventLog {
    /// An event log on `pool` (migrated with [`crate::postgres::migrations::migrate`]) whose
    /// subscriptions poll only; add wake-ups with [`PgEventLog::with_listener`].
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            listener: None,
            partition_lock_timeout: DEFAULT_PARTITION_LOCK_TIMEOUT,
        }
    }

    /// Bounds how long removing old months ([`PgEventLog::detach_months_before`],
    /// [`EventLog::drop_months_before`]) waits for its locks on `gs_events` (default
    /// [`DEFAULT_PARTITION_LOCK_TIMEOUT`]; zero: unbounded). While it waits, appends and reads
    /// queue behind it; past the timeout it fails with [`Error::LockTimeout`](crate::Error).
    #[must_use]
    pub fn with_partition_lock_timeout(mut self, timeout: Duration) -> Self {
        self.partition_lock_timeout = timeout;
        self
    }

    /// Wakes subscriptions through `listener` (share one listener per process).
    #[must_use]
    pub fn with_listener(mut self, listener: PgListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Tells subscribers, in this process and in every other one, that appended events were
    /// committed ([`PgListener::announce`]); does nothing without a listener. Call it after the
    /// commit of a transaction that called [`PgEventLog::append_in`]; [`EventLog::append`]
    /// calls it itself.
    pub fn announce(&self) {
        if let Some(listener) = &self.listener {
            listener.announce();
        }
    }

    /// Creates the missing partitions of the current month (by the database clock, read once)
    /// and the next `months_ahead` months; returns the names created.
    ///
    /// # Errors
    /// Classified database errors.
    pub async fn ensure_partitions(&self, months_ahead: u32) -> Result<Vec<String>> {
        let mut client = self.pool.get().await?;
        ensure_in_transaction(&mut client, months_ahead, None).await
    }

    /// Creates the missing partitions of the month of `at` (UTC) and the next `months_ahead`
    /// months; returns the names created. [`PgEventLog::ensure_partitions`] with the instant
    /// chosen by the caller, for maintenance run at a known time and for tests.
    ///
    /// # Errors
    /// Classified database errors.
    pub async fn ensure_partitions_at(
        &self,
        at: DateTime<Utc>,
        months_ahead: u32,
    ) -> Result<Vec<String>> {
        let mut client = self.pool.get().await?;
        ensure_in_transaction(&mut client, months_ahead, Some(at)).await
    }

    /// Runs [`PgEventLog::ensure_partitions`] now and then every `every`, logging failures,
    /// until the returned task is aborted.
    pub fn spawn_partition_maintenance(
        &self,
        every: Duration,
        months_ahead: u32,
    ) -> JoinHandle<()> {
        let log = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                if let Err(err) = log.ensure_partitions(months_ahead).await {
                    tracing::warn!(error = %err, "event log partition maintenance failed");
                }
            }
        })
    }

    /// Detaches (without dropping) the partitions of the months before the month of `before`,
    /// leaving standalone tables `gs_events_pYYYYMM` to archive; returns their names. Drop or
    /// rename an archived table before its month could be needed again (only relevant when
    /// detaching the current month): partitions are created under that name.
    ///
    /// # Errors
    /// [`Error::LockTimeout`](crate::Error) when the partition lock timeout passed (see
    /// [`PgEventLog::with_partition_lock_timeout`]); other classified database errors.
    pub async fn detach_months_before(&self, before: DateTime<Utc>) -> Result<Vec<String>> {
        let removed =
            partitions::remove_before(&self.pool, before, false, self.partition_lock_timeout)
                .await?;
        Ok(removed.into_iter().map(|(name, _)| name).collect())
    }

    /// Creates the GIN index that serves [`EventFilter::contains`](crate::EventFilter) on its
    /// own (`gs_events_payload_idx`, `jsonb_path_ops`), if it does not exist; it covers every
    /// partition, present and future. Without it a containment filter runs over the rows the
    /// other predicates select, and every append skips one index entry per payload path
    /// (migration 0011). Builds under a lock that blocks appends: run it once, at deployment.
    ///
    /// # Errors
    /// Classified database errors.
    pub async fn create_containment_index(&self) -> Result<()> {
        let client = self.pool.get().await?;
        client.batch_execute(CONTAINMENT_INDEX).await?;
        Ok(())
    }
}

/// The optional containment index (see [`PgEventLog::create_containment_index`]).
const CONTAINMENT_INDEX: &str = "create index if not exists gs_events_payload_idx on gs_events using gin (payload jsonb_path_ops)";

#[async_trait]
impl EventLog for PgEventLog {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<EventPosition>> {
        observe(
            PRIMITIVE,
            "append",
            BACKEND,
            self.append_creating_partitions(&events),
        )
        .await
        .inspect(|_| self.announce())
    }

    async fn query(
        &self,
        filter: &EventFilter,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let mut statement = Statement::filtered(filter);
        if let Some(after) = after {
            statement.after(after);
        }
        observe(PRIMITIVE, "query", BACKEND, self.select(statement, limit)).await
    }

    async fn count(&self, filter: &EventFilter) -> Result<u64> {
        observe(PRIMITIVE, "count", BACKEND, async {
            let mut statement = Statement::filtered(filter);
            let sql = statement.sql(Shape::Count, None);
            let client = self.pool.get().await?;
            let row = self
                .pool
                .prepare(&client, &sql)
                .await?
                .query_one(&client, &statement.params())
                .await?;
            let count: i64 = row.try_get(0)?;
            Ok(u64::try_from(count).unwrap_or_default())
        })
        .await
    }

    async fn aggregate(&self, filter: &EventFilter) -> Result<Vec<StreamStats>> {
        observe(PRIMITIVE, "aggregate", BACKEND, async {
            let mut statement = Statement::filtered(filter);
            let sql = statement.sql(Shape::Aggregate, None);
            let client = self.pool.get().await?;
            let rows = self
                .pool
                .prepare(&client, &sql)
                .await?
                .query(&client, &statement.params())
                .await?;
            let mut stats: Vec<StreamStats> = Vec::new();
            for row in rows {
                let stream: String = row.try_get(0)?;
                let event_type: String = row.try_get(1)?;
                let count = u64::try_from(row.try_get::<_, i64>(2)?).unwrap_or_default();
                let first: DateTime<Utc> = row.try_get(3)?;
                let last: DateTime<Utc> = row.try_get(4)?;
                match stats.last_mut() {
                    Some(current) if current.stream == stream => {
                        current.count += count;
                        current.first_recorded_at = current.first_recorded_at.min(first);
                        current.last_recorded_at = current.last_recorded_at.max(last);
                        current.by_type.insert(event_type, count);
                    }
                    _ => stats.push(StreamStats {
                        stream,
                        count,
                        by_type: [(event_type, count)].into(),
                        first_recorded_at: first,
                        last_recorded_at: last,
                    }),
                }
            }
            Ok(stats)
        })
        .await
    }

    async fn drop_months_before(&self, before: DateTime<Utc>) -> Result<u64> {
        observe(PRIMITIVE, "drop_months_before", BACKEND, async {
            let removed =
                partitions::remove_before(&self.pool, before, true, self.partition_lock_timeout)
                    .await?;
            Ok(removed.iter().map(|(_, rows)| rows).sum())
        })
        .await
    }

    async fn read_after(
        &self,
        after: EventPosition,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let mut statement = Statement::filtered(filter);
        statement.after(after);
        statement.fenced();
        observe(
            PRIMITIVE,
            "read_after",
            BACKEND,
            self.select(statement, limit),
        )
        .await
    }

    async fn read_after_scanned(
        &self,
        after: EventPosition,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<ScannedBatch> {
        let mut statement = Statement::filtered(filter);
        statement.after(after);
        statement.fenced_outer();
        observe(
            PRIMITIVE,
            "read_after",
            BACKEND,
            self.select_scanned(statement, after, limit),
        )
        .await
    }

    fn wakeups(&self) -> Wakeups {
        self.listener
            .as_ref()
            .map_or_else(Wakeups::never, PgListener::wakeups)
    }
}
