//! [`WebhookStore`] on the memory backend: endpoints and deliveries under the store's one lock.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::Bound;

use async_trait::async_trait;

use crate::domain::{
    AuditAction, AuditContext, AuditEvent, Delivery, DeliveryId, DeliveryStatus, InstitutionId,
    NewWebhook, Webhook, WebhookId, WebhookPatch, now_millis,
};
use crate::store::webhooks::{webhook_audit, webhook_record};
use crate::store::{
    KeysetPage, Page, Paginated, Scope, SortKey, Start, WebhookStore, WebhookTarget,
};
use crate::{Error, Result};

use super::MemoryStore;
use super::reads::institution_of;
use super::state::{State, StoredWebhook, scoped};

impl State {
    fn webhook(&self, scope: &Scope, id: &WebhookId) -> Result<&StoredWebhook> {
        scoped(&self.webhooks, scope, id, WebhookId::RESOURCE)
    }

    /// Applies `change` to an endpoint in scope and records its audit row.
    fn change_webhook(
        &mut self,
        scope: &Scope,
        id: &WebhookId,
        action: AuditAction,
        audit: &AuditContext,
        change: impl FnOnce(&mut StoredWebhook, chrono::DateTime<chrono::Utc>),
    ) -> Result<Webhook> {
        self.webhook(scope, id)?;
        let at = now_millis();
        let stored = self
            .webhooks
            .get_mut(id)
            .ok_or_else(|| Error::not_found(WebhookId::RESOURCE, id.as_str()))?;
        change(stored, at);
        let webhook = stored.webhook.clone();
        self.push_audit(webhook_audit(action, &webhook, audit, at));
        Ok(webhook)
    }

