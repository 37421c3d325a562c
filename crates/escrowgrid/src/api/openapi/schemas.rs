//! JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) of the entities and request bodies, written
//! to match the real serde shapes (camelCase; optional fields omitted when absent).

use serde_json::{Value, json};

mod institutions;
mod ledger;
mod positions;
mod webhooks;

use crate::domain::{ApiKeyRole, CURRENCIES, PositionState, Region, TemplateCode, Vertical};

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
    institutions::add(&mut schemas);
    positions::add(&mut schemas);
    ledger::add(&mut schemas);
    webhooks::add(&mut schemas);
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
