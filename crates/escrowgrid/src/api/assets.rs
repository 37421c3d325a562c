//! `/assets`: create, list (paginated, by institution and template), get.
//!
//! Another tenant's asset answers 404 `Asset not found` (the original: 403).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};

use crate::domain::{Asset, AssetId, JsonObject};
use crate::store::AssetFilter;

use super::asset_templates::{any_filter, root_filter};
use super::caller::Caller;
use super::earlier_attempt::committed;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryMap};
use super::openapi::Op;
use super::pagination::{PageBody, Paging};
use super::routes::{Route, created};
use super::state::AppState;
use super::validate;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::POST,
            path: "/assets",
            handler: post(create),
            doc: || {
                Op::new(
                    "assets",
                    "Create an asset on a template of the same institution",
                )
                .body("NewAsset")
                .idempotent()
                .response(201, "Asset")
                .errors(&[400, 401, 403, 413, 415, 422, 429])
                .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/assets",
            handler: get(list),
            doc: || {
                Op::new("assets", "List assets")
                    .query(
                        "institutionId",
                        "string",
                        "Root only: filter by institution",
                    )
                    .query("templateId", "string", "Filter by template")
                    .paginated()
                    .response_page(200, "Asset")
                    .errors(&[400, 401])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/assets/{id}",
            handler: get(fetch),
            doc: || {
                Op::new("assets", "Get an asset")
                    .response(200, "Asset")
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
) -> ApiResult<(StatusCode, Json<Asset>)> {
    caller.auth.require_write()?;
    let draft = validate::new_asset(&body)?;
    let mut new = draft.input;
    new.institution_id = caller.acting_institution(
        draft.institution_id.as_deref(),
        "Cannot create assets for a different institution",
    )?;
    let scope = caller.auth.scope();
    let store = state.store();
    let get = |id| async move { store.get_asset(&scope, &id).await };
    if let Some(earlier) = committed(&caller, AssetId::from_seed, get).await? {
        return Ok(created(earlier));
    }
    let asset = state
        .store()
        .create_asset(&caller.auth.scope(), new, &caller.audit)
        .await
        .map_err(ApiError::create_failed("Failed to create asset"))?;
    Ok(created(asset))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
) -> ApiResult<Json<PageBody<Asset>>> {
    let paging = Paging::from_query(&query, "assets", &["institutionId", "templateId"])?;
    let filter = AssetFilter {
        institution_id: root_filter(&caller, query.get("institutionId")),
        template_id: any_filter(query.get("templateId")),
    };
    let result = state
        .store()
        .list_assets(&caller.auth.scope(), &filter, paging.page())
        .await?;
    Ok(Json(paging.body(result)))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Asset>> {
    let id = AssetId::parse(&id).map_err(|_| ApiError::not_found("Asset not found"))?;
    let asset = state.store().get_asset(&caller.auth.scope(), &id).await?;
    Ok(Json(asset))
}
