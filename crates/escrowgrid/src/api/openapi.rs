//! The OpenAPI 3.1 document, built in code from the route table ([`super::routes::all`]):
//! every route contributes its own operation, so a route cannot be missing from the document.
//!
//! `GET /docs` is a small self-contained HTML page (no CDN, no build-time download) listing the
//! operations and linking to `/openapi.json`.
//!
//! The document is as strict as the server (issue 13), so that generated clients and fuzzers
//! send what the server accepts: path ids carry their prefix pattern, `{region}` its enum,
//! `limit`/`offset` their bounds, `cursor` its alphabet, `Idempotency-Key` its length and character rules; every
//! operation with path parameters documents the 400 of a malformed (non-UTF-8) segment, and
//! every operation the 503 of a store outage or the request timeout. `/docs` and
//! `/openapi.json` are marked public when `PUBLIC_DOCS_ENABLED` is set.

mod op;
mod schemas;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::response::Html;
use axum::routing::get;
use serde_json::{Map, Value, json};

pub use self::op::Op;
use self::op::{reason, schema_ref};
use super::routes::{self, Route};
use super::state::AppState;
use crate::domain::Region;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "/openapi.json",
            handler: get(openapi_json),
            doc: || {
                Op::new("docs", "This OpenAPI document")
                    .response_any(200, json!({ "type": "object" }))
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/docs",
            handler: get(docs_page),
            doc: || {
                Op::new("docs", "A human-readable list of the operations (HTML)")
                    .html()
                    .build()
            },
        },
    ]
}

async fn openapi_json(State(state): State<AppState>) -> Json<Value> {
    Json(document_for(state.settings().public_docs_enabled))
}

/// The paths that are public when `PUBLIC_DOCS_ENABLED` is set.
const DOCS_PATHS: [&str; 2] = ["/openapi.json", "/docs"];

/// Builds the whole OpenAPI 3.1 document, with the documentation itself behind a key (the
/// default, `PUBLIC_DOCS_ENABLED=false`).
pub fn document() -> Value {
    document_for(false)
}

/// Builds the whole OpenAPI 3.1 document; `public_docs` marks `/docs` and `/openapi.json` as
/// needing no key.
pub fn document_for(public_docs: bool) -> Value {
    let mut paths: BTreeMap<&'static str, Map<String, Value>> = BTreeMap::new();
    for route in routes::all() {
        let method = route.method.as_str().to_ascii_lowercase();
        let mut operation = (route.doc)();
        add_path_parameters(&mut operation, route.path);
        if let Some(object) = operation.as_object_mut() {
            if public_docs && DOCS_PATHS.contains(&route.path) {
                object.insert("security".into(), json!([]));
            }
            add_error_responses(object, &route.method, route.path);
            let id = operation_id(&route.method, route.path);
            object.insert("operationId".into(), Value::String(id));
        }
        paths
            .entry(route.path)
            .or_default()
            .insert(method, operation);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "EscrowGrid API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Escrow / tokenization-as-a-service: institutions, asset templates, \
                assets, escrow positions with a lifecycle, an immutable ledger, API keys, \
                policies and an audit trail.",
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas::all(),
            "securitySchemes": {
                "ApiKeyHeader": { "type": "apiKey", "in": "header", "name": "X-API-KEY" },
                "BearerAuth": { "type": "http", "scheme": "bearer" },
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key", "in": "header", "required": false,
                    "description": "Replays the first response of the same request for 24 hours; \
                        another body with the same key is 422.",
                    "schema": {
                        "type": "string", "minLength": 1, "maxLength": 255,
                        "pattern": "^[!-~]+$",
                        "description": "1 to 255 visible ASCII characters",
                    },
                },
            },
        },
        "security": [{ "ApiKeyHeader": [] }, { "BearerAuth": [] }],
    })
}

fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let segment = segment.trim_start_matches('{').trim_end_matches('}');
        for word in segment.split(['-', '.', '_']) {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                id.push(first.to_ascii_uppercase());
                id.extend(chars);
            }
        }
    }
    id
}

/// The schema of a path parameter, from the segment before it: ids carry their prefix and a
/// lowercase hyphenated UUID (anything else is answered like an unknown id, 404), a region is
/// one of the enum.
fn path_parameter_schema(collection: &str) -> Value {
    let prefix = match collection {
        "institutions" => "inst",
        "asset-templates" => "tmpl",
        "assets" => "ast",
        "positions" => "pos",
        "api-keys" => "ak",
        "policies" => {
            let regions: Vec<&str> = Region::ALL.iter().map(|r| r.as_str()).collect();
            return json!({ "type": "string", "enum": regions });
        }
        _ => return json!({ "type": "string", "minLength": 1 }),
    };
    json!({
        "type": "string",
        "pattern": format!("^{prefix}_[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$"),
    })
}

fn add_path_parameters(operation: &mut Value, path: &str) {
    let segments: Vec<&str> = path.split('/').collect();
    let params: Vec<Value> = segments
        .iter()
        .enumerate()
        .filter_map(|(index, s)| {
            let name = s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))?;
            let collection = index.checked_sub(1).map_or("", |before| segments[before]);
            Some(json!({
                "name": name, "in": "path", "required": true,
                "schema": path_parameter_schema(collection),
            }))
        })
        .collect();
    if params.is_empty() {
        return;
    }
    if let Some(object) = operation.as_object_mut() {
        let list = object
            .entry("parameters")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = list.as_array_mut() {
            list.splice(0..0, params);
        }
    }
}

/// The answers any operation can give beyond its own: 400 for a path segment that is not
/// UTF-8 (operations with path parameters), a malformed `Idempotency-Key` (every `POST`, key
/// revocation included) or a NUL character in any query parameter, unknown ones included
/// (operations that read a query), 503 for a store outage, an unknown commit outcome, the
/// request timeout or load shedding (`src/api/shed.rs`).
fn add_error_responses(operation: &mut Map<String, Value>, method: &Method, path: &str) {
    let reads_query = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|p| p["in"] == "query"));
    let Some(Value::Object(responses)) = operation.get_mut("responses") else {
        return;
    };
    let mut extra = vec![503];
    if path.contains('{') || method == Method::POST || reads_query {
        extra.push(400);
    }
    for status in extra {
        responses.entry(status.to_string()).or_insert_with(|| {
            json!({
                "description": reason(status),
                "content": { "application/json": { "schema": schema_ref("Error") } },
            })
        });
    }
}

async fn docs_page() -> Html<String> {
    let mut rows = String::new();
    for route in routes::all() {
        let operation = (route.doc)();
        let summary = operation["summary"].as_str().unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
            route.method,
            route.path,
            html_escape(summary)
        ));
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>EscrowGrid API Explorer</title>\
         </head><body><h1>EscrowGrid API</h1><p>Machine-readable: \
         <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1).</p>\
         <table><tr><th>Method</th><th>Path</th><th>Summary</th></tr>\n{rows}</table></body></html>"
    ))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
