//! What the API does with webhooks beyond plain store calls: check targets (SSRF), generate
//! and seal secrets, re-open dead-lettered deliveries.

use std::sync::Arc;

use gridstore::{CheckpointStore, DeadLetterQueue, DlqOutcome, EventLog};
use serde_json::json;

use crate::domain::{
    AuditAction, AuditContext, AuditOutcome, Delivery, DeliveryId, DeliveryStatus, FieldError,
    NewWebhook, ResourceType, Webhook, WebhookId, WebhookPatch, WebhookSecret, WebhookUrl,
    now_millis,
};
use crate::store::{Scope, WebhookStore};
use crate::{Error, Result};

use super::metrics::WebhookMetrics;
use super::secret_box::SecretBox;
use super::target::TargetPolicy;

/// The webhook operations of the API, over a [`WebhookStore`] and the DLQ.
#[derive(Debug, Clone)]
pub struct WebhookService {
    store: Arc<dyn WebhookStore>,
    dlq: Arc<dyn DeadLetterQueue>,
    policy: TargetPolicy,
    secrets: SecretBox,
    metrics: Arc<WebhookMetrics>,
    /// The outbox and the endpoints' cursors: a new endpoint starts at the log's tail.
    start: Option<(Arc<dyn EventLog>, Arc<dyn CheckpointStore>)>,
}

impl WebhookService {
    /// Builds the service.
    #[must_use]
    pub fn new(
        store: Arc<dyn WebhookStore>,
        dlq: Arc<dyn DeadLetterQueue>,
        policy: TargetPolicy,
        secrets: SecretBox,
        metrics: Arc<WebhookMetrics>,
    ) -> Self {
        Self {
            store,
            dlq,
            policy,
            secrets,
            metrics,
            start: None,
        }
    }

    /// Starts every new endpoint at the tail of `events` (read before the endpoint is
    /// created, saved as its first cursor in `checkpoints`), so it receives every event
    /// committed after its creation and none from long before, whatever the clocks say.
    /// Without it (or when saving that cursor fails), the dispatcher falls back to events
    /// recorded since the endpoint's `created_at`.
    #[must_use]
    pub fn starting_at_the_tail(
        mut self,
        events: Arc<dyn EventLog>,
        checkpoints: Arc<dyn CheckpointStore>,
    ) -> Self {
        self.start = Some((events, checkpoints));
        self
    }

    /// The store, for plain reads and deletes.
    #[must_use]
    pub fn store(&self) -> &dyn WebhookStore {
        self.store.as_ref()
    }

    /// The delivery counters.
    #[must_use]
    pub fn metrics(&self) -> &WebhookMetrics {
        &self.metrics
    }

    /// Validates, checks the target, creates the endpoint; returns it with its new secret.
    ///
    /// # Errors
    /// Validation (including a refused or unresolvable target), NotFound, storage errors.
    pub async fn create(
        &self,
        scope: &Scope,
        new: NewWebhook,
        audit: &AuditContext,
    ) -> Result<(Webhook, WebhookSecret)> {
        new.validate()?;
        self.check_target(&new.url).await?;
        let secret = WebhookSecret::generate();
        let sealed = self.seal(&new.id, &secret)?;
        let tail = match &self.start {
            Some((events, _)) => Some(events.tail().await?),
            None => None,
        };
        let webhook = self.store.create_webhook(scope, new, sealed, audit).await?;
        if let (Some(tail), Some((_, checkpoints))) = (tail, &self.start) {
            let cursor = json!({"position": tail.to_string(), "fencingToken": 0});
            if let Err(err) = checkpoints
                .save(&super::endpoint_key(&webhook.id), cursor)
                .await
            {
                tracing::warn!(webhook_id = %webhook.id, error = %err,
                    "could not save the new endpoint's start cursor; it starts from its creation time");
            }
        }
        Ok((webhook, secret))
    }

