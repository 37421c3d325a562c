//! Monthly partitions of `gs_events`: create ahead, detach or drop old months.
//!
//! There is deliberately no DEFAULT partition: once it held rows, creating the partition of a
//! month it covers would fail. Instead partitions are created ahead — by the first migration
//! (current month + 3), by [`PgEventLog::ensure_partitions`](super::PgEventLog::ensure_partitions)
//! (call it at startup or run [`PgEventLog::spawn_partition_maintenance`](super::PgEventLog::spawn_partition_maintenance)),
//! and, as a last resort, by an append that found its month missing. The health check
//! ([`crate::postgres::health`]) reports missing future partitions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::Result;
use crate::postgres::PgPool;

/// How many months ahead partitions are kept by default.
pub const DEFAULT_MONTHS_AHEAD: u32 = 3;

/// How long removing old months waits for its locks on `gs_events` by default.
pub const DEFAULT_PARTITION_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Sets `lock_timeout` for the rest of the transaction (`$1` like `'5000ms'`).
const SET_LOCK_TIMEOUT: &str = "select set_config('lock_timeout', $1, true)";

/// `$2` is the instant whose month comes first; null means the database clock's `now()`.
const ENSURE: &str = "select gs_events_ensure_partitions($1, coalesce($2::timestamptz, now()))";

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

/// The partitions of the month of `$2` and the next `$1` months that are not attached to
/// `gs_events`, in month order. A null `$2` means the database clock's `now()` (UTC), as in
/// `gs_events_ensure_partitions`, so the check and the creation agree even when the
/// application's clock is off.
pub(crate) const MISSING: &str = "select expected.name
from (
    select m, 'gs_events_p' || to_char(
        date_trunc('month', coalesce($2::timestamptz, now()) at time zone 'utc')
            + make_interval(months => m),
        'YYYYMM') as name
    from generate_series(0, $1::integer) as m
) expected
where not exists (
    select 1
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'gs_events'::regclass and c.relname = expected.name
)
order by expected.m";

/// Creates the missing partitions of the month of `at` (`None`: the database clock's now) and
/// the next `months_ahead`; returns their names.
pub(super) async fn ensure(
    client: &impl GenericClient,
    months_ahead: u32,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<String>> {
    let months = i32::try_from(months_ahead).unwrap_or(i32::MAX);
    let rows = client.query(ENSURE, &[&months, &at]).await?;
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
/// drops it. Returns `(name, rows)` per partition, in one transaction. Detaching waits for
/// every transaction that touched `gs_events` (a long outbox transaction delays it) and blocks
/// appends and reads meanwhile: run it off-peak. The wait is bounded by `lock_timeout` (zero:
/// unbounded); past it the transaction rolls back with [`Error::LockTimeout`](crate::Error)
/// and the queued appends go on.
pub(super) async fn remove_before(
    pool: &PgPool,
    before: DateTime<Utc>,
    drop: bool,
    lock_timeout: Duration,
) -> Result<Vec<(String, u64)>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.query_one(SET_LOCK_TIMEOUT, &[&lock_timeout_setting(lock_timeout)])
        .await?;
    let names: Vec<String> = tx
        .query(OLD_PARTITIONS, &[&before])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    // Count every partition first: the first detach takes an access-exclusive lock on
    // gs_events that blocks appends and reads until commit, so nothing slow may follow it.
    let mut removed = Vec::with_capacity(names.len());
    let mut ddl = String::new();
    for name in names {
        // Names come from pg_class and match ^gs_events_p[0-9]{6}$: safe to splice in.
        let count: i64 = tx
            .query_one(&format!("select count(*) from {name}"), &[])
            .await?
            .try_get(0)?;
        ddl.push_str(&format!("alter table gs_events detach partition {name};"));
        if drop {
            ddl.push_str(&format!(" drop table {name};"));
        }
        removed.push((name, u64::try_from(count).unwrap_or_default()));
    }
    if !ddl.is_empty() {
        tx.batch_execute(&ddl).await?;
    }
    crate::postgres::commit(tx).await?;
    if !removed.is_empty() {
        tracing::info!(partitions = ?removed, dropped = drop, "removed old event log partitions");
    }
    Ok(removed)
}

/// `lock_timeout` in milliseconds, rounded up so that a positive timeout never means "none".
fn lock_timeout_setting(timeout: Duration) -> String {
    let millis = timeout.as_millis() + u128::from(timeout.subsec_nanos() % 1_000_000 != 0);
    format!("{}ms", millis.min(i32::MAX as u128))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_timeouts_round_up_to_whole_milliseconds_and_zero_stays_unbounded() {
        assert_eq!(lock_timeout_setting(Duration::from_secs(5)), "5000ms");
        assert_eq!(lock_timeout_setting(Duration::from_micros(1)), "1ms");
        assert_eq!(lock_timeout_setting(Duration::ZERO), "0ms");
        assert_eq!(
            lock_timeout_setting(Duration::MAX),
            format!("{}ms", i32::MAX)
        );
    }
}
