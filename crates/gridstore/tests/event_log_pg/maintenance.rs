//! Partition maintenance against clocks and locks: health judges partitions by the database
//! clock, and removing old months gives up after the lock timeout instead of queueing appends.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use gridstore::postgres::health::{self, expected_partitions};
use gridstore::postgres::{PgConfig, PgEventLog, PgPool};
use gridstore::testing::event_log::start_of_next_month;
use gridstore::{EventFilter, EventLog};

use super::{event, fixture};

/// Health expects the partitions the database clock creates, not the app clock's. The
/// database clock is stopped at a fixed instant years ahead by shadowing `now()` with
/// `public.now()` ahead of `pg_catalog` on the search path; a fixed instant means the
/// creation and the checks below are decided by the same month whatever the real date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_judges_partitions_by_the_database_clock() {
    let f = fixture().await;
    let admin = f.pool.get().await.expect("admin");
    let database_clock = Utc.with_ymd_and_hms(2031, 6, 15, 12, 0, 0).unwrap();
    let mut ddl = String::from(
        "create function public.now() returns timestamptz language sql stable \
         as $$ select timestamptz '2031-06-15 12:00:00+00' $$;",
    );
    // Start from no partitions at all, whatever months the migration created.
    for row in admin
        .query(
            "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid \
             where i.inhparent = 'gs_events'::regclass",
            &[],
        )
        .await
        .expect("partitions")
    {
        ddl.push_str(&format!("drop table {};", row.get::<_, String>(0)));
    }
    ddl.push_str(&format!(
        "alter database \"{}\" set search_path = public, pg_catalog;",
        f.config.dbname()
    ));
    admin
        .batch_execute(&ddl)
        .await
        .expect("skew the database clock");
    let skewed = PgPool::connect(&f.config).await.expect("pool");
    let created = PgEventLog::new(skewed.clone())
        .ensure_partitions(3)
        .await
        .expect("ensure");
    assert_eq!(created, expected_partitions(database_clock, 3));

    let report = health::check(&skewed, 3).await;
    assert!(report.is_healthy(), "{:?}", report.problems);
    admin
        .batch_execute(&format!("drop table {}", created[1]))
        .await
        .expect("drop partition");
    let report = health::check(&skewed, 3).await;
    assert_eq!(report.missing_partitions, std::slice::from_ref(&created[1]));
}

/// A long transaction on `gs_events` makes detaching wait for its lock: after the configured
/// lock timeout the removal fails with a typed error and appends were never queued for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_old_months_gives_up_after_the_lock_timeout() {
    let f = fixture().await;
    let config: PgConfig = f.config.clone();
    let log =
        PgEventLog::new(f.pool.clone()).with_partition_lock_timeout(Duration::from_millis(300));
    log.append(vec![event("s", 0)]).await.expect("append");
    // Everything up to the month the event was stamped in: at least that month's partition.
    let stamped = log
        .query(&EventFilter::all(), None, 1)
        .await
        .expect("query")[0]
        .recorded_at;
    let through_its_month = start_of_next_month(stamped);

    let mut long_client = f.pool.get().await.expect("client");
    let long = long_client.transaction().await.expect("begin");
    long.query("select count(*) from gs_events", &[])
        .await
        .expect("read in the long transaction");

    let started = std::time::Instant::now();
    let detached = log.detach_months_before(through_its_month).await;
    assert!(
        matches!(detached, Err(gridstore::Error::LockTimeout)),
        "{detached:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let dropped = log.drop_months_before(through_its_month).await;
    assert!(
        matches!(dropped, Err(gridstore::Error::LockTimeout)),
        "{dropped:?}"
    );

    // Nothing was removed, and appends go on.
    let other = PgPool::connect(&config).await.expect("pool");
    PgEventLog::new(other)
        .append(vec![event("s", 1)])
        .await
        .expect("append after the timeout");
    long.rollback().await.expect("rollback");
}
