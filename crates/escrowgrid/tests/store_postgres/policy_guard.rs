//! A create checked against a kept creation context (`store/postgres/create.rs`) obeys the
//! policy the database holds when it writes, whichever instance changed the policy: two
//! stores on one database stand for two instances, each with its own kept contexts.

use escrowgrid::Error;
use escrowgrid::domain::{Amount, InstitutionId, PolicyViolation, PositionPolicy, Region};
use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, Scope};
use escrowgrid::testing::fixtures;
use gridstore::postgres::PgConfig;
use testkit::TestDatabase;

use super::support::migrated_store;

/// Another instance on the store's database.
async fn other_instance(database: &TestDatabase) -> PgEscrowStore {
    let config = PgConfig::from_url(database.url()).unwrap();
    PgEscrowStore::connect(&config).await.unwrap()
}

/// Positions, ledger events, audit rows and outbox events in the database.
async fn rows(database: &TestDatabase) -> [i64; 4] {
    let row = database
        .connect()
        .await
        .query_one(
            "select (select count(*) from positions), (select count(*) from ledger_events),
                (select count(*) from audit_events), (select count(*) from gs_events)",
            &[],
        )
        .await
        .unwrap();
    [row.get(0), row.get(1), row.get(2), row.get(3)]
}

/// Sets the institution's US policy to a maximum amount of `max` through `store`.
async fn set_maximum(store: &PgEscrowStore, institution: &InstitutionId, max: &str) {
    let rules = PositionPolicy {
        max_amount: Some(max.parse::<Amount>().unwrap()),
        ..PositionPolicy::default()
    };
    store
        .upsert_policy(
            &Scope::Root,
            institution,
            Region::Us,
            rules,
            &fixtures::audit(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_policy_tightened_by_another_instance_refuses_the_next_create_and_writes_nothing() {
    // Arrange: this instance keeps the asset's context (no policy); the other sets a maximum.
    let (store, database) = migrated_store().await;
    let (institution, asset, _) = fixtures::position_setup(&store).await;
    let other = other_instance(&database).await;
    set_maximum(&other, &institution.id, "50").await;
    let before = rows(&database).await;

    // Act
    let over = store
        .create_position(
            &Scope::Root,
            fixtures::new_position(&asset, "holder-2", "100"),
            &fixtures::audit(),
        )
        .await;

    // Assert
    assert!(
        matches!(
            over,
            Err(Error::PolicyViolation(
                PolicyViolation::AbovePolicyMaximum { .. }
            ))
        ),
        "{over:?}"
    );
    assert_eq!(rows(&database).await, before, "nothing was written");
    let within = store
        .create_position(
            &Scope::Root,
            fixtures::new_position(&asset, "holder-3", "40"),
            &fixtures::audit(),
        )
        .await;
    assert!(within.is_ok(), "{within:?}");
}

#[tokio::test]
async fn a_policy_relaxed_by_another_instance_lets_the_next_create_through() {
    // Arrange: this instance keeps the asset's context under a maximum of 50; the other
    // raises it to 500.
    let (store, database) = migrated_store().await;
    let institution = fixtures::institution(&store, "Acme").await;
    set_maximum(&store, &institution.id, "50").await;
    let template = fixtures::template(&store, &institution.id).await;
    let asset = fixtures::asset(&store, &template).await;
    store
        .create_position(
            &Scope::Root,
            fixtures::new_position(&asset, "holder-1", "40"),
            &fixtures::audit(),
        )
        .await
        .unwrap();
    set_maximum(&other_instance(&database).await, &institution.id, "500").await;

    // Act: the kept context would refuse it.
    let created = store
        .create_position(
            &Scope::Root,
            fixtures::new_position(&asset, "holder-2", "100"),
            &fixtures::audit(),
        )
        .await;

    // Assert
    let created = created.unwrap();
    let stored = store.get_position(&Scope::Root, &created.id).await.unwrap();
    assert_eq!(stored.amount, created.amount);
}

#[tokio::test]
async fn a_create_whose_guard_finds_the_policy_changed_reads_the_context_again_and_keeps_it() {
    // Arrange: this instance keeps the asset's context (no policy); the other sets one the
    // next position meets.
    let (store, database) = migrated_store().await;
    let (institution, asset, _) = fixtures::position_setup(&store).await;
    set_maximum(&other_instance(&database).await, &institution.id, "500").await;
    let (root, audit) = (Scope::Root, fixtures::audit());
    let create = |holder: &'static str| {
        store.create_position(&root, fixtures::new_position(&asset, holder, "100"), &audit)
    };

    // Act
    let before = store.statement_count();
    create("holder-2").await.unwrap();
    let after_stale = store.statement_count();
    create("holder-3").await.unwrap();
    let after_fresh = store.statement_count();

    // Assert: the guarded statement (which wrote nothing), then the context and the rows;
    // then the guarded statement of the context read again.
    assert_eq!(after_stale - before, 3);
    assert_eq!(after_fresh - after_stale, 1);
    assert_eq!(rows(&database).await[0], 3, "three positions");
}