    /// Validates, checks a new target, applies the patch.
    ///
    /// # Errors
    /// As [`WebhookService::create`].
    pub async fn update(
        &self,
        scope: &Scope,
        id: &WebhookId,
        patch: WebhookPatch,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        patch.validate()?;
        self.store.get_webhook(scope, id).await?;
        if let Some(url) = &patch.url {
            self.check_target(url).await?;
        }
        self.store.update_webhook(scope, id, patch, audit).await
    }

    /// Replaces the secret; returns the endpoint and the new secret.
    ///
    /// # Errors
    /// NotFound, storage errors.
    pub async fn rotate(
        &self,
        scope: &Scope,
        id: &WebhookId,
        audit: &AuditContext,
    ) -> Result<(Webhook, WebhookSecret)> {
        let secret = WebhookSecret::generate();
        let sealed = self.seal(id, &secret)?;
        let webhook = self
            .store
            .rotate_webhook_secret(scope, id, sealed, audit)
            .await?;
        Ok((webhook, secret))
    }

    /// Re-opens a dead-lettered delivery so the endpoint's worker attempts it again.
    ///
    /// # Errors
    /// NotFound; WrongState when the delivery is not (or no longer) dead-lettered.
    pub async fn redrive(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        id: &DeliveryId,
        audit: &AuditContext,
    ) -> Result<Delivery> {
        let mut delivery = self.store.get_delivery(scope, webhook_id, id).await?;
        let item = match (delivery.status, delivery.dlq_item_id) {
            (DeliveryStatus::Failed, Some(item)) => item,
            _ => return Err(not_redrivable(id)),
        };
        delivery.status = DeliveryStatus::Redriving;
        delivery.updated_at = now_millis();
        let event = audit.event(
            AuditAction::WebhookDeliveryRedriven,
            AuditOutcome::Success,
            Some((ResourceType::Webhook, webhook_id.to_string())),
            Some(json!({"deliveryId": delivery.id, "eventId": delivery.event_id})),
            delivery.updated_at,
        );
        // The record first (the worker may claim the item the moment it is re-opened), and
        // only from `failed`: of concurrent re-drives of one delivery exactly one re-opens it;
        // the others find it no longer failed, as a later request would.
        if !self
            .store
            .transition_delivery(&delivery, DeliveryStatus::Failed, event)
            .await?
        {
            return Err(not_redrivable(id));
        }
        let reopened = self
            .dlq
            .force_settle(
                item,
                DlqOutcome::Retried {
                    error: "re-drive requested".into(),
                },
            )
            .await;
        if let Err(err) = reopened {
            // The item stays parked: put the record back so the re-drive can be asked again.
            let mut failed = delivery;
            failed.status = DeliveryStatus::Failed;
            if let Err(revert) = self.store.save_delivery(&failed).await {
                tracing::warn!(delivery_id = %failed.id, error = %revert,
                    "could not put a delivery whose re-drive failed back to failed");
            }
            return Err(err.into());
        }
        Ok(delivery)
    }

    fn seal(&self, id: &WebhookId, secret: &WebhookSecret) -> Result<String> {
        self.secrets
            .seal(id, secret)
            .map_err(|message| Error::Config {
                key: "WEBHOOKS_SECRET_KEY".into(),
                message,
            })
    }

    async fn check_target(&self, url: &str) -> Result<()> {
        let invalid = |message: String| Error::Validation(vec![FieldError::new("url", message)]);
        let parsed = WebhookUrl::parse(url).map_err(invalid)?;
        self.policy
            .check_all(&parsed)
            .await
            .map_err(|err| invalid(format!("URL target refused: {err}")))
    }
}

/// The answer to re-driving a delivery that is not (or no longer) dead-lettered: 409, the
/// same for a late request and for the losers of concurrent re-drives.
fn not_redrivable(id: &DeliveryId) -> Error {
    Error::WrongState {
        resource: "webhook delivery",
        id: id.to_string(),
        message: "Only failed (dead-lettered) deliveries can be re-driven",
    }
}
