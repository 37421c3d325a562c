//! gridstore's primitives across a failover (issue 10 item 4): a durable primary with a
//! synchronous standby is killed with SIGKILL under load and the standby promoted. Leases,
//! subscriptions and the LISTEN connection, all on a multi-host URL with
//! `target_session_attrs=read-write`, carry on against the promoted standby:
//!
//! * a lease held on the old primary is still held (and extendable) on the new one, and no
//!   two acknowledged grants ever share a fencing token;
//! * a live subscription delivers exactly the events on the new primary, in order, none
//!   twice, and one resumed from a cursor saved before the kill delivers exactly the rest;
//! * the listener reconnects by itself.
//!
//! `xid_reuse` pins the hazard the subscription side had to be fixed for: transaction ids
//! the old primary handed out but never flushed are handed out again by the promoted standby.

#[path = "failover_primitives/cluster.rs"]
mod cluster;
#[path = "failover_primitives/xid_reuse.rs"]
mod xid_reuse;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster::{Cluster, DEADLINE};
use gridstore::{
    Error, Event, EventFilter, EventLog, EventPosition, Locks, NewEvent, Subscription,
    SubscriptionOptions,
};
use serde_json::json;
use tokio::sync::Mutex;

const LONG: Duration = Duration::from_secs(600);
/// How soon after the promotion appends must succeed again.
const RECONNECT_WITHIN: Duration = Duration::from_secs(5);

/// What the workloads saw, each with the instant it was acknowledged.
#[derive(Default)]
struct Seen {
    appended: Vec<(i64, Instant)>,
    delivered: Vec<Event>,
    grants: Vec<(u64, Instant)>,
}

fn options(batch_size: usize) -> SubscriptionOptions {
    SubscriptionOptions {
        batch_size,
        poll_interval: Duration::from_millis(100),
    }
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < DEADLINE, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Appends one event per iteration; failures (the failover) are retried with the next number.
fn spawn_appender(
    log: Arc<dyn EventLog>,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 1000_i64;
        while !stop.load(Ordering::Acquire) {
            let event = NewEvent::new("load", "tick", json!({ "n": n }));
            if log.append(vec![event]).await.is_ok() {
                seen.lock().await.appended.push((n, Instant::now()));
            } else {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n += 1;
        }
    })
}

/// One live subscription for the whole test; a failed read is retried from the same cursor.
fn spawn_subscriber(
    log: Arc<dyn EventLog>,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sub = Subscription::new(log, None, EventFilter::all(), options(10));
        while !stop.load(Ordering::Acquire) {
            // next_batch is cancellation-safe: the cursor moves only when it returns events.
            if let Ok(Ok(batch)) =
                tokio::time::timeout(Duration::from_millis(200), sub.next_batch()).await
            {
                seen.lock().await.delivered.extend(batch);
            }
        }
    })
}

