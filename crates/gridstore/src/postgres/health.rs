//! Health of the PostgreSQL backend: reachability, NOTIFY queue usage, future event-log
//! partitions, lock waits and the pool, also exported as gauges through the `metrics` facade.
//!
//! [`check`] never fails: a problem becomes a line in [`HealthReport::problems`].

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use super::event_log::MISSING_PARTITIONS;
use super::{PgPool, PoolStatus};

/// Above this share of the 8 GB NOTIFY queue the report is unhealthy: at 100% notifying
/// transactions fail at commit, and PostgreSQL itself warns from 50%.
pub const NOTIFY_QUEUE_LIMIT: f64 = 0.5;

const SELECT_ONE: &str = "select 1";
const QUEUE_USAGE: &str = "select pg_notification_queue_usage()";
/// Backends of this database waiting for a lock now (row, table or advisory).
const LOCK_WAITS: &str = "select count(*) from pg_stat_activity \
                          where wait_event_type = 'Lock' and datname = current_database()";

/// The outcome of one [`check`].
#[derive(Clone, Debug, PartialEq)]
pub struct HealthReport {
    /// Whether `select 1` succeeded.
    pub reachable: bool,
    /// How long `select 1` took, pool checkout included.
    pub latency: Duration,
    /// `pg_notification_queue_usage()` (0.0–1.0), when it could be read.
    pub notification_queue_usage: Option<f64>,
    /// Backends of this database waiting for a lock, when it could be read.
    pub lock_waits: Option<i64>,
    /// Expected `gs_events` partitions (this month and the months ahead) that do not exist.
    pub missing_partitions: Vec<String>,
    /// The pool's state at the time of the check.
    pub pool: PoolStatus,
    /// One line per problem found; empty when healthy.
    pub problems: Vec<String>,
}

