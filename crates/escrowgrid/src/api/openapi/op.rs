//! [`Op`]: the builder of one OpenAPI operation object, and the small helpers it shares with
//! the document.

use serde_json::{Map, Value, json};

/// A builder for one OpenAPI operation object.
#[derive(Debug)]
pub struct Op {
    operation: Map<String, Value>,
    parameters: Vec<Value>,
    responses: Map<String, Value>,
    link_header: bool,
}

impl Op {
    /// An operation in `tag` with a summary.
    pub fn new(tag: &str, summary: &str) -> Self {
        let mut operation = Map::new();
        operation.insert("tags".into(), json!([tag]));
        operation.insert("summary".into(), json!(summary));
        Self {
            operation,
            parameters: Vec::new(),
            responses: Map::new(),
            link_header: false,
        }
    }

    /// Marks the operation as public (no API key).
    pub fn public(mut self) -> Self {
        self.operation.insert("security".into(), json!([]));
        self
    }

    /// Adds a longer description.
    pub fn description(mut self, text: &str) -> Self {
        self.operation.insert("description".into(), json!(text));
        self
    }

    /// Adds a query parameter of the given JSON type.
    pub fn query(mut self, name: &str, kind: &str, description: &str) -> Self {
        self.parameters.push(json!({
            "name": name, "in": "query", "required": false,
            "description": description, "schema": { "type": kind },
        }));
        self
    }

    /// Adds a query parameter with a full schema (an enum, a format).
    pub fn query_schema(mut self, name: &str, schema: Value, description: &str) -> Self {
        let mut parameter = json!({
            "name": name, "in": "query", "required": false, "description": description,
        });
        parameter["schema"] = schema;
        self.parameters.push(parameter);
        self
    }

    /// Adds `limit`, `offset` (with the store's bounds) and `cursor`.
    pub fn paginated(mut self) -> Self {
        self.parameters
            .push(limit_parameter("Page size, 1..=1000 (default 100)"));
        self.parameters.push(json!({
            "name": "offset", "in": "query", "required": false,
            "description": "Items to skip (default 0; empty counts as 0, as in the original)",
            "schema": { "anyOf": [
                { "type": "integer", "minimum": 0, "maximum": i64::MAX },
                { "type": "string", "maxLength": 0 },
            ] },
        }));
        self.parameters.push(json!({
            "name": "cursor", "in": "query", "required": false,
            "description": "Keyset pagination: the `pagination.nextCursor` of the previous page \
                (same list and filters; not with `offset`). An empty value starts at the first \
                item. Pages read this way cost the same at any depth and have no `total` or \
                `offset`. A cursor of another list or filter set, or not issued by the server, \
                is a 400.",
            "schema": {
                "type": "string", "pattern": "^[A-Za-z0-9_-]*$",
                "maxLength": crate::api::pagination::cursor::MAX_CURSOR_LEN,
            },
        }));
        self
    }

    /// Adds `limit` and `cursor` of a list answered as a plain array, and the `Link` header
    /// of its 200 answer (see `api::pagination::array`).
    pub fn array_paginated(mut self) -> Self {
        self.parameters.push(limit_parameter(
            "Answer one page of this many items, 1..=1000 (default 100 when only `cursor` is \
             given); without `limit` and `cursor` the whole list is answered",
        ));
        self.parameters.push(json!({
            "name": "cursor", "in": "query", "required": false,
            "description": "Keyset pagination: the `cursor` of the previous page's `Link: \
                rel=\"next\"` URL (same list and filters). An empty value starts at the first \
                item. A cursor of another list or filter set, or not issued by the server, is a \
                400; so is `offset` together with `limit` or `cursor`.",
            "schema": {
                "type": "string", "pattern": "^[A-Za-z0-9_-]*$",
                "maxLength": crate::api::pagination::cursor::MAX_CURSOR_LEN,
            },
        }));
        self.link_header = true;
        self
    }

