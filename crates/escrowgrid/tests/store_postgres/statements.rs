//! Statement budgets, counted by the store itself (`statement_count`): no N+1.

use escrowgrid::domain::{PositionState, TransitionRequest};
use escrowgrid::store::{EscrowStore, PositionFilter, Scope, TransitionWays};
use escrowgrid::testing::fixtures;

use super::support::{another_instance, assert_one_unbroken_chain, migrated_store};

#[tokio::test]
async fn a_page_of_one_hundred_positions_with_events_takes_two_statements() {
    // Arrange: 100 positions, every other one with a lifecycle event.
    let (store, _database) = migrated_store().await;
    let (institution, asset, first) = fixtures::position_setup(&store).await;
    let mut ids = vec![first.id];
    for index in 1..100 {
        let position = fixtures::position(&store, &asset, &format!("holder-{index}")).await;
        ids.push(position.id);
    }
    for id in ids.iter().step_by(2) {
        let request = TransitionRequest::to(PositionState::Funded);
        store
            .transition_position(&Scope::Root, id, request, &fixtures::audit())
            .await
            .unwrap();
    }
    let scope = fixtures::scope(&institution);

    // Act
    let before = store.statement_count();
    let page = store
        .list_positions(&scope, &PositionFilter::default(), fixtures::page(100, 0))
        .await
        .unwrap();
    let statements = store.statement_count() - before;

    // Assert
    assert_eq!(
        statements, 2,
        "one statement for the page, one for all its events"
    );
    assert_eq!((page.items.len(), page.total.unwrap()), (100, 100));
    let with_events = page.items.iter().filter(|p| p.events.len() == 1).count();
    assert_eq!(with_events, 50);
    assert!(
        page.items
            .iter()
            .all(|p| p.events.iter().all(|e| e.position_id == p.id))
    );

    let before = store.statement_count();
    let small = store
        .list_positions(&scope, &PositionFilter::default(), fixtures::page(10, 95))
        .await
        .unwrap();
    assert_eq!(store.statement_count() - before, 2);
    assert_eq!((small.items.len(), small.total.unwrap()), (5, 100));

    let before = store.statement_count();
    store.get_position(&scope, &ids[0]).await.unwrap();
    assert_eq!(
        store.statement_count() - before,
        2,
        "a position and its events"
    );
}

#[tokio::test]
async fn a_create_is_its_rows_and_outbox_events_in_one_statement_after_a_first_read() {
    let (store, _database) = migrated_store().await;
    let institution = fixtures::institution(&store, "Acme").await;
    let template = fixtures::template(&store, &institution.id).await;
    let asset = fixtures::asset(&store, &template).await;
    let (scope, audit) = (fixtures::scope(&institution), fixtures::audit());
    let create = |holder: &'static str| {
        store.create_position(&scope, fixtures::new_position(&asset, holder, "10"), &audit)
    };

    let before = store.statement_count();
    let first = create("holder-1").await.unwrap();
    let after_first = store.statement_count();
    let second = create("holder-2").await.unwrap();
    let after_second = store.statement_count();

    // The creation context, then position + ledger event + outbox events + audit row (one
    // statement); once the context is kept, that statement guarded, alone.
    assert_eq!(after_first - before, 2);
    assert_eq!(after_second - after_first, 1);
    for position in [&first, &second] {
        let ledger = store
            .list_ledger_events(&Scope::Root, Some(&position.id))
            .await
            .unwrap();
        assert_eq!(
            ledger.len(),
            1,
            "the ledger row was written with the position"
        );
    }
}

#[tokio::test]
async fn a_transition_is_one_write_on_what_this_instance_kept_and_else_a_read_then_a_write() {
    let (store, database) = migrated_store().await;
    let other = another_instance(&database).await;
    let (institution, _, position) = fixtures::position_setup(&store).await;
    let scope = fixtures::scope(&institution);
    let to = |state| TransitionRequest::to(state);

    let before = store.statement_count();
    store
        .transition_position(
            &scope,
            &position.id,
            to(PositionState::Funded),
            &fixtures::audit(),
        )
        .await
        .unwrap();
    let first = store.statement_count() - before;
    let before = other.statement_count();
    let released = other
        .transition_position(
            &scope,
            &position.id,
            to(PositionState::Released),
            &fixtures::audit(),
        )
        .await
        .unwrap();
    let second = other.statement_count() - before;

    // The store that created the position kept it: guarded update + lifecycle event + ledger
    // event + outbox events + audit row (one statement). The other instance kept nothing: the
    // position with its events and the head of its ledger chain (one statement), then the
    // same write.
    assert_eq!(first, 1);
    assert_eq!(second, 2);
    let ways = |kept, read, locked| TransitionWays { kept, read, locked };
    assert_eq!(store.transition_ways(), Some(ways(1, 0, 0)));
    assert_eq!(other.transition_ways(), Some(ways(0, 1, 0)));
    // The second transition read the first one's event and chained to its ledger event.
    assert_eq!(released.events.len(), 2);
    assert_one_unbroken_chain(&store, &position.id, 3).await;
}
