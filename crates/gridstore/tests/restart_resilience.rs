//! Leases, fencing tokens, subscriptions and the listener across a PostgreSQL restart.
//!
//! The server is stopped cleanly (`pg_ctl stop -m fast`) and started again. A kill -9 would
//! not do here: testkit servers run with `fsync = off`, so a crash may lose committed WAL,
//! including the state of the token sequence, which no production setting would allow.

use std::sync::Arc;
use std::time::Duration;

use gridstore::postgres::{PgConfig, PgEventLog, PgListener, PgLocks, PgPool, migrations};
use gridstore::{Error, EventFilter, EventLog, Locks, NewEvent, Subscription, SubscriptionOptions};
use serde_json::json;
use testkit::TestPostgres;

const LONG: Duration = Duration::from_secs(600);

/// Pings until the pool hands out a working connection again, within 30 s.
async fn wait_for_pool(pool: &PgPool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while pool.ping().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pool never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_tokens_subscriptions_and_the_listener_survive_a_clean_restart() {
    // Arrange: an owned server with leases granted and events half consumed.
    let mut server = tokio::task::spawn_blocking(TestPostgres::start)
        .await
        .expect("join")
        .expect("start server");
    let db = server.create_database().await;
    let config = PgConfig::from_url(db.url()).expect("config");
    let pool = PgPool::connect(&config).await.expect("pool");
    migrations::migrate(&pool).await.expect("migrate");
    let locks = PgLocks::new(pool.clone());
    let listener = PgListener::start(&config).await.expect("listener");
    let log: Arc<dyn EventLog> =
        Arc::new(PgEventLog::new(pool.clone()).with_listener(listener.clone()));

    let leader = locks
        .acquire("leader", "node-a", LONG)
        .await
        .expect("acquire");
    let mut last_token = leader.fencing_token;
    for i in 0..5 {
        let lease = locks
            .acquire(&format!("job-{i}"), "node-a", LONG)
            .await
            .expect("acquire");
        assert!(lease.fencing_token > last_token);
        last_token = lease.fencing_token;
    }
    let events = (0..5)
        .map(|n| NewEvent::new("s", "tick", json!({ "n": n })))
        .collect();
    log.append(events).await.expect("append");
    let options = SubscriptionOptions {
        batch_size: 3,
        poll_interval: Duration::from_millis(50),
    };
    let mut sub = Subscription::new(log.clone(), None, EventFilter::all(), options.clone());
    let first = sub.next_batch().await.expect("first batch");
    assert_eq!(first.len(), 3);
    let saved = sub.position();
    drop(sub);

    // Act: clean stop and start.
    tokio::task::block_in_place(|| {
        server.stop();
        server.restart();
    });
    wait_for_pool(&pool).await;

    // Assert: the lease row survived (unlike an advisory lock), tokens keep increasing.
    match locks.acquire("leader", "node-b", LONG).await {
        Err(Error::LockHeld { holder, .. }) => assert_eq!(holder, "node-a"),
        other => panic!("expected the leader lease to survive the restart, got {other:?}"),
    }
    for i in 0..5 {
        let lease = locks
            .acquire(&format!("after-{i}"), "node-b", LONG)
            .await
            .expect("acquire");
        assert!(
            lease.fencing_token > last_token,
            "token went backwards after restart"
        );
        last_token = lease.fencing_token;
    }
    let extended = locks
        .extend(&leader, LONG)
        .await
        .expect("holder still extends");
    assert_eq!(extended.fencing_token, leader.fencing_token);

    // The subscription resumes from the saved cursor with exactly the unread events.
    let mut resumed = Subscription::new(log.clone(), Some(saved), EventFilter::all(), options);
    let rest = resumed.next_batch().await.expect("resumed batch");
    let ns: Vec<_> = rest.iter().map(|e| e.payload["n"].clone()).collect();
    assert_eq!(ns, [json!(3), json!(4)]);

    // The listener reconnected by itself.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !(listener.is_connected() && listener.reconnects() >= 1) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "listener never reconnected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
