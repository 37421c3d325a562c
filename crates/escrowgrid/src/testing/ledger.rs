//! The ledger.

use crate::domain::PositionState;
use crate::store::{EscrowStore, Scope};

use super::fixtures::{assert_not_found, position_setup, scope};

/// Root sees every ledger event; a tenant only its own positions' events; another tenant's
/// position is NotFound.
pub async fn ledger_events_are_scoped_to_the_tenant(store: &dyn EscrowStore) {
    let (a, _, a_position) = position_setup(store).await;
    let (b, _, b_position) = position_setup(store).await;
    let request = crate::domain::TransitionRequest::to(PositionState::Funded);
    let audit = super::fixtures::audit();
    store
        .transition_position(&scope(&b), &b_position.id, request, &audit)
        .await
        .unwrap();
    let everything = store.list_ledger_events(&Scope::Root, None).await.unwrap();
    assert_eq!(everything.len(), 3);
    assert_eq!(everything[0].position_id, a_position.id);
    let a_sees = store.list_ledger_events(&scope(&a), None).await.unwrap();
    assert_eq!(a_sees.len(), 1);
    assert!(a_sees.iter().all(|e| e.institution_id == a.id));
    let b_sees = store
        .list_ledger_events(&scope(&b), Some(&b_position.id))
        .await
        .unwrap();
    assert_eq!(b_sees.len(), 2);
    assert_not_found(
        store
            .list_ledger_events(&scope(&a), Some(&b_position.id))
            .await,
        "position",
    );
    let unknown = crate::domain::PositionId::new();
    assert_not_found(
        store.list_ledger_events(&Scope::Root, Some(&unknown)).await,
        "position",
    );
}
