//! JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) of the entities and request bodies, written
//! to match the real serde shapes (camelCase; optional fields omitted when absent).

use serde_json::{Value, json};

use crate::domain::{
    ApiKeyRole, AuditAction, AuditOutcome, CURRENCIES, LedgerEventKind, PositionState, Region,
    ResourceType, TemplateCode, Vertical,
};

fn names<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Value {
    Value::Array(all.iter().map(|v| json!(as_str(*v))).collect())
}

fn string_enum<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Value {
    json!({ "type": "string", "enum": names(all, as_str) })
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn object(required: &[&str], properties: Value) -> Value {
    let mut schema = serde_json::Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("required".into(), json!(required));
    schema.insert("properties".into(), properties);
    Value::Object(schema)
}

fn id(prefix: &str) -> Value {
    json!({ "type": "string", "pattern": format!("^{prefix}_[0-9a-f-]{{36}}$") })
}

/// A whitelisted currency code in any letter case, as `POST /positions` accepts it.
fn currency_any_case() -> Value {
    let alternatives: Vec<String> = CURRENCIES
        .iter()
        .map(|code| {
            code.chars()
                .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()))
                .collect()
        })
        .collect();
    json!({
        "type": "string",
        "pattern": format!("^(?:{})$", alternatives.join("|")),
        "description": "Case-insensitive ISO 4217 code from the whitelist",
    })
}

fn timestamp() -> Value {
    json!({ "type": "string", "format": "date-time", "examples": ["2026-11-21T19:04:02.147Z"] })
}

fn amount() -> Value {
    let exact_example = "12345678901234.12345678"
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number);
    json!({
        "type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000_000_000_000_u64,
        "description": "Exact decimal (up to 8 decimal places) written as a JSON number; \
            strings are rejected",
        "examples": [exact_example],
    })
}

