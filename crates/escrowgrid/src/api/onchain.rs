//! The on-chain ledger's API side: root lists and re-drives failed events; and
//! `ONCHAIN_FAILURE_MODE=fail`: a position write waits for its ledger event's on-chain
//! confirmation (the sender does the sending; the request only watches the record) and answers
//! an honest 5xx naming the committed position when it does not come.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use gridstore::{DeadLetterQueue, DlqFilter, DlqItem, DlqOutcome};
use serde_json::{Value, json};

use crate::domain::PositionId;
use crate::domain::time::format_millis;
use crate::onchain::{DLQ_JOB, OnchainStatus};
use crate::store::{Paginated, Scope, SortKey};

use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::QueryMap;
use super::openapi::Op;
use super::pagination::array::{ArrayPage, ArrayPaging};
use super::routes::Route;
use super::state::AppState;

/// How often the record is read while waiting.
const POLL: Duration = Duration::from_millis(25);

/// In `fail` mode, waits until the latest ledger event of `position` is confirmed (or
/// skipped); otherwise returns at once.
///
/// # Errors
///
/// [`ApiError::onchain_unconfirmed`] when it is still pending at the deadline or failed;
/// storage failures.
pub(super) async fn confirm_position_write(
    state: &AppState,
    position: &PositionId,
) -> ApiResult<()> {
    let Some((wait, records)) = state
        .onchain()
        .and_then(|onchain| Some((onchain.fail_wait?, &onchain.records)))
    else {
        return Ok(());
    };
    let events = state
        .store()
        .list_ledger_events(&Scope::Root, Some(position))
        .await?;
    let Some(latest) = events.last() else {
        return Ok(());
    };
    let deadline = Instant::now() + wait;
    loop {
        let view = records.view(&latest.id).await?;
        match view.status {
            OnchainStatus::Confirmed | OnchainStatus::Skipped => return Ok(()),
            OnchainStatus::Failed => {}
            OnchainStatus::Pending if Instant::now() < deadline => {
                tokio::time::sleep(POLL).await;
                continue;
            }
            OnchainStatus::Pending => {}
        }
        let onchain = serde_json::to_value(&view).unwrap_or_default();
        return Err(ApiError::onchain_unconfirmed(
            "position",
            position.as_str(),
            &onchain,
        ));
    }
}

/// `GET /ledger/onchain/failed` and `POST /ledger/onchain/failed/{id}/retry` (root only): the
/// events whose on-chain retries ran out, parked in the DLQ, and re-driving one (the sender
/// makes one more attempt).
pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "/ledger/onchain/failed",
            handler: get(list_failed),
            doc: || {
                Op::new(
                    "ledger",
                    "List ledger events whose on-chain retries ran out (root only)",
                )
                .array_paginated()
                .response_any(200, json!({"type": "array", "items": item_schema()}))
                .errors(&[400, 401, 403, 404])
                .build()
            },
        },
        Route {
            method: Method::POST,
            path: "/ledger/onchain/failed/{id}/retry",
            handler: post(retry_failed),
            doc: || {
                Op::new(
                    "ledger",
                    "Re-drive a failed on-chain event: the sender attempts it once more (root \
                     only)",
                )
                .response_any(202, item_schema())
                .errors(&[401, 403, 404])
                .build()
            },
        },
    ]
}

fn item_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string"},
            "error": {"type": "string"},
            "attempts": {"type": "integer"},
            "failedAt": {"type": "string"},
            "ledgerEventId": {"type": "string"},
            "positionId": {"type": "string"},
            "institutionId": {"type": "string"},
            "chainId": {"type": "integer"},
            "txHash": {"type": ["string", "null"]}
        }
    })
}

fn show(item: &DlqItem) -> Value {
    let field = |key: &str| item.payload.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "id": item.id,
        "status": item.status.as_str(),
        "error": item.error,
        "attempts": item.retry_count,
        "failedAt": format_millis(&item.failed_at),
        "ledgerEventId": field("ledgerEventId"),
        "positionId": field("positionId"),
        "institutionId": field("institutionId"),
        "chainId": field("chainId"),
        "txHash": field("txHash"),
    })
}

fn root_dlq<'a>(state: &'a AppState, caller: &Caller) -> ApiResult<&'a dyn DeadLetterQueue> {
    if !caller.auth.is_root() {
        return Err(ApiError::forbidden(
            "Forbidden: failed on-chain events are root-only",
        ));
    }
    state
        .onchain()
        .map(|onchain| onchain.dlq.as_ref())
        .ok_or_else(|| ApiError::not_found("On-chain ledger not enabled"))
}

async fn list_failed(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<ArrayPage<Value>> {
    let dlq = root_dlq(&state, &caller)?;
    let paging = ArrayPaging::from_query(&query, "onchain-failed", &[])?;
    let page = paging.page();
    let after_id = page.key().map(|key| match key {
        SortKey::Seq(id) => i64::try_from(*id).unwrap_or(i64::MAX),
        // Never the key of this list: nothing follows it.
        SortKey::Created { .. } => i64::MAX,
    });
    let filter = DlqFilter {
        job_id: Some(DLQ_JOB.to_owned()),
        after_id,
        limit: Some(usize::try_from(page.limit()).map_or(usize::MAX, |n| n.saturating_add(1))),
        ..DlqFilter::default()
    };
    let items = dlq.list(&filter).await.map_err(crate::Error::from)?;
    let id_of = |item: &DlqItem| SortKey::Seq(u64::try_from(item.id).unwrap_or_default());
    let items = Paginated::after_key(items, page.limit(), id_of);
    Ok(paging.answer(&uri, items.map(|item| show(&item))))
}

async fn retry_failed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let dlq = root_dlq(&state, &caller)?;
    let not_found = || ApiError::not_found("Failed on-chain event not found");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let item = dlq.get(id).await.map_err(crate::Error::from)?;
    if item.as_ref().is_none_or(|item| item.job_id != DLQ_JOB) {
        return Err(not_found());
    }
    let reopened = dlq
        .force_settle(
            id,
            DlqOutcome::Retried {
                error: "re-driven by root".to_owned(),
            },
        )
        .await
        .map_err(crate::Error::from)?;
    Ok((StatusCode::ACCEPTED, Json(show(&reopened))))
}
