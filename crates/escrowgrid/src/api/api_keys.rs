//! `/institutions/{id}/api-keys`: create, list, revoke (root or an admin of the institution).
//!
//! Checks run in the original's order: access, then the institution exists, then the body.
//! Another tenant's institution is 404 `Institution not found` (the original: 403).

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;

use crate::domain::{ApiKey, ApiKeyId, InstitutionId, JsonObject};

use super::auth::AuthRole;
use super::caller::Caller;
use super::earlier_attempt::{committed, secret_lost};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryMap};
use super::institutions::visible_institution;
use super::openapi::Op;
use super::pagination::array::{ArrayPage, ArrayPaging};
use super::routes::{Route, created};
use super::state::AppState;
use super::validate;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::POST,
            path: "/institutions/{id}/api-keys",
            handler: post(create),
            doc: || {
                Op::new(
                    "api-keys",
                    "Create an API key; the token is returned once (5 per hour per caller)",
                )
                .description(
                    "409 `API key already created by an earlier attempt`: a retry under the same \
                     Idempotency-Key of a create whose answer was lost (503 `Commit outcome \
                     unknown`) but which did apply; the details name the key, whose token \
                     cannot be shown again.",
                )
                .body("NewApiKey")
                .idempotent()
                .response(201, "CreatedApiKey")
                .errors(&[400, 401, 403, 404, 409, 413, 415, 422, 429])
                .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/institutions/{id}/api-keys",
            handler: get(list),
            doc: || {
                Op::new("api-keys", "List an institution's active API keys")
                    .array_paginated()
                    .response_list(200, "ApiKey")
                    .errors(&[400, 401, 403, 404])
                    .build()
            },
        },
        Route {
            method: Method::POST,
            path: "/institutions/{id}/api-keys/{keyId}/revoke",
            handler: post(revoke),
            doc: || {
                Op::new(
                    "api-keys",
                    "Revoke an API key; its token stops working at once",
                )
                .idempotent()
                .response(200, "ApiKey")
                .errors(&[401, 403, 404, 422, 429])
                .build()
            },
        },
    ]
}

/// Root or an admin of the (visible) institution; read-only keys get `forbidden`.
async fn managed_institution(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    forbidden: &'static str,
) -> ApiResult<InstitutionId> {
    let id = visible_institution(caller, raw_id)?;
    if caller.auth.role == AuthRole::ReadOnly {
        return Err(ApiError::forbidden(forbidden));
    }
    state
        .store()
        .get_institution(&caller.auth.scope(), &id)
        .await?;
    Ok(id)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<JsonObject>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let forbidden = "Forbidden to create API keys for this institution";
    let institution_id = managed_institution(&state, &caller, &id, forbidden).await?;
    let new = validate::new_api_key(&body, institution_id)?;
    let scope = caller.auth.scope();
    let store = state.store();
    let institution = &new.institution_id;
    let get = |id: ApiKeyId| async move {
        let keys = store.list_api_keys(&scope, institution).await?;
        keys.into_iter()
            .find(|key| key.id == id)
            .ok_or_else(|| crate::Error::not_found(ApiKeyId::RESOURCE, id.as_str()))
    };
    if let Some(earlier) = committed(&caller, ApiKeyId::from_seed, get).await? {
        return Err(secret_lost(
            "API key already created by an earlier attempt",
            earlier.id.as_str(),
            "revoke that key and create another under a new Idempotency-Key",
        ));
    }
    let created_key = state
        .store()
        .create_api_key(&caller.auth.scope(), new, &caller.audit)
        .await?;
    let mut body = serde_json::to_value(&created_key.api_key).map_err(ApiError::internal)?;
    if let Some(object) = body.as_object_mut() {
        object.insert("apiKey".into(), Value::String(created_key.token));
    }
    Ok(created(body))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: QueryMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<ArrayPage<ApiKey>> {
    let forbidden = "Forbidden to list API keys for this institution";
    let institution_id = managed_institution(&state, &caller, &id, forbidden).await?;
    let paging = ArrayPaging::from_query(&query, &format!("api-keys:{institution_id}"), &[])?;
    let keys = state
        .store()
        .api_keys_page(&caller.auth.scope(), &institution_id, paging.page())
        .await?;
    Ok(paging.answer(&uri, keys))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<ApiKey>> {
    let forbidden = "Forbidden to revoke API keys for this institution";
    let institution_id = managed_institution(&state, &caller, &id, forbidden).await?;
    let key_id = ApiKeyId::parse(&key_id)
        .map_err(|_| ApiError::not_found("API key not found or already revoked"))?;
    let key = state
        .store()
        .revoke_api_key(
            &caller.auth.scope(),
            &institution_id,
            &key_id,
            &caller.audit,
        )
        .await?;
    Ok(Json(key))
}
