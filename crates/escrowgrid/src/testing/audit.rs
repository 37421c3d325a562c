//! Audit events.

use chrono::Duration;
use serde_json::json;

use crate::domain::{
    ApiKeyId, AuditAction, AuditContext, AuditError, AuditEvent, AuditOutcome, InstitutionId,
    now_millis,
};
use crate::store::{AuditFilter, EscrowStore, Scope};

use super::fixtures::page;

fn failure(institution_id: Option<&InstitutionId>, action: AuditAction, index: i64) -> AuditEvent {
    let context = AuditContext {
        request_id: Some(format!("req-{index}")),
        api_key_id: None,
        institution_id: institution_id.cloned(),
        method: "GET".into(),
        path: format!("/positions/{index}"),
        client_ip: Some("10.0.0.1".into()),
        id_seed: None,
    };
    // Deliberately out of time order: lists follow write order.
    let at = now_millis() - Duration::seconds(index);
    let mut event = context.event(
        action,
        AuditOutcome::Failure,
        None,
        Some(json!({"i": index})),
        at,
    );
    event.status_code = Some(401);
    event.error = Some(AuditError {
        code: Some("E".into()),
        message: "denied".into(),
        details: Some(json!([1])),
    });
    event
}

/// Recorded events come back unchanged, in write order, filtered and paged with a total.
pub async fn audit_events_are_listed_with_filters_and_pages_in_write_order(
    store: &dyn EscrowStore,
) {
    let institution_id = InstitutionId::new();
    let mut written = Vec::new();
    for index in 0..6 {
        let action = if index % 2 == 0 {
            AuditAction::AuthFailed
        } else {
            AuditAction::RateLimited
        };
        let mut event = failure(Some(&institution_id), action, index);
        if index == 5 {
            event.api_key_id = Some(ApiKeyId::new());
        }
        store.record_audit(event.clone()).await.unwrap();
        written.push(event);
    }
    let all = store
        .list_audit_events(&Scope::Root, &AuditFilter::default(), page(100, 0))
        .await
        .unwrap();
    assert_eq!(all.total.unwrap(), 6);
    assert_eq!(all.items, written);
    let auth = AuditFilter {
        action: Some(AuditAction::AuthFailed),
        ..AuditFilter::default()
    };
    let window = store
        .list_audit_events(&Scope::Root, &auth, page(2, 1))
        .await
        .unwrap();
    assert_eq!(window.total.unwrap(), 3);
    assert_eq!(window.items, vec![written[2].clone(), written[4].clone()]);
    let by_key = AuditFilter {
        api_key_id: written[5].api_key_id.clone(),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .list_audit_events(&Scope::Root, &by_key, page(10, 0))
            .await
            .unwrap()
            .items,
        vec![written[5].clone()]
    );
    let successes = AuditFilter {
        outcome: Some(AuditOutcome::Success),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .list_audit_events(&Scope::Root, &successes, page(10, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        0
    );
}

/// A tenant lists only events whose acting institution is its own.
pub async fn a_tenant_sees_only_its_own_audit_events(store: &dyn EscrowStore) {
    let mine = InstitutionId::new();
    let theirs = InstitutionId::new();
    store
        .record_audit(failure(Some(&mine), AuditAction::AuthForbidden, 1))
        .await
        .unwrap();
    store
        .record_audit(failure(Some(&theirs), AuditAction::AuthForbidden, 2))
        .await
        .unwrap();
    store
        .record_audit(failure(None, AuditAction::AuthFailed, 3))
        .await
        .unwrap();
    let scope = Scope::Institution(mine.clone());
    let seen = store
        .list_audit_events(&scope, &AuditFilter::default(), page(10, 0))
        .await
        .unwrap();
    assert_eq!(seen.total.unwrap(), 1);
    assert_eq!(seen.items[0].institution_id.as_ref(), Some(&mine));
    let asks_for_theirs = AuditFilter {
        institution_id: Some(theirs),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .list_audit_events(&scope, &asks_for_theirs, page(10, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .list_audit_events(&Scope::Root, &AuditFilter::default(), page(10, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        3
    );
}
