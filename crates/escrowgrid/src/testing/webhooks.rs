//! The [`WebhookStore`] contract suite: one `pub async fn` per behaviour, taking a fresh
//! escrow store and the same backend as a webhook store. [`webhook_store_contract_tests!`]
//! expands them for one backend.
//!
//! [`webhook_store_contract_tests!`]: crate::webhook_store_contract_tests

use crate::domain::{
    AuditAction, AuditOutcome, InstitutionId, NewWebhook, WebhookId, WebhookPatch,
};
use crate::store::{AuditFilter, EscrowStore, Page, Scope, WebhookStore};

pub use super::array_windows::webhook_pages_walked_by_key_are_the_whole_list_for_every_filter;
use super::fixtures::{assert_invalid_fields, assert_not_found, audit, institution, scope};
pub use super::keyset::deliveries_walked_by_cursor_are_the_offset_walk_newest_first;
pub use super::webhook_deliveries::{
    a_delivery_is_one_record_per_endpoint_and_event_listed_newest_first,
    concurrent_transitions_of_one_delivery_let_exactly_one_win,
};

/// Expands the webhook store contract into `#[tokio::test]`s. `$factory` returns
/// `(Arc<dyn EscrowStore>, Arc<dyn WebhookStore>, StoreGuard)` over one fresh backend.
#[macro_export]
macro_rules! webhook_store_contract_tests {
    ($factory:expr) => {
        $crate::webhook_store_contract_tests!(@each $factory;
            an_endpoint_is_created_read_and_listed_within_its_scope,
            updates_rotations_and_deletes_are_audited_and_scoped,
            invalid_endpoints_are_rejected_and_nothing_is_written,
            a_delivery_is_one_record_per_endpoint_and_event_listed_newest_first,
            concurrent_transitions_of_one_delivery_let_exactly_one_win,
            deliveries_walked_by_cursor_are_the_offset_walk_newest_first,
            webhook_pages_walked_by_key_are_the_whole_list_for_every_filter,
        );
    };
    (@each $factory:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, webhooks, _guard) = ($factory)().await;
                $crate::testing::webhooks::$name(&*store, &*webhooks).await;
            }
        )+
    };
}

fn new_webhook(institution_id: &InstitutionId, url: &str) -> NewWebhook {
    NewWebhook {
        id: WebhookId::new(),
        institution_id: institution_id.clone(),
        url: url.into(),
        event_types: vec!["position.created".into()],
        description: Some("ops".into()),
        enabled: true,
    }
}

/// Creates an endpoint of `institution_id` at `url` with a sealed secret, as `scope`.
pub(super) async fn create(
    webhooks: &dyn WebhookStore,
    scope: &Scope,
    institution_id: &InstitutionId,
    url: &str,
    sealed: &str,
) -> crate::domain::Webhook {
    webhooks
        .create_webhook(
            scope,
            new_webhook(institution_id, url),
            sealed.into(),
            &audit(),
        )
        .await
        .unwrap()
}

/// Create, get, list (by creation time), the sealed secret for the dispatcher only, and
/// another tenant's endpoint reported like a missing one.
pub async fn an_endpoint_is_created_read_and_listed_within_its_scope(
    store: &dyn EscrowStore,
    webhooks: &dyn WebhookStore,
) {
    let acme = institution(store, "Acme").await;
    let other = institution(store, "Other").await;
    let first = create(
        webhooks,
        &scope(&acme),
        &acme.id,
        "https://a.example/1",
        "sealed-1",
    )
    .await;
    let second = create(
        webhooks,
        &Scope::Root,
        &acme.id,
        "https://a.example/2",
        "sealed-2",
    )
    .await;
    let theirs = create(
        webhooks,
        &scope(&other),
        &other.id,
        "https://o.example/",
        "sealed-3",
    )
    .await;
    assert_eq!(
        webhooks
            .get_webhook(&scope(&acme), &first.id)
            .await
            .unwrap(),
        first
    );
    assert_not_found(
        webhooks.get_webhook(&scope(&other), &first.id).await,
        "webhook",
    );
    assert_not_found(
        webhooks.get_webhook(&Scope::Root, &WebhookId::new()).await,
        "webhook",
    );
    let listed = webhooks.list_webhooks(&scope(&acme), None).await.unwrap();
    // Ordered by creation time, ties (same millisecond) by id.
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    assert_eq!(listed, expected);
    let all = webhooks.list_webhooks(&Scope::Root, None).await.unwrap();
    assert_eq!(all.len(), 3);
    let filtered = webhooks
        .list_webhooks(&Scope::Root, Some(&other.id))
        .await
        .unwrap();
    assert_eq!(filtered, vec![theirs.clone()]);
    assert!(
        webhooks
            .list_webhooks(&scope(&other), Some(&acme.id))
            .await
            .unwrap()
            .is_empty()
    );
    let target = webhooks.webhook_target(&second.id).await.unwrap().unwrap();
    assert_eq!(
        (target.webhook, target.sealed_secret.as_str()),
        (second.clone(), "sealed-2")
    );
    assert!(
        !format!("{:?}", webhooks.webhook_target(&second.id).await.unwrap()).contains("sealed-2")
    );
    assert_eq!(webhooks.enabled_webhooks().await.unwrap().len(), 3);
    // Creating for another tenant's institution is reported like a missing institution.
    assert_not_found(
        webhooks
            .create_webhook(
                &scope(&other),
                new_webhook(&acme.id, "https://x.example/"),
                "s".into(),
                &audit(),
            )
            .await,
        "institution",
    );
}

