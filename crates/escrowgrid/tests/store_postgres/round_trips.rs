//! Round trips of the writes, counted on the wire by testkit's proxy: once its statements are
//! cached on the connection, a write is two flights (`BEGIN` with the reads, the writes with
//! `COMMIT`).

use std::time::Duration;

use escrowgrid::domain::{PositionState, TransitionRequest};
use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, Scope};
use escrowgrid::testing::fixtures;
use gridstore::postgres::PgConfig;
use testkit::{TestDatabase, WireProxy};

/// A migrated store whose one pooled connection goes through a counting proxy, never verified
/// on checkout (the check is a flight of its own, paid only after a second of idling).
async fn proxied_store() -> (PgEscrowStore, WireProxy, TestDatabase) {
    let database = testkit::database().await;
    let direct = PgConfig::from_url(database.url()).unwrap();
    let wire = WireProxy::start(direct.port()).await.unwrap();
    let config = direct
        .with_host(wire.host())
        .with_port(wire.port())
        .with_pool_max_size(1)
        .with_verify_after_idle(Duration::from_secs(3600));
    let store = PgEscrowStore::connect(&config).await.unwrap();
    store.migrate().await.unwrap();
    (store, wire, database)
}

#[tokio::test]
async fn a_create_and_a_transition_each_take_two_flights_once_warm() {
    // Arrange: one create and one transition first, so that their statements are cached.
    let (store, wire, _database) = proxied_store().await;
    let (institution, asset, warm) = fixtures::position_setup(&store).await;
    let scope = fixtures::scope(&institution);
    let funded = || TransitionRequest::to(PositionState::Funded);
    store
        .transition_position(&scope, &warm.id, funded(), &fixtures::audit())
        .await
        .unwrap();

    // Act
    let before = wire.counts();
    let created = fixtures::position(&store, &asset, "holder-2").await;
    let after_create = wire.counts();
    let moved = store
        .transition_position(&scope, &created.id, funded(), &fixtures::audit())
        .await
        .unwrap();
    let after_transition = wire.counts();

    // Assert
    assert_eq!(
        (after_create - before).flights,
        2,
        "BEGIN with the policy context, then four writes with COMMIT"
    );
    assert_eq!(
        (after_transition - after_create).flights,
        2,
        "BEGIN with the locked reads, then five writes with COMMIT"
    );
    assert_eq!((moved.state, moved.version), (PositionState::Funded, 2));
    let stored = store.get_position(&Scope::Root, &created.id).await.unwrap();
    assert_eq!(
        (stored.state, stored.events.len()),
        (PositionState::Funded, 1)
    );
}