    /// A JSON request body of the named schema; POSTs also take `Idempotency-Key`.
    pub fn body(mut self, schema: &str) -> Self {
        self.operation.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": schema_ref(schema) } } }),
        );
        self
    }

    /// Accepts an `Idempotency-Key` header.
    pub fn idempotent(mut self) -> Self {
        self.parameters
            .push(json!({ "$ref": "#/components/parameters/IdempotencyKey" }));
        self
    }

    /// A JSON response of the named schema.
    pub fn response(self, status: u16, schema: &str) -> Self {
        self.response_any(status, schema_ref(schema))
    }

    /// A JSON response that is an array of the named schema.
    pub fn response_list(self, status: u16, schema: &str) -> Self {
        self.response_any(
            status,
            json!({ "type": "array", "items": schema_ref(schema) }),
        )
    }

    /// A `{data, pagination}` response of the named item schema.
    pub fn response_page(self, status: u16, schema: &str) -> Self {
        self.response_any(
            status,
            json!({
                "type": "object", "required": ["data", "pagination"],
                "properties": {
                    "data": { "type": "array", "items": schema_ref(schema) },
                    "pagination": schema_ref("Pagination"),
                },
            }),
        )
    }

    /// A JSON response with an inline schema.
    pub fn response_any(mut self, status: u16, schema: Value) -> Self {
        let mut media = Map::new();
        media.insert("schema".into(), schema);
        self.responses.insert(
            status.to_string(),
            json!({
                "description": reason(status),
                "content": { "application/json": Value::Object(media) },
            }),
        );
        self
    }

    /// A text/plain response.
    pub fn text(mut self, status: u16) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({ "description": reason(status), "content": { "text/plain": { "schema": { "type": "string" } } } }),
        );
        self
    }

    /// An optional string request header.
    pub fn header(mut self, name: &str, description: &str) -> Self {
        self.parameters.push(json!({
            "name": name, "in": "header", "required": false,
            "description": description, "schema": { "type": "string" },
        }));
        self
    }

    /// A `text/event-stream` (Server-Sent Events) response.
    pub fn event_stream(mut self, status: u16) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({
                "description": "Server-Sent Events: `id:` cursor, `event:` type, `data:` the \
                    event payload JSON on one line; `: heartbeat` comments while idle",
                "content": { "text/event-stream": { "schema": { "type": "string" } } },
            }),
        );
        self
    }

    /// An HTML 200 response.
    pub fn html(mut self) -> Self {
        self.responses.insert(
            "200".into(),
            json!({ "description": "OK", "content": { "text/html": { "schema": { "type": "string" } } } }),
        );
        self
    }

    /// Error responses (all `{"error", "details"?}`).
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        for status in statuses {
            self.responses.insert(
                status.to_string(),
                json!({
                    "description": reason(*status),
                    "content": { "application/json": { "schema": schema_ref("Error") } },
                }),
            );
        }
        self
    }

    /// The finished operation object.
    pub fn build(mut self) -> Value {
        let link_header = self.link_header;
        if let Some(ok) = self.responses.get_mut("200").filter(|_| link_header) {
            ok["headers"] = json!({
                "Link": {
                    "description": "RFC 8288 `<url>; rel=\"next\"`: the relative URL of the next \
                        page (this request's path and query with `cursor` replaced); only on a \
                        page requested with `limit` or `cursor` that has more items after it",
                    "schema": { "type": "string" },
                },
            });
        }
        if !self.parameters.is_empty() {
            self.operation
                .insert("parameters".into(), Value::Array(self.parameters));
        }
        self.operation
            .insert("responses".into(), Value::Object(self.responses));
        Value::Object(self.operation)
    }
}

/// The `limit` query parameter (the store's bounds).
fn limit_parameter(description: &str) -> Value {
    json!({
        "name": "limit", "in": "query", "required": false,
        "description": description,
        "schema": { "type": "integer", "minimum": 1, "maximum": 1000 },
    })
}

pub(super) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("Response")
}