/// Patch, rotate and delete write their audit rows; another tenant cannot touch them.
pub async fn updates_rotations_and_deletes_are_audited_and_scoped(
    store: &dyn EscrowStore,
    webhooks: &dyn WebhookStore,
) {
    let acme = institution(store, "Acme").await;
    let other = institution(store, "Other").await;
    let created = create(
        webhooks,
        &scope(&acme),
        &acme.id,
        "https://a.example/",
        "old",
    )
    .await;
    let patch = WebhookPatch {
        enabled: Some(false),
        description: Some(None),
        event_types: Some(vec!["*".into()]),
        ..WebhookPatch::default()
    };
    assert_not_found(
        webhooks
            .update_webhook(&scope(&other), &created.id, patch.clone(), &audit())
            .await,
        "webhook",
    );
    let updated = webhooks
        .update_webhook(&scope(&acme), &created.id, patch, &audit())
        .await
        .unwrap();
    assert_eq!(
        (updated.enabled, updated.description.clone()),
        (false, None)
    );
    assert_eq!(updated.event_types, ["*"]);
    assert_eq!(
        (updated.created_at, updated.url.clone()),
        (created.created_at, created.url.clone())
    );
    assert!(webhooks.enabled_webhooks().await.unwrap().is_empty());
    assert_eq!(
        webhooks
            .get_webhook(&Scope::Root, &created.id)
            .await
            .unwrap(),
        updated
    );
    assert_not_found(
        webhooks
            .rotate_webhook_secret(&scope(&other), &created.id, "x".into(), &audit())
            .await,
        "webhook",
    );
    webhooks
        .rotate_webhook_secret(&scope(&acme), &created.id, "new".into(), &audit())
        .await
        .unwrap();
    let target = webhooks.webhook_target(&created.id).await.unwrap().unwrap();
    assert_eq!(target.sealed_secret, "new");
    assert_not_found(
        webhooks
            .delete_webhook(&scope(&other), &created.id, &audit())
            .await,
        "webhook",
    );
    let deleted = webhooks
        .delete_webhook(&scope(&acme), &created.id, &audit())
        .await
        .unwrap();
    assert_eq!(deleted.id, created.id);
    assert_not_found(
        webhooks.get_webhook(&Scope::Root, &created.id).await,
        "webhook",
    );
    assert_eq!(webhooks.webhook_target(&created.id).await.unwrap(), None);

    let filter = AuditFilter {
        resource_id: Some(created.id.to_string()),
        ..AuditFilter::default()
    };
    let rows = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    let actions: Vec<AuditAction> = rows.items.iter().map(|row| row.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::WebhookCreated,
            AuditAction::WebhookUpdated,
            AuditAction::WebhookSecretRotated,
            AuditAction::WebhookDeleted,
        ]
    );
    assert!(
        rows.items
            .iter()
            .all(|row| row.outcome == AuditOutcome::Success)
    );
}

/// Bad URLs and event types are validation errors listing every field; nothing is written.
pub async fn invalid_endpoints_are_rejected_and_nothing_is_written(
    store: &dyn EscrowStore,
    webhooks: &dyn WebhookStore,
) {
    let acme = institution(store, "Acme").await;
    let mut bad = new_webhook(&acme.id, "gopher://a.example/");
    bad.event_types = vec![];
    assert_invalid_fields(
        webhooks
            .create_webhook(&Scope::Root, bad, "s".into(), &audit())
            .await,
        &["url", "eventTypes"],
    );
    assert!(
        webhooks
            .list_webhooks(&Scope::Root, None)
            .await
            .unwrap()
            .is_empty()
    );
    let created = create(webhooks, &Scope::Root, &acme.id, "https://a.example/", "s").await;
    let patch = WebhookPatch {
        url: Some("https://user@a.example/".into()),
        ..WebhookPatch::default()
    };
    assert_invalid_fields(
        webhooks
            .update_webhook(&Scope::Root, &created.id, patch, &audit())
            .await,
        &["url"],
    );
    assert_eq!(
        webhooks
            .get_webhook(&Scope::Root, &created.id)
            .await
            .unwrap(),
        created
    );
}
