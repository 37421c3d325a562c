//! `GET /ledger-events[?positionId=]`: the immutable ledger, in write order: all of it as in
//! the original, or keyset pages with `limit`/`cursor` (see [`super::pagination::array`]).
//!
//! Without `positionId` root gets every event and other keys 400
//! `positionId is required for non-root ledger queries`. Another tenant's position answers 404
//! `Position not found` (the original: 403).
//!
//! `GET /ledger/verify[?institutionId=]`: recomputes the hash chains (see `docs/LEDGER.md`)
//! and answers a [`Verification`] (checkpoints too when root verifies the whole ledger).
//!
//! `GET /ledger/checkpoints`: the ledger checkpoints, root only (they cover every institution).
//! The checkpoint rows are read as stored; `GET /ledger/verify` recomputes them. Root verifies every chain or one institution's; other keys
//! (admin and read-only) their own institution's.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::Method;
use axum::routing::get;

use crate::domain::{InstitutionId, LedgerEvent, PositionId};
use crate::ledger::{Checkpoint, Verification, verify_store};
use crate::onchain::OnchainView;
use crate::store::Scope;

use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::QueryMap;
use super::openapi::Op;
use super::pagination::array::{ArrayPage, ArrayPaging};
use super::routes::Route;
use super::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "/ledger-events",
            handler: get(list),
            doc: || {
                Op::new(
                    "ledger",
                    "List ledger events (of one position, or all for root)",
                )
                .query("positionId", "string", "Required for non-root keys")
                .array_paginated()
                .response_list(200, "LedgerEvent")
                .errors(&[400, 401, 404])
                .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/ledger/verify",
            handler: get(verify_chains),
            doc: || {
                Op::new("ledger", "Verify the ledger's hash chains")
                    .description(
                        "Recomputes every event's hash and follows every position's chain in \
                         write order, and for root's whole ledger every checkpoint; answers ok \
                         or the first event that breaks and why (edited, deleted, inserted, \
                         reordered) and the first checkpoint that breaks. Root: everything, or \
                         one institution's chains with institutionId; other keys: their own \
                         institution's chains.",
                    )
                    .query(
                        "institutionId",
                        "string",
                        "Root only: verify one institution",
                    )
                    .response(200, "LedgerVerification")
                    .errors(&[401])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/ledger/checkpoints",
            handler: get(checkpoints),
            doc: || {
                Op::new("ledger", "List ledger checkpoints (root only)")
                    .response_list(200, "LedgerCheckpoint")
                    .errors(&[401, 403])
                    .build()
            },
        },
    ]
}

async fn checkpoints(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Checkpoint>>> {
    if !caller.auth.is_root() {
        return Err(ApiError::forbidden(
            "Forbidden: ledger checkpoints are root-only",
        ));
    }
    let mut taken = state
        .store()
        .ledger_checkpoints_after(0, usize::MAX)
        .await?;
    if let Some(onchain) = state.onchain() {
        for checkpoint in &mut taken {
            let key = crate::onchain::record::checkpoint_key(checkpoint.number);
            let view = onchain.records.view_key(&key).await?;
            checkpoint.onchain = serde_json::to_value(view).ok();
        }
    }
    Ok(Json(taken))
}

async fn verify_chains(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
) -> ApiResult<Json<Verification>> {
    let scope = match query.get("institutionId").filter(|raw| !raw.is_empty()) {
        Some(raw) if caller.auth.is_root() => {
            Scope::Institution(raw.parse::<InstitutionId>().unwrap_or_default())
        }
        _ => caller.auth.scope(),
    };
    Ok(Json(verify_store(state.store(), &scope, |_, _| {}).await?))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<ArrayPage<LedgerEventView>> {
    let position_id = match query.get("positionId").filter(|raw| !raw.is_empty()) {
        Some(raw) => {
            Some(PositionId::parse(raw).map_err(|_| ApiError::not_found("Position not found"))?)
        }
        None if caller.auth.is_root() => None,
        None => {
            return Err(ApiError::bad_request(
                "positionId is required for non-root ledger queries",
            ));
        }
    };
    let paging = ArrayPaging::from_query(&query, "ledger-events", &["positionId"])?;
    let events = state
        .store()
        .ledger_events_page(&caller.auth.scope(), position_id.as_ref(), paging.page())
        .await?;
    let page = paging.answer(&uri, events);
    let Some(onchain) = state.onchain() else {
        return Ok(page.map(|event| LedgerEventView {
            event,
            onchain: None,
        }));
    };
    // Every event's record of the page in one KV call.
    let ids: Vec<_> = page.items().iter().map(|event| event.id.clone()).collect();
    let mut views = onchain.records.views(&ids).await?.into_iter();
    Ok(page.map(|event| LedgerEventView {
        event,
        onchain: views.next(),
    }))
}

/// A ledger event as the API shows it: with `onchain: {status, txHash, blockNumber, chainId}`
/// when the on-chain ledger is enabled.
#[derive(Debug, serde::Serialize)]
pub(super) struct LedgerEventView {
    #[serde(flatten)]
    event: LedgerEvent,
    #[serde(skip_serializing_if = "Option::is_none")]
    onchain: Option<OnchainView>,
}
