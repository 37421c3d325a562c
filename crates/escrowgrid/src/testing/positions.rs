//! Positions: creation, policies, filters.

use serde_json::json;

use crate::Error;
use crate::domain::{
    AssetId, AuditAction, Currency, LedgerEventKind, PolicyViolation, PositionId, PositionPolicy,
    PositionState, Region,
};
use crate::store::{AuditFilter, EscrowStore, Page, PositionFilter, Scope};

use super::fixtures::{
    amount, assert_invalid_fields, assert_not_found, asset, audit, institution, is_list_ordered,
    new_position, page, position, position_setup, scope, template, template_with,
};

/// A new position is `CREATED`, version 1, without events, with one `POSITION_CREATED` ledger
/// event and one audit row.
pub async fn creating_a_position_writes_its_ledger_event_and_audit_row(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let asset = asset(store, &template(store, &acme.id).await).await;
    let context = audit();
    let mut new = new_position(&asset, "holder-1", "250.5");
    new.external_reference = Some("ext-1".into());
    let created = store
        .create_position(&scope(&acme), new, &context)
        .await
        .unwrap();
    assert!(created.id.as_str().starts_with("pos_"));
    assert_eq!(
        (created.state, created.version),
        (PositionState::Created, 1)
    );
    assert!(created.events.is_empty());
    assert_eq!(
        store
            .get_position(&scope(&acme), &created.id)
            .await
            .unwrap(),
        created
    );
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&created.id))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].kind, LedgerEventKind::PositionCreated);
    assert_eq!(
        (ledger[0].previous_state, ledger[0].new_state),
        (None, PositionState::Created)
    );
    assert_eq!(ledger[0].institution_id, acme.id);
    let expected = json!({
        "institutionId": acme.id, "assetId": asset.id, "currency": "USD",
        "amount": amount("250.5"), "externalReference": "ext-1", "requestId": context.request_id,
    });
    assert_eq!(ledger[0].payload, expected);
    let filter = AuditFilter {
        action: Some(AuditAction::PositionCreated),
        ..AuditFilter::default()
    };
    let events = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(events.total.unwrap(), 1);
    assert_eq!(
        events.items[0].resource_id.as_deref(),
        Some(created.id.as_str())
    );
    assert_eq!(
        events.items[0].payload.as_ref().unwrap()["holderReference"],
        "holder-1"
    );
}

/// `12345678901234.12345678` is stored and read back exactly, and serializes exactly.
pub async fn a_position_amount_round_trips_exactly(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let asset = asset(store, &template(store, &acme.id).await).await;
    for text in [
        "12345678901234.12345678",
        "0.00000001",
        "1000000000000000",
        "100.5",
    ] {
        let new = new_position(&asset, "h", text);
        let created = store
            .create_position(&Scope::Root, new, &audit())
            .await
            .unwrap();
        let loaded = store.get_position(&Scope::Root, &created.id).await.unwrap();
        assert_eq!(loaded.amount, amount(text));
        assert_eq!(loaded.amount.value().to_string(), text);
        let json = serde_json::to_string(&loaded).unwrap();
        assert!(json.contains(&format!("\"amount\":{text},")), "{json}");
    }
}

/// The asset must belong to the position's institution; the scope must allow it.
pub async fn a_position_on_another_institutions_asset_is_not_found(store: &dyn EscrowStore) {
    let (a, _, _) = position_setup(store).await;
    let b = institution(store, "B").await;
    let b_asset = asset(store, &template(store, &b.id).await).await;
    let mut cross = new_position(&b_asset, "h", "1");
    cross.institution_id = a.id.clone();
    assert_not_found(
        store.create_position(&Scope::Root, cross, &audit()).await,
        "asset",
    );
    let mut unknown = new_position(&b_asset, "h", "1");
    unknown.asset_id = AssetId::new();
    assert_not_found(
        store.create_position(&Scope::Root, unknown, &audit()).await,
        "asset",
    );
    let foreign = new_position(&b_asset, "h", "1");
    assert_not_found(
        store.create_position(&scope(&a), foreign, &audit()).await,
        "institution",
    );
    assert_not_found(
        store.get_position(&Scope::Root, &PositionId::new()).await,
        "position",
    );
    let (_, _, a_position) = position_setup(store).await;
    assert_not_found(
        store.get_position(&scope(&b), &a_position.id).await,
        "position",
    );
    let b_sees = store
        .list_positions(&scope(&b), &PositionFilter::default(), page(100, 0))
        .await
        .unwrap();
    assert_eq!(b_sees.total.unwrap(), 0);
}

