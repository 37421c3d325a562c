//! Round trips of the writes, counted on the wire by testkit's proxy: once its statements are
//! cached on the connection, a transition of a position this instance wrote last is one
//! flight of one message (the write guarded by the version it kept, without a transaction
//! block), of any other position two (the read, then the guarded write), the first create of
//! an asset two
//! (`BEGIN` with its creation context, the writes with `COMMIT`) and every later create of it
//! one flight of one message (the writes guarded by the policy they were checked against,
//! committed on their own).

use std::time::Duration;

use escrowgrid::domain::{Position, PositionId, PositionState, TransitionRequest};
use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, Scope};
use escrowgrid::testing::fixtures;
use gridstore::postgres::PgConfig;
use testkit::{TestDatabase, WireProxy};

use super::support::another_instance;

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

/// Transitions position `id` to FUNDED.
async fn fund(store: &PgEscrowStore, scope: &Scope, id: &PositionId) -> Position {
    let request = TransitionRequest::to(PositionState::Funded);
    store
        .transition_position(scope, id, request, &fixtures::audit())
        .await
        .unwrap()
}

/// Asserts that `moved` is its position funded once, as `store` reads it.
async fn assert_funded_once(store: &PgEscrowStore, moved: &Position) {
    assert_eq!((moved.state, moved.version), (PositionState::Funded, 2));
    let stored = store.get_position(&Scope::Root, &moved.id).await.unwrap();
    assert_eq!(
        (stored.state, stored.events.len()),
        (PositionState::Funded, 1)
    );
}

#[tokio::test]
async fn a_create_of_a_known_asset_and_its_transition_take_one_flight_each_once_warm() {
    // Arrange: two creates (the first reads the context, the second writes guarded) and a
    // transition first, so that their statements are cached.
    let (store, wire, _database) = proxied_store().await;
    let (institution, asset, warm) = fixtures::position_setup(&store).await;
    fixtures::position(&store, &asset, "holder-warm").await;
    let scope = fixtures::scope(&institution);
    fund(&store, &scope, &warm.id).await;

    // Act
    let before = wire.counts();
    let created = fixtures::position(&store, &asset, "holder-2").await;
    let after_create = wire.counts();
    let moved = fund(&store, &scope, &created.id).await;
    let after_transition = wire.counts();

    // Assert
    let (create, transition) = (after_create - before, after_transition - after_create);
    assert_eq!(
        (create.flights, create.round_trips),
        (1, 1),
        "the guarded rows and outbox events, one statement committed on its own"
    );
    assert_eq!(
        (transition.flights, transition.round_trips),
        (1, 1),
        "the write guarded by the version the create kept, committed on its own"
    );
    assert_funded_once(&store, &moved).await;
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&created.id))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2, "the created and the funded ledger events");
}

#[tokio::test]
async fn a_transition_of_a_position_another_instance_wrote_reads_it_first_in_a_flight_of_its_own() {
    // Arrange: positions written by another instance (nothing of them is kept here), one of
    // them transitioned here first, so that the read's and the write's statements are cached.
    let (store, wire, database) = proxied_store().await;
    let other = another_instance(&database).await;
    let (institution, asset, warm) = fixtures::position_setup(&other).await;
    let created = fixtures::position(&other, &asset, "holder-2").await;
    let scope = fixtures::scope(&institution);
    fund(&store, &scope, &warm.id).await;

    // Act
    let before = wire.counts();
    let moved = fund(&store, &scope, &created.id).await;
    let transition = wire.counts() - before;

    // Assert
    assert_eq!(
        (transition.flights, transition.round_trips),
        (2, 2),
        "the read, then the guarded write committed on its own"
    );
    assert_funded_once(&other, &moved).await;
}

#[tokio::test]
async fn the_first_create_of_an_asset_reads_its_context_in_a_flight_of_its_own() {
    // Arrange: two positions on one asset, so that both ways' statements are cached; then a
    // second asset of the same template.
    let (store, wire, _database) = proxied_store().await;
    let (institution, asset, _) = fixtures::position_setup(&store).await;
    fixtures::position(&store, &asset, "holder-warm").await;
    let template = store
        .get_asset(&Scope::Root, &asset.id)
        .await
        .unwrap()
        .template_id;
    let template = store
        .get_asset_template(&Scope::Root, &template)
        .await
        .unwrap();
    let other = fixtures::asset(&store, &template).await;
    assert_eq!(other.institution_id, institution.id);

    // Act
    let before = wire.counts();
    fixtures::position(&store, &other, "holder-2").await;
    let after_first = wire.counts();
    fixtures::position(&store, &other, "holder-3").await;
    let after_second = wire.counts();

    // Assert
    let first = after_first - before;
    assert_eq!(
        (first.flights, first.round_trips),
        (2, 4),
        "BEGIN with the creation context, then the rows with COMMIT"
    );
    assert_eq!(
        (after_second - after_first).flights,
        1,
        "the context is kept"
    );
}

#[tokio::test]
async fn a_create_that_reads_nothing_first_is_one_message_each_way_once_warm() {
    // Arrange: one institution first, so that its statement is cached.
    let (store, wire, _database) = proxied_store().await;
    fixtures::institution(&store, "Warm").await;

    // Act
    let before = wire.counts();
    let created = fixtures::institution(&store, "Acme").await;
    let sent = wire.counts() - before;

    // Assert: the row, its outbox events and its audit row, one statement committed alone.
    assert_eq!((sent.flights, sent.round_trips), (1, 1));
    let stored = store
        .get_institution(&Scope::Root, &created.id)
        .await
        .unwrap();
    assert_eq!(stored.name, "Acme");
}
