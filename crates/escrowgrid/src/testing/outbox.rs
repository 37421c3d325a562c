//! The transactional outbox (`docs/EVENTS.md`): every write appends exactly its domain events
//! with the documented payload, a failed write appends none, and concurrent writers' events
//! reach a subscriber once each, in commit order.

use std::collections::HashSet;

use gridstore::{Event, EventFilter};
use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::time::format_millis;
use crate::domain::{
    ApiKeyRole, InstitutionId, NewApiKey, NewInstitution, PositionPolicy, PositionState, Region,
    TransitionRequest,
};
use crate::store::outbox::stream_of;
use crate::store::{EscrowStore, Scope};

pub use super::outbox_order::concurrent_writers_events_reach_a_subscriber_once_in_commit_order;

use super::fixtures::{
    amount, asset, audit, institution, new_position, position, position_setup, scope, template,
};

/// Every event of the store's log, in position order.
pub async fn all_events(store: &dyn EscrowStore) -> Vec<Event> {
    store
        .events()
        .query(&EventFilter::all(), None, 100_000)
        .await
        .unwrap()
}

/// The events after the `skip` first ones.
async fn events_after(store: &dyn EscrowStore, skip: usize) -> Vec<Event> {
    all_events(store).await.split_off(skip)
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Checks one event against the contract: stream, type, correlation, payload envelope, data.
fn assert_event(
    event: &Event,
    kind: &str,
    institution: &InstitutionId,
    position: Option<&str>,
    occurred_at: &str,
    data: &Value,
) {
    assert_eq!(event.event_type, kind);
    assert_eq!(event.stream, stream_of(institution));
    assert_eq!(event.correlation_id.as_deref(), position, "{kind}");
    let payload = &event.payload;
    let id = payload["id"].as_str().unwrap();
    let uuid = id.strip_prefix("evt_").unwrap();
    assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);
    assert_eq!(payload["type"], json!(kind));
    assert_eq!(payload["institutionId"], json!(institution));
    assert_eq!(payload["occurredAt"], json!(occurred_at), "{kind}");
    assert_eq!(&payload["data"], data, "{kind}");
    let keys: HashSet<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected = HashSet::from(["id", "type", "institutionId", "occurredAt", "data"]);
    assert_eq!(keys, expected);
}

