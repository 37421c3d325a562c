//! Round trips of `PgSessionStore::save_many`, counted on the wire by testkit's loopback proxy
//! in front of the testkit server.
//!
//! A round trip is a message the client must wait on: a `Sync` (the end of an extended-
//! protocol statement, including a prepare) or a simple `Query`. The pool's liveness check on
//! checkout (an empty simple query, sent only when the connection idled past
//! `verify_after_idle`) belongs to every pooled operation alike, so it is counted apart.

use gridstore::postgres::{PgConfig, PgPool, PgSessionStore};
use gridstore::testing::migrated_pool;
use gridstore::testing::session::session;
use gridstore::{Error, SessionState, SessionStore};
use testkit::WireProxy;

/// A session store whose one pooled connection goes through a counting proxy.
async fn counted_store() -> (PgSessionStore, WireProxy, testkit::TestDatabase) {
    let db = testkit::database().await;
    migrated_pool(db.url()).await.expect("connect and migrate");
    let direct = PgConfig::from_url(db.url()).expect("testkit url parses");
    let wire = WireProxy::start(direct.port()).await.expect("proxy");
    let config = direct
        .with_host(wire.host())
        .with_port(wire.port())
        .with_pool_max_size(1);
    let pool = PgPool::connect(&config)
        .await
        .expect("pool through the proxy");
    (PgSessionStore::new(pool), wire, db)
}

/// Round trips (and liveness checks) sent while `op` ran.
async fn counted<T>(wire: &WireProxy, op: impl Future<Output = T>) -> (T, u64, u64) {
    let before = wire.counts();
    let value = op.await;
    let sent = wire.counts() - before;
    (value, sent.round_trips, sent.liveness_checks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_item_batch_save_is_one_round_trip_whether_it_lands_or_conflicts() {
    let (store, wire, _db) = counted_store().await;
    let batch: Vec<_> = (0..1000)
        .map(|n| session(&format!("batch-{n:04}"), SessionState::Active))
        .collect();

    let (versions, trips, checks) = counted(&wire, store.save_many(&batch)).await;
    assert_eq!(versions.expect("batch lands"), vec![1; 1000]);
    assert_eq!(trips, 1, "a landing batch of 1,000 is one round trip");
    assert!(checks <= 1, "one checkout, one liveness check at most");

    // The same batch again: every item now exists, so the first one conflicts.
    let (result, trips, _) = counted(&wire, store.save_many(&batch)).await;
    assert!(
        matches!(&result, Err(Error::VersionConflict { key, expected: 0, actual: Some(1) }) if key == "batch-0000"),
        "{result:?}"
    );
    assert_eq!(
        trips, 1,
        "a conflicting batch of 1,000 is one round trip too"
    );
}
