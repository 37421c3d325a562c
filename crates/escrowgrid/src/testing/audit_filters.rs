//! Audit list filters on the resource and the time an event occurred.

use chrono::{DateTime, Duration, Utc};

use crate::domain::{
    AuditAction, AuditContext, AuditEvent, AuditOutcome, InstitutionId, ResourceType, now_millis,
};
use crate::store::{AuditFilter, EscrowStore, Scope};

use super::fixtures::page;

fn about(
    institution_id: &InstitutionId,
    resource: Option<(ResourceType, &str)>,
    at: DateTime<Utc>,
) -> AuditEvent {
    let context = AuditContext {
        institution_id: Some(institution_id.clone()),
        method: "POST".into(),
        path: "/positions".into(),
        ..AuditContext::default()
    };
    context.event(
        AuditAction::PositionCreated,
        AuditOutcome::Success,
        resource.map(|(kind, id)| (kind, id.to_owned())),
        None,
        at,
    )
}

async fn record_all(store: &dyn EscrowStore, events: &[AuditEvent]) {
    for event in events {
        store.record_audit(event.clone()).await.unwrap();
    }
}

async fn listed(store: &dyn EscrowStore, scope: &Scope, filter: &AuditFilter) -> Vec<AuditEvent> {
    let all = store
        .list_audit_events(scope, filter, page(1000, 0))
        .await
        .unwrap();
    assert_eq!(all.total.unwrap(), all.items.len() as u64);
    all.items
}

/// `resource_type` and `resource_id` select events about one kind of resource or one
/// resource, alone or together, in write order, paged with the filtered total.
pub async fn audit_events_are_filtered_by_resource_type_and_id(store: &dyn EscrowStore) {
    let mine = InstitutionId::new();
    let theirs = InstitutionId::new();
    let now = now_millis();
    let events = vec![
        about(&mine, Some((ResourceType::Position, "pos_a")), now),
        about(&mine, Some((ResourceType::Asset, "ast_a")), now),
        about(&mine, None, now),
        about(&mine, Some((ResourceType::Position, "pos_b")), now),
        about(&theirs, Some((ResourceType::Position, "pos_c")), now),
        about(&mine, Some((ResourceType::Position, "pos_a")), now),
    ];
    record_all(store, &events).await;
    let positions = AuditFilter {
        resource_type: Some(ResourceType::Position),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, &Scope::Root, &positions).await,
        vec![
            events[0].clone(),
            events[3].clone(),
            events[4].clone(),
            events[5].clone()
        ]
    );
    let window = store
        .list_audit_events(&Scope::Root, &positions, page(2, 1))
        .await
        .unwrap();
    assert_eq!(window.total.unwrap(), 4);
    assert_eq!(window.items, vec![events[3].clone(), events[4].clone()]);
    let one = AuditFilter {
        resource_id: Some("pos_a".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, &Scope::Root, &one).await,
        vec![events[0].clone(), events[5].clone()]
    );
    let both = AuditFilter {
        resource_type: Some(ResourceType::Asset),
        resource_id: Some("ast_a".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, &Scope::Root, &both).await,
        vec![events[1].clone()]
    );
    let mismatched = AuditFilter {
        resource_type: Some(ResourceType::Asset),
        ..one.clone()
    };
    assert!(listed(store, &Scope::Root, &mismatched).await.is_empty());
    let theirs_by_id = AuditFilter {
        resource_id: Some("pos_c".into()),
        ..AuditFilter::default()
    };
    let tenant = Scope::Institution(mine.clone());
    assert!(listed(store, &tenant, &theirs_by_id).await.is_empty());
    assert_eq!(listed(store, &tenant, &positions).await.len(), 3);
}

/// `occurred_from` and `occurred_to` are inclusive bounds on `occurred_at`, alone or together,
/// combined with the other filters and the scope; the list keeps write order, not time order.
pub async fn audit_events_are_filtered_by_an_inclusive_time_range(store: &dyn EscrowStore) {
    let mine = InstitutionId::new();
    let theirs = InstitutionId::new();
    let now = now_millis();
    let at = |seconds: i64| now - Duration::seconds(seconds);
    // Written out of time order: 3 s ago, now, 2 s ago, 1 s ago, and another tenant's 2 s ago.
    let events = vec![
        about(&mine, None, at(3)),
        about(&mine, Some((ResourceType::Position, "pos_a")), at(0)),
        about(&mine, Some((ResourceType::Position, "pos_a")), at(2)),
        about(&mine, None, at(1)),
        about(&theirs, None, at(2)),
    ];
    record_all(store, &events).await;
    let since = AuditFilter {
        occurred_from: Some(at(2)),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, &Scope::Root, &since).await,
        vec![
            events[1].clone(),
            events[2].clone(),
            events[3].clone(),
            events[4].clone()
        ]
    );
    let until = AuditFilter {
        occurred_to: Some(at(1)),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, &Scope::Root, &until).await,
        vec![
            events[0].clone(),
            events[2].clone(),
            events[3].clone(),
            events[4].clone()
        ]
    );
    let between = AuditFilter {
        occurred_from: Some(at(2)),
        occurred_to: Some(at(1)),
        ..AuditFilter::default()
    };
    let tenant = Scope::Institution(mine.clone());
    assert_eq!(
        listed(store, &tenant, &between).await,
        vec![events[2].clone(), events[3].clone()]
    );
    let about_pos_a = AuditFilter {
        resource_id: Some("pos_a".into()),
        ..between.clone()
    };
    assert_eq!(
        listed(store, &tenant, &about_pos_a).await,
        vec![events[2].clone()]
    );
    let instant = AuditFilter {
        occurred_from: Some(at(0)),
        occurred_to: Some(at(0)),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, &Scope::Root, &instant).await,
        vec![events[1].clone()]
    );
    let reversed = AuditFilter {
        occurred_from: Some(at(1)),
        occurred_to: Some(at(2)),
        ..AuditFilter::default()
    };
    assert!(listed(store, &Scope::Root, &reversed).await.is_empty());
    let past_the_end = store
        .list_audit_events(&Scope::Root, &since, page(10, 10))
        .await
        .unwrap();
    assert!(past_the_end.items.is_empty());
    assert_eq!(past_the_end.total.unwrap(), 4);
}