impl HealthReport {
    /// Whether no problem was found.
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the database behind `pool`, expecting event-log partitions for the current month
/// and the next `months_ahead` months (UTC, by the database clock, which is also the clock
/// that creates them; it is read once).
pub async fn check(pool: &PgPool, months_ahead: u32) -> HealthReport {
    check_partitions_from(pool, months_ahead, None).await
}

/// [`check`] expecting the partitions of the month of `at` and the next `months_ahead`
/// months: for callers (and tests) that decide "this month" from an instant they hold, so that
/// the check and what they compare it with are decided by the same reading of the clock.
pub async fn check_at(pool: &PgPool, months_ahead: u32, at: DateTime<Utc>) -> HealthReport {
    check_partitions_from(pool, months_ahead, Some(at)).await
}

async fn check_partitions_from(
    pool: &PgPool,
    months_ahead: u32,
    at: Option<DateTime<Utc>>,
) -> HealthReport {
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut usage = None;
    let mut lock_waits = None;
    let mut missing = Vec::new();
    let reachable = match pool.get().await {
        Ok(client) => match client.query_one(SELECT_ONE, &[]).await {
            Ok(_) => {
                match client.query_one(QUEUE_USAGE, &[]).await {
                    Ok(row) => usage = row.try_get::<_, f64>(0).ok(),
                    Err(err) => {
                        problems.push(format!("notification queue usage unreadable: {err}"));
                    }
                }
                match client.query_one(LOCK_WAITS, &[]).await {
                    Ok(row) => lock_waits = row.try_get::<_, i64>(0).ok(),
                    Err(err) => problems.push(format!("lock waits unreadable: {err}")),
                }
                let months = i32::try_from(months_ahead).unwrap_or(i32::MAX);
                match client.query(MISSING_PARTITIONS, &[&months, &at]).await {
                    Ok(rows) => {
                        missing = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
                    }
                    Err(err) => problems.push(format!("event log partitions unreadable: {err}")),
                }
                true
            }
            Err(err) => {
                problems.push(format!("select 1 failed: {err}"));
                false
            }
        },
        Err(err) => {
            problems.push(format!("no connection: {err}"));
            false
        }
    };
    let latency = started.elapsed();
    if let Some(u) = usage.filter(|u| *u > NOTIFY_QUEUE_LIMIT) {
        problems.push(format!("notification queue {:.0}% full", u * 100.0));
    }
    if !missing.is_empty() {
        problems.push(format!(
            "missing event log partitions: {}",
            missing.join(", ")
        ));
    }
    let report = HealthReport {
        reachable,
        latency,
        notification_queue_usage: usage,
        lock_waits,
        missing_partitions: missing,
        pool: pool.status(),
        problems,
    };
    export(&report);
    report
}

/// The partition names `gs_events_pYYYYMM` of the month of `at` (UTC) and the next
/// `months_ahead` months. Pass the same instant to [`check_at`] or
/// [`PgEventLog::ensure_partitions_at`](super::PgEventLog::ensure_partitions_at) to compare
/// like with like; [`check`] judges by the database clock instead.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use gridstore::postgres::health::expected_partitions;
///
/// let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 30).unwrap();
/// assert_eq!(expected_partitions(at, 2), ["gs_events_p202612", "gs_events_p202701", "gs_events_p202702"]);
/// ```
pub fn expected_partitions(at: DateTime<Utc>, months_ahead: u32) -> Vec<String> {
    let today = at.date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    (0..=months_ahead)
        .filter_map(|i| first.checked_add_months(Months::new(i)))
        .map(|m| format!("gs_events_p{:04}{:02}", m.year(), m.month()))
        .collect()
}

#[allow(clippy::cast_precision_loss)] // pool sizes and counts are far below 2^52
fn export(report: &HealthReport) {
    metrics::gauge!("gridstore_health_up").set(if report.reachable { 1.0 } else { 0.0 });
    metrics::gauge!("gridstore_health_latency_seconds").set(report.latency.as_secs_f64());
    if let Some(usage) = report.notification_queue_usage {
        metrics::gauge!("gridstore_notification_queue_usage").set(usage);
    }
    if let Some(waits) = report.lock_waits {
        metrics::gauge!("gridstore_lock_waits").set(waits as f64);
    }
    metrics::gauge!("gridstore_event_partitions_missing")
        .set(report.missing_partitions.len() as f64);
    metrics::gauge!("gridstore_pool_connections", "state" => "open").set(report.pool.size as f64);
    metrics::gauge!("gridstore_pool_connections", "state" => "idle")
        .set(report.pool.available as f64);
    metrics::gauge!("gridstore_pool_connections", "state" => "in_use")
        .set(report.pool.size.saturating_sub(report.pool.available) as f64);
    metrics::gauge!("gridstore_pool_waiting").set(report.pool.waiting as f64);
    metrics::gauge!("gridstore_pool_max_size").set(report.pool.max_size as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn expected_partitions_start_at_the_month_of_the_instant_and_roll_over_years() {
        let names = expected_partitions(at(2026, 11, 30, 1, 0, 0), 13);
        assert_eq!(names.len(), 14);
        assert_eq!(names[0], "gs_events_p202611");
        assert_eq!(names[2], "gs_events_p202701");
        assert_eq!(names[12], "gs_events_p202711");
    }

    #[test]
    fn expected_partitions_hold_at_month_ends_year_end_and_leap_days() {
        assert_eq!(
            expected_partitions(at(2026, 12, 31, 23, 59, 59), 1),
            ["gs_events_p202612", "gs_events_p202701"]
        );
        assert_eq!(
            expected_partitions(at(2027, 1, 31, 12, 0, 0), 1),
            ["gs_events_p202701", "gs_events_p202702"]
        );
        assert_eq!(
            expected_partitions(at(2028, 2, 29, 12, 0, 0), 1),
            ["gs_events_p202802", "gs_events_p202803"]
        );
        assert_eq!(
            expected_partitions(at(2027, 3, 31, 23, 59, 30), 1),
            ["gs_events_p202703", "gs_events_p202704"]
        );
    }
}
