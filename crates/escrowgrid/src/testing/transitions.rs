//! Position transitions.

use serde_json::json;

use crate::Error;
use crate::domain::{
    AuditAction, LedgerEventKind, Position, PositionId, PositionState, TransitionRequest,
};
use crate::store::{AuditFilter, EscrowStore, Page, Scope};

use super::fixtures::{
    assert_invalid_fields, assert_not_found, audit, institution, position_setup, scope,
};

use PositionState::{Cancelled, Created, Expired, Funded, PartiallyReleased, Released};

async fn go(store: &dyn EscrowStore, position: &Position, to: PositionState) -> Position {
    let request = TransitionRequest::to(to);
    store
        .transition_position(&Scope::Root, &position.id, request, &audit())
        .await
        .unwrap()
}

async fn counts(store: &dyn EscrowStore, id: &PositionId) -> (usize, usize, u64) {
    let position = store.get_position(&Scope::Root, id).await.unwrap();
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(id))
        .await
        .unwrap();
    let filter = AuditFilter {
        action: Some(AuditAction::PositionTransitioned),
        ..AuditFilter::default()
    };
    let audited = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    (position.events.len(), ledger.len(), audited.total.unwrap())
}

/// A valid transition bumps the version and `updated_at`, appends one lifecycle event, and
/// writes one ledger event and one audit row.
pub async fn a_valid_transition_writes_the_event_the_ledger_entry_and_the_audit_row(
    store: &dyn EscrowStore,
) {
    let (acme, _, created) = position_setup(store).await;
    let metadata = json!({"tx": "0xabc", "n": 1}).as_object().cloned().unwrap();
    let request = TransitionRequest {
        to_state: Funded,
        reason: Some("wire received".into()),
        metadata: Some(metadata.clone()),
        expected_version: Some(1),
    };
    let funded = store
        .transition_position(&scope(&acme), &created.id, request, &audit())
        .await;
    let funded = funded.unwrap();
    assert_eq!((funded.state, funded.version), (Funded, 2));
    assert!(funded.updated_at >= created.updated_at);
    assert_eq!(funded.created_at, created.created_at);
    assert_eq!(funded.events.len(), 1);
    let event = &funded.events[0];
    assert!(event.id.as_str().starts_with("ple_"));
    assert_eq!((event.from_state, event.to_state), (Some(Created), Funded));
    assert_eq!(event.reason.as_deref(), Some("wire received"));
    assert_eq!(event.metadata.as_ref(), Some(&metadata));
    assert_eq!(event.at, funded.updated_at);
    assert_eq!(
        store.get_position(&Scope::Root, &created.id).await.unwrap(),
        funded
    );
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&created.id))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[1].kind, LedgerEventKind::PositionStateChanged);
    assert_eq!(
        (ledger[1].previous_state, ledger[1].new_state),
        (Some(Created), Funded)
    );
    assert_eq!(
        ledger[1].payload,
        json!({"reason": "wire received", "metadata": metadata})
    );
    let filter = AuditFilter {
        action: Some(AuditAction::PositionTransitioned),
        ..AuditFilter::default()
    };
    let audited = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(audited.total.unwrap(), 1);
    let payload = audited.items[0].payload.clone().unwrap();
    assert_eq!(
        payload,
        json!({"fromState": "CREATED", "toState": "FUNDED", "reason": "wire received"})
    );
}

/// Requesting the current state returns the position unchanged and writes nothing, in every
/// state (the `PARTIALLY_RELEASED` self-loop and terminal states included).
pub async fn a_same_state_transition_is_a_no_op_that_writes_nothing(store: &dyn EscrowStore) {
    let (_, _, created) = position_setup(store).await;
    assert_eq!(go(store, &created, Created).await, created);
    let funded = go(store, &created, Funded).await;
    assert_eq!(go(store, &funded, Funded).await, funded);
    let partial = go(store, &funded, PartiallyReleased).await;
    assert_eq!(go(store, &partial, PartiallyReleased).await, partial);
    assert_eq!(counts(store, &created.id).await, (2, 3, 2));
    let released = go(store, &partial, Released).await;
    assert_eq!(go(store, &released, Released).await, released);
    assert_eq!(counts(store, &created.id).await, (3, 4, 3));
    assert_eq!(
        store.get_position(&Scope::Root, &created.id).await.unwrap(),
        released
    );
}

