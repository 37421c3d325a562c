//! `/positions`: create, list (paginated), get, transition.
//!
//! - Create: write access, body, acting institution, then the store (asset of the same
//!   institution: else 400 `Asset not found for institution`; its template: else 400
//!   `Asset template not found for asset`; the policy for the template's region and the
//!   template's own min/max: 400 with the policy strings). Position, ledger event and audit
//!   row are one transaction.
//! - Transition: the lifecycle table (400 `Failed to transition position` /
//!   `Invalid transition from X to Y`); a same-state request is 200 and writes nothing;
//!   concurrent transitions of one position apply one after the other (each sees the state the
//!   previous one left, on both backends); a store conflict (a stale expected version) is 409
//!   `Concurrent modification detected` and audited as `CONCURRENCY_CONFLICT`.
//! - Another tenant's position answers 404 `Position not found` (the original: 403).
//! - `GET /lifecycle` serves the state machine's table ([`crate::lifecycle::is_allowed`]) so
//!   clients offer only the transitions the server accepts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use serde_json::{Value, json};

use crate::domain::{
    AuditAction, JsonObject, LifecycleEventId, Position, PositionId, PositionState, ResourceType,
};
use crate::lifecycle;
use crate::store::PositionFilter;

use super::asset_templates::{any_filter, root_filter};
use super::auth::{Failure, record_failure};
use super::caller::Caller;
use super::earlier_attempt::committed;
use super::error::{ApiError, ApiResult, not_found_message};
use super::extract::{JsonBody, QueryMap};
use super::openapi::Op;
use super::pagination::{PageBody, Paging};
use super::routes::{Route, created};
use super::state::AppState;
use super::validate;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "/lifecycle",
            handler: get(lifecycle_table),
            doc: || {
                Op::new(
                    "positions",
                    "The position state machine: states and the transitions each allows",
                )
                .description(
                    "`transitions[state]` lists the states a position in `state` may move to \
                     (a same-state request is a no-op and is not listed).",
                )
                .response(200, "Lifecycle")
                .errors(&[401])
                .build()
            },
        },
        Route {
            method: Method::POST,
            path: "/positions",
            handler: post(create),
            doc: || {
                Op::new("positions", "Create an escrow position (state CREATED)")
                    .body("NewPosition")
                    .idempotent()
                    .response(201, "Position")
                    .errors(&[400, 401, 403, 413, 415, 422, 429])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/positions",
            handler: get(list),
            doc: || {
                Op::new("positions", "List positions with their lifecycle events")
                    .query(
                        "institutionId",
                        "string",
                        "Root only: filter by institution",
                    )
                    .query("assetId", "string", "Filter by asset")
                    .query(
                        "holderReference",
                        "string",
                        "Filter by holder reference (exact)",
                    )
                    .paginated()
                    .response_page(200, "Position")
                    .errors(&[400, 401])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/positions/{id}",
            handler: get(fetch),
            doc: || {
                Op::new("positions", "Get a position with its lifecycle events")
                    .response(200, "Position")
                    .errors(&[401, 404])
                    .build()
            },
        },
        Route {
            method: Method::POST,
            path: "/positions/{id}/transition",
            handler: post(transition),
            doc: || {
                Op::new("positions", "Move a position through its lifecycle")
                    .description(
                        "CREATED → FUNDED | CANCELLED | EXPIRED; FUNDED → PARTIALLY_RELEASED | \
                         RELEASED | CANCELLED | EXPIRED; PARTIALLY_RELEASED → RELEASED | \
                         CANCELLED | EXPIRED. A same-state request is 200 and changes nothing. \
                         A concurrent change is 409.",
                    )
                    .body("TransitionRequest")
                    .idempotent()
                    .response(200, "Position")
                    .errors(&[400, 401, 403, 404, 409, 413, 415, 422, 429])
                    .build()
            },
        },
    ]
}

async fn lifecycle_table() -> Json<Value> {
    Json(lifecycle_document())
}