/// Each write appends exactly its events, in the documented order and shape.
pub async fn every_write_appends_exactly_its_events_with_the_documented_payload(
    store: &dyn EscrowStore,
) {
    let acme = institution(store, "Acme").await;
    let events = all_events(store).await;
    assert_eq!(events.len(), 1);
    let at = format_millis(&acme.created_at);
    let data = to_json(&acme);
    assert_event(
        &events[0],
        "institution.created",
        &acme.id,
        None,
        &at,
        &data,
    );

    let template = template(store, &acme.id).await;
    let asset = asset(store, &template).await;
    let created = position(store, &asset, "holder-1").await;
    let events = events_after(store, 1).await;
    assert_eq!(
        events.len(),
        4,
        "template, asset, position and its ledger entry"
    );
    let at = format_millis(&template.created_at);
    let data = to_json(&template);
    assert_event(
        &events[0],
        "asset_template.created",
        &acme.id,
        None,
        &at,
        &data,
    );
    let at = format_millis(&asset.created_at);
    assert_event(
        &events[1],
        "asset.created",
        &acme.id,
        None,
        &at,
        &to_json(&asset),
    );
    let pos = Some(created.id.as_str());
    let at = format_millis(&created.created_at);
    let data = to_json(&created);
    assert_event(&events[2], "position.created", &acme.id, pos, &at, &data);
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&created.id))
        .await
        .unwrap();
    let data = to_json(&ledger[0]);
    assert_event(
        &events[3],
        "ledger_event.recorded",
        &acme.id,
        pos,
        &at,
        &data,
    );
    assert_eq!(
        events[2].position.tx_id(),
        events[3].position.tx_id(),
        "one append"
    );

    let request = TransitionRequest {
        reason: Some("wire received".into()),
        ..TransitionRequest::to(PositionState::Funded)
    };
    let funded = store
        .transition_position(&scope(&acme), &created.id, request, &audit())
        .await
        .unwrap();
    let events = events_after(store, 5).await;
    assert_eq!(events.len(), 2);
    let at = format_millis(&funded.updated_at);
    let change = json!({
        "position": to_json(&funded),
        "fromState": "CREATED",
        "toState": "FUNDED",
        "reason": "wire received",
    });
    assert_event(
        &events[0],
        "position.state_changed",
        &acme.id,
        pos,
        &at,
        &change,
    );
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&created.id))
        .await
        .unwrap();
    let data = to_json(&ledger[1]);
    assert_event(
        &events[1],
        "ledger_event.recorded",
        &acme.id,
        pos,
        &at,
        &data,
    );

    let new = NewApiKey {
        institution_id: acme.id.clone(),
        label: "ops".into(),
        role: ApiKeyRole::Admin,
    };
    let key = store
        .create_api_key(&Scope::Root, new, &audit())
        .await
        .unwrap();
    let revoked = store
        .revoke_api_key(&Scope::Root, &acme.id, &key.api_key.id, &audit())
        .await
        .unwrap();
    let events = events_after(store, 7).await;
    assert_eq!(events.len(), 2);
    let at = format_millis(&key.api_key.created_at);
    let data = to_json(&key.api_key);
    assert_event(&events[0], "api_key.created", &acme.id, None, &at, &data);
    let at = format_millis(&revoked.revoked_at.unwrap());
    let data = to_json(&revoked);
    assert_event(&events[1], "api_key.revoked", &acme.id, None, &at, &data);
    for event in &events {
        let text = event.payload.to_string();
        assert!(
            !text.contains(&key.token),
            "an event must never hold the token"
        );
        assert!(!text.contains(&key.api_key.key_hash), "nor its hash");
    }

    let rules = PositionPolicy {
        min_amount: Some(amount("10")),
        ..PositionPolicy::default()
    };
    let policy = store
        .upsert_policy(&Scope::Root, &acme.id, Region::Us, rules, &audit())
        .await
        .unwrap();
    let events = events_after(store, 9).await;
    assert_eq!(events.len(), 1);
    let at = format_millis(&policy.updated_at);
    let data = to_json(&policy);
    assert_event(&events[0], "policy.updated", &acme.id, None, &at, &data);

    let all = all_events(store).await;
    let ids: HashSet<&str> = all
        .iter()
        .map(|e| e.payload["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 10, "every event has its own id");
}

/// Writes that fail (validation, scope, policy, invalid or stale transitions, revoked keys)
/// and same-state transitions append nothing.
pub async fn failed_writes_and_no_ops_append_no_event(store: &dyn EscrowStore) {
    let (acme, asset, created) = position_setup(store).await;
    let other = institution(store, "Other").await;
    let before = all_events(store).await.len();

    let invalid = NewInstitution::new(String::new(), vec![Region::Us], None);
    assert!(store.create_institution(invalid, &audit()).await.is_err());
    let mut foreign_asset = new_position(&asset, "h", "100");
    foreign_asset.institution_id = other.id.clone();
    assert!(
        store
            .create_position(&scope(&other), foreign_asset, &audit())
            .await
            .is_err()
    );
    let rules = PositionPolicy {
        max_amount: Some(amount("5")),
        ..PositionPolicy::default()
    };
    store
        .upsert_policy(&Scope::Root, &acme.id, Region::Us, rules, &audit())
        .await
        .unwrap();
    let before = before + 1;
    let over = new_position(&asset, "h", "100");
    assert!(
        store
            .create_position(&Scope::Root, over, &audit())
            .await
            .is_err()
    );
    let released = TransitionRequest::to(PositionState::Released);
    assert!(
        store
            .transition_position(&Scope::Root, &created.id, released, &audit())
            .await
            .is_err(),
        "CREATED -> RELEASED is not a valid transition"
    );
    let stale = TransitionRequest {
        expected_version: Some(7),
        ..TransitionRequest::to(PositionState::Funded)
    };
    assert!(
        store
            .transition_position(&Scope::Root, &created.id, stale, &audit())
            .await
            .is_err()
    );
    let same = TransitionRequest::to(PositionState::Created);
    store
        .transition_position(&Scope::Root, &created.id, same, &audit())
        .await
        .unwrap();
    let foreign = TransitionRequest::to(PositionState::Funded);
    assert!(
        store
            .transition_position(&scope(&other), &created.id, foreign, &audit())
            .await
            .is_err()
    );
    let new = NewApiKey {
        institution_id: acme.id.clone(),
        label: "k".into(),
        role: ApiKeyRole::ReadOnly,
    };
    let key = store
        .create_api_key(&Scope::Root, new, &audit())
        .await
        .unwrap();
    let before = before + 1;
    let key_id = &key.api_key.id;
    store
        .revoke_api_key(&Scope::Root, &acme.id, key_id, &audit())
        .await
        .unwrap();
    let before = before + 1;
    assert!(
        store
            .revoke_api_key(&Scope::Root, &acme.id, key_id, &audit())
            .await
            .is_err()
    );

    let after = all_events(store).await;
    let unexpected: Vec<_> = after[before..].iter().map(|e| &e.event_type).collect();
    assert!(
        unexpected.is_empty(),
        "failed writes appended {unexpected:?}"
    );
}
