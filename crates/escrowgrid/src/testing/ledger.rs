//! The ledger.

use crate::domain::{PositionState, now_millis};
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

/// Every ledger event is hashed and chained to the previous event of its position (a
/// creation starts its chain), the hash survives the store's round trip (metadata with
/// numbers in odd spellings and escapes included), and an untouched ledger verifies.
pub async fn ledger_events_are_hash_chained_per_position_and_verify(store: &dyn EscrowStore) {
    let (a, _, a_position) = position_setup(store).await;
    let (_, _, b_position) = position_setup(store).await;
    let metadata: serde_json::Value = serde_json::from_str(
        r#"{"z": 1.50, "a": [1e2, -0.0, "line\nbreak \u0001 é ✓"], "n": {"deep": 10}}"#,
    )
    .unwrap();
    let audit = super::fixtures::audit();
    for (position, to) in [
        (&a_position, PositionState::Funded),
        (&b_position, PositionState::Funded),
        (&a_position, PositionState::Released),
    ] {
        let mut request = crate::domain::TransitionRequest::to(to);
        request.reason = Some("because \"quoted\"".into());
        request.metadata = metadata.as_object().cloned();
        store
            .transition_position(&Scope::Root, &position.id, request, &audit)
            .await
            .unwrap();
    }
    let events = store.list_ledger_events(&Scope::Root, None).await.unwrap();
    assert_eq!(events.len(), 5);
    let chain: Vec<_> = events
        .iter()
        .filter(|e| e.position_id == a_position.id)
        .collect();
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[0].previous_hash, None);
    for pair in chain.windows(2) {
        assert!(pair[0].hash.is_some());
        assert_eq!(pair[1].previous_hash, pair[0].hash);
    }
    for event in &events {
        let expected = crate::ledger::event_hash(event, event.previous_hash.as_deref());
        assert_eq!(event.hash.as_deref(), Some(expected.as_str()), "{event:?}");
    }
    let report = crate::ledger::verify(&events, |_, _| {});
    assert!(report.ok, "{report:?}");
    assert_eq!((report.events_checked, report.chains_checked), (5, 2));
    let own = store.list_ledger_events(&scope(&a), None).await.unwrap();
    assert!(crate::ledger::verify(&own, |_, _| {}).ok);
}

/// Takes checkpoints until they cover `expected` events in all, with a deadline (on
/// PostgreSQL a transaction still running anywhere on the server holds the fence back).
async fn checkpoint_until_covered(store: &dyn EscrowStore, expected: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let taken = store.ledger_checkpoints().await.unwrap();
        let covered: i64 = taken.iter().map(|(c, _)| c.event_count).sum();
        assert!(
            covered <= expected,
            "checkpoints cover {covered} > {expected} events"
        );
        if covered == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "covered {covered} of {expected}"
        );
        if store
            .create_ledger_checkpoint(now_millis())
            .await
            .unwrap()
            .is_none()
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Checkpoints cover every committed event exactly once, in number order, each chained to the
/// previous one; nothing new means no checkpoint; the whole ledger then verifies.
pub async fn checkpoints_cover_every_event_once_and_chain(store: &dyn EscrowStore) {
    assert_eq!(
        store.create_ledger_checkpoint(now_millis()).await.unwrap(),
        None
    );
    let (_, _, position) = position_setup(store).await;
    let audit = super::fixtures::audit();
    let funded = crate::domain::TransitionRequest::to(PositionState::Funded);
    store
        .transition_position(&Scope::Root, &position.id, funded, &audit)
        .await
        .unwrap();
    checkpoint_until_covered(store, 2).await;
    assert_eq!(
        store.create_ledger_checkpoint(now_millis()).await.unwrap(),
        None
    );
    let released = crate::domain::TransitionRequest::to(PositionState::Released);
    store
        .transition_position(&Scope::Root, &position.id, released, &audit)
        .await
        .unwrap();
    checkpoint_until_covered(store, 3).await;
    let taken = store.ledger_checkpoints().await.unwrap();
    assert_eq!(taken[0].0.previous_hash, None);
    for (index, pair) in taken.windows(2).enumerate() {
        assert_eq!(pair[1].0.number, i64::try_from(index).unwrap() + 2);
        assert_eq!(pair[1].0.previous_hash.as_ref(), Some(&pair[0].0.hash));
    }
    let events = store.list_ledger_events(&Scope::Root, None).await.unwrap();
    let leaves: Vec<String> = taken.iter().flat_map(|(_, l)| l.iter().cloned()).collect();
    let expected: Vec<String> = events.iter().map(crate::ledger::checkpoint::leaf).collect();
    assert_eq!(leaves, expected);
    let report = crate::ledger::verify_store(store, &Scope::Root, |_, _| {})
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checkpoints_checked, taken.len());
}
