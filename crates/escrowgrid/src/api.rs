//! The EscrowGrid HTTP API: an axum [`Router`] over an [`EscrowStore`](crate::store::EscrowStore).
//!
//! The observable contract of the original TypeScript service is kept (paths, status codes,
//! `error` strings, camelCase fields, id prefixes, `X-API-KEY` / Bearer, `X-Request-Id`, the
//! `{data, pagination}` envelope, 429 bodies with `Retry-After`, the `taas_*` series), with its
//! known defects fixed:
//!
//! - every error is JSON, including malformed JSON (400), unknown routes (404), wrong methods
//!   (405) and bodies over the limit (413); validation lists every bad field;
//! - another tenant's ids answer 404 exactly like ids that do not exist (the original's 403
//!   told callers the id existed);
//! - the root key is compared in constant time and `X-Forwarded-For` is only trusted with
//!   `TRUST_PROXY`;
//! - the API-key-creation limiter is keyed by the caller, not by the target institution;
//! - every `POST` honours `Idempotency-Key`.
//!
//! Layers, outermost first: tower-http's `TraceLayer` (the `request` span every log event and
//! store / SQL span of the request nests under) → [`middleware::frame`] (request id, JSON
//! framework errors, security headers, the request's log event, metrics) → [`shed`] (503 over
//! the in-flight cap) → tower-http's `TimeoutLayer` (503, turned into the JSON "Request timed
//! out" by `frame`) → CORS → body limit → routing → [`middleware::gate`] (auth, rate limits,
//! idempotency) → route. The static [`console`] routes skip the gate.
//!
//! | module | what |
//! |---|---|
//! | [`state`] | [`AppState`], [`ApiSettings`], [`RateLimitSettings`] |
//! | [`routes`] | the single route table (router + OpenAPI) |
//! | [`error`] | [`ApiError`]: the one error → response mapping |
//! | [`extract`] | JSON body and query extractors with JSON rejections |
//! | [`auth`] | authentication, [`AuthContext`], failure audit rows |
//! | [`caller`] | the `Caller` extractor and the acting-institution rule |
//! | [`client_ip`] | the client address (`ConnectInfo`, `X-Forwarded-For` with `TRUST_PROXY`) |
//! | [`rate_limit`] | general and sensitive-operation limiters |
//! | [`idempotency`] | `Idempotency-Key` replay on every `POST` |
//! | [`earlier_attempt`] | a seeded create's retry finds what the earlier attempt committed |
//! | `onchain` | on-chain ledger routes and `ONCHAIN_FAILURE_MODE=fail` waiting |
//! | [`request_id`] | `X-Request-Id` |
//! | [`shed`] | load shedding: a cap on requests in flight, 503 with `Retry-After` over it |
//! | [`middleware`] | the outer `frame` and the per-route `gate` |
//! | [`console`] | the embedded browser console under `/console` (outside the gate) |
//! | [`pagination`] | `limit`/`offset` and the list envelope |
//! | [`validate`] | raw JSON bodies → validated domain inputs, every bad field listed |
//! | resources | [`health`], [`institutions`], [`api_keys`], [`policies`], [`asset_templates`], [`assets`], [`positions`], [`ledger`], [`audit`], [`events`] (live stream), [`webhooks`], [`me`], [`metrics`], [`openapi`] |

pub mod api_keys;
pub mod asset_templates;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod client_ip;
pub mod console;
pub mod earlier_attempt;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod institutions;
pub mod ledger;
pub mod me;
pub mod metrics;
pub mod middleware;
mod onchain;
pub mod openapi;
pub mod pagination;
pub mod policies;
pub mod positions;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod shed;
pub mod state;
pub mod validate;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::from_fn_with_state;
use tower::ServiceBuilder;
use tower::util::option_layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{AuthContext, AuthRole};
pub use error::{ApiError, ApiResult};
pub use state::{ApiSettings, AppState, RateLimitSettings};

/// Origins allowed when `CORS_ALLOWED_ORIGINS` is unset outside production (as the original).
const DEV_ORIGINS: [&str; 5] = [
    "http://localhost:3000",
    "http://localhost:4000",
    "http://localhost:5173",
    "http://localhost:5174",
    "http://localhost:8080",
];

/// The complete application: every route with every middleware layer.
pub fn router(state: AppState) -> Router {
    let settings = state.settings().clone();
    let routes = routes::build()
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), middleware::gate))
        .merge(console::router())
        .with_state(state.clone());
    let in_flight = shed::InFlight::new(settings.max_in_flight_requests);
    // TraceLayer only opens the span: the one log event per request stays in `frame`, which
    // knows the route template, the request id and a 5xx cause (tower-http's `on_response` /
    // `on_failure` see none of them), so those callbacks are off.
    let trace = TraceLayer::new_for_http()
        .make_span_with(middleware::request_span)
        .on_request(())
        .on_response(())
        .on_failure(())
        .on_eos(());
    let app = ServiceBuilder::new()
        .layer(trace)
        .layer(from_fn_with_state(state, middleware::frame))
        .layer(from_fn_with_state(in_flight, shed::shed))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(option_layer(cors_layer(&settings)))
        .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
        .service(routes);
    Router::new().fallback_service(app)
}

async fn not_found() -> ApiError {
    ApiError::route_not_found()
}

/// CORS per the original: explicit origins, else the localhost origins outside production,
/// else no CORS layer at all.
fn cors_layer(settings: &ApiSettings) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = match &settings.cors_allowed_origins {
        Some(origins) => origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin.trim()).ok())
            .collect(),
        None if settings.production => return None,
        None => DEV_ORIGINS
            .iter()
            .map(|origin| HeaderValue::from_static(origin))
            .collect(),
    };
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("idempotency-replayed"),
                header::RETRY_AFTER,
                header::LINK,
            ]),
    )
}
