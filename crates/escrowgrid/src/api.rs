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
//! Layers, outermost first: request id → logging + metrics → security headers → CORS → JSON
//! framework errors → timeout → body limit → auth → rate limits → idempotency → route.
//!
//! | module | what |
//! |---|---|
//! | [`state`] | [`AppState`], [`ApiSettings`], [`RateLimitSettings`] |
//! | [`routes`] | the single route table (router + OpenAPI) |
//! | [`error`] | [`ApiError`]: the one error → response mapping |
//! | [`extract`] | JSON body and query extractors with JSON rejections |
//! | [`auth`] | authentication, [`AuthContext`], the `Caller` extractor |
//! | [`client_ip`] | the client address (`ConnectInfo`, `X-Forwarded-For` with `TRUST_PROXY`) |
//! | [`rate_limit`] | general and sensitive-operation limiters |
//! | [`idempotency`] | `Idempotency-Key` replay on every `POST` |
//! | [`request_id`] | `X-Request-Id` |
//! | [`middleware`] | security headers, timeout, logging, JSON framework errors |
//! | [`pagination`] | `limit`/`offset` and the list envelope |
//! | [`validate`] | raw JSON bodies → validated domain inputs, every bad field listed |
//! | resources | [`health`], [`institutions`], [`api_keys`], [`policies`], [`asset_templates`], [`assets`], [`positions`], [`ledger`], [`audit`], [`metrics`], [`openapi`] |

pub mod api_keys;
pub mod asset_templates;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod client_ip;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod institutions;
pub mod ledger;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod policies;
pub mod positions;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod state;
pub mod validate;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{from_fn, from_fn_with_state};
use tower::util::option_layer;
use tower_http::cors::{AllowOrigin, CorsLayer};

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
    routes::build()
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), idempotency::handle))
        .layer(from_fn_with_state(state.clone(), rate_limit::enforce))
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
        .layer(from_fn_with_state(state.clone(), middleware::timeout))
        .layer(from_fn(middleware::json_framework_errors))
        .layer(option_layer(cors_layer(&settings)))
        .layer(from_fn(middleware::security_headers))
        .layer(from_fn_with_state(
            state.clone(),
            middleware::log_and_measure,
        ))
        .layer(from_fn(request_id::assign_request_id))
        .with_state(state)
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
            ]),
    )
}
