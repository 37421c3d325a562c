//! The [`WebhookStore`] trait: webhook endpoints and their deliveries, on both backends.
//!
//! A separate trait from [`EscrowStore`](super::EscrowStore) (both backends implement both), so
//! the webhook resource stays one module. The same contract holds: every write is one
//! transaction with its audit row; reads and writes take a [`Scope`] and another institution's
//! endpoint is reported exactly like a missing one.
//!
//! Secrets reach the store already sealed (see `crate::webhooks::SecretBox`): the store keeps
//! the sealed text in a column that no read of the API returns ([`Webhook`] has no secret
//! field); only [`WebhookStore::webhook_target`] hands it to the dispatcher.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::Result;
use crate::domain::{
    AuditAction, AuditContext, AuditEvent, AuditOutcome, Delivery, DeliveryId, DeliveryStatus,
    InstitutionId, NewWebhook, ResourceType, Webhook, WebhookId, WebhookPatch,
};

use super::{KeysetPage, Page, Paginated, Scope};

/// An endpoint with its sealed secret: what the dispatcher needs to sign. `Debug` redacts the
/// secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// The endpoint.
    pub webhook: Webhook,
    /// Its secret as stored (sealed, see `crate::webhooks::SecretBox`).
    pub sealed_secret: String,
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("webhook", &self.webhook)
            .field("sealed_secret", &"<redacted>")
            .finish()
    }
}

/// Persistence of webhook endpoints and deliveries. Object-safe.
#[async_trait]
pub trait WebhookStore: Send + Sync + fmt::Debug + 'static {
    /// Creates an endpoint of an institution in scope (else NotFound `"institution"`) with
    /// its sealed secret, and its `WEBHOOK_CREATED` audit row.
    async fn create_webhook(
        &self,
        scope: &Scope,
        new: NewWebhook,
        sealed_secret: String,
        audit: &AuditContext,
    ) -> Result<Webhook>;

    /// Loads an endpoint in scope (NotFound `"webhook"` otherwise).
    async fn get_webhook(&self, scope: &Scope, id: &WebhookId) -> Result<Webhook>;

    /// Lists the endpoints in scope, optionally of one institution, by `created_at` then id.
    async fn list_webhooks(
        &self,
        scope: &Scope,
        institution_id: Option<&InstitutionId>,
    ) -> Result<Vec<Webhook>> {
        let page = self.webhooks_page(scope, institution_id, KeysetPage::all());
        Ok(page.await?.items)
    }

    /// One keyset page of [`WebhookStore::list_webhooks`] (see "Pages" in
    /// [`crate::store`]).
    async fn webhooks_page(
        &self,
        scope: &Scope,
        institution_id: Option<&InstitutionId>,
        page: KeysetPage,
    ) -> Result<Paginated<Webhook>>;

    /// Applies a validated patch and writes the `WEBHOOK_UPDATED` audit row.
    async fn update_webhook(
        &self,
        scope: &Scope,
        id: &WebhookId,
        patch: WebhookPatch,
        audit: &AuditContext,
    ) -> Result<Webhook>;

    /// Deletes an endpoint with its deliveries and writes the `WEBHOOK_DELETED` audit row;
    /// returns the endpoint as it was.
    async fn delete_webhook(
        &self,
        scope: &Scope,
        id: &WebhookId,
        audit: &AuditContext,
    ) -> Result<Webhook>;

    /// Replaces the sealed secret and writes the `WEBHOOK_SECRET_ROTATED` audit row.
    async fn rotate_webhook_secret(
        &self,
        scope: &Scope,
        id: &WebhookId,
        sealed_secret: String,
        audit: &AuditContext,
    ) -> Result<Webhook>;

    /// Every enabled endpoint of every institution, by `created_at` then id (dispatcher use).
    async fn enabled_webhooks(&self) -> Result<Vec<Webhook>>;

    /// One endpoint with its sealed secret, whatever its institution (dispatcher use).
    async fn webhook_target(&self, id: &WebhookId) -> Result<Option<WebhookTarget>>;

    /// Inserts or replaces a delivery record (its `created_at` is kept on replace). A delivery
    /// of an endpoint deleted meanwhile is dropped silently.
    async fn save_delivery(&self, delivery: &Delivery) -> Result<()>;

    /// [`WebhookStore::save_delivery`] plus an audit row (`WEBHOOK_DELIVERY_FAILED`), in one
    /// transaction.
    async fn save_delivery_audited(&self, delivery: &Delivery, audit: AuditEvent) -> Result<()>;

    /// Replaces a stored delivery record (its `created_at` kept) only while its status is
    /// `from`, and writes `audit` with it, in one transaction; returns whether it did. `false`
    /// (nothing written) when the record is missing or a concurrent writer changed its status
    /// first: of several concurrent transitions from one status, exactly one wins.
    async fn transition_delivery(
        &self,
        delivery: &Delivery,
        from: DeliveryStatus,
        audit: AuditEvent,
    ) -> Result<bool>;

    /// The deliveries of an endpoint in scope, newest first (`created_at` desc, then id): a
    /// keyset page holds those after its key in that order (a write-order key names no
    /// delivery: nothing follows it).
    async fn list_deliveries(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        page: Page,
    ) -> Result<Paginated<Delivery>>;

    /// One delivery of an endpoint in scope (NotFound `"webhook"` or `"webhook delivery"`).
    async fn get_delivery(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        id: &DeliveryId,
    ) -> Result<Delivery>;
}

/// The audit row of a successful endpoint write (`payload`: what changed, never the secret).
pub(crate) fn webhook_audit(
    action: AuditAction,
    webhook: &Webhook,
    audit: &AuditContext,
    at: DateTime<Utc>,
) -> AuditEvent {
    let payload = json!({
        "institutionId": webhook.institution_id,
        "url": webhook.url,
        "eventTypes": webhook.event_types,
        "enabled": webhook.enabled,
    });
    audit.event(
        action,
        AuditOutcome::Success,
        Some((ResourceType::Webhook, webhook.id.to_string())),
        Some(payload),
        at,
    )
}

/// A new endpoint record from validated input.
pub(crate) fn webhook_record(new: NewWebhook, at: DateTime<Utc>) -> Webhook {
    Webhook {
        id: new.id,
        institution_id: new.institution_id,
        url: new.url,
        event_types: new.event_types,
        description: new.description,
        enabled: new.enabled,
        created_at: at,
        updated_at: at,
    }
}
