//! `GET /metrics` (JSON) and `GET /metrics/prometheus` (text), root only.
//!
//! With `METRICS_ENABLED=false` both answer 404 before the role is checked: JSON
//! `Metrics disabled by configuration`, and for the Prometheus endpoint the original's
//! `text/plain` body `# metrics disabled` (kept as is because scrapers read text there).

mod recorder;
mod snapshot;
mod stream;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

pub use recorder::AppMetrics;
pub use stream::StreamMetrics;

use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::openapi::Op;
use super::routes::Route;
use super::state::AppState;

const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "/metrics",
            handler: get(metrics_json),
            doc: || {
                Op::new("metrics", "Request counters (root only)")
                    .response(200, "Metrics")
                    .errors(&[401, 403, 404])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/metrics/prometheus",
            handler: get(metrics_prometheus),
            doc: || {
                Op::new(
                    "metrics",
                    "Prometheus text exposition: this instance's taas_* series (requests, \
                     per-route latency histograms, pool gauges, store errors by kind, event \
                     stream, webhooks) and the process's gridstore_* series (root only)",
                )
                .text(200)
                .text(404)
                .errors(&[401, 403])
                .build()
            },
        },
    ]
}

fn require_root(caller: &Caller) -> ApiResult<()> {
    if caller.auth.is_root() {
        Ok(())
    } else {
        Err(ApiError::forbidden("Forbidden: metrics are root-only"))
    }
}

async fn metrics_json(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    if !state.settings().metrics_enabled {
        return Err(ApiError::not_found("Metrics disabled by configuration"));
    }
    require_root(&caller)?;
    Ok(Json(state.metrics().snapshot_json()))
}

async fn metrics_prometheus(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    if !state.settings().metrics_enabled {
        let mut response = (StatusCode::NOT_FOUND, "# metrics disabled\n").into_response();
        response
            .extensions_mut()
            .insert(super::middleware::DeliberatelyNotJson);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Ok(response);
    }
    require_root(&caller)?;
    let webhooks = state
        .webhooks()
        .map(crate::webhooks::WebhookService::metrics);
    if let Some(ways) = state.store().transition_ways() {
        state.metrics().set_transition_ways(ways);
    }
    let body = state
        .metrics()
        .render_prometheus(state.store().pool_status(), webhooks);
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
    );
    Ok(response)
}
