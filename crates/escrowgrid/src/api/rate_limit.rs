//! Rate limiting, in process (shared limits across instances through gridstore KV are a later
//! concern: each instance counts on its own).
//!
//! - **General limiter** (only with `RATE_LIMIT_ENABLED`): a fixed window per API key. It
//!   skips `/health`, `/ready`, unauthenticated requests and root, as the original did.
//!   Requests `1..=max` pass, later ones get 429 `Rate limit exceeded` with `Retry-After`
//!   (whole seconds to the end of the window) and are not counted.
//! - **Sensitive-operation limiter** (always on, root included): `POST /institutions` 10 per
//!   hour and `POST /institutions/{id}/api-keys` 5 per hour, counting every attempt. Unlike the
//!   original, the API-key bucket is keyed by the **caller** (API key id, or `root`), not by
//!   the target institution, so no tenant can spend another tenant's budget.
//!
//! Buckets whose window has ended are swept once per window length, so the maps do not grow
//! without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Instant;

use crate::domain::{AuditAction, AuditContext};

use super::auth::{AuthContext, Failure, record_failure};
use super::error::ApiError;
use super::state::{AppState, RateLimitSettings};

/// API key creations allowed per caller and hour.
pub const MAX_API_KEY_CREATIONS: u32 = 5;
/// Institution creations allowed per caller and hour.
pub const MAX_INSTITUTION_CREATIONS: u32 = 10;
const SENSITIVE_WINDOW: Duration = Duration::from_secs(3600);

/// The limiters of one process.
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
                .then(|| FixedWindow::new(settings.window, settings.max_requests)),
            api_key_creation: FixedWindow::new(SENSITIVE_WINDOW, MAX_API_KEY_CREATIONS),
            institution_creation: FixedWindow::new(SENSITIVE_WINDOW, MAX_INSTITUTION_CREATIONS),
        }
    }
}

/// A fixed-window counter per key.
#[derive(Debug)]
pub struct FixedWindow {
    window: Duration,
    max: u32,
    state: Mutex<WindowState>,
}

#[derive(Debug)]
struct WindowState {
    buckets: HashMap<String, Bucket>,
    last_sweep: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    started: Instant,
    count: u32,
}

/// A rejection: the caller may retry after this many whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

impl FixedWindow {
    /// A limiter allowing `max` hits per `window` and key.
    pub fn new(window: Duration, max: u32) -> Self {
        Self {
            window,
            max,
            state: Mutex::new(WindowState {
                buckets: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The hits allowed per window.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Counts a hit for `key`, or rejects it (uncounted) when the window is full.
    pub fn hit(&self, key: &str) -> Result<(), RetryAfter> {
        self.hit_at(key, Instant::now())
    }

    /// [`FixedWindow::hit`] at a given instant.
    pub fn hit_at(&self, key: &str, now: Instant) -> Result<(), RetryAfter> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now.duration_since(state.last_sweep) >= self.window {
            let window = self.window;
            state
                .buckets
                .retain(|_, bucket| now.duration_since(bucket.started) < window);
            state.last_sweep = now;
        }
        let bucket = state.buckets.entry(key.to_owned()).or_insert(Bucket {
            started: now,
            count: 0,
        });
        if now.duration_since(bucket.started) >= self.window {
            *bucket = Bucket {
                started: now,
                count: 0,
            };
        }
        if bucket.count >= self.max {
            let ends = bucket.started + self.window;
            let remaining = ends.saturating_duration_since(now);
            return Err(RetryAfter(ceil_secs(remaining)));
        }
        bucket.count += 1;
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .buckets
            .len()
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
    let Err(error) = check(state, auth, route, is_post) else {
        return Ok(req);
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

fn check(
    state: &AppState,
    auth: &AuthContext,
    route: Option<&str>,
    is_post: bool,
) -> Result<(), ApiError> {
    let limiters = state.limiters();
    if let (Some(general), Some(key)) = (&limiters.general, &auth.api_key_id) {
        if let Err(RetryAfter(secs)) = general.hit(key.as_str()) {
            let details = json!({
                "windowMs": general.window().as_millis(),
                "maxRequests": general.max(),
            });
            return Err(ApiError::too_many_requests(
                "Rate limit exceeded",
                details,
                secs,
            ));
        }
    }
    if !is_post {
        return Ok(());
    }
    match route {
        Some("/institutions") => limiters
            .institution_creation
            .hit(&auth.caller_key())
            .map_err(|RetryAfter(secs)| {
                let details = json!({
                    "maxInstitutions": MAX_INSTITUTION_CREATIONS,
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
            .hit(&auth.caller_key())
            .map_err(|RetryAfter(secs)| {
                let details = json!({
                    "maxKeys": MAX_API_KEY_CREATIONS,
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
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_up_to_the_maximum_pass_and_the_next_one_is_rejected() {
        let start = Instant::now();
        let limiter = FixedWindow::new(Duration::from_secs(60), 2);
        assert_eq!(limiter.hit_at("k", start), Ok(()));
        assert_eq!(limiter.hit_at("k", start), Ok(()));
        assert_eq!(limiter.hit_at("k", start), Err(RetryAfter(60)));
        assert_eq!(limiter.hit_at("other", start), Ok(()));
    }

    #[test]
    fn retry_after_counts_whole_seconds_to_the_end_of_the_window() {
        let start = Instant::now();
        let limiter = FixedWindow::new(Duration::from_secs(60), 1);
        assert_eq!(limiter.hit_at("k", start), Ok(()));
        let later = start + Duration::from_millis(20_500);
        assert_eq!(limiter.hit_at("k", later), Err(RetryAfter(40)));
    }

    #[test]
    fn a_new_window_starts_after_the_old_one_ends() {
        let start = Instant::now();
        let limiter = FixedWindow::new(Duration::from_secs(1), 1);
        assert_eq!(limiter.hit_at("k", start), Ok(()));
        assert!(limiter.hit_at("k", start).is_err());
        assert_eq!(limiter.hit_at("k", start + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn expired_buckets_are_evicted() {
        let start = Instant::now();
        let limiter = FixedWindow::new(Duration::from_secs(1), 5);
        for key in ["a", "b", "c"] {
            assert_eq!(limiter.hit_at(key, start), Ok(()));
        }
        assert_eq!(limiter.hit_at("d", start + Duration::from_secs(2)), Ok(()));
        assert_eq!(limiter.len(), 1);
    }
}