/// Every named schema.
pub fn all() -> Value {
    let region = string_enum(Region::ALL, Region::as_str);
    let vertical = string_enum(Vertical::ALL, Vertical::as_str);
    let state = string_enum(PositionState::ALL, PositionState::as_str);
    let currency = json!({ "type": "string", "enum": CURRENCIES });
    let json_object = json!({ "type": "object", "additionalProperties": true });
    let mut schemas = serde_json::Map::new();
    schemas.insert(
        "Error".into(),
        object(
            &["error"],
            json!({
                "error": { "type": "string" },
                "details": { "description": "A string, an object, or a list of {field, message}" },
            }),
        ),
    );
    schemas.insert(
        "FieldError".into(),
        object(
            &["field", "message"],
            json!({
                "field": { "type": "string" }, "message": { "type": "string" },
            }),
        ),
    );
    schemas.insert(
        "Pagination".into(),
        object(
            &["limit", "hasMore", "nextCursor"],
            json!({
                "total": {
                    "type": "integer",
                    "description": "Items matching the filters, over all pages (offset pages only)",
                },
                "limit": { "type": "integer" },
                "offset": { "type": "integer", "description": "Offset pages only" },
                "hasMore": { "type": "boolean" },
                "nextCursor": {
                    "type": ["string", "null"],
                    "description": "The `cursor` of the next page; null on the last page",
                },
            }),
        ),
    );
    schemas.insert(
        "Health".into(),
        object(
            &["status", "service", "storeBackend"],
            json!({
                "status": { "const": "ok" }, "service": { "type": "string" },
                "storeBackend": { "type": "string" },
                "onchain": object(&["ok"], json!({
                    "ok": { "type": "boolean" }, "error": { "type": "string" },
                })),
            }),
        ),
    );
    schemas.insert("Ready".into(), object(&["ok", "storeBackend"], json!({
            "ok": { "type": "boolean" }, "storeBackend": { "type": "string" },
            "db": object(&["ok"], json!({ "ok": { "type": "boolean" }, "error": { "type": "string" } })),
        })));
    schemas.insert("Metrics".into(), object(&["totalRequests", "totalErrors", "requestsByStatus", "requestsByMethod", "averageDurationMs"], json!({
            "totalRequests": { "type": "integer" }, "totalErrors": { "type": "integer" },
            "requestsByStatus": { "type": "object", "additionalProperties": { "type": "integer" } },
            "requestsByMethod": { "type": "object", "additionalProperties": { "type": "integer" } },
            "averageDurationMs": { "type": "number" },
        })));
    schemas.insert("Region".into(), region);
    schemas.insert("Vertical".into(), vertical);
    schemas.insert("PositionState".into(), state);
    schemas.insert("Currency".into(), currency);
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
    schemas.insert(
        "AssetTemplate".into(),
        object(
            &[
                "id",
                "institutionId",
                "code",
                "name",
                "vertical",
                "region",
                "config",
                "createdAt",
                "updatedAt",
            ],
            json!({
                "id": id("tmpl"), "institutionId": id("inst"),
                "code": string_enum(TemplateCode::ALL, TemplateCode::as_str),
                "name": { "type": "string" }, "vertical": r("Vertical"), "region": r("Region"),
                "config": json_object, "createdAt": timestamp(), "updatedAt": timestamp(),
            }),
        ),
    );
    schemas.insert("NewAssetTemplate".into(), object(&["code", "name", "vertical", "region"], json!({
            "institutionId": { "type": "string", "description": "Required for root; ignored unless equal to the key's institution otherwise" },
            "code": string_enum(TemplateCode::ALL, TemplateCode::as_str),
            "name": { "type": "string", "minLength": 1, "maxLength": 255 },
            "vertical": r("Vertical"), "region": r("Region"), "config": json_object,
        })));
    schemas.insert(
        "Asset".into(),
        object(
            &[
                "id",
                "institutionId",
                "templateId",
                "label",
                "metadata",
                "createdAt",
                "updatedAt",
            ],
            json!({
                "id": id("ast"), "institutionId": id("inst"), "templateId": id("tmpl"),
                "label": { "type": "string" }, "metadata": json_object,
                "createdAt": timestamp(), "updatedAt": timestamp(),
            }),
        ),
    );
    schemas.insert(
        "NewAsset".into(),
        object(
            &["templateId", "label"],
            json!({
                "institutionId": { "type": "string" }, "templateId": { "type": "string" },
                "label": { "type": "string", "minLength": 1, "maxLength": 255 },
                "metadata": json_object,
            }),
        ),
    );
    schemas.insert(
        "PositionLifecycleEvent".into(),
        object(
            &["id", "positionId", "fromState", "toState", "at"],
            json!({
                "id": id("ple"), "positionId": id("pos"),
                "fromState": { "oneOf": [r("PositionState"), { "type": "null" }] },
                "toState": r("PositionState"), "reason": { "type": "string" },
                "at": timestamp(), "metadata": json_object,
            }),
        ),
    );
    schemas.insert(
        "Position".into(),
        object(
            &[
                "id",
                "institutionId",
                "assetId",
                "holderReference",
                "currency",
                "amount",
                "state",
                "createdAt",
                "updatedAt",
                "events",
            ],
            json!({
                "id": id("pos"), "institutionId": id("inst"), "assetId": id("ast"),
                "holderReference": { "type": "string" }, "currency": r("Currency"),
                "amount": amount(), "state": r("PositionState"),
                "externalReference": { "type": "string" },
                "createdAt": timestamp(), "updatedAt": timestamp(),
                "events": { "type": "array", "items": r("PositionLifecycleEvent") },
            }),
        ),
    );
    schemas.insert(
        "NewPosition".into(),
        object(
            &["assetId", "holderReference", "currency", "amount"],
            json!({
                "institutionId": { "type": "string" }, "assetId": { "type": "string" },
                "holderReference": { "type": "string", "minLength": 1, "maxLength": 255 },
                "currency": currency_any_case(),
                "amount": amount(),
                "externalReference": { "type": "string", "maxLength": 255 },
            }),
        ),
    );
    schemas.insert(
        "TransitionRequest".into(),
        object(
            &["toState"],
            json!({
                "toState": r("PositionState"),
                "reason": { "type": "string", "maxLength": 1000 },
                "metadata": json_object,
            }),
        ),
    );
    schemas.insert(
        "LedgerEvent".into(),
        object(
            &[
                "id",
                "kind",
                "positionId",
                "institutionId",
                "at",
                "newState",
                "payload",
            ],
            json!({
                "id": id("led"), "kind": string_enum(LedgerEventKind::ALL, LedgerEventKind::as_str),
                "positionId": id("pos"), "institutionId": id("inst"), "at": timestamp(),
                "previousState": r("PositionState"), "newState": r("PositionState"),
                "payload": json_object,
                "hash": hash_hex(), "previousHash": hash_hex(),
                "onchain": {
                    "type": "object",
                    "description": "Only with the on-chain ledger enabled (docs/ONCHAIN.md)",
                    "properties": {
                        "status": {"type": "string", "enum": ["pending", "confirmed", "failed", "skipped"]},
                        "txHash": {"type": ["string", "null"]},
                        "blockNumber": {"type": ["integer", "null"]},
                        "chainId": {"type": ["integer", "null"]},
                    },
                },
            }),
        ),
    );
    schemas.insert(
        "LedgerCheckpoint".into(),
        object(
            &["number", "createdAt", "fence", "eventCount", "eventsRoot", "hash"],
            json!({
                "number": { "type": "integer" }, "createdAt": timestamp(),
                "fence": { "type": "integer" }, "eventCount": { "type": "integer" },
                "eventsRoot": hash_hex(), "previousHash": hash_hex(), "hash": hash_hex(),
                "onchain": { "type": ["object", "null"], "description": "Reserved: anchoring on chain is not built yet" },
            }),
        ),
    );
    schemas.insert(
        "LedgerVerification".into(),
        object(
            &[
                "ok",
                "eventsChecked",
                "chainsChecked",
                "unhashedEvents",
                "checkpointsChecked",
            ],
            json!({
                "ok": { "type": "boolean" },
                "eventsChecked": { "type": "integer" },
                "chainsChecked": { "type": "integer" },
                "unhashedEvents": { "type": "integer" },
                "checkpointsChecked": { "type": "integer" },
                "checkpointBreak": object(
                    &["number", "reason", "detail"],
                    json!({
                        "number": { "type": "integer" },
                        "reason": { "type": "string", "enum": ["count", "root", "hash", "chain"] },
                        "detail": { "type": "string" },
                    }),
                ),
                "break": object(
                    &["eventId", "positionId", "index", "reason", "detail"],
                    json!({
                        "eventId": id("led"), "positionId": id("pos"),
                        "index": { "type": "integer" },
                        "reason": { "type": "string",
                            "enum": ["edited", "deleted", "inserted", "reordered"] },
                        "detail": { "type": "string" },
                    }),
                ),
            }),
        ),
    );
    schemas.insert("AuditEvent".into(), object(&["id", "occurredAt", "createdAt", "method", "path", "action", "outcome"], json!({
            "id": id("aud"), "occurredAt": timestamp(), "createdAt": timestamp(),
            "requestId": { "type": "string" }, "apiKeyId": id("ak"), "institutionId": id("inst"),
            "method": { "type": "string" }, "path": { "type": "string" },
            "action": string_enum(AuditAction::ALL, AuditAction::as_str),
            "outcome": string_enum(AuditOutcome::ALL, AuditOutcome::as_str),
            "resourceType": string_enum(ResourceType::ALL, ResourceType::as_str),
            "resourceId": { "type": "string" }, "payload": {},
            "error": object(&["message"], json!({
                "code": { "type": "string" }, "message": { "type": "string" }, "details": {},
            })),
            "statusCode": { "type": "integer" }, "clientIp": { "type": "string" },
        })));
    super::webhook_schemas::add(&mut schemas);
    console_schemas(&mut schemas);
    Value::Object(schemas)
}

