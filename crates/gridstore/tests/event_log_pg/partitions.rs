//! Monthly partitions on a real server: health reports a missing future partition, old months
//! detach into archivable tables, and maintenance recreates what is missing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use gridstore::postgres::health::{self, expected_partitions};
use gridstore::postgres::{PgEventLog, PgPool};
use gridstore::testing::event_log::start_of_next_month;
use gridstore::{EventFilter, EventLog};

use super::{event, fixture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_missing_future_partition_until_it_is_recreated() {
    let f = fixture().await;
    let log = PgEventLog::new(f.pool.clone());
    // One reading of the database clock decides "this month" for every call below.
    let now = database_now(&f.pool).await;
    log.ensure_partitions_at(now, 3).await.expect("ensure");
    let report = health::check_at(&f.pool, 3, now).await;
    assert!(report.is_healthy(), "{:?}", report.problems);
    assert!(report.reachable);
    assert!(report.notification_queue_usage.is_some_and(|u| u < 0.5));

    let next_month = expected_partitions(now, 1)[1].clone();
    let admin = f.pool.get().await.expect("admin");
    admin
        .batch_execute(&format!("drop table {next_month}"))
        .await
        .expect("drop partition");
    let report = health::check_at(&f.pool, 3, now).await;
    assert!(!report.is_healthy());
    assert_eq!(report.missing_partitions, std::slice::from_ref(&next_month));

    assert_eq!(
        log.ensure_partitions_at(now, 3).await.expect("ensure"),
        [next_month]
    );
    assert!(health::check_at(&f.pool, 3, now).await.is_healthy());
    assert!(
        log.ensure_partitions_at(now, 3)
            .await
            .expect("ensure")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detaching_old_months_leaves_archivable_tables_and_appends_recreate_the_month() {
    let f = fixture().await;
    let log = PgEventLog::new(f.pool.clone());
    log.append(vec![event("s", 0), event("s", 1)])
        .await
        .expect("append");
    // The month is the one the events were stamped with (one reading of the database clock);
    // detaching everything before the next month must take exactly the partitions up to it.
    let stamped = log
        .query(&EventFilter::all(), None, 1)
        .await
        .expect("query")[0]
        .recorded_at;
    let this_month = expected_partitions(stamped, 0)[0].clone();
    let next_month_start = start_of_next_month(stamped);

    let detached = log
        .detach_months_before(next_month_start)
        .await
        .expect("detach");
    assert_eq!(detached.last(), Some(&this_month));
    assert!(
        detached.iter().all(|name| *name <= this_month),
        "{detached:?}"
    );
    let attached = attached_partitions(&f.pool).await;
    assert!(
        attached.iter().all(|name| *name > this_month),
        "{attached:?}"
    );
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 0);
    let admin = f.pool.get().await.expect("admin");
    let archived: i64 = admin
        .query_one(&format!("select count(*) from {this_month}"), &[])
        .await
        .expect("archived rows")
        .get(0);
    assert_eq!(archived, 2);

    // The month's partition is gone from gs_events: the next append creates it again.
    admin
        .batch_execute(&format!("drop table {this_month}"))
        .await
        .expect("drop archive");
    log.append(vec![event("s", 2)])
        .await
        .expect("append recreates");
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_maintenance_recreates_a_missing_future_partition() {
    let f = fixture().await;
    let log = PgEventLog::new(f.pool.clone());
    let now = database_now(&f.pool).await;
    log.ensure_partitions_at(now, 3).await.expect("ensure");
    let next_month = expected_partitions(now, 1)[1].clone();
    let admin = f.pool.get().await.expect("admin");
    admin
        .batch_execute(&format!("drop table {next_month}"))
        .await
        .expect("drop partition");
    assert!(!attached_partitions(&f.pool).await.contains(&next_month));

    // The maintenance task reads the database clock itself; whether or not a month boundary
    // passes meanwhile, the month after `now` is within its window and must come back.
    let task = log.spawn_partition_maintenance(Duration::from_millis(50), 3);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !attached_partitions(&f.pool).await.contains(&next_month) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "partition never recreated"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
}

/// The database clock, read once.
async fn database_now(pool: &PgPool) -> DateTime<Utc> {
    let client = pool.get().await.expect("client");
    client
        .query_one("select now()", &[])
        .await
        .expect("now")
        .get(0)
}

/// Names of the partitions attached to `gs_events`, in month order.
async fn attached_partitions(pool: &PgPool) -> Vec<String> {
    let client = pool.get().await.expect("client");
    client
        .query(
            "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid \
             where i.inhparent = 'gs_events'::regclass order by 1",
            &[],
        )
        .await
        .expect("partitions")
        .iter()
        .map(|r| r.get(0))
        .collect()
}
