//! `GET /health` (liveness) and `GET /ready` (the store answers), both public.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::openapi::Op;
use super::routes::Route;
use super::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "/health",
            handler: get(health),
            doc: || {
                Op::new("health", "Liveness probe")
                    .public()
                    .response(200, "Health")
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/ready",
            handler: get(ready),
            doc: || {
                Op::new(
                    "health",
                    "Readiness probe: checks the store (and its database)",
                )
                .public()
                .response(200, "Ready")
                .response(503, "Ready")
                .build()
            },
        },
    ]
}

/// Liveness; with the on-chain ledger enabled also `onchain: {ok, error?}`: `ok` is false when
/// this instance's sender refuses to send (e.g. a chain id mismatch), and `error` says why.
async fn health(State(state): State<AppState>) -> Json<Value> {
    let mut body = json!({
        "status": "ok",
        "service": "taas-platform",
        "storeBackend": state.settings().store_backend,
    });
    if let Some(onchain) = state.onchain() {
        body["onchain"] = match onchain.sender.problem() {
            None => json!({"ok": true}),
            Some(problem) => json!({"ok": false, "error": problem}),
        };
    }
    Json(body)
}

/// 200 when the store answers, else 503 with a fixed, non-revealing message.
async fn ready(State(state): State<AppState>) -> Response {
    let backend = state.settings().store_backend.clone();
    let has_db = backend == "postgres";
    match state.store().health().await {
        Ok(()) if has_db => {
            Json(json!({ "ok": true, "storeBackend": backend, "db": { "ok": true } }))
                .into_response()
        }
        Ok(()) => Json(json!({ "ok": true, "storeBackend": backend })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            let body = json!({
                "ok": false,
                "storeBackend": backend,
                "db": { "ok": false, "error": "database unavailable" },
            });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
