//! `/institutions`: create (root only), list, get.
//!
//! Another tenant's institution answers 404 `Institution not found`, like an unknown id (the
//! original answered 403 `Forbidden to access this institution`).

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};

use crate::domain::{Institution, InstitutionId, JsonObject};

use super::caller::Caller;
use super::earlier_attempt::committed;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryMap};
use super::openapi::Op;
use super::pagination::array::{ArrayPage, ArrayPaging};
use super::routes::{Route, created};
use super::state::AppState;
use super::validate;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::POST,
            path: "/institutions",
            handler: post(create),
            doc: || {
                Op::new(
                    "institutions",
                    "Create an institution (root only; 10 per hour per caller)",
                )
                .body("NewInstitution")
                .idempotent()
                .response(201, "Institution")
                .errors(&[400, 401, 403, 413, 415, 422, 429])
                .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/institutions",
            handler: get(list),
            doc: || {
                Op::new(
                    "institutions",
                    "List institutions (root: all; keys: their own)",
                )
                .array_paginated()
                .response_list(200, "Institution")
                .errors(&[400, 401])
                .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/institutions/{id}",
            handler: get(fetch),
            doc: || {
                Op::new("institutions", "Get an institution")
                    .response(200, "Institution")
                    .errors(&[401, 404])
                    .build()
            },
        },
    ]
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<JsonObject>,
) -> ApiResult<(StatusCode, Json<Institution>)> {
    if !caller.auth.is_root() {
        return Err(
            ApiError::forbidden("Forbidden").with_details("Only root can create institutions")
        );
    }
    let new = validate::new_institution(&body)?;
    let scope = caller.auth.scope();
    let store = state.store();
    let get = |id| async move { store.get_institution(&scope, &id).await };
    if let Some(earlier) = committed(&caller, InstitutionId::from_seed, get).await? {
        return Ok(created(earlier));
    }
    let institution = state.store().create_institution(new, &caller.audit).await?;
    Ok(created(institution))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<ArrayPage<Institution>> {
    let paging = ArrayPaging::from_query(&query, "institutions", &[])?;
    let institutions = state
        .store()
        .institutions_page(&caller.auth.scope(), paging.page())
        .await?;
    Ok(paging.answer(&uri, institutions))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Institution>> {
    let id = visible_institution(&caller, &id)?;
    let institution = state
        .store()
        .get_institution(&caller.auth.scope(), &id)
        .await?;
    Ok(Json(institution))
}

/// Parses a path institution id the caller may see; anything else is 404
/// `Institution not found` (malformed, unknown and another tenant's ids look the same).
pub(super) fn visible_institution(caller: &Caller, raw: &str) -> ApiResult<InstitutionId> {
    InstitutionId::parse(raw)
        .ok()
        .filter(|id| caller.auth.can_see(id))
        .ok_or_else(|| ApiError::not_found("Institution not found"))
}
