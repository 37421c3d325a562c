//! Webhook endpoints, their signing secrets and their deliveries.
//!
//! An endpoint belongs to one institution and receives that institution's domain events (the
//! types in [`EVENT_TYPES`], or `*` for all) signed per Standard Webhooks 1.0 with its secret.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod delivery;
mod url;

use super::time::millis;
use super::validation::Errors;
use super::{FieldError, InstitutionId, MAX_TEXT_CHARS, WebhookId};

pub use delivery::{Delivery, DeliveryStatus};
pub use url::WebhookUrl;

/// Every domain event type an endpoint can subscribe to.
pub const EVENT_TYPES: [&str; 9] = [
    "institution.created",
    "api_key.created",
    "api_key.revoked",
    "policy.updated",
    "asset_template.created",
    "asset.created",
    "position.created",
    "position.state_changed",
    "ledger_event.recorded",
];

/// The event-type entry that subscribes to every type.
pub const ALL_EVENTS: &str = "*";

/// The longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// The prefix of every signing secret (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";

/// A registered endpoint, as the API returns it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// The owning institution.
    pub institution_id: InstitutionId,
    /// Where events are POSTed (`http` or `https`).
    pub url: String,
    /// The event types it receives (`*` = all).
    pub event_types: Vec<String>,
    /// Free text for the owner.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether events are delivered to it.
    pub enabled: bool,
    /// When it was created.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether this endpoint subscribes to `event_type`.
    #[must_use]
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types
            .iter()
            .any(|wanted| wanted == ALL_EVENTS || wanted == event_type)
    }
}

/// A new endpoint (validated by [`NewWebhook::validate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// The id to create it under (chosen up front so its secret can be sealed to it).
    pub id: WebhookId,
    /// The owning institution.
    pub institution_id: InstitutionId,
    /// Target URL.
    pub url: String,
    /// Subscribed event types.
    pub event_types: Vec<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether to deliver (default true).
    pub enabled: bool,
}

impl NewWebhook {
    /// Checks every field, listing every bad one.
    ///
    /// # Errors
    /// One [`FieldError`] per bad field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        check_url(&mut errors, &self.url);
        check_event_types(&mut errors, &self.event_types);
        if let Some(description) = &self.description {
            errors.optional_text("description", "Description", description, MAX_TEXT_CHARS);
        }
        errors.finish()
    }
}

/// A partial update: every `Some` field replaces the stored one (`description: Some(None)`
/// clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    /// New URL.
    pub url: Option<String>,
    /// New event types.
    pub event_types: Option<Vec<String>>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

impl WebhookPatch {
    /// Checks every field that is set.
    ///
    /// # Errors
    /// One [`FieldError`] per bad field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        if let Some(url) = &self.url {
            check_url(&mut errors, url);
        }
        if let Some(types) = &self.event_types {
            check_event_types(&mut errors, types);
        }
        if let Some(Some(description)) = &self.description {
            errors.optional_text("description", "Description", description, MAX_TEXT_CHARS);
        }
        errors.finish()
    }

    /// Applies the patch to `webhook` (which keeps its id, owner and `created_at`).
    pub fn apply(self, webhook: &mut Webhook, at: DateTime<Utc>) {
        if let Some(url) = self.url {
            webhook.url = url;
        }
        if let Some(types) = self.event_types {
            webhook.event_types = types;
        }
        if let Some(description) = self.description {
            webhook.description = description;
        }
        if let Some(enabled) = self.enabled {
            webhook.enabled = enabled;
        }
        webhook.updated_at = at;
    }
}

fn check_url(errors: &mut Errors, url: &str) {
    if let Err(message) = WebhookUrl::parse(url) {
        errors.push("url", message);
    }
}

fn check_event_types(errors: &mut Errors, types: &[String]) {
    if types.is_empty() {
        errors.push("eventTypes", "At least one event type is required");
    }
    for (index, event_type) in types.iter().enumerate() {
        if event_type != ALL_EVENTS && !EVENT_TYPES.contains(&event_type.as_str()) {
            errors.push(
                &format!("eventTypes.{index}"),
                format!("Unknown event type {event_type:?}"),
            );
        }
    }
}

/// A signing secret: `whsec_` + base64 of random bytes. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Generates a secret from 24 random bytes.
    #[must_use]
    pub fn generate() -> Self {
        use base64::Engine as _;
        let bytes: [u8; 24] = rand::random();
        Self(format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ))
    }

    /// Wraps a secret read back from storage.
    ///
    /// # Errors
    /// When it lacks the `whsec_` prefix or its key is not base64.
    pub fn parse(text: String) -> Result<Self, String> {
        let secret = Self(text);
        secret.key().map(|_| secret)
    }

    /// The HMAC key: the base64-decoded part after `whsec_`.
    ///
    /// # Errors
    /// When the text is not a well-formed secret.
    pub fn key(&self) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        let encoded = self
            .0
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| "webhook secret lacks the whsec_ prefix".to_owned())?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "webhook secret is not base64".to_owned())
    }

    /// The secret text, to show once to its owner or to seal for storage.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_must_be_known_or_the_wildcard() {
        let new = NewWebhook {
            id: WebhookId::new(),
            institution_id: InstitutionId::new(),
            url: "https://example.com/hook".into(),
            event_types: vec!["position.created".into(), "position.exploded".into()],
            description: None,
            enabled: true,
        };
        let errors = new.validate().unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "eventTypes.1");
        let all = NewWebhook {
            event_types: vec![ALL_EVENTS.into()],
            ..new
        };
        assert!(all.validate().is_ok());
    }

    #[test]
    fn secrets_are_prefixed_base64_of_24_bytes_and_never_debug_printed() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key().unwrap().len(), 24);
        assert!(!format!("{secret:?}").contains(secret.expose()));
        assert!(WebhookSecret::parse("nope".into()).is_err());
    }
}
