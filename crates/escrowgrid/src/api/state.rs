//! Shared application state and the settings the router is built from.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use gridstore::KvStore;

use crate::onchain::OnchainApi;
use crate::store::EscrowStore;
use crate::webhooks::WebhookService;

use super::metrics::AppMetrics;
use super::rate_limit::RateLimiters;

/// Everything a handler or middleware needs, cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EscrowStore>,
    kv: Arc<dyn KvStore>,
    settings: ApiSettings,
    metrics: AppMetrics,
    limiters: RateLimiters,
    webhooks: Option<WebhookService>,
    /// The on-chain ledger's records, DLQ and fail-mode wait, when it is enabled.
    onchain: Option<OnchainApi>,
    /// Flipped to `true` at shutdown: live event streams end so the drain does not wait.
    streams_closed: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// Builds the state around its ports and the API settings: the store, and the KV store
    /// that holds idempotency keys and rate-limit counters (share one KV store between
    /// instances, e.g. gridstore's PostgreSQL KV, to share them across instances).
    pub fn new(store: Arc<dyn EscrowStore>, kv: Arc<dyn KvStore>, settings: ApiSettings) -> Self {
        let limiters = RateLimiters::new(&settings.rate_limit);
        Self {
            inner: Arc::new(Inner {
                store,
                kv,
                settings,
                metrics: AppMetrics::new(),
                limiters,
                webhooks: None,
                onchain: None,
                streams_closed: tokio::sync::watch::Sender::new(false),
            }),
        }
    }

    /// Enables the `/webhooks` routes with `service`.
    ///
    /// Call it right after [`AppState::new`], before the state is cloned.
    #[must_use]
    pub fn with_webhooks(mut self, service: WebhookService) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.webhooks = Some(service),
            None => {
                let shared = &self.inner;
                self.inner = Arc::new(Inner {
                    store: Arc::clone(&shared.store),
                    kv: Arc::clone(&shared.kv),
                    settings: shared.settings.clone(),
                    metrics: AppMetrics::new(),
                    limiters: RateLimiters::new(&shared.settings.rate_limit),
                    webhooks: Some(service),
                    onchain: shared.onchain.clone(),
                    streams_closed: tokio::sync::watch::Sender::new(false),
                });
            }
        }
        self
    }

    /// Enables the on-chain ledger's API side: each ledger event shows its record
    /// (`onchain: {...}`), root lists and re-drives failed events, and with `fail_wait`
    /// (`ONCHAIN_FAILURE_MODE=fail`) position writes wait that long for their confirmation.
    ///
    /// Call it right after [`AppState::new`], before the state is cloned.
    ///
    /// # Panics
    ///
    /// When the state was already cloned.
    #[must_use]
    pub fn with_onchain(mut self, onchain: OnchainApi) -> Self {
        #[allow(clippy::expect_used)]
        let inner = Arc::get_mut(&mut self.inner).expect("with_onchain before the state is cloned");
        inner.onchain = Some(onchain);
        self
    }

    /// The on-chain ledger's API side, when it is enabled.
    pub fn onchain(&self) -> Option<&OnchainApi> {
        self.inner.onchain.as_ref()
    }

    /// The webhook operations, when webhooks are enabled.
    pub fn webhooks(&self) -> Option<&WebhookService> {
        self.inner.webhooks.as_ref()
    }

    /// The store every handler reads and writes through.
    pub fn store(&self) -> &dyn EscrowStore {
        self.inner.store.as_ref()
    }

    /// The KV store of idempotency keys and rate-limit counters.
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.inner.kv
    }

    /// The settings the router was built with.
    pub fn settings(&self) -> &ApiSettings {
        &self.inner.settings
    }

    pub(crate) fn metrics(&self) -> &AppMetrics {
        &self.inner.metrics
    }

    pub(crate) fn limiters(&self) -> &RateLimiters {
        &self.inner.limiters
    }

    /// Ends every live event stream (`GET /events/stream`) after the events already queued;
    /// called at shutdown so draining does not wait for stream clients.
    pub fn close_event_streams(&self) {
        self.inner.streams_closed.send_replace(true);
    }

    /// Resolves once [`AppState::close_event_streams`] was called.
    pub(crate) fn event_streams_closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.streams_closed.subscribe()
    }
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store)
            .field("settings", &self.inner.settings)
            .field("webhooks", &self.inner.webhooks.is_some())
            .finish_non_exhaustive()
    }
}

