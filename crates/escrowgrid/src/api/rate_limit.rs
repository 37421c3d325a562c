//! Rate limiting on the KV port ([`crate::rate_limit`]): shared by every instance on one
//! PostgreSQL database (gridstore KV), in process on the memory backend.
//!
//! - **General limiter** (only with `RATE_LIMIT_ENABLED`): a fixed window per API key. It
//!   skips `/health`, `/ready`, unauthenticated requests and root, as the original did.
//!   Requests `1..=max` pass, later ones get 429 `Rate limit exceeded` with `Retry-After`
//!   (whole seconds to the end of the window).
//! - **Sensitive-operation limiter** (always on, root included): `POST /institutions` 10 per
//!   hour and `POST /institutions/{id}/api-keys` 5 per hour by default (settings
//!   `RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR`, `RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR`, so an
//!   operator onboarding a bank can raise them), counting every attempt. Unlike the
//!   original, the API-key bucket is keyed by the **caller** (API key id, or `root`), not by
//!   the target institution, so no tenant can spend another tenant's budget.
//! - When the KV store fails (the database is down), the request is answered with the store
//!   error (503), never let through uncounted.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::{AuditAction, AuditContext};
use crate::rate_limit::{FixedWindow, RetryAfter};

use super::auth::{AuthContext, Failure, record_failure};
use super::error::ApiError;
use super::state::{AppState, RateLimitSettings};

/// API key creations allowed per caller and hour by default (the original's limit).
pub const MAX_API_KEY_CREATIONS: u32 = 5;
/// Institution creations allowed per caller and hour by default (the original's limit).
pub const MAX_INSTITUTION_CREATIONS: u32 = 10;
const SENSITIVE_WINDOW: Duration = Duration::from_secs(3600);

/// The limits the API applies (their counters live in the KV store).
#[derive(Debug)]
pub struct RateLimiters {
    /// The general per-key limiter, when enabled.
    pub general: Option<FixedWindow>,
    /// API key creation, per caller.
    pub api_key_creation: FixedWindow,
    /// Institution creation, per caller.
    pub institution_creation: FixedWindow,
}

impl RateLimiters {
    /// Builds the limiters from the settings.
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            general: settings
                .enabled
                .then(|| FixedWindow::new("general", settings.window, settings.max_requests)),
            api_key_creation: FixedWindow::new(
                "api-key-creation",
                SENSITIVE_WINDOW,
                settings.api_key_creations_per_hour,
            ),
            institution_creation: FixedWindow::new(
                "institution-creation",
                SENSITIVE_WINDOW,
                settings.institution_creations_per_hour,
            ),
        }
    }
}

/// Applies the general and the sensitive-operation limiters to an authenticated request;
/// a rejection is audited as `RATE_LIMITED` and answered with 429.
pub async fn enforce(state: &AppState, req: Request) -> Result<Request, Response> {
    let Some(auth) = req.extensions().get::<AuthContext>() else {
        return Ok(req);
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let is_post = req.method() == Method::POST;
    let error = match check(state, auth, route, is_post).await {
        Ok(Ok(())) => return Ok(req),
        Ok(Err(limited)) => limited,
        Err(err) => return Err(ApiError::from(err).into_response()),
    };
    let audit = req
        .extensions()
        .get::<AuditContext>()
        .cloned()
        .unwrap_or_default();
    let failure = Failure {
        action: AuditAction::RateLimited,
        code: "RATE_LIMIT_EXCEEDED",
        message: &error.body().error,
        status: error.status().as_u16(),
        resource: None,
    };
    record_failure(state, &audit, failure).await;
    Err(error.into_response())
}

/// `Ok(Err(429))` when a limit is reached, `Err` when the KV store failed.
async fn check(
    state: &AppState,
    auth: &AuthContext,
    route: Option<&str>,
    is_post: bool,
) -> crate::Result<Result<(), ApiError>> {
    let limiters = state.limiters();
    let kv = state.kv().as_ref();
    if let (Some(general), Some(key)) = (&limiters.general, &auth.api_key_id) {
        if let Err(RetryAfter(secs)) = general.hit(kv, key.as_str()).await? {
            let details = json!({
                "windowMs": general.window().as_millis(),
                "maxRequests": general.max(),
            });
            return Ok(Err(ApiError::too_many_requests(
                "Rate limit exceeded",
                details,
                secs,
            )));
        }
    }
    if !is_post {
        return Ok(Ok(()));
    }
    Ok(match route {
        Some("/institutions") => limiters
            .institution_creation
            .hit(kv, &auth.caller_key())
            .await?
            .map_err(|RetryAfter(secs)| {
                let details = json!({
                    "maxInstitutions": limiters.institution_creation.max(),
                    "windowMinutes": 60,
                    "retryAfterSeconds": secs,
                });
                ApiError::too_many_requests(
                    "Rate limit exceeded for institution creation",
                    details,
                    secs,
                )
            }),
        Some("/institutions/{id}/api-keys") => limiters
            .api_key_creation
            .hit(kv, &auth.caller_key())
            .await?
            .map_err(|RetryAfter(secs)| {
                let details = json!({
                    "maxKeys": limiters.api_key_creation.max(),
                    "windowMinutes": 60,
                    "retryAfterSeconds": secs,
                });
                ApiError::too_many_requests(
                    "Rate limit exceeded for API key creation",
                    details,
                    secs,
                )
            }),
        _ => Ok(()),
    })
}