/// The institution's policy for the template's region is enforced; a violation writes nothing.
pub async fn a_policy_violation_rejects_the_position_and_writes_nothing(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let asset = asset(store, &template(store, &acme.id).await).await;
    let rules = PositionPolicy {
        min_amount: Some(amount("10")),
        max_amount: Some(amount("1000")),
        allowed_currencies: Some(vec![Currency::USD]),
    };
    store
        .upsert_policy(&Scope::Root, &acme.id, Region::Us, rules, &audit())
        .await
        .unwrap();
    let cases = [
        ("9.99999999", Currency::USD),
        ("1000.00000001", Currency::USD),
        ("50", Currency::EUR),
    ];
    for (value, currency) in cases {
        let mut new = new_position(&asset, "h", value);
        new.currency = currency;
        match store.create_position(&Scope::Root, new, &audit()).await {
            Err(Error::PolicyViolation(_)) => {}
            other => panic!("expected a policy violation for {value} {currency}, got {other:?}"),
        }
    }
    store
        .create_position(&Scope::Root, new_position(&asset, "h", "10"), &audit())
        .await
        .unwrap();
    store
        .create_position(&Scope::Root, new_position(&asset, "h", "1000"), &audit())
        .await
        .unwrap();

    assert_eq!(
        store
            .list_positions(&Scope::Root, &PositionFilter::default(), page(10, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .list_ledger_events(&Scope::Root, None)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A template's own `minAmount` / `maxAmount` apply to positions on its assets.
pub async fn template_limits_are_enforced_on_positions(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let config = json!({"currency": "USD", "region": "US", "minAmount": 100, "maxAmount": 500.5});
    let limited = template_with(store, &acme.id, config.as_object().cloned().unwrap()).await;
    let asset = asset(store, &limited).await;
    let low = store
        .create_position(&Scope::Root, new_position(&asset, "h", "99.99"), &audit())
        .await;
    assert!(matches!(
        low,
        Err(Error::PolicyViolation(
            PolicyViolation::BelowTemplateMinimum { .. }
        ))
    ));
    let high = store
        .create_position(&Scope::Root, new_position(&asset, "h", "500.51"), &audit())
        .await;
    assert!(matches!(
        high,
        Err(Error::PolicyViolation(
            PolicyViolation::AboveTemplateMaximum { .. }
        ))
    ));
    store
        .create_position(&Scope::Root, new_position(&asset, "h", "500.5"), &audit())
        .await
        .unwrap();
}

/// Every invalid field is listed and nothing is written.
pub async fn invalid_position_input_is_rejected_with_every_bad_field(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let asset = asset(store, &template(store, &acme.id).await).await;
    let mut new = new_position(&asset, "", "1");
    new.external_reference = Some("r".repeat(256));
    let result = store.create_position(&Scope::Root, new, &audit()).await;
    assert_invalid_fields(result, &["holderReference", "externalReference"]);
    let mut empty_reference = new_position(&asset, "h", "1");
    empty_reference.external_reference = Some(String::new());
    let created = store
        .create_position(&Scope::Root, empty_reference, &audit())
        .await
        .unwrap();
    let loaded = store.get_position(&Scope::Root, &created.id).await.unwrap();
    assert_eq!(loaded.external_reference.as_deref(), Some(""));
    assert_eq!(
        store
            .list_ledger_events(&Scope::Root, None)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Position lists filter by institution, asset and holder, page, count, and are ordered.
pub async fn positions_are_filtered_by_institution_asset_and_holder_with_a_total(
    store: &dyn EscrowStore,
) {
    let (a, a_asset, _) = position_setup(store).await;
    let second_asset = asset(store, &template(store, &a.id).await).await;
    for holder in ["alice", "bob", "alice"] {
        position(store, &second_asset, holder).await;
    }
    let (b, _, _) = position_setup(store).await;
    let all = store
        .list_positions(&Scope::Root, &PositionFilter::default(), page(100, 0))
        .await
        .unwrap();
    assert_eq!(all.total.unwrap(), 5);
    assert!(is_list_ordered(&all.items, |p| (
        p.created_at,
        p.id.clone()
    )));
    let by_asset = PositionFilter {
        asset_id: Some(second_asset.id.clone()),
        ..PositionFilter::default()
    };
    assert_eq!(
        store
            .list_positions(&scope(&a), &by_asset, page(100, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        3
    );
    let alice = PositionFilter {
        holder_reference: Some("alice".into()),
        ..by_asset.clone()
    };
    let alices = store
        .list_positions(&Scope::Root, &alice, page(1, 1))
        .await
        .unwrap();
    assert_eq!((alices.total.unwrap(), alices.items.len()), (2, 1));
    assert_eq!(alices.items[0].holder_reference, "alice");
    let by_institution = PositionFilter {
        institution_id: Some(a.id.clone()),
        ..PositionFilter::default()
    };
    let a_only = store
        .list_positions(&Scope::Root, &by_institution, page(100, 0))
        .await
        .unwrap();
    assert_eq!(a_only.total.unwrap(), 4);
    assert!(a_only.items.iter().any(|p| p.asset_id == a_asset.id));
    assert_eq!(
        store
            .list_positions(&scope(&b), &by_institution, page(100, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .list_positions(&scope(&b), &PositionFilter::default(), page(100, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        1
    );
}
