//! JSON Schemas of the webhook resource.

use serde_json::{Map, Value, json};

use crate::domain::{ALL_EVENTS, EVENT_TYPES};

use super::{id, timestamp};

fn event_types() -> Value {
    let mut names: Vec<&str> = EVENT_TYPES.to_vec();
    names.push(ALL_EVENTS);
    json!({ "type": "array", "minItems": 1, "items": { "type": "string", "enum": names } })
}

/// Adds `Webhook`, `CreatedWebhook`, `NewWebhook`, `WebhookPatch` and `WebhookDelivery`.
pub(super) fn add(schemas: &mut Map<String, Value>) {
    let url = json!({ "type": "string", "format": "uri", "maxLength": 2048,
        "description": "http or https; private, loopback and link-local targets are refused \
            unless WEBHOOKS_ALLOW_PRIVATE_TARGETS=true" });
    schemas.insert(
        "Webhook".into(),
        json!({
            "type": "object",
            "required": ["id", "institutionId", "url", "eventTypes", "enabled", "createdAt", "updatedAt"],
            "properties": {
                "id": id("wh"), "institutionId": id("inst"), "url": url,
                "eventTypes": event_types(), "description": { "type": ["string", "null"] },
                "enabled": { "type": "boolean" }, "createdAt": timestamp(), "updatedAt": timestamp(),
            },
        }),
    );
    schemas.insert(
        "CreatedWebhook".into(),
        json!({ "allOf": [{ "$ref": "#/components/schemas/Webhook" }, {
            "type": "object", "required": ["secret"],
            "properties": { "secret": { "type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]+$",
                "description": "The Standard Webhooks signing secret, shown once" } },
        }] }),
    );
    schemas.insert(
        "NewWebhook".into(),
        json!({
            "type": "object", "required": ["url", "eventTypes"],
            "properties": {
                "institutionId": { "type": "string", "description": "Root only" },
                "url": url, "eventTypes": event_types(),
                "description": { "type": ["string", "null"], "maxLength": 255 },
                "enabled": { "type": "boolean", "default": true },
            },
        }),
    );
    schemas.insert(
        "WebhookPatch".into(),
        json!({
            "type": "object",
            "properties": {
                "url": url, "eventTypes": event_types(),
                "description": { "type": ["string", "null"], "maxLength": 255 },
                "enabled": { "type": "boolean" },
            },
        }),
    );
    schemas.insert(
        "WebhookDelivery".into(),
        json!({
            "type": "object",
            "required": ["id", "webhookId", "institutionId", "eventId", "eventType", "status",
                "attempts", "createdAt", "updatedAt"],
            "properties": {
                "id": id("whd"), "webhookId": id("wh"), "institutionId": id("inst"),
                "eventId": { "type": "string", "description": "The webhook-id header" },
                "eventType": { "type": "string" },
                "status": { "type": "string", "enum": ["pending", "succeeded", "failed", "redriving"] },
                "attempts": { "type": "integer", "minimum": 0 },
                "lastStatusCode": { "type": ["integer", "null"] },
                "lastError": { "type": ["string", "null"] },
                "nextAttemptAt": { "type": ["string", "null"], "format": "date-time" },
                "dlqItemId": { "type": ["integer", "null"] },
                "createdAt": timestamp(), "updatedAt": timestamp(),
            },
        }),
    );
}