/// The state machine as JSON (schema `Lifecycle`), computed from [`lifecycle::is_allowed`].
pub fn lifecycle_document() -> Value {
    let mut transitions = serde_json::Map::new();
    for from in PositionState::ALL {
        let allowed: Vec<&str> = PositionState::ALL
            .iter()
            .filter(|to| *to != from && lifecycle::is_allowed(*from, **to))
            .map(|to| to.as_str())
            .collect();
        transitions.insert(from.as_str().to_owned(), json!(allowed));
    }
    let terminal: Vec<&str> = PositionState::ALL
        .iter()
        .filter(|state| lifecycle::is_terminal(**state))
        .map(|state| state.as_str())
        .collect();
    json!({
        "states": PositionState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "initial": PositionState::Created.as_str(),
        "terminal": terminal,
        "transitions": transitions,
    })
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<JsonObject>,
) -> ApiResult<(StatusCode, Json<Position>)> {
    caller.auth.require_write()?;
    let draft = validate::new_position(&body)?;
    let mut new = draft.input;
    new.institution_id = caller.acting_institution(
        draft.institution_id.as_deref(),
        "Cannot create positions for a different institution",
    )?;
    let scope = caller.auth.scope();
    let store = state.store();
    let get = |id| async move { store.get_position(&scope, &id).await };
    if let Some(earlier) = committed(&caller, PositionId::from_seed, get).await? {
        return Ok(created(earlier));
    }
    let position = state
        .store()
        .create_position(&caller.auth.scope(), new, &caller.audit)
        .await
        .map_err(create_failed)?;
    super::onchain::confirm_position_write(&state, &position.id).await?;
    Ok(created(position))
}

fn create_failed(err: crate::Error) -> ApiError {
    match err {
        crate::Error::NotFound { resource, .. } => match resource {
            "asset" => ApiError::bad_request("Asset not found for institution"),
            "asset template" => ApiError::bad_request("Asset template not found for asset"),
            other => ApiError::bad_request("Failed to create position")
                .with_details(not_found_message(other)),
        }
        .store_kind("not_found"),
        other => ApiError::from(other),
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
) -> ApiResult<Json<PageBody<Position>>> {
    let paging = Paging::from_query(
        &query,
        "positions",
        &["institutionId", "assetId", "holderReference"],
    )?;
    let filter = PositionFilter {
        institution_id: root_filter(&caller, query.get("institutionId")),
        asset_id: any_filter(query.get("assetId")),
        holder_reference: query.get("holderReference").map(str::to_owned),
    };
    let result = state
        .store()
        .list_positions(&caller.auth.scope(), &filter, paging.page())
        .await?;
    Ok(Json(paging.body(result)))
}

fn parse_position_id(raw: &str) -> ApiResult<PositionId> {
    PositionId::parse(raw).map_err(|_| ApiError::not_found("Position not found"))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_position_id(&id)?;
    // Shared: serialized in place (the memory store builds it from its compact row).
    let position = state
        .store()
        .get_position_shared(&caller.auth.scope(), &id)
        .await?;
    Ok(Json(&*position).into_response())
}

async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<JsonObject>,
) -> ApiResult<Json<Position>> {
    caller.auth.require_write()?;
    let request = validate::transition(&body)?;
    let id = parse_position_id(&id)?;
    // A retry whose earlier attempt applied the transition (its lifecycle event, with the id
    // the request's seed derives, is there) answers 200 with the position as it is now, even
    // when another writer has moved it on since (a 400 from the new state otherwise).
    let scope = caller.auth.scope();
    let store = state.store();
    let position_id = &id;
    let get = |event: LifecycleEventId| async move {
        let position = store.get_position(&scope, position_id).await?;
        if position.events.iter().any(|applied| applied.id == event) {
            Ok(position)
        } else {
            Err(crate::Error::not_found(
                LifecycleEventId::RESOURCE,
                event.into_string(),
            ))
        }
    };
    if let Some(earlier) = committed(&caller, LifecycleEventId::from_seed, get).await? {
        return Ok(Json(earlier));
    }
    match state
        .store()
        .transition_position(&caller.auth.scope(), &id, request, &caller.audit)
        .await
    {
        Ok(position) => {
            super::onchain::confirm_position_write(&state, &position.id).await?;
            Ok(Json(position))
        }
        Err(conflict @ crate::Error::Conflict { .. }) => {
            let details = conflict.conflict_details().unwrap_or_default();
            let error = ApiError::from(conflict);
            let failure = Failure {
                action: AuditAction::ConcurrencyConflict,
                code: "CONCURRENCY_CONFLICT",
                message: &details,
                status: error.status().as_u16(),
                resource: Some((ResourceType::Position, id.as_str().to_owned())),
            };
            record_failure(&state, &caller.audit, failure).await;
            Err(error)
        }
        Err(other) => Err(other.into()),
    }
}
