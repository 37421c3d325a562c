//! Delivering one event to one endpoint: signed attempts on the retry schedule, then the DLQ;
//! and re-driving dead-lettered deliveries.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use gridstore::{ClaimRequest, DlqOutcome, Event, NewDlqItem};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use crate::domain::{
    AuditAction, AuditContext, AuditError, AuditOutcome, Delivery, DeliveryId, DeliveryStatus,
    ResourceType, Webhook, WebhookSecret, WebhookUrl, now_millis,
};
use crate::store::Scope;
use crate::worker::park_in_dlq;
use crate::{Error, Result};

use super::client::AttemptOutcome;
use super::dispatcher::Context;
use super::metrics::Outcome;
use super::{endpoint_key, signing};

/// An endpoint ready to be called: its record, parsed URL and opened secret.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    pub(super) webhook: Webhook,
    pub(super) url: WebhookUrl,
    pub(super) secret: WebhookSecret,
}

/// What a delivery sends: the event's id, type, time and data.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Message {
    pub(super) event_id: String,
    pub(super) event_type: String,
    pub(super) occurred_at: String,
    pub(super) data: Value,
}

impl Message {
    /// Reads the contract payload `{id, type, institutionId, occurredAt, data}`.
    pub(super) fn from_event(event: &Event) -> Option<Self> {
        let payload = &event.payload;
        Some(Self {
            event_id: payload.get("id")?.as_str()?.to_owned(),
            event_type: event.event_type.clone(),
            occurred_at: payload.get("occurredAt")?.as_str()?.to_owned(),
            data: payload.get("data").cloned().unwrap_or(Value::Null),
        })
    }

    fn to_dlq(&self, delivery: &Delivery) -> Value {
        json!({
            "webhookId": delivery.webhook_id,
            "deliveryId": delivery.id,
            "eventId": self.event_id,
            "eventType": self.event_type,
            "occurredAt": self.occurred_at,
            "data": self.data,
        })
    }

    fn from_dlq(payload: &Value) -> Option<(DeliveryId, Self)> {
        let text = |key: &str| payload.get(key)?.as_str().map(str::to_owned);
        let delivery = DeliveryId::parse(&text("deliveryId")?).ok()?;
        Some((
            delivery,
            Self {
                event_id: text("eventId")?,
                event_type: text("eventType")?,
                occurred_at: text("occurredAt")?,
                data: payload.get("data").cloned().unwrap_or(Value::Null),
            },
        ))
    }
}

