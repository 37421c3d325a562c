//! Monthly partitions of `gs_events`: create ahead, detach or drop old months.
//!
//! There is deliberately no DEFAULT partition: once it held rows, creating the partition of a
//! month it covers would fail. Instead partitions are created ahead — by the first migration
//! (current month + 3), by [`PgEventLog::ensure_partitions`](super::PgEventLog::ensure_partitions)
//! (call it at startup or run [`PgEventLog::spawn_partition_maintenance`](super::PgEventLog::spawn_partition_maintenance)),
//! and, as a last resort, by an append that found its month missing. The health check
//! ([`crate::postgres::health`]) reports missing future partitions.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::Result;
use crate::postgres::PgPool;

/// How many months ahead partitions are kept by default.
pub const DEFAULT_MONTHS_AHEAD: u32 = 3;

const ENSURE: &str = "select gs_events_ensure_partitions($1)";

/// Partitions of `gs_events` whose whole month lies before the month of `$1` (UTC), oldest
/// first, with their row counts.
const OLD_PARTITIONS: &str = "select c.relname::text
from pg_inherits i
join pg_class c on c.oid = i.inhrelid
where i.inhparent = 'gs_events'::regclass
  and c.relname ~ '^gs_events_p[0-9]{6}$'
  and to_date(substr(c.relname, 12), 'YYYYMM')
      < (date_trunc('month', $1::timestamptz at time zone 'utc'))::date
order by c.relname";

/// Partition names of `gs_events` that exist (attached).
pub(crate) const ATTACHED: &str = "select c.relname::text
from pg_inherits i
join pg_class c on c.oid = i.inhrelid
where i.inhparent = 'gs_events'::regclass";

/// Creates the missing partitions of this month and the next `months_ahead`; returns their names.
pub(super) async fn ensure(client: &impl GenericClient, months_ahead: u32) -> Result<Vec<String>> {
    let months = i32::try_from(months_ahead).unwrap_or(i32::MAX);
    let rows = client.query(ENSURE, &[&months]).await?;
    let created: Vec<String> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if !created.is_empty() {
        tracing::info!(partitions = ?created, "created event log partitions");
    }
    Ok(created)
}

/// Detaches every partition of a month before the month of `before`; when `drop` is set also
/// drops it. Returns `(name, rows)` per partition, in one transaction.
pub(super) async fn remove_before(
    pool: &PgPool,
    before: DateTime<Utc>,
    drop: bool,
) -> Result<Vec<(String, u64)>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let names: Vec<String> = tx
        .query(OLD_PARTITIONS, &[&before])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut removed = Vec::with_capacity(names.len());
    for name in names {
        // Names come from pg_class and match ^gs_events_p[0-9]{6}$: safe to splice in.
        let count: i64 = tx
            .query_one(&format!("select count(*) from {name}"), &[])
            .await?
            .try_get(0)?;
        let mut ddl = format!("alter table gs_events detach partition {name};");
        if drop {
            ddl.push_str(&format!(" drop table {name};"));
        }
        tx.batch_execute(&ddl).await?;
        removed.push((name, u64::try_from(count).unwrap_or_default()));
    }
    crate::postgres::commit(tx).await?;
    if !removed.is_empty() {
        tracing::info!(partitions = ?removed, dropped = drop, "removed old event log partitions");
    }
    Ok(removed)
}