/// A transition outside the table is `InvalidTransition` with the exact message.
pub async fn an_invalid_transition_is_rejected_and_writes_nothing(store: &dyn EscrowStore) {
    let (_, _, created) = position_setup(store).await;
    let request = TransitionRequest::to(Released);
    match store
        .transition_position(&Scope::Root, &created.id, request, &audit())
        .await
    {
        Err(Error::InvalidTransition(err)) => {
            assert_eq!(
                err.to_string(),
                "Invalid transition from CREATED to RELEASED"
            );
        }
        other => panic!("expected an invalid transition, got {other:?}"),
    }
    let cancelled = go(store, &created, Cancelled).await;
    for to in [Created, Funded, PartiallyReleased, Released, Expired] {
        let request = TransitionRequest::to(to);
        let result = store
            .transition_position(&Scope::Root, &created.id, request, &audit())
            .await;
        assert!(
            matches!(result, Err(Error::InvalidTransition(_))),
            "CANCELLED -> {to}"
        );
    }
    let mut long_reason = TransitionRequest::to(Expired);
    long_reason.reason = Some("r".repeat(1001));
    let result = store
        .transition_position(&Scope::Root, &created.id, long_reason, &audit())
        .await;
    assert_invalid_fields(result, &["reason"]);
    assert_eq!(
        store.get_position(&Scope::Root, &created.id).await.unwrap(),
        cancelled
    );
    assert_eq!(counts(store, &created.id).await, (1, 2, 1));
}

/// A request based on an old version is a `Conflict` carrying both versions; nothing changes.
pub async fn a_stale_expected_version_is_a_conflict_and_writes_nothing(store: &dyn EscrowStore) {
    let (_, _, created) = position_setup(store).await;
    let funded = go(store, &created, Funded).await;
    let mut stale = TransitionRequest::to(Cancelled);
    stale.expected_version = Some(created.version);
    match store
        .transition_position(&Scope::Root, &created.id, stale, &audit())
        .await
    {
        Err(err @ Error::Conflict { .. }) => {
            let Error::Conflict {
                position_id,
                expected_version,
                actual_version,
                expected_state,
                actual_state,
            } = &err
            else {
                unreachable!()
            };
            assert_eq!(position_id, &created.id);
            assert_eq!((*expected_version, *actual_version), (1, 2));
            assert_eq!((*expected_state, *actual_state), (Created, Funded));
            assert_eq!(
                err.conflict_details().unwrap(),
                "Position was modified by another request. Expected state: CREATED, actual: \
                 FUNDED. Please retry."
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        store.get_position(&Scope::Root, &created.id).await.unwrap(),
        funded
    );
    assert_eq!(counts(store, &created.id).await, (1, 2, 1));
}

/// Another tenant's position cannot be transitioned (NotFound) and is left untouched.
pub async fn a_tenant_cannot_transition_another_tenants_position(store: &dyn EscrowStore) {
    let (_, _, created) = position_setup(store).await;
    let other = institution(store, "Other").await;
    let request = TransitionRequest::to(Funded);
    let result = store
        .transition_position(&scope(&other), &created.id, request, &audit())
        .await;
    assert_not_found(result, "position");
    let unknown = store
        .transition_position(
            &Scope::Root,
            &PositionId::new(),
            TransitionRequest::to(Funded),
            &audit(),
        )
        .await;
    assert_not_found(unknown, "position");
    assert_eq!(
        store.get_position(&Scope::Root, &created.id).await.unwrap(),
        created
    );
}

/// Transitions applied within the same millisecond still come back in the order applied.
pub async fn lifecycle_and_ledger_events_keep_their_order(store: &dyn EscrowStore) {
    let (_, _, created) = position_setup(store).await;
    let mut current = created.clone();
    for to in [Funded, PartiallyReleased, Released] {
        current = go(store, &current, to).await;
    }
    let loaded = store.get_position(&Scope::Root, &created.id).await.unwrap();
    let path: Vec<_> = loaded
        .events
        .iter()
        .map(|e| (e.from_state, e.to_state))
        .collect();
    let expected = vec![
        (Some(Created), Funded),
        (Some(Funded), PartiallyReleased),
        (Some(PartiallyReleased), Released),
    ];
    assert_eq!(path, expected);
    assert_eq!(loaded.version, 4);
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&created.id))
        .await
        .unwrap();
    let states: Vec<_> = ledger.iter().map(|e| e.new_state).collect();
    assert_eq!(states, vec![Created, Funded, PartiallyReleased, Released]);
    assert!(ledger.windows(2).all(|pair| pair[0].at <= pair[1].at));
    assert_eq!(
        ledger[1].payload,
        json!({}),
        "no reason, no metadata: empty payload"
    );
    let filter = AuditFilter {
        action: Some(AuditAction::PositionTransitioned),
        ..AuditFilter::default()
    };
    let audited = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    let payloads: Vec<_> = audited
        .items
        .iter()
        .filter_map(|e| e.payload.clone())
        .collect();
    assert_eq!(
        payloads,
        vec![
            json!({"fromState": "CREATED", "toState": "FUNDED"}),
            json!({"fromState": "FUNDED", "toState": "PARTIALLY_RELEASED"}),
            json!({"fromState": "PARTIALLY_RELEASED", "toState": "RELEASED"}),
        ],
        "an absent reason is omitted, as in the original"
    );
}
