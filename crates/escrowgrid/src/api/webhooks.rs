//! `/webhooks`: endpoints that receive the institution's events, signed per Standard Webhooks.
//!
//! - Create, update, delete, rotate and re-drive need write access (root, or an admin of the
//!   endpoint's institution; root names the institution with `institutionId`); read-only keys
//!   may list and get.
//! - The signing secret is in the answer of create and rotate only (`secret`), never again.
//! - A URL whose host resolves to a loopback, private, link-local, ... address is 400 unless
//!   `WEBHOOKS_ALLOW_PRIVATE_TARGETS=true` (see `crate::webhooks::target`).
//! - Another institution's endpoint ids are 404 exactly like unknown ones.
//! - Without a webhook runtime (none configured) every route answers 404 `Webhooks disabled`.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, patch, post};
use serde_json::Value;

use crate::domain::{
    Delivery, DeliveryId, FieldError, JsonObject, NewWebhook, Webhook, WebhookId, WebhookPatch,
    WebhookSecret,
};
use crate::webhooks::WebhookService;

use super::asset_templates::root_filter;
use super::caller::Caller;
use super::earlier_attempt::{committed, secret_lost};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryMap};
use super::openapi::Op;
use super::pagination::array::{ArrayPage, ArrayPaging};
use super::pagination::{PageBody, Paging};
use super::routes::{Route, created};
use super::state::AppState;
use super::validate::expected;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::POST,
            path: "/webhooks",
            handler: post(create),
            doc: || {
                Op::new(
                    "webhooks",
                    "Register a webhook endpoint; its signing secret is returned once",
                )
                .description(
                    "409 `Webhook already created by an earlier attempt`: a retry under the same \
                     Idempotency-Key of a create whose answer was lost (503 `Commit outcome \
                     unknown`) but which did apply; the details name the endpoint, whose secret \
                     a rotation renews.",
                )
                .body("NewWebhook")
                .idempotent()
                .response(201, "CreatedWebhook")
                .errors(&[400, 401, 403, 404, 409, 413, 415, 422, 429])
                .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/webhooks",
            handler: get(list),
            doc: || {
                Op::new("webhooks", "List webhook endpoints")
                    .query(
                        "institutionId",
                        "string",
                        "Root only: filter by institution",
                    )
                    .array_paginated()
                    .response_list(200, "Webhook")
                    .errors(&[400, 401, 404])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/webhooks/{id}",
            handler: get(fetch),
            doc: || {
                Op::new("webhooks", "Get a webhook endpoint")
                    .response(200, "Webhook")
                    .errors(&[401, 404])
                    .build()
            },
        },
        Route {
            method: Method::PATCH,
            path: "/webhooks/{id}",
            handler: patch(update),
            doc: || {
                Op::new(
                    "webhooks",
                    "Change a webhook endpoint's URL, event types, description or enabled flag",
                )
                .body("WebhookPatch")
                .response(200, "Webhook")
                .errors(&[400, 401, 403, 404, 413, 415, 422, 429])
                .build()
            },
        },
        Route {
            method: Method::DELETE,
            path: "/webhooks/{id}",
            handler: delete(remove),
            doc: || {
                Op::new(
                    "webhooks",
                    "Delete a webhook endpoint and its delivery records",
                )
                .response(200, "Webhook")
                .errors(&[401, 403, 404, 429])
                .build()
            },
        },
        Route {
            method: Method::POST,
            path: "/webhooks/{id}/rotate-secret",
            handler: post(rotate),
            doc: || {
                Op::new(
                    "webhooks",
                    "Replace the signing secret; the new one is returned once and used at once",
                )
                .idempotent()
                .response(200, "CreatedWebhook")
                .errors(&[401, 403, 404, 422, 429])
                .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/webhooks/{id}/deliveries",
            handler: get(deliveries),
            doc: || {
                Op::new(
                    "webhooks",
                    "List an endpoint's deliveries, newest first: status, attempts, last status \
                     code and error, next attempt",
                )
                .paginated()
                .response_page(200, "WebhookDelivery")
                .errors(&[400, 401, 404])
                .build()
            },
        },
        Route {
            method: Method::POST,
            path: "/webhooks/{id}/deliveries/{deliveryId}/retry",
            handler: post(redrive),
            doc: || {
                Op::new(
                    "webhooks",
                    "Re-drive a failed (dead-lettered) delivery: the endpoint's dispatcher \
                     attempts it once more",
                )
                .idempotent()
                .response(202, "WebhookDelivery")
                .errors(&[400, 401, 403, 404, 409, 422, 429])
                .build()
            },
        },
    ]
}

fn service(state: &AppState) -> ApiResult<&WebhookService> {
    state
        .webhooks()
        .ok_or_else(|| ApiError::not_found("Webhooks disabled"))
}

fn parse_id(raw: &str) -> ApiResult<WebhookId> {
    WebhookId::parse(raw).map_err(|_| ApiError::not_found("Webhook not found"))
}

