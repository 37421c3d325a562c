//! Schemas of institutions, their API keys and their position policies.

use serde_json::{Map, Value, json};

use crate::domain::ApiKeyRole;

use super::{amount, id, object, r, string_enum, timestamp};

/// Adds `Institution`, `NewInstitution`, `ApiKey`, `CreatedApiKey`, `NewApiKey`,
/// `PositionPolicy`, `InstitutionPolicy` and `PolicyUpsert`.
pub(super) fn add(schemas: &mut Map<String, Value>) {
    schemas.insert(
        "Institution".into(),
        object(
            &[
                "id",
                "name",
                "regions",
                "verticals",
                "createdAt",
                "updatedAt",
            ],
            json!({
                "id": id("inst"), "name": { "type": "string" },
                "regions": { "type": "array", "items": r("Region") },
                "verticals": { "type": "array", "items": r("Vertical") },
                "createdAt": timestamp(), "updatedAt": timestamp(),
            }),
        ),
    );
    schemas.insert("NewInstitution".into(), object(&["name", "regions"], json!({
            "name": { "type": "string", "minLength": 1, "maxLength": 255 },
            "regions": { "type": "array", "items": r("Region"), "minItems": 1, "maxItems": 10 },
            "verticals": { "type": "array", "items": r("Vertical"), "description": "Defaults to every vertical" },
        })));
    schemas.insert(
        "ApiKey".into(),
        object(
            &["id", "institutionId", "label", "role", "createdAt"],
            json!({
                "id": id("ak"), "institutionId": id("inst"), "label": { "type": "string" },
                "role": string_enum(ApiKeyRole::ALL, ApiKeyRole::as_str),
                "createdAt": timestamp(), "revokedAt": timestamp(),
            }),
        ),
    );
    schemas.insert("CreatedApiKey".into(), json!({
            "allOf": [r("ApiKey"), object(&["apiKey"], json!({
                "apiKey": { "type": "string", "description": "The secret token, shown once", "pattern": "^ak_[0-9a-f]{48}$" },
            }))],
        }));
    schemas.insert(
        "NewApiKey".into(),
        object(
            &["label", "role"],
            json!({
                "label": { "type": "string", "minLength": 1, "maxLength": 255 },
                "role": string_enum(ApiKeyRole::ALL, ApiKeyRole::as_str),
            }),
        ),
    );
    schemas.insert(
        "PositionPolicy".into(),
        json!({
            "type": "object",
            "properties": {
                "minAmount": amount(), "maxAmount": amount(),
                "allowedCurrencies": { "type": "array", "items": r("Currency") },
            },
        }),
    );
    schemas.insert("InstitutionPolicy".into(), object(&["id", "institutionId", "region", "config", "createdAt", "updatedAt"], json!({
            "id": id("pol"), "institutionId": id("inst"), "region": r("Region"),
            "config": object(&["region", "position"], json!({ "region": r("Region"), "position": r("PositionPolicy") })),
            "createdAt": timestamp(), "updatedAt": timestamp(),
        })));
    schemas.insert(
        "PolicyUpsert".into(),
        object(&["position"], json!({ "position": r("PositionPolicy") })),
    );
}
