//! Transaction ids that die with the primary are handed out again by the promoted standby.
//!
//! A transaction that takes an id and writes nothing else (`select pg_current_xact_id()`, or
//! one that rolls back) commits without flushing its WAL, so neither a crash nor a standby
//! keeps any trace of its id. The old primary's commit fence had already moved past it; a
//! subscription that trusted the fence as "scanned up to here" would skip the first events
//! appended on the promoted standby, whose ids start again below it. The WAL writer is
//! stopped (SIGSTOP) for the test so that nothing flushes those commits before the kill.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use gridstore::{EventFilter, EventLog, NewEvent, Subscription, SubscriptionOptions};
use serde_json::json;

use super::cluster::{Cluster, DEADLINE, connect};

/// How many ids the old primary hands out and loses.
const LOST_IDS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_delivers_events_under_ids_the_promoted_standby_hands_out_again() {
    // Arrange: a subscription that read everything, then ids taken and never flushed.
    // No autovacuum: its commits would flush the WAL holding the ids this test loses.
    let mut cluster = Cluster::start_with(&[("autovacuum", "off")]).await;
    let log: Arc<dyn EventLog> = Arc::new(cluster.log.clone());
    let before: Vec<_> = (0..3)
        .map(|n| NewEvent::new("s", "tick", json!({ "n": n })))
        .collect();
    log.append(before).await.expect("append");
    let options = SubscriptionOptions {
        batch_size: 100,
        poll_interval: Duration::from_millis(50),
    };
    let mut sub = Subscription::new(log.clone(), None, EventFilter::all(), options);
    assert_eq!(sub.next_batch().await.expect("read").len(), 3);

    let admin = connect(&cluster.primary.url(cluster.db.name())).await;
    let walwriter: i32 = admin
        .query_one(
            "select pid from pg_stat_activity where backend_type = 'walwriter'",
            &[],
        )
        .await
        .expect("the wal writer's pid")
        .get(0);
    signal("-STOP", walwriter);
    let mut lost = Vec::new();
    for _ in 0..LOST_IDS {
        let id: String = admin
            .query_one("select pg_current_xact_id()::text", &[])
            .await
            .expect("take an id")
            .get(0);
        lost.push(id.parse::<u64>().expect("xid8"));
    }
    // The subscription reads again on the old primary, whose fence is now past the lost ids.
    assert!(sub.poll().await.expect("poll").is_empty());

    // Act: kill the primary (SIGKILL also ends the stopped WAL writer), promote the standby,
    // append there.
    cluster.fail_over();
    let started = tokio::time::Instant::now();
    let appended = loop {
        match log
            .append(vec![NewEvent::new("s", "tick", json!({ "n": 3 }))])
            .await
        {
            Ok(positions) => break positions[0],
            Err(err) => {
                assert!(
                    started.elapsed() < DEADLINE,
                    "no append after the promotion: {err}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    // Assert: the scenario happened (the id was reused: the old primary had handed out every
    // id up to the last one taken here, and lost those it never flushed, these and e.g. the
    // listener's announcement after the first append) and the event is delivered.
    let last_lost = *lost.last().expect("ids were taken");
    assert!(
        appended.tx_id() <= last_lost,
        "expected the promoted standby to hand out an id at or below {last_lost} again \
         (lost: {lost:?}), got {appended}"
    );
    let batch = tokio::time::timeout(DEADLINE, sub.next_batch())
        .await
        .expect("the event appended on the promoted standby was never delivered")
        .expect("read");
    assert_eq!(
        batch.iter().map(|e| e.position).collect::<Vec<_>>(),
        [appended]
    );
}

/// Sends `signal` to `pid` with kill(1) (the server runs as another user when tests run as
/// root; root may signal it).
fn signal(signal: &str, pid: i32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}