/// The endpoint plus its new secret, as create and rotate answer.
fn with_secret(webhook: &Webhook, secret: &WebhookSecret) -> ApiResult<Value> {
    let mut body = serde_json::to_value(webhook).map_err(ApiError::internal)?;
    if let Some(object) = body.as_object_mut() {
        object.insert("secret".into(), Value::String(secret.expose().to_owned()));
    }
    Ok(body)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<JsonObject>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let service = service(&state)?;
    caller.auth.require_write()?;
    let (named, fields) = read_body(&body, true);
    let institution_id = caller.acting_institution(
        named.as_deref(),
        "Cannot create webhooks for a different institution",
    )?;
    let fields = fields.map_err(ApiError::validation)?;
    let scope = caller.auth.scope();
    let store = service.store();
    let get = |id| async move { store.get_webhook(&scope, &id).await };
    if let Some(earlier) = committed(&caller, WebhookId::from_seed, get).await? {
        return Err(secret_lost(
            "Webhook already created by an earlier attempt",
            earlier.id.as_str(),
            "rotate its secret (POST /webhooks/{id}/rotate-secret) or delete it",
        ));
    }
    let new = NewWebhook {
        id: WebhookId::seeded(caller.audit.id_seed.as_ref()),
        institution_id,
        url: fields.url.unwrap_or_default(),
        event_types: fields.event_types.unwrap_or_default(),
        description: fields.description.flatten(),
        enabled: fields.enabled.unwrap_or(true),
    };
    let (webhook, secret) = service
        .create(&caller.auth.scope(), new, &caller.audit)
        .await
        .map_err(ApiError::create_failed("Failed to create webhook"))?;
    Ok(created(with_secret(&webhook, &secret)?))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<ArrayPage<Webhook>> {
    let service = service(&state)?;
    let institution = root_filter(&caller, query.get("institutionId"));
    let paging = ArrayPaging::from_query(&query, "webhooks", &["institutionId"])?;
    let webhooks = service
        .store()
        .webhooks_page(&caller.auth.scope(), institution.as_ref(), paging.page())
        .await?;
    Ok(paging.answer(&uri, webhooks))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    let service = service(&state)?;
    let id = parse_id(&id)?;
    Ok(Json(
        service
            .store()
            .get_webhook(&caller.auth.scope(), &id)
            .await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<JsonObject>,
) -> ApiResult<Json<Webhook>> {
    let service = service(&state)?;
    let id = parse_id(&id)?;
    caller.auth.require_write()?;
    let (_, fields) = read_body(&body, false);
    let fields = fields.map_err(ApiError::validation)?;
    let patch = WebhookPatch {
        url: fields.url,
        event_types: fields.event_types,
        description: fields.description,
        enabled: fields.enabled,
    };
    let webhook = service
        .update(&caller.auth.scope(), &id, patch, &caller.audit)
        .await?;
    Ok(Json(webhook))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    let service = service(&state)?;
    let id = parse_id(&id)?;
    caller.auth.require_write()?;
    let webhook = service
        .store()
        .delete_webhook(&caller.auth.scope(), &id, &caller.audit)
        .await?;
    Ok(Json(webhook))
}

async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let service = service(&state)?;
    let id = parse_id(&id)?;
    caller.auth.require_write()?;
    let (webhook, secret) = service
        .rotate(&caller.auth.scope(), &id, &caller.audit)
        .await?;
    Ok(Json(with_secret(&webhook, &secret)?))
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: QueryMap,
) -> ApiResult<Json<PageBody<Delivery>>> {
    let service = service(&state)?;
    let id = parse_id(&id)?;
    let paging = Paging::from_query(&query, &format!("webhook-deliveries:{id}"), &[])?;
    let result = service
        .store()
        .list_deliveries(&caller.auth.scope(), &id, paging.page())
        .await?;
    Ok(Json(paging.body(result)))
}

async fn redrive(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let service = service(&state)?;
    let id = parse_id(&id)?;
    let delivery_id = DeliveryId::parse(&delivery_id)
        .map_err(|_| ApiError::not_found("Webhook delivery not found"))?;
    caller.auth.require_write()?;
    let delivery = service
        .redrive(&caller.auth.scope(), &id, &delivery_id, &caller.audit)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// The fields of a create or patch body, type-checked (the domain checks the values).
#[derive(Debug, Default)]
struct Fields {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    description: Option<Option<String>>,
    enabled: Option<bool>,
}

/// Reads `institutionId` (root's choice) and the endpoint fields; `required` makes `url` and
/// `eventTypes` mandatory (create).
fn read_body(
    body: &JsonObject,
    required: bool,
) -> (Option<String>, Result<Fields, Vec<FieldError>>) {
    let named = body
        .get("institutionId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut errors = Vec::new();
    let mut fields = Fields::default();
    match body.get("url") {
        Some(Value::String(url)) => fields.url = Some(url.clone()),
        None if !required => {}
        other => errors.push(FieldError::new("url", expected("string", other))),
    }
    match body.get("eventTypes") {
        Some(Value::Array(items)) => {
            let mut types = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::String(text) => types.push(text.clone()),
                    other => errors.push(FieldError::new(
                        format!("eventTypes.{index}"),
                        expected("string", Some(other)),
                    )),
                }
            }
            fields.event_types = Some(types);
        }
        None if !required => {}
        other => errors.push(FieldError::new("eventTypes", expected("array", other))),
    }
    match body.get("description") {
        None => {}
        Some(Value::Null) => fields.description = Some(None),
        Some(Value::String(text)) => fields.description = Some(Some(text.clone())),
        other => errors.push(FieldError::new("description", expected("string", other))),
    }
    match body.get("enabled") {
        None => {}
        Some(Value::Bool(enabled)) => fields.enabled = Some(*enabled),
        other => errors.push(FieldError::new("enabled", expected("boolean", other))),
    }
    let fields = if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    };
    (named, fields)
}
