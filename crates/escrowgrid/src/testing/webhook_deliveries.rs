//! The delivery records of the [`WebhookStore`] contract suite (re-exported by
//! [`super::webhooks`], which expands them): one record per endpoint and event, listed newest
//! first, and status transitions that only one concurrent caller wins.

use chrono::Duration;

use crate::domain::{AuditAction, AuditOutcome, Delivery, DeliveryId, DeliveryStatus, now_millis};
use crate::store::{AuditFilter, EscrowStore, Page, Scope, WebhookStore};

use super::fixtures::{assert_not_found, audit, institution, page, scope};
use super::webhooks::create;

/// Saving a delivery twice updates one record (keeping `created_at`); lists are newest first,
/// paged, scoped; a deleted endpoint takes its deliveries along.
pub async fn a_delivery_is_one_record_per_endpoint_and_event_listed_newest_first(
    store: &dyn EscrowStore,
    webhooks: &dyn WebhookStore,
) {
    let acme = institution(store, "Acme").await;
    let other = institution(store, "Other").await;
    let endpoint = create(webhooks, &Scope::Root, &acme.id, "https://a.example/", "s").await;
    let start = now_millis();
    let delivery = |event: &str, offset: i64| Delivery {
        id: DeliveryId::derive(&endpoint.id, event),
        webhook_id: endpoint.id.clone(),
        institution_id: acme.id.clone(),
        event_id: event.into(),
        event_type: "position.created".into(),
        status: DeliveryStatus::Pending,
        attempts: 1,
        last_status_code: Some(500),
        last_error: Some("receiver answered 500".into()),
        next_attempt_at: Some(start + Duration::seconds(5)),
        dlq_item_id: None,
        created_at: start + Duration::milliseconds(offset),
        updated_at: start + Duration::milliseconds(offset),
    };
    let first = delivery("evt_1", 0);
    webhooks.save_delivery(&first).await.unwrap();
    webhooks
        .save_delivery(&delivery("evt_2", 10))
        .await
        .unwrap();
    let mut done = first.clone();
    done.status = DeliveryStatus::Failed;
    done.attempts = 3;
    done.dlq_item_id = Some(7);
    done.next_attempt_at = None;
    done.created_at = start + Duration::seconds(60);
    done.updated_at = start + Duration::seconds(60);
    let failure = audit().event(
        AuditAction::WebhookDeliveryFailed,
        AuditOutcome::Failure,
        None,
        None,
        done.updated_at,
    );
    webhooks
        .save_delivery_audited(&done, failure)
        .await
        .unwrap();

    let listed = webhooks
        .list_deliveries(&scope(&acme), &endpoint.id, page(10, 0))
        .await
        .unwrap();
    assert_eq!(listed.total.unwrap(), 2);
    let ids: Vec<&str> = listed.items.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(
        ids,
        ["evt_2", "evt_1"],
        "newest first; a replace keeps created_at"
    );
    let stored = webhooks
        .get_delivery(&Scope::Root, &endpoint.id, &first.id)
        .await
        .unwrap();
    assert_eq!(
        stored,
        Delivery {
            created_at: first.created_at,
            ..done
        }
    );
    let second_page = webhooks
        .list_deliveries(&Scope::Root, &endpoint.id, page(1, 1))
        .await
        .unwrap();
    assert_eq!(
        (second_page.total.unwrap(), second_page.items.len()),
        (2, 1)
    );
    assert_not_found(
        webhooks
            .list_deliveries(&scope(&other), &endpoint.id, page(10, 0))
            .await,
        "webhook",
    );
    assert_not_found(
        webhooks
            .get_delivery(&scope(&other), &endpoint.id, &first.id)
            .await,
        "webhook",
    );
    assert_not_found(
        webhooks
            .get_delivery(&Scope::Root, &endpoint.id, &DeliveryId::new())
            .await,
        "webhook delivery",
    );
    let filter = AuditFilter {
        action: Some(AuditAction::WebhookDeliveryFailed),
        ..AuditFilter::default()
    };
    let rows = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(rows.total.unwrap(), 1);

    webhooks
        .delete_webhook(&Scope::Root, &endpoint.id, &audit())
        .await
        .unwrap();
    // A late save for a deleted endpoint is dropped, not an error.
    webhooks
        .save_delivery(&delivery("evt_3", 20))
        .await
        .unwrap();
    let again = create(webhooks, &Scope::Root, &acme.id, "https://a.example/", "s").await;
    assert!(
        webhooks
            .list_deliveries(&Scope::Root, &again.id, page(10, 0))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// A transition writes only from the expected status: of eight concurrent `failed →
/// redriving` transitions exactly one writes (with its audit row); a missing record or another
/// status writes nothing.
pub async fn concurrent_transitions_of_one_delivery_let_exactly_one_win(
    store: &dyn EscrowStore,
    webhooks: &dyn WebhookStore,
) {
    let acme = institution(store, "Acme").await;
    let endpoint = create(webhooks, &Scope::Root, &acme.id, "https://a.example/", "s").await;
    let at = now_millis();
    let failed = Delivery {
        id: DeliveryId::derive(&endpoint.id, "evt_1"),
        webhook_id: endpoint.id.clone(),
        institution_id: acme.id.clone(),
        event_id: "evt_1".into(),
        event_type: "position.created".into(),
        status: DeliveryStatus::Failed,
        attempts: 3,
        last_status_code: Some(500),
        last_error: Some("receiver answered 500".into()),
        next_attempt_at: None,
        dlq_item_id: Some(7),
        created_at: at,
        updated_at: at,
    };
    let redriving = Delivery {
        status: DeliveryStatus::Redriving,
        updated_at: at + Duration::milliseconds(5),
        ..failed.clone()
    };
    // Re-driven by the institution's admin: the row belongs to the tenant.
    let admin = crate::domain::AuditContext {
        institution_id: Some(acme.id.clone()),
        ..audit()
    };
    let row = || {
        admin.event(
            AuditAction::WebhookDeliveryRedriven,
            AuditOutcome::Success,
            None,
            None,
            redriving.updated_at,
        )
    };
    let missing = webhooks
        .transition_delivery(&redriving, DeliveryStatus::Failed, row())
        .await
        .unwrap();
    assert!(!missing, "no record, no transition");
    webhooks.save_delivery(&failed).await.unwrap();

    let attempts =
        (0..8).map(|_| webhooks.transition_delivery(&redriving, DeliveryStatus::Failed, row()));
    let results = futures_util::future::join_all(attempts).await;

    let won = results
        .into_iter()
        .map(|result| result.expect("transition"))
        .filter(|won| *won)
        .count();
    assert_eq!(won, 1, "exactly one concurrent transition wins");
    let stored = webhooks
        .get_delivery(&Scope::Root, &endpoint.id, &failed.id)
        .await
        .unwrap();
    assert_eq!(stored, redriving);
    let filter = AuditFilter {
        action: Some(AuditAction::WebhookDeliveryRedriven),
        ..AuditFilter::default()
    };
    let rows = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(rows.total.unwrap(), 1, "only the winner's audit row");
    let tenant_rows = store
        .list_audit_events(&scope(&acme), &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(
        tenant_rows.total.unwrap(),
        1,
        "the institution sees its re-drive's row"
    );
}