/// The HTTP-facing settings. `Debug` redacts the root API key.
#[derive(Clone)]
pub struct ApiSettings {
    /// `ROOT_API_KEY`: the token that grants the `root` role; `None` disables root access.
    pub root_api_key: Option<String>,
    /// `ROOT_API_KEY_ALLOWED_IPS`: when non-empty, root is only accepted from these addresses.
    pub root_api_key_allowed_ips: Vec<IpAddr>,
    /// `CORS_ALLOWED_ORIGINS`: explicit origins; `None` falls back to the localhost development
    /// origins unless [`ApiSettings::production`] is set (then no CORS headers at all).
    pub cors_allowed_origins: Option<Vec<String>>,
    /// `NODE_ENV=production` equivalent: disables the localhost CORS fallback.
    pub production: bool,
    /// The general per-key rate limiter.
    pub rate_limit: RateLimitSettings,
    /// `METRICS_ENABLED`: serve `/metrics` and `/metrics/prometheus` (root only).
    pub metrics_enabled: bool,
    /// `PUBLIC_DOCS_ENABLED`: serve `/openapi.json` and `/docs` without authentication.
    pub public_docs_enabled: bool,
    /// `CONSOLE_ENABLED`: serve the browser console under `/console`.
    pub console_enabled: bool,
    /// `TRUST_PROXY`: take the client address from the first `X-Forwarded-For` entry.
    pub trust_proxy: bool,
    /// `STORE_BACKEND` as configured; echoed by `/health` and `/ready`.
    pub store_backend: String,
    /// Upper bound on the time a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Maximum request body size in bytes (1 MiB by default); larger bodies get 413.
    pub body_limit_bytes: usize,
    /// `EVENTS_STREAM_*`: heartbeat and per-client queue bound of `GET /events/stream`.
    pub events_stream: super::events::StreamSettings,
    /// `HTTP_MAX_IN_FLIGHT_REQUESTS`: requests handled at once before shedding ([`super::shed`]).
    pub max_in_flight_requests: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            root_api_key: None,
            root_api_key_allowed_ips: Vec::new(),
            cors_allowed_origins: None,
            production: false,
            rate_limit: RateLimitSettings::default(),
            metrics_enabled: true,
            public_docs_enabled: false,
            console_enabled: true,
            trust_proxy: false,
            store_backend: "memory".to_owned(),
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            events_stream: super::events::StreamSettings::default(),
            max_in_flight_requests: 1024,
        }
    }
}

impl fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root_api_key = self.root_api_key.as_ref().map(|_| "<redacted>");
        f.debug_struct("ApiSettings")
            .field("root_api_key", &root_api_key)
            .field("root_api_key_allowed_ips", &self.root_api_key_allowed_ips)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("production", &self.production)
            .field("rate_limit", &self.rate_limit)
            .field("metrics_enabled", &self.metrics_enabled)
            .field("public_docs_enabled", &self.public_docs_enabled)
            .field("console_enabled", &self.console_enabled)
            .field("trust_proxy", &self.trust_proxy)
            .field("store_backend", &self.store_backend)
            .field("request_timeout", &self.request_timeout)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("events_stream", &self.events_stream)
            .finish()
    }
}

/// Settings of the general rate limiter (`RATE_LIMIT_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `RATE_LIMIT_ENABLED` (off by default, as in the original).
    pub enabled: bool,
    /// `RATE_LIMIT_WINDOW_MS`: the fixed window length (60 s by default).
    pub window: Duration,
    /// `RATE_LIMIT_MAX_REQUESTS`: requests allowed per key and window (1000 by default).
    pub max_requests: u32,
    /// `RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR`: `POST /institutions` per caller and hour,
    /// root included (10 by default, the original's limit).
    pub institution_creations_per_hour: u32,
    /// `RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR`: `POST /institutions/{id}/api-keys` per caller
    /// and hour, root included (5 by default, the original's limit).
    pub api_key_creations_per_hour: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            window: Duration::from_secs(60),
            max_requests: 1000,
            institution_creations_per_hour: super::rate_limit::MAX_INSTITUTION_CREATIONS,
            api_key_creations_per_hour: super::rate_limit::MAX_API_KEY_CREATIONS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_the_root_key() {
        let settings = ApiSettings {
            root_api_key: Some("super-secret-root".into()),
            ..ApiSettings::default()
        };
        let text = format!("{settings:?}");
        assert!(!text.contains("super-secret-root"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn defaults_match_the_original_service() {
        let settings = ApiSettings::default();
        assert!(!settings.rate_limit.enabled);
        assert_eq!(settings.rate_limit.window, Duration::from_secs(60));
        assert_eq!(settings.rate_limit.max_requests, 1000);
        assert!(settings.metrics_enabled);
        assert!(!settings.public_docs_enabled);
        assert!(!settings.trust_proxy);
        assert_eq!(settings.body_limit_bytes, 1024 * 1024);
        assert_eq!(settings.store_backend, "memory");
    }
}
