//! Webhook endpoints, their signing secrets and their deliveries.
//!
//! An endpoint belongs to one institution and receives that institution's domain events (the
//! types in [`EVENT_TYPES`], or `*` for all) signed per Standard Webhooks 1.0 with its secret.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::time::{millis, millis_option};
use super::validation::Errors;
use super::{DeliveryId, FieldError, InstitutionId, MAX_TEXT_CHARS, WebhookId};

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

/// A syntactically valid endpoint URL, split into the parts a client needs.
///
/// Accepted: `http` or `https`, a host (name, IPv4 or bracketed IPv6), an optional port, a
/// path and query. Refused: user info (`user@`), fragments, whitespace and control characters,
/// more than [`MAX_URL_BYTES`]. Whether the host may be called (SSRF) is decided elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// `true` for `https`.
    pub tls: bool,
    /// The host without brackets (`::1` for `[::1]`), lowercase.
    pub host: String,
    /// The port (the scheme's default when absent).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

impl WebhookUrl {
    /// Parses a URL.
    ///
    /// # Errors
    /// A lowercase message saying what is wrong.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.len() > MAX_URL_BYTES {
            return Err(format!("URL must not exceed {MAX_URL_BYTES} bytes"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.contains('#') {
            return Err("URL must not contain whitespace, control characters or a fragment".into());
        }
        let lower = url.to_ascii_lowercase();
        let (tls, rest) = if lower.starts_with("https://") {
            (true, &url["https://".len()..])
        } else if lower.starts_with("http://") {
            (false, &url["http://".len()..])
        } else {
            return Err("URL must use http or https".into());
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err("URL must not contain user info".into());
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(port) => port,
            None if tls => 443,
            None => 80,
        };
        let path_and_query = if path.starts_with('?') {
            format!("/{path}")
        } else if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
        Ok(Self {
            tls,
            host: host.to_ascii_lowercase(),
            port,
            path_and_query,
        })
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "URL has an unterminated IPv6 address".to_owned())?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("URL has an invalid IPv6 address".into());
        }
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or("URL has an invalid port")?),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && (authority.starts_with('[')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
    if !valid_name {
        return Err("URL must have a valid host".into());
    }
    let port = match port {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err("URL has an invalid port".into()),
        },
    };
    Ok((host, port))
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
    fn urls_split_into_scheme_host_port_and_path() {
        let url = WebhookUrl::parse("HTTPS://Hooks.Example.com/in?x=1").unwrap();
        assert_eq!(
            (
                url.tls,
                url.host.as_str(),
                url.port,
                url.path_and_query.as_str()
            ),
            (true, "hooks.example.com", 443, "/in?x=1")
        );
        let url = WebhookUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path_and_query.as_str()),
            ("::1", 8080, "/")
        );
        assert_eq!(
            WebhookUrl::parse("http://10.0.0.1?q")
                .unwrap()
                .path_and_query,
            "/?q"
        );
    }

    #[test]
    fn urls_with_other_schemes_user_info_or_bad_ports_are_refused() {
        for bad in [
            "ftp://example.com",
            "example.com/hook",
            "http://user:pw@example.com/",
            "http://example.com:0/",
            "http://example.com:99999/",
            "http://exa mple.com/",
            "http:///path",
            "http://example.com/#frag",
            "http://[::1/",
            "http://ex_ample.com/",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad} must be refused");
        }
    }

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

    #[test]
    fn a_delivery_id_is_the_same_for_the_same_endpoint_and_event() {
        let webhook = WebhookId::new();
        let a = DeliveryId::derive(&webhook, "evt_1");
        assert_eq!(a, DeliveryId::derive(&webhook, "evt_1"));
        assert_ne!(a, DeliveryId::derive(&webhook, "evt_2"));
        assert!(DeliveryId::parse(a.as_str()).is_ok());
    }
}