/// Two holders take turns on one key with short leases, releasing each grant.
fn spawn_lease_churn(
    locks: &gridstore::postgres::PgLocks,
    seen: &Arc<Mutex<Seen>>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..2)
        .map(|worker| {
            let (locks, seen, stop) = (locks.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                let holder = format!("worker-{worker}");
                while !stop.load(Ordering::Acquire) {
                    match locks.acquire("job", &holder, Duration::from_secs(2)).await {
                        Ok(lease) => {
                            seen.lock()
                                .await
                                .grants
                                .push((lease.fencing_token, Instant::now()));
                            let _ = locks.release(&lease).await;
                        }
                        Err(Error::LockHeld { .. }) => tokio::task::yield_now().await,
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_subscriptions_and_the_listener_survive_killing_a_durable_primary_under_load() {
    // Arrange: a held lease, a saved subscription cursor, and three workloads running.
    let mut cluster = Cluster::start().await;
    let log: Arc<dyn EventLog> = Arc::new(cluster.log.clone());
    let leader = cluster
        .locks
        .acquire("leader", "node-a", LONG)
        .await
        .expect("acquire the leader lease");
    let first: Vec<_> = (0..20)
        .map(|n| NewEvent::new("load", "tick", json!({ "n": n })))
        .collect();
    log.append(first).await.expect("append");
    let mut saved = Subscription::new(log.clone(), None, EventFilter::all(), options(5));
    let consumed = saved.next_batch().await.expect("first batch");
    let saved_cursor = saved.position();
    drop(saved);
    let listener_pid = cluster.listener.backend_pid().expect("listener connected");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop_writers = Arc::new(AtomicBool::new(false));
    let stop_subscriber = Arc::new(AtomicBool::new(false));
    let mut writers = spawn_lease_churn(&cluster.locks, &seen, &stop_writers);
    writers.push(spawn_appender(
        log.clone(),
        seen.clone(),
        stop_writers.clone(),
    ));
    let subscriber = spawn_subscriber(log.clone(), seen.clone(), stop_subscriber.clone());
    wait_until("load before the failover", async || {
        let seen = seen.lock().await;
        seen.appended.len() >= 50 && seen.grants.len() >= 20 && seen.delivered.len() >= 40
    })
    .await;

    // Act
    let killed_at = Instant::now();
    cluster.fail_over();
    let promoted_at = Instant::now();
    wait_until("an append and a grant after the promotion", async || {
        let seen = seen.lock().await;
        seen.appended.iter().any(|(_, at)| *at > promoted_at)
            && seen.grants.iter().any(|(_, at)| *at > promoted_at)
    })
    .await;
    let resumed_after = {
        let seen = seen.lock().await;
        seen.appended
            .iter()
            .find(|(_, at)| *at > promoted_at)
            .map(|(_, at)| at.duration_since(promoted_at))
            .expect("an append after the promotion")
    };
    wait_until("the listener's reconnection", async || {
        cluster.listener.is_connected() && cluster.listener.reconnects() >= 1
    })
    .await;
    let listener_after = promoted_at.elapsed();
    stop_writers.store(true, Ordering::Release);
    for writer in writers {
        writer.await.expect("writer");
    }

    // Assert: appends resumed in time; the listener is on a new backend.
    assert!(
        resumed_after <= RECONNECT_WITHIN,
        "appends resumed {resumed_after:?} after the promotion"
    );
    assert_ne!(cluster.listener.backend_pid(), Some(listener_pid));

    // The leader lease survived with its token; another holder cannot take it.
    match cluster.locks.acquire("leader", "node-b", LONG).await {
        Err(Error::LockHeld { holder, .. }) => assert_eq!(holder, "node-a"),
        other => panic!("expected the leader lease to survive the failover, got {other:?}"),
    }
    let extended = cluster
        .locks
        .extend(&leader, LONG)
        .await
        .expect("the holder still extends its lease");
    assert_eq!(extended.fencing_token, leader.fencing_token);

    // No fencing token was granted twice; grants after the promotion outrank all before it.
    let grants = seen.lock().await.grants.clone();
    let mut tokens: Vec<u64> = grants.iter().map(|(token, _)| *token).collect();
    tokens.sort_unstable();
    let before = tokens.len();
    tokens.dedup();
    assert_eq!(tokens.len(), before, "a fencing token was granted twice");
    let max_before = grants
        .iter()
        .filter(|(_, at)| *at < killed_at)
        .map(|(token, _)| *token)
        .max()
        .expect("grants before the kill");
    let min_after = grants
        .iter()
        .filter(|(_, at)| *at > promoted_at)
        .map(|(token, _)| *token)
        .min()
        .expect("grants after the promotion");
    assert!(
        min_after > max_before,
        "token {min_after} granted after the promotion, {max_before} before the kill"
    );
    cluster
        .locks
        .force_release("job")
        .await
        .expect("force release");
    let fresh = cluster
        .locks
        .acquire("job", "node-c", LONG)
        .await
        .expect("acquire");
    assert!(fresh.fencing_token > *tokens.last().expect("tokens"));

    // Every acknowledged append is on the new primary; the live subscription delivered
    // exactly what is there, in order, once.
    let stored = log
        .read_after(EventPosition::START, &EventFilter::all(), 1_000_000)
        .await
        .expect("read the new primary");
    let stored_n: Vec<i64> = stored.iter().map(n_of).collect();
    let lost: Vec<i64> = seen
        .lock()
        .await
        .appended
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !stored_n.contains(n))
        .collect();
    assert!(lost.is_empty(), "acknowledged appends lost: {lost:?}");
    wait_until("the live subscription catching up", async || {
        seen.lock().await.delivered.len() >= stored.len()
    })
    .await;
    stop_subscriber.store(true, Ordering::Release);
    subscriber.await.expect("subscriber");
    let delivered: Vec<EventPosition> = seen
        .lock()
        .await
        .delivered
        .iter()
        .map(|e| e.position)
        .collect();
    let expected: Vec<EventPosition> = stored.iter().map(|e| e.position).collect();
    assert_eq!(delivered, expected, "the live subscription's deliveries");

    // A subscription resumed from the cursor saved before the kill gets exactly the rest.
    let mut resumed = Subscription::new(
        log.clone(),
        Some(saved_cursor),
        EventFilter::all(),
        options(50),
    );
    let mut rest = Vec::new();
    while rest.len() < stored.len() - consumed.len() {
        let batch = tokio::time::timeout(DEADLINE, resumed.next_batch())
            .await
            .expect("the resumed subscription stalled")
            .expect("read");
        rest.extend(batch.into_iter().map(|e| e.position));
    }
    assert_eq!(
        rest,
        expected[consumed.len()..],
        "the resumed subscription's deliveries"
    );
    assert!(
        resumed.poll().await.expect("poll").is_empty(),
        "a duplicate after the end"
    );

    eprintln!(
        "failover: {} events, {} grants; appends resumed {resumed_after:?} and the listener \
         reconnected within {listener_after:?} of the promotion",
        stored.len(),
        grants.len()
    );
}

fn n_of(event: &Event) -> i64 {
    event.payload["n"].as_i64().expect("n")
}
