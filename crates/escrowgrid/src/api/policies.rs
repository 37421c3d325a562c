//! `/institutions/{id}/policies[/{region}]`: list, get, upsert (`PUT`, root or admin).
//!
//! Check order as in the original: access, region (400 `Invalid region`), institution (404),
//! then policy (404) or body. Another tenant's institution is 404 `Institution not found`.
//! Upserts are audited as `POLICY_UPDATED` (the original never recorded it).

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::Method;
use axum::routing::get;

use crate::domain::{InstitutionId, InstitutionPolicy, JsonObject, Region};

use super::auth::AuthRole;
use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryMap};
use super::institutions::visible_institution;
use super::openapi::Op;
use super::pagination::array::{ArrayPage, ArrayPaging};
use super::routes::Route;
use super::state::AppState;
use super::validate;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "/institutions/{id}/policies",
            handler: get(list),
            doc: || {
                Op::new("policies", "List an institution's policies")
                    .array_paginated()
                    .response_list(200, "InstitutionPolicy")
                    .errors(&[400, 401, 404])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/institutions/{id}/policies/{region}",
            handler: get(fetch),
            doc: || {
                Op::new("policies", "Get an institution's policy for a region")
                    .response(200, "InstitutionPolicy")
                    .errors(&[400, 401, 404])
                    .build()
            },
        },
        Route {
            method: Method::PUT,
            path: "/institutions/{id}/policies/{region}",
            handler: axum::routing::put(upsert),
            doc: || {
                Op::new(
                    "policies",
                    "Create or replace (whole `position` config) the policy for a region",
                )
                .body("PolicyUpsert")
                .response(200, "InstitutionPolicy")
                .errors(&[400, 401, 403, 404, 413, 415])
                .build()
            },
        },
    ]
}

fn parse_region(raw: &str) -> ApiResult<Region> {
    raw.parse()
        .map_err(|_| ApiError::bad_request("Invalid region"))
}

async fn existing_institution(
    state: &AppState,
    caller: &Caller,
    id: InstitutionId,
) -> ApiResult<InstitutionId> {
    state
        .store()
        .get_institution(&caller.auth.scope(), &id)
        .await?;
    Ok(id)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: QueryMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<ArrayPage<InstitutionPolicy>> {
    let id = visible_institution(&caller, &id)?;
    let paging = ArrayPaging::from_query(&query, &format!("policies:{id}"), &[])?;
    let policies = state
        .store()
        .policies_page(&caller.auth.scope(), &id, paging.page())
        .await?;
    Ok(paging.answer(&uri, policies))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, region)): Path<(String, String)>,
) -> ApiResult<Json<InstitutionPolicy>> {
    let id = visible_institution(&caller, &id)?;
    let region = parse_region(&region)?;
    let id = existing_institution(&state, &caller, id).await?;
    let policy = state
        .store()
        .get_policy(&caller.auth.scope(), &id, region)
        .await?;
    Ok(Json(policy))
}

async fn upsert(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, region)): Path<(String, String)>,
    JsonBody(body): JsonBody<JsonObject>,
) -> ApiResult<Json<InstitutionPolicy>> {
    let id = visible_institution(&caller, &id)?;
    if caller.auth.role == AuthRole::ReadOnly {
        return Err(ApiError::forbidden(
            "Forbidden to modify policies for this institution",
        ));
    }
    let region = parse_region(&region)?;
    let id = existing_institution(&state, &caller, id).await?;
    let position = validate::policy(&body)?;
    let policy = state
        .store()
        .upsert_policy(&caller.auth.scope(), &id, region, position, &caller.audit)
        .await?;
    Ok(Json(policy))
}
