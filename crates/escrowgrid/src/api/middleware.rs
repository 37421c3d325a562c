//! The two middleware functions of the API.
//!
//! - [`frame`] wraps the whole application once: request id, JSON bodies for framework errors
//!   (tower-http's timeout answer included), security headers, `X-Request-Id`, one log event
//!   and the metrics of the request. It sits outside CORS, so preflight answers get a request
//!   id too, and outside auth, so 401/403 answers are counted (the original missed them).
//!   It runs inside the `request` span ([`request_span`], opened by tower-http's `TraceLayer`)
//!   and fills in its request id, route and status.
//!
//! The request id stays hand-written ([`super::request_id`]): tower-http's `SetRequestId`
//! keeps any incoming `X-Request-Id` as is, while ours trims it, accepts only 1..=128 visible
//! ASCII characters (nothing can be injected into logs or the audit trail) and falls back to
//! `X-Correlation-Id`.
//! - [`gate`] runs inside routing, around every route and the fallback: authentication, rate
//!   limits, idempotency; it also hands the matched route template to [`frame`] (in the
//!   response extensions) for the per-route metrics and logs.
//!
//! Few, flat layers keep the per-request cost low: every layer of a tower stack is cloned on
//! each call.

use std::time::Instant;

use tracing::Span;
use tracing::field::Empty;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorReport, StoreErrorKind};
use super::request_id::{RequestId, X_REQUEST_ID, request_id_for};
use super::state::AppState;
use super::{auth, idempotency, rate_limit};

const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("x-xss-protection", "0"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// The span of one request (tower-http's `TraceLayer`): method and path now, request id,
/// route template and status recorded by [`frame`]. Never headers, bodies or keys.
pub fn request_span<B>(req: &axum::http::Request<B>) -> Span {
    tracing::info_span!(
        "request",
        method = metric_method(req.method()),
        path = req.uri().path(),
        request_id = Empty,
        route = Empty,
        status = Empty,
    )
}

/// Outer middleware, see the module docs.
pub async fn frame(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_for(req.headers());
    Span::current().record("request_id", request_id.as_str());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = metric_method(req.method());
    // OPTIONS on a path no route serves answers like any other method there (JSON 404), not
    // with the CORS layer's 200.
    let unknown_options =
        req.method() == Method::OPTIONS && !super::routes::is_known_path(req.uri().path());
    let response = if unknown_options {
        ApiError::route_not_found().into_response()
    } else {
        json_framework_errors(next.run(req).await).await
    };
    let mut response = response;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    record(&state, &request_id, method, &response, started);
    response
}

/// The method label of metrics and logs; non-standard methods share one label so that
/// clients cannot grow the label set without bound.
fn metric_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Per-route middleware, see the module docs.
pub async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut response = match auth::authenticate(&state, req).await {
        Err(rejection) => rejection,
        Ok(req) => match rate_limit::enforce(&state, req).await {
            Err(rejection) => rejection,
            Ok(req) => idempotency::handle(&state, req, next).await,
        },
    };
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Marks a non-JSON error response a handler produces on purpose (the Prometheus endpoint's
/// text 404, read by scrapers), which [`frame`] then leaves alone.
#[derive(Debug, Clone, Copy)]
pub struct DeliberatelyNotJson;

/// The longest framework rejection text kept as `details`.
const MAX_REJECTION_TEXT: usize = 512;

/// Gives framework-generated error responses the API's JSON error body, keeping their headers
/// (`Allow`, ...): those without a `Content-Type` (axum's 405, hyper's), and axum's extractor
/// rejections in `text/plain` (e.g. a path segment that is not UTF-8, `/positions/%FF`),
/// whose text becomes `details`.
async fn json_framework_errors(response: Response) -> Response {
    let status = response.status();
    if status.as_u16() < 400
        || is_json(response.headers())
        || response.extensions().get::<DeliberatelyNotJson>().is_some()
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_REJECTION_TEXT)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .filter(|text| !text.trim().is_empty());
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let replacement = match status {
        StatusCode::NOT_FOUND => ApiError::route_not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(),
        // tower-http's TimeoutLayer answers an empty 503 (and 408 is a timeout too).
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => ApiError::timed_out(),
        other if other.is_server_error() => {
            ApiError::internal(format!("framework answered {other}"))
        }
        other => {
            let error = ApiError::bad_request(other.canonical_reason().unwrap_or("Bad request"));
            match text {
                Some(text) => error.with_details(text),
                None => error,
            }
        }
    }
    .into_response();
    let (new_parts, body) = replacement.into_parts();
    parts.headers.extend(new_parts.headers);
    parts.extensions.extend(new_parts.extensions);
    let mut response = Response::from_parts(parts, body);
    *response.status_mut() = status;
    response
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// One metrics update and one structured log event (request id, method, route template,
/// status, latency; never headers, bodies or keys). A 5xx cause ([`ErrorReport`]) is logged
/// here with the request id.
fn record(
    state: &AppState,
    request_id: &str,
    method: &'static str,
    response: &Response,
    started: Instant,
) {
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let span = Span::current();
    span.record("route", route);
    span.record("status", status);
    let metrics = state.metrics();
    metrics.record_request(method, route, status, elapsed);
    if let Some(StoreErrorKind(kind)) = response.extensions().get::<StoreErrorKind>() {
        metrics.record_store_error(kind);
    }
    match response.extensions().get::<ErrorReport>() {
        Some(ErrorReport(cause)) => tracing::error!(
            request_id, method, route, status, latency_ms, error = %cause, "request failed"
        ),
        None => tracing::info!(request_id, method, route, status, latency_ms, "request"),
    }
}
