//! Institutions.

use crate::domain::{
    AuditAction, AuditOutcome, InstitutionId, NewInstitution, Region, ResourceType, Vertical,
};
use crate::store::{AuditFilter, EscrowStore, Page, Scope};

use super::fixtures::{
    assert_invalid_fields, assert_not_found, audit, institution, is_list_ordered, scope,
};

/// A fresh store passes its readiness check.
pub async fn a_fresh_store_is_healthy(store: &dyn EscrowStore) {
    store.health().await.unwrap();
}

/// Creating an institution returns it as stored, and writes `INSTITUTION_CREATED`.
pub async fn creating_an_institution_returns_it_and_records_an_audit_row(store: &dyn EscrowStore) {
    // Arrange
    let context = audit();
    let new = NewInstitution::new("Acme Bank".into(), vec![Region::Us, Region::Sg], None);
    // Act
    let created = store.create_institution(new, &context).await.unwrap();
    // Assert
    assert!(created.id.as_str().starts_with("inst_"));
    assert_eq!(
        created.verticals,
        vec![Vertical::Construction, Vertical::TradeFinance]
    );
    assert_eq!(created.created_at, created.updated_at);
    let loaded = store
        .get_institution(&Scope::Root, &created.id)
        .await
        .unwrap();
    assert_eq!(loaded, created);
    let events = store
        .list_audit_events(&Scope::Root, &AuditFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(events.total.unwrap(), 1);
    let event = &events.items[0];
    assert_eq!(event.action, AuditAction::InstitutionCreated);
    assert_eq!(event.outcome, AuditOutcome::Success);
    assert_eq!(event.resource_type, Some(ResourceType::Institution));
    assert_eq!(event.resource_id.as_deref(), Some(created.id.as_str()));
    assert_eq!(event.request_id, context.request_id);
    assert_eq!(event.method, "POST");
    assert_eq!(event.path, "/contract-test");
    assert_eq!(event.client_ip.as_deref(), Some("127.0.0.1"));
    let payload = event.payload.as_ref().unwrap();
    assert_eq!(payload["name"], "Acme Bank");
    assert_eq!(payload["regions"], serde_json::json!(["US", "SG"]));
}

/// Invalid input is a validation error listing every bad field, and writes nothing.
pub async fn an_invalid_institution_is_rejected_and_nothing_is_written(store: &dyn EscrowStore) {
    let new = NewInstitution::new(String::new(), Vec::new(), None);
    assert_invalid_fields(
        store.create_institution(new, &audit()).await,
        &["name", "regions"],
    );
    let too_long = NewInstitution::new("x".repeat(256), vec![Region::Us], None);
    assert_invalid_fields(
        store.create_institution(too_long, &audit()).await,
        &["name"],
    );
    assert!(
        store
            .list_institutions(&Scope::Root)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store
            .list_audit_events(&Scope::Root, &AuditFilter::default(), Page::default())
            .await
            .unwrap()
            .total
            .unwrap(),
        0
    );
}

/// Unknown ids, and ids that parse but were never issued, are NotFound.
pub async fn an_unknown_or_malformed_institution_is_not_found(store: &dyn EscrowStore) {
    institution(store, "Acme").await;
    assert_not_found(
        store
            .get_institution(&Scope::Root, &InstitutionId::new())
            .await,
        "institution",
    );
    let malformed: crate::Error = InstitutionId::parse("inst_nope").unwrap_err().into();
    assert!(matches!(
        malformed,
        crate::Error::NotFound {
            resource: "institution",
            ..
        }
    ));
}

/// A tenant reads and lists only its own institution; another's is NotFound.
pub async fn a_tenant_sees_only_its_own_institution(store: &dyn EscrowStore) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    assert_not_found(
        store.get_institution(&scope(&a), &b.id).await,
        "institution",
    );
    assert_eq!(store.get_institution(&scope(&a), &a.id).await.unwrap(), a);
    assert_eq!(
        store.list_institutions(&scope(&b)).await.unwrap(),
        vec![b.clone()]
    );
    let ghost = Scope::Institution(InstitutionId::new());
    assert!(store.list_institutions(&ghost).await.unwrap().is_empty());
    assert_eq!(
        store.list_institutions(&Scope::Root).await.unwrap().len(),
        2
    );
}

/// Lists are ordered by `created_at` ascending, ties by id.
pub async fn institutions_are_listed_by_creation_time_then_id(store: &dyn EscrowStore) {
    for index in 0..12 {
        institution(store, &format!("bank {index}")).await;
    }
    let all = store.list_institutions(&Scope::Root).await.unwrap();
    assert_eq!(all.len(), 12);
    assert!(is_list_ordered(&all, |i| (i.created_at, i.id.clone())));
}
