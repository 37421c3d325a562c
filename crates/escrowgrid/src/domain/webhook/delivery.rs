//! Delivery records: one event for one endpoint, updated on every attempt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::time::{millis, millis_option};
use crate::domain::{DeliveryId, InstitutionId, WebhookId};

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Failed at least once and will be attempted again.
    Pending,
    /// A receiver answered 2xx.
    Succeeded,
    /// Every attempt failed; the delivery is in the dead-letter queue.
    Failed,
    /// A re-drive from the dead-letter queue was requested and not yet attempted.
    Redriving,
}

impl DeliveryStatus {
    /// The lowercase spelling used in JSON and storage.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Redriving => "redriving",
        }
    }

    /// Parses [`DeliveryStatus::as_str`] output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Succeeded,
            Self::Failed,
            Self::Redriving,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// One event for one endpoint: its attempts so far and their outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Derived from the endpoint and the event, so every attempt updates one record.
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The endpoint's institution.
    pub institution_id: InstitutionId,
    /// The event's stable id (the `webhook-id` header).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// Its status.
    pub status: DeliveryStatus,
    /// How many attempts were made.
    pub attempts: u32,
    /// The HTTP status of the last attempt, when one was received.
    #[serde(default)]
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries).
    #[serde(default, with = "millis_option")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The dead-letter item holding it (failed deliveries).
    #[serde(default)]
    pub dlq_item_id: Option<i64>,
    /// When it was first recorded.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
}

impl DeliveryId {
    /// The id of the delivery of `event_id` to `webhook`: the same on every attempt and every
    /// instance (a hash of both, formatted as a UUID).
    #[must_use]
    pub fn derive(webhook: &WebhookId, event_id: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{webhook}\n{event_id}").as_bytes());
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        let uuid = uuid::Builder::from_custom_bytes(bytes).into_uuid();
        Self::parse(&format!("{}{}", Self::PREFIX, uuid.hyphenated()))
            .unwrap_or_else(|_| Self::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_id_is_the_same_for_the_same_endpoint_and_event() {
        let webhook = WebhookId::new();
        let a = DeliveryId::derive(&webhook, "evt_1");
        assert_eq!(a, DeliveryId::derive(&webhook, "evt_1"));
        assert_ne!(a, DeliveryId::derive(&webhook, "evt_2"));
        assert!(DeliveryId::parse(a.as_str()).is_ok());
    }
}
