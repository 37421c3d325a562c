//! Cross-cutting middleware: security headers, timeout, JSON bodies for framework errors,
//! request logging and request metrics.
//!
//! Layer order, outermost first (see [`super::router`]): request id, request logging +
//! metrics, security headers, CORS, JSON framework errors, timeout, body limit, auth, rate
//! limits, idempotency, the route. Logging and metrics sit outside auth, so 401/403 answers
//! are counted too (the original missed them).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorReport, StoreErrorKind};
use super::request_id::RequestId;
use super::state::AppState;

/// Middleware: adds the original's default security headers to every response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-xss-protection", "0"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// Middleware: answers 503 `Request timed out` when the inner service takes too long.
pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.settings().request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::timed_out().into_response(),
    }
}

/// Middleware: gives framework-generated error responses (no `Content-Type`, e.g. axum's 405
/// or a body-limit 413) the API's JSON error body, keeping their headers (`Allow`, ...).
pub async fn json_framework_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if status.as_u16() < 400 || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let replacement = match status {
        StatusCode::NOT_FOUND => ApiError::route_not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(),
        StatusCode::REQUEST_TIMEOUT => ApiError::timed_out(),
        other if other.is_server_error() => {
            ApiError::internal(format!("framework answered {other}"))
        }
        other => ApiError::bad_request(other.canonical_reason().unwrap_or("Bad request")),
    }
    .into_response();
    let (new_parts, body) = replacement.into_parts();
    parts.headers.extend(new_parts.headers);
    parts.extensions.extend(new_parts.extensions);
    let mut response = Response::from_parts(parts, body);
    *response.status_mut() = status;
    response
}

/// Middleware: one structured log event and one metrics update per request.
///
/// Logs the request id, method, route template, status and latency; never headers, bodies or
/// keys. A 5xx answer's internal cause ([`ErrorReport`]) is logged here with the request id.
pub async fn log_and_measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    state
        .metrics()
        .record_request(&method, &route, status, elapsed);
    if let Some(StoreErrorKind(kind)) = response.extensions().get::<StoreErrorKind>() {
        state.metrics().record_store_error(kind);
    }
    match response.extensions().get::<ErrorReport>() {
        Some(ErrorReport(cause)) => tracing::error!(
            request_id = %request_id, method = %method, route = %route, status, latency_ms,
            error = %cause, "request failed"
        ),
        None => tracing::info!(
            request_id = %request_id, method = %method, route = %route, status, latency_ms,
            "request"
        ),
    }
    response
}