/// One signed attempt.
pub(super) async fn attempt(
    ctx: &Context,
    endpoint: &Endpoint,
    message: &Message,
) -> AttemptOutcome {
    let body = signing::body(&message.event_type, &message.occurred_at, &message.data);
    let timestamp = Utc::now().timestamp();
    let signature = match signing::sign(&endpoint.secret, &message.event_id, timestamp, &body) {
        Ok(signature) => signature,
        Err(error) => {
            return AttemptOutcome {
                status: None,
                error: Some(error),
            };
        }
    };
    let headers = [
        ("webhook-id", message.event_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    ctx.client
        .post(&endpoint.url, &headers, Bytes::from(body))
        .await
}

/// Delivers `message` with retries; dead-letters it after the last attempt.
///
/// With `resume` (the first batch a worker reads after taking the endpoint's lease, which may
/// repeat a batch an earlier holder did not finish) the stored record decides first: a
/// delivery that already succeeded, was dead-lettered or is being re-driven is not sent
/// again, and a pending one continues its schedule where it stopped (its attempt count, and
/// its next attempt not before the `next_attempt_at` it recorded).
///
/// # Errors
/// Storage failures while recording the delivery (the caller stops; the event is delivered
/// again after the restart).
pub(super) async fn deliver(
    ctx: &Context,
    endpoint: &Endpoint,
    message: &Message,
    resume: bool,
) -> Result<()> {
    let now = now_millis();
    let mut record = Delivery {
        id: DeliveryId::derive(&endpoint.webhook.id, &message.event_id),
        webhook_id: endpoint.webhook.id.clone(),
        institution_id: endpoint.webhook.institution_id.clone(),
        event_id: message.event_id.clone(),
        event_type: message.event_type.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_status_code: None,
        last_error: None,
        next_attempt_at: None,
        dlq_item_id: None,
        created_at: now,
        updated_at: now,
    };
    if resume {
        match resumed(ctx, &record, now).await? {
            Resume::Done => return Ok(()),
            Resume::Fresh => {}
            Resume::Continue {
                record: stored,
                wait,
            } => {
                record = *stored;
                if !wait.is_zero() {
                    debug!(webhook_id = %record.webhook_id, delivery_id = %record.id,
                        attempts = record.attempts, wait_ms = wait.as_millis(),
                        "pending webhook delivery resumed on its schedule");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
    loop {
        let outcome = attempt(ctx, endpoint, message).await;
        record.attempts += 1;
        record.last_status_code = outcome.status;
        record.last_error.clone_from(&outcome.error);
        record.updated_at = now_millis();
        if outcome.succeeded() {
            record.status = DeliveryStatus::Succeeded;
            record.next_attempt_at = None;
            ctx.store.save_delivery(&record).await?;
            ctx.metrics.record(Outcome::Succeeded);
            return Ok(());
        }
        let Some(delay) = ctx.settings.retry_delay(record.attempts, rand::random()) else {
            return dead_letter(ctx, record, message).await;
        };
        record.next_attempt_at = chrono::Duration::from_std(delay)
            .ok()
            .map(|delay| record.updated_at + delay);
        ctx.store.save_delivery(&record).await?;
        ctx.metrics.record(Outcome::Retried);
        tokio::time::sleep(delay).await;
    }
}

/// What the stored record of a delivery says about resuming it.
enum Resume {
    /// No record, or one with no attempt yet: deliver from the first attempt.
    Fresh,
    /// Succeeded, dead-lettered or being re-driven: nothing to send.
    Done,
    /// Pending: continue from its record, after `wait`.
    Continue {
        record: Box<Delivery>,
        wait: std::time::Duration,
    },
}

/// Reads the stored record of `fresh` (same id) to decide how to resume it; `now` is the one
/// clock reading the wait is computed from.
async fn resumed(ctx: &Context, fresh: &Delivery, now: DateTime<Utc>) -> Result<Resume> {
    let stored = match ctx
        .store
        .get_delivery(&Scope::Root, &fresh.webhook_id, &fresh.id)
        .await
    {
        Ok(stored) => stored,
        Err(Error::NotFound { .. }) => return Ok(Resume::Fresh),
        Err(err) => return Err(err),
    };
    Ok(match stored.status {
        DeliveryStatus::Succeeded | DeliveryStatus::Failed | DeliveryStatus::Redriving => {
            Resume::Done
        }
        DeliveryStatus::Pending if stored.attempts == 0 => Resume::Fresh,
        DeliveryStatus::Pending => {
            let wait = stored
                .next_attempt_at
                .and_then(|at| (at - now).to_std().ok())
                .unwrap_or_default();
            Resume::Continue {
                record: Box::new(stored),
                wait,
            }
        }
    })
}

/// Parks the delivery in the DLQ, marks it failed and audits `WEBHOOK_DELIVERY_FAILED`.
async fn dead_letter(ctx: &Context, mut record: Delivery, message: &Message) -> Result<()> {
    let error = record.last_error.clone().unwrap_or_default();
    let mut item = NewDlqItem::new(
        endpoint_key(&record.webhook_id),
        message.to_dlq(&record),
        error.clone(),
    )
    .with_details(json!({"attempts": record.attempts, "lastStatusCode": record.last_status_code}));
    item.retry_count = record.attempts;
    // Parked until someone re-drives it (`POST .../retry` re-opens it).
    let parked = park_in_dlq(&*ctx.ports.dlq, item).await?;
    record.status = DeliveryStatus::Failed;
    record.next_attempt_at = None;
    record.dlq_item_id = Some(parked);
    let audit = AuditContext {
        institution_id: Some(record.institution_id.clone()),
        method: "POST".into(),
        path: format!("/webhooks/{}/deliveries/{}", record.webhook_id, record.id),
        ..AuditContext::default()
    };
    let mut event = audit.event(
        AuditAction::WebhookDeliveryFailed,
        AuditOutcome::Failure,
        Some((ResourceType::Webhook, record.webhook_id.to_string())),
        Some(json!({
            "deliveryId": record.id,
            "eventId": record.event_id,
            "eventType": record.event_type,
            "attempts": record.attempts,
            "dlqItemId": parked,
        })),
        record.updated_at,
    );
    event.status_code = record.last_status_code;
    event.error = Some(AuditError {
        code: Some("WEBHOOK_DELIVERY_FAILED".into()),
        message: error,
        details: None,
    });
    ctx.store.save_delivery_audited(&record, event).await?;
    ctx.metrics.record(Outcome::DeadLettered);
    warn!(webhook_id = %record.webhook_id, delivery_id = %record.id, attempts = record.attempts, "webhook delivery dead-lettered");
    Ok(())
}

/// Claims the endpoint's re-opened DLQ items and attempts each once: success resolves the
/// item, failure parks it again.
///
/// # Errors
/// Storage failures.
pub(super) async fn redrive(ctx: &Context, endpoint: &Endpoint) -> Result<()> {
    let visibility = ctx.settings.timeout * 2;
    let request = ClaimRequest::new(ctx.settings.instance.clone(), 10, visibility)
        .for_job(endpoint_key(&endpoint.webhook.id));
    for item in ctx.ports.dlq.claim(&request).await? {
        let Some((delivery_id, message)) = Message::from_dlq(&item.payload) else {
            let reason = "malformed dead-letter payload".to_owned();
            ctx.ports
                .dlq
                .settle(item.id, &request.worker, DlqOutcome::Ineligible { reason })
                .await?;
            continue;
        };
        let outcome = attempt(ctx, endpoint, &message).await;
        let settle = if outcome.succeeded() {
            DlqOutcome::Resolved
        } else {
            DlqOutcome::Ineligible {
                reason: outcome.error.clone().unwrap_or_default(),
            }
        };
        match ctx.ports.dlq.settle(item.id, &request.worker, settle).await {
            Ok(_) => {}
            // An administrator settled the item meanwhile (force_settle ends a claim): it is
            // theirs now; the next round sees it as they left it.
            Err(gridstore::Error::LockNotHeld { .. }) => {
                info!(webhook_id = %endpoint.webhook.id, dlq_item_id = item.id,
                    "re-driven item settled elsewhere meanwhile");
                continue;
            }
            Err(err) => return Err(err.into()),
        }
        ctx.metrics.record(Outcome::Redriven);
        let scope = Scope::Root;
        let mut record = match ctx
            .store
            .get_delivery(&scope, &endpoint.webhook.id, &delivery_id)
            .await
        {
            Ok(record) => record,
            Err(Error::NotFound { .. }) => continue,
            Err(err) => return Err(err),
        };
        record.attempts += 1;
        record.last_status_code = outcome.status;
        record.last_error.clone_from(&outcome.error);
        record.updated_at = now_millis();
        record.status = if outcome.succeeded() {
            DeliveryStatus::Succeeded
        } else {
            DeliveryStatus::Failed
        };
        ctx.store.save_delivery(&record).await?;
        info!(webhook_id = %endpoint.webhook.id, delivery_id = %delivery_id, succeeded = outcome.succeeded(), "webhook delivery re-driven");
    }
    Ok(())
}
