//! PostgreSQL-only event-log behaviour: the commit fence against late committers, eight
//! writers with random commit delays across a listener disconnect, wake-ups across processes;
//! partitions, listener channels, payloads and maintenance in `event_log_pg/`.

use std::sync::Arc;
use std::time::Duration;

use gridstore::postgres::event_log::AppendRows;
use gridstore::postgres::{PgConfig, PgEventLog, PgListener, PgPool, migrations};
use gridstore::testing::event_log::assert_delivered_once_in_order;
use gridstore::{Event, EventFilter, EventLog, NewEvent, Subscription, SubscriptionOptions};
use rand::Rng;
use serde_json::json;
use testkit::TestDatabase;

#[path = "event_log_pg/announcements.rs"]
mod announcements;
#[path = "event_log_pg/listener_channels.rs"]
mod listener_channels;
#[path = "event_log_pg/listener_ping.rs"]
mod listener_ping;
#[path = "event_log_pg/maintenance.rs"]
mod maintenance;
#[path = "event_log_pg/partitions.rs"]
mod partitions;
#[path = "event_log_pg/payloads.rs"]
mod payloads;
#[path = "event_log_pg/xid_digits.rs"]
mod xid_digits;

struct Fixture {
    db: TestDatabase,
    config: PgConfig,
    pool: PgPool,
}

async fn fixture() -> Fixture {
    let db = testkit::database().await;
    let config = PgConfig::from_url(db.url()).expect("config");
    let pool = PgPool::connect(&config).await.expect("pool");
    migrations::migrate(&pool).await.expect("migrate");
    Fixture { db, config, pool }
}

fn event(stream: &str, n: u64) -> NewEvent {
    NewEvent::new(stream, "tick", json!({ "n": n }))
}

fn options(batch_size: usize, poll_ms: u64) -> SubscriptionOptions {
    SubscriptionOptions {
        batch_size,
        poll_interval: Duration::from_millis(poll_ms),
    }
}