/// The read-only documents clients build their UI from: `/me`, `/lifecycle` and the template
/// rules.
fn console_schemas(schemas: &mut serde_json::Map<String, Value>) {
    let states = json!({ "type": "array", "items": r("PositionState") });
    let role = string_enum(ApiKeyRole::ALL, ApiKeyRole::as_str);
    schemas.insert(
        "Me".into(),
        object(
            &["role", "canWrite"],
            json!({
                "role": { "anyOf": [role, { "const": "root" }] },
                "canWrite": { "type": "boolean" },
                "institutionId": id("inst"), "apiKeyId": id("ak"),
            }),
        ),
    );
    schemas.insert(
        "Lifecycle".into(),
        object(
            &["states", "initial", "terminal", "transitions"],
            json!({
                "states": states, "initial": r("PositionState"), "terminal": states,
                "transitions": { "type": "object", "additionalProperties": states },
            }),
        ),
    );
    let field = object(
        &["key", "kind", "required", "numeric"],
        json!({
            "key": { "type": "string" },
            "kind": { "enum": ["currency", "templateRegion", "number", "positiveNumber", "percentage", "text"] },
            "required": { "type": "boolean" }, "numeric": { "type": "boolean" },
            "minimum": { "type": "number" }, "exclusiveMinimum": { "type": "number" },
            "maximum": { "type": "number" },
        }),
    );
    let constraint = object(
        &["kind", "low", "high"],
        json!({ "kind": { "const": "lessOrEqual" }, "low": { "type": "string" }, "high": { "type": "string" } }),
    );
    let code = object(
        &["code", "vertical", "fields", "constraints"],
        json!({
            "code": string_enum(TemplateCode::ALL, TemplateCode::as_str), "vertical": r("Vertical"),
            "fields": { "type": "array", "items": field },
            "constraints": { "type": "array", "items": constraint },
        }),
    );
    schemas.insert(
        "TemplateRules".into(),
        object(
            &["verticals", "regions", "currencies", "codes"],
            json!({
                "verticals": { "type": "array", "items": r("Vertical") },
                "regions": { "type": "array", "items": r("Region") },
                "currencies": { "type": "array", "items": r("Currency") },
                "codes": { "type": "array", "items": code },
            }),
        ),
    );
}

/// A SHA-256 in lowercase hex, or null (events written before hashing started; a chain's
/// first event has no previous hash).
fn hash_hex() -> Value {
    json!({ "type": ["string", "null"], "pattern": "^[0-9a-f]{64}$" })
}