    fn save_delivery(&mut self, delivery: &Delivery) {
        if self.webhooks.get(&delivery.webhook_id).is_none() {
            return;
        }
        let mut record = delivery.clone();
        if let Some(existing) = self.deliveries.get(&delivery.id) {
            record.created_at = existing.created_at;
        }
        let place = (Reverse(record.created_at), record.id.as_str().to_owned());
        self.deliveries_by_webhook
            .entry(record.webhook_id.clone())
            .or_default()
            .insert(place, record.id.clone());
        self.deliveries.insert(record.id.clone(), record);
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_webhook(
        &self,
        scope: &Scope,
        new: NewWebhook,
        sealed_secret: String,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        new.validate()?;
        let mut state = self.write();
        state.institution(scope, &new.institution_id)?;
        let at = now_millis();
        let webhook = webhook_record(new, at);
        state
            .webhooks
            .ensure_vacant(WebhookId::RESOURCE, &webhook.id)?;
        let event = webhook_audit(AuditAction::WebhookCreated, &webhook, audit, at);
        let stored = StoredWebhook {
            webhook: webhook.clone(),
            sealed_secret,
        };
        state.webhooks.insert(stored);
        state.push_audit(event);
        Ok(webhook)
    }

    async fn get_webhook(&self, scope: &Scope, id: &WebhookId) -> Result<Webhook> {
        Ok(self.read().webhook(scope, id)?.webhook.clone())
    }

    async fn webhooks_page(
        &self,
        scope: &Scope,
        institution_id: Option<&InstitutionId>,
        page: KeysetPage,
    ) -> Result<Paginated<Webhook>> {
        let page = page.page();
        let Some(institution) = institution_of(scope, institution_id) else {
            return Ok(Paginated::empty(&page));
        };
        let state = self.read();
        let endpoints = state.webhooks.rows(institution).page(&page);
        Ok(endpoints.map(|stored| stored.webhook.clone()))
    }

    async fn update_webhook(
        &self,
        scope: &Scope,
        id: &WebhookId,
        patch: WebhookPatch,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        patch.validate()?;
        self.write().change_webhook(
            scope,
            id,
            AuditAction::WebhookUpdated,
            audit,
            |stored, at| {
                patch.apply(&mut stored.webhook, at);
            },
        )
    }

    async fn delete_webhook(
        &self,
        scope: &Scope,
        id: &WebhookId,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        let mut state = self.write();
        state.webhook(scope, id)?;
        let stored = state
            .webhooks
            .remove(id)
            .ok_or_else(|| Error::not_found(WebhookId::RESOURCE, id.as_str()))?;
        state
            .deliveries
            .retain(|_, delivery| delivery.webhook_id != *id);
        state.deliveries_by_webhook.remove(id);
        let event = webhook_audit(
            AuditAction::WebhookDeleted,
            &stored.webhook,
            audit,
            now_millis(),
        );
        state.push_audit(event);
        Ok(stored.webhook)
    }

    async fn rotate_webhook_secret(
        &self,
        scope: &Scope,
        id: &WebhookId,
        sealed_secret: String,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        self.write().change_webhook(
            scope,
            id,
            AuditAction::WebhookSecretRotated,
            audit,
            |stored, at| {
                stored.sealed_secret = sealed_secret;
                stored.webhook.updated_at = at;
            },
        )
    }

    async fn enabled_webhooks(&self) -> Result<Vec<Webhook>> {
        Ok(self
            .read()
            .webhooks
            .iter()
            .filter(|stored| stored.webhook.enabled)
            .map(|stored| stored.webhook.clone())
            .collect())
    }

    async fn webhook_target(&self, id: &WebhookId) -> Result<Option<WebhookTarget>> {
        Ok(self.read().webhooks.get(id).map(|stored| WebhookTarget {
            webhook: stored.webhook.clone(),
            sealed_secret: stored.sealed_secret.clone(),
        }))
    }

    async fn save_delivery(&self, delivery: &Delivery) -> Result<()> {
        self.write().save_delivery(delivery);
        Ok(())
    }

    async fn save_delivery_audited(&self, delivery: &Delivery, audit: AuditEvent) -> Result<()> {
        let mut state = self.write();
        state.save_delivery(delivery);
        state.push_audit(audit);
        Ok(())
    }

    async fn transition_delivery(
        &self,
        delivery: &Delivery,
        from: DeliveryStatus,
        audit: AuditEvent,
    ) -> Result<bool> {
        let mut state = self.write();
        let current = state
            .deliveries
            .get(&delivery.id)
            .map(|stored| stored.status);
        if current != Some(from) {
            return Ok(false);
        }
        state.save_delivery(delivery);
        // Indexed under its institution like every audit row, so the tenant's admin sees it.
        state.push_audit(audit);
        Ok(true)
    }

    async fn list_deliveries(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        page: Page,
    ) -> Result<Paginated<Delivery>> {
        let state = self.read();
        state.webhook(scope, webhook_id)?;
        // The endpoint's deliveries in list order: a key is found in O(log n).
        let empty = BTreeMap::new();
        let ordered = state
            .deliveries_by_webhook
            .get(webhook_id)
            .unwrap_or(&empty);
        let delivery = |id: &DeliveryId| state.deliveries.get(id);
        let key = |delivery: &&Delivery| SortKey::created(delivery.created_at, &delivery.id);
        let page_of = match page.start() {
            Start::Offset(offset) => {
                let items = ordered
                    .values()
                    .skip(usize::try_from(*offset).unwrap_or(usize::MAX))
                    .take(page.limit() as usize)
                    .filter_map(delivery)
                    .collect();
                Paginated::counted(items, ordered.len() as u64, *offset, key)
            }
            Start::After(after) => {
                let from = match after {
                    None => Bound::Unbounded,
                    Some(SortKey::Created { at, id }) => {
                        Bound::Excluded((Reverse(*at), id.clone()))
                    }
                    // A write-order key names no delivery: nothing follows it.
                    Some(SortKey::Seq(_)) => return Ok(Paginated::empty(&page)),
                };
                let rows = ordered
                    .range((from, Bound::Unbounded))
                    .take(page.limit() as usize + 1)
                    .filter_map(|(_, id)| delivery(id))
                    .collect();
                Paginated::after_key(rows, page.limit(), key)
            }
        };
        Ok(page_of.map(Clone::clone))
    }

    async fn get_delivery(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        id: &DeliveryId,
    ) -> Result<Delivery> {
        let state = self.read();
        state.webhook(scope, webhook_id)?;
        state
            .deliveries
            .get(id)
            .filter(|delivery| delivery.webhook_id == *webhook_id)
            .cloned()
            .ok_or_else(|| Error::not_found(DeliveryId::RESOURCE, id.as_str()))
    }
}