/// Waits until `condition` holds, polling every 20 ms, failing after `secs` seconds.
async fn eventually(secs: u64, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn collect(sub: &mut Subscription, n: usize) -> Vec<Event> {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while got.len() < n {
            got.extend(sub.next_batch().await.expect("next batch"));
        }
    })
    .await
    .expect("events did not arrive within 60 s");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_committer_is_delivered_before_later_transactions_not_skipped() {
    // Arrange: an open transaction appends first (smaller xid) but commits last.
    let f = fixture().await;
    let log: Arc<dyn EventLog> = Arc::new(PgEventLog::new(f.pool.clone()));
    let mut early_client = f.pool.get().await.expect("client");
    let early = early_client.transaction().await.expect("begin");
    PgEventLog::append_in(&early, &[event("early", 0)])
        .await
        .expect("early append");
    log.append(vec![event("late", 0)])
        .await
        .expect("late append");

    // Act + assert: the committed late event is visible but held back by the fence.
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 1);
    let mut sub = Subscription::new(log.clone(), None, EventFilter::all(), options(10, 20));
    assert!(
        sub.poll().await.expect("poll").is_empty(),
        "fence let an event pass"
    );
    early.commit().await.expect("commit early");
    let got = collect(&mut sub, 2).await;
    let streams: Vec<_> = got.iter().map(|e| e.stream.as_str()).collect();
    assert_eq!(streams, ["early", "late"]);
    assert!(got[0].position < got[1].position);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_writers_with_random_commit_delays_are_delivered_once_in_order_across_a_listener_kill()
 {
    const WRITERS: usize = 8;
    const TRANSACTIONS: u64 = 25;
    const TOTAL: usize = WRITERS * TRANSACTIONS as usize * 2;
    let f = fixture().await;
    let listener = PgListener::start(&f.config).await.expect("listener");
    let first_pid = listener.backend_pid().expect("listener pid");
    let log = PgEventLog::new(f.pool.clone()).with_listener(listener.clone());
    let log: Arc<dyn EventLog> = Arc::new(log);
    let mut sub = Subscription::new(log, None, EventFilter::all(), options(17, 200));
    // The writers announce their commits as another process would, through their own listener.
    let writer_log = PgEventLog::new(f.pool.clone())
        .with_listener(PgListener::start(&f.config).await.expect("writer listener"));

    // Writers: each transaction appends two events, then waits 0-20 ms before committing, so
    // commits land out of xid order all the time. Halfway through, each writer waits until the
    // listener was killed, so the second half is written across the disconnect.
    let (killed_tx, killed_rx) = tokio::sync::watch::channel(false);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let pool = f.pool.clone();
        let writer_log = writer_log.clone();
        let mut killed = killed_rx.clone();
        writers.push(tokio::spawn(async move {
            let stream = format!("writer-{w}");
            for t in 0..TRANSACTIONS {
                if t == TRANSACTIONS / 2 {
                    tokio::time::timeout(Duration::from_secs(60), killed.wait_for(|k| *k))
                        .await
                        .expect("the listener was not killed within 60 s")
                        .expect("kill signal");
                }
                let mut client = pool.get().await.expect("client");
                let tx = client.transaction().await.expect("begin");
                PgEventLog::append_in(&tx, &[event(&stream, t * 2), event(&stream, t * 2 + 1)])
                    .await
                    .expect("append");
                let delay = rand::thread_rng().gen_range(0..20);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                tx.commit().await.expect("commit");
                writer_log.announce();
            }
        }));
    }

    // Reader: after a third of the events, kill the listener's connection.
    let mut got = Vec::new();
    let mut killed = false;
    tokio::time::timeout(Duration::from_secs(120), async {
        while got.len() < TOTAL {
            got.extend(sub.next_batch().await.expect("next batch"));
            if !killed && got.len() >= TOTAL / 3 {
                let admin = f.pool.get().await.expect("admin");
                admin
                    .execute("select pg_terminate_backend($1)", &[&first_pid])
                    .await
                    .expect("terminate listener");
                killed = true;
                killed_tx.send_replace(true);
            }
        }
    })
    .await
    .expect("not every event arrived within 120 s");
    for writer in writers {
        writer.await.expect("writer");
    }

    assert!(killed);
    assert_delivered_once_in_order(&got, TOTAL);
    assert!(
        sub.poll().await.expect("poll").is_empty(),
        "extra deliveries"
    );
    eventually(10, "the listener to reconnect", || {
        listener.reconnects() >= 1
    })
    .await;
    assert_ne!(listener.backend_pid(), Some(first_pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_listener_reconnects_and_wakes_subscribers_again() {
    let f = fixture().await;
    let listener = PgListener::start(&f.config).await.expect("listener");
    let pid = listener.backend_pid().expect("pid");
    let admin = f.pool.get().await.expect("admin");
    admin
        .execute("select pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    eventually(10, "a new listener connection", || {
        listener.is_connected() && listener.backend_pid().is_some_and(|p| p != pid)
    })
    .await;

    // A ten-minute poll interval: only a wake-up delivers within the 10 s deadline. The
    // writer is another process (its own listener), so the wake-up must come through the
    // reconnected LISTEN connection.
    let log: Arc<dyn EventLog> = Arc::new(PgEventLog::new(f.pool.clone()).with_listener(listener));
    let mut sub = Subscription::new(log, None, EventFilter::all(), options(10, 600_000));
    let waiter = tokio::spawn(async move { sub.next_batch().await.map(|b| b.len()) });
    let writer = PgListener::start(&f.config).await.expect("writer listener");
    let writer = PgEventLog::new(f.pool.clone()).with_listener(writer);
    writer.append(vec![event("s", 0)]).await.expect("append");
    let n = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("no wake-up after reconnect")
        .expect("join")
        .expect("batch");
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_announced_by_one_process_wakes_the_listener_of_another() {
    // Arrange: two processes' listeners; the reader has seen every wake-up so far.
    let f = fixture().await;
    let reader = PgListener::start(&f.config).await.expect("reader listener");
    let mut wakeups = reader.wakeups();
    wakeups.mark_seen();
    let writer = PgEventLog::new(f.pool.clone())
        .with_listener(PgListener::start(&f.config).await.expect("writer listener"));
    let mut client = f.pool.get().await.expect("client");
    let tx = client.transaction().await.expect("begin");
    PgEventLog::append_in(&tx, &[event("s", 0), event("s", 1)])
        .await
        .expect("append");
    tx.commit().await.expect("commit");

    // Act
    writer.announce();

    // Assert: the reader's connection heard it (appending transactions no longer notify).
    tokio::time::timeout(Duration::from_secs(10), wakeups.changed())
        .await
        .expect("the reader was not woken within 10 s");
    let admin = f.pool.get().await.expect("admin");
    let triggers: i64 = admin
        .query_one(
            "select count(*) from pg_trigger where tgrelid = 'gs_events'::regclass \
             and not tgisinternal",
            &[],
        )
        .await
        .expect("triggers")
        .get(0);
    assert_eq!(
        triggers, 0,
        "no trigger notifies inside appending transactions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_in_a_rolled_back_transaction_leave_no_events() {
    let f = fixture().await;
    let log = PgEventLog::new(f.pool.clone());
    let mut client = f.pool.get().await.expect("client");
    let tx = client.transaction().await.expect("begin");
    PgEventLog::append_in(&tx, &[event("s", 0), event("s", 1)])
        .await
        .expect("append");
    tx.rollback().await.expect("rollback");
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_folded_into_a_statement_commits_with_its_rows_or_not_at_all() {
    // Arrange: a table of the caller's, and an append folded into the caller's insert.
    let f = fixture().await;
    let log = PgEventLog::new(f.pool.clone());
    let client = f.pool.get().await.expect("client");
    client
        .batch_execute("create table orders (id bigint primary key)")
        .await
        .expect("schema");
    let sql = format!(
        "with appended as ({}) insert into orders (id) values ($5)",
        PgEventLog::APPEND_SQL
    );
    let events = [event("orders", 0), event("orders", 1)];
    let rows = AppendRows::new(&events).expect("valid batch");
    let params = |id: &'static i64| {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = rows.params().to_vec();
        params.push(id);
        params
    };

    // Act: one statement outside a transaction block commits on its own; the same statement
    // again fails on the order's primary key.
    client.execute(&sql, &params(&1)).await.expect("first");
    let again = client.execute(&sql, &params(&1)).await;

    // Assert: the events of the first, in batch order, and nothing of the failed one.
    assert!(again.is_err(), "the duplicate order fails");
    let stored = log
        .read_after(gridstore::EventPosition::START, &EventFilter::all(), 10)
        .await
        .expect("read");
    let ns: Vec<_> = stored.iter().map(|e| e.payload["n"].clone()).collect();
    assert_eq!(ns, vec![json!(0), json!(1)]);
}
