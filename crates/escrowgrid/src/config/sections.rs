//! The `[section]`s of [`Settings`](super::Settings), one struct each, with their defaults.

use std::net::{IpAddr, Ipv4Addr};

use serde::Deserialize;

use super::Secret;

/// `[events]`: the live event stream.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsSettings {
    /// Heartbeat comment interval of idle streams (`EVENTS_STREAM_HEARTBEAT_MS`, default 15 s).
    pub stream_heartbeat_ms: u64,
    /// Events queued per stream client before a client that fell behind is disconnected
    /// (`EVENTS_STREAM_MAX_BUFFER`, default 1024).
    pub stream_max_buffer: usize,
}

impl Default for EventsSettings {
    fn default() -> Self {
        Self {
            stream_heartbeat_ms: 15_000,
            stream_max_buffer: 1024,
        }
    }
}

/// `[ledger]`: the tamper-evident ledger (`docs/LEDGER.md`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerSettings {
    /// `LEDGER_CHECKPOINT_INTERVAL_MS`, default 60000; 0 disables the checkpoint task.
    pub checkpoint_interval_ms: u64,
}

impl Default for LedgerSettings {
    fn default() -> Self {
        Self {
            checkpoint_interval_ms: 60_000,
        }
    }
}

/// `[server]`: where to listen and how to stop.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind (`HOST`, default `0.0.0.0`).
    pub host: IpAddr,
    /// Port to bind (`PORT`, default 4000).
    pub port: u16,
    /// `NODE_ENV`; `production` disables the localhost CORS fallback.
    pub environment: Option<String>,
    /// How long shutdown waits for in-flight requests (`SHUTDOWN_TIMEOUT_MS`, default 10 s).
    pub shutdown_timeout_ms: u64,
    /// Per-request timeout (`REQUEST_TIMEOUT_MS`, default 30 s).
    pub request_timeout_ms: u64,
    /// Threads of the async runtime (`WORKER_THREADS`; default one per CPU, or tokio's
    /// `TOKIO_WORKER_THREADS`). Fewer than the host's cores when they are shared with other
    /// busy processes: each wake-up of another worker costs a cross-core hand-off
    /// (`docs/BENCHMARKS.md`, "Worker threads, metric handles, a plan per scope").
    pub worker_threads: Option<usize>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 4000,
            environment: None,
            shutdown_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            worker_threads: None,
        }
    }
}

/// Which [`crate::store::EscrowStore`] backend to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// In-process memory; data is lost on exit (the default).
    #[default]
    Memory,
    /// PostgreSQL at `DATABASE_URL`.
    Postgres,
}

impl StoreBackend {
    /// The name echoed by `/health` (`memory` or `postgres`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Postgres => "postgres",
        }
    }
}

/// `[store]`: backend and database.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `STORE_BACKEND`.
    pub backend: StoreBackend,
    /// `DATABASE_URL` (secret: it may hold a password).
    pub database_url: Option<Secret<String>>,
    /// `DATABASE_DIRECT_URL`: the server itself when `DATABASE_URL` points at a transaction
    /// pooler (PgBouncer); migrations (which hold a session advisory lock) run there. Secret.
    pub database_direct_url: Option<Secret<String>>,
    /// `DATABASE_STATEMENT_CACHE`, default true; false sends every statement on the unnamed
    /// statement, as PgBouncer's transaction mode needs.
    pub statement_cache: bool,
    /// `DATABASE_READ_URLS`: comma list of read replicas for list, ledger and audit reads.
    /// Secret.
    pub database_read_urls: Option<Secret<String>>,
    /// `DATABASE_REPLICA_MAX_LAG_MS`, default 1000: replicas lagging more are skipped.
    pub replica_max_lag_ms: u64,
    /// `DATABASE_POOL_MAX`, default 16.
    pub pool_max: usize,
    /// `API_KEY_CACHE_TTL_MS`, default 10000: how long an instance trusts an API key read from
    /// PostgreSQL without reading it again (revocations reach every instance at once through
    /// LISTEN/NOTIFY); 0 disables the cache.
    pub api_key_cache_ttl_ms: u64,
    /// Apply pending migrations at start (`MIGRATE_ON_START`, flag `--no-migrate`).
    pub migrate_on_start: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            database_url: None,
            database_direct_url: None,
            statement_cache: true,
            database_read_urls: None,
            replica_max_lag_ms: 1000,
            pool_max: 16,
            api_key_cache_ttl_ms: 10_000,
            migrate_on_start: true,
        }
    }
}

/// `[auth]`: the root key.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// `ROOT_API_KEY`; when unset, `serve` generates one and prints it once to stderr.
    pub root_api_key: Option<Secret<String>>,
    /// `ROOT_API_KEY_ALLOWED_IPS`; empty means any IP.
    pub root_api_key_allowed_ips: Vec<IpAddr>,
}

/// `[http]`: CORS, proxy trust and optional endpoints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// `CORS_ALLOWED_ORIGINS`; unset means the original's localhost fallback outside production.
    pub cors_allowed_origins: Option<Vec<String>>,
    /// `TRUST_PROXY`: take the client IP from `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// `METRICS_ENABLED`, default true.
    pub metrics_enabled: bool,
    /// `PUBLIC_DOCS_ENABLED`, default false.
    pub public_docs_enabled: bool,
    /// `CONSOLE_ENABLED`, default true: the browser console under `/console`.
    pub console_enabled: bool,
    /// `HTTP_HEADER_READ_TIMEOUT_MS`, default 10 s: a connection that has not sent a complete
    /// request head within this time (also: an idle keep-alive connection) is closed.
    pub header_read_timeout_ms: u64,
    /// `HTTP_MAX_CONNECTIONS`, default 512: connections served at once; further ones wait in
    /// the listen backlog until one closes.
    pub max_connections: usize,
    /// `HTTP_MAX_IN_FLIGHT_REQUESTS`, default 1024: requests handled at once (until their
    /// response head); over it, requests are shed at once with 503 and `Retry-After`.
    pub max_in_flight_requests: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            cors_allowed_origins: None,
            trust_proxy: false,
            metrics_enabled: true,
            public_docs_enabled: false,
            console_enabled: true,
            header_read_timeout_ms: 10_000,
            max_connections: 512,
            max_in_flight_requests: 1024,
        }
    }
}

/// `[rate_limit]`: the general per-key limiter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT_ENABLED`, default false.
    pub enabled: bool,
    /// `RATE_LIMIT_WINDOW_MS`, default 60000.
    pub window_ms: u64,
    /// `RATE_LIMIT_MAX_REQUESTS`, default 1000.
    pub max_requests: u32,
    /// `RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR`, default 10 (always on, root included).
    pub institution_creations_per_hour: u32,
    /// `RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR`, default 5 (always on, root included).
    pub api_key_creations_per_hour: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            window_ms: 60_000,
            max_requests: 1000,
            institution_creations_per_hour: 10,
            api_key_creations_per_hour: 5,
        }
    }
}

/// `[webhooks]`: event delivery to registered endpoints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// `WEBHOOKS_ENABLED`, default true: serve `/webhooks` and run the dispatcher.
    pub enabled: bool,
    /// `WEBHOOKS_CONCURRENCY`, default 64: endpoints this instance dispatches at once.
    pub concurrency: usize,
    /// `WEBHOOKS_RETRY_SCHEDULE_MS`: delays before the 2nd, 3rd, ... attempt.
    pub retry_schedule_ms: Vec<u64>,
    /// `WEBHOOKS_TIMEOUT_MS`, default 10000: per attempt.
    pub timeout_ms: u64,
    /// `WEBHOOKS_ALLOW_PRIVATE_TARGETS`, default false: allow loopback / private targets.
    pub allow_private_targets: bool,
    /// `WEBHOOKS_SECRET_KEY`: base64 of 32 bytes; encrypts signing secrets at rest.
    pub secret_key: Option<Secret<String>>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 64,
            retry_schedule_ms: crate::webhooks::settings::DEFAULT_RETRY_SCHEDULE_MS.to_vec(),
            timeout_ms: 10_000,
            allow_private_targets: false,
            secret_key: None,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// The default: [`LogFormat::Text`] when a person is watching (stdout, where the logs go,
    /// and stderr are both terminals), else [`LogFormat::Json`]; see [`LogFormat::resolve`].
    #[default]
    Auto,
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines.
    Text,
}

impl LogFormat {
    /// The concrete format: an explicit `json` or `text` wins; `auto` is `text` only when
    /// `interactive` (stdout and stderr are terminals), so a pipe (`serve | jq`), a file, a
    /// container runtime or a service manager always gets JSON.
    #[must_use]
    pub fn resolve(self, interactive: bool) -> Self {
        match self {
            Self::Auto if interactive => Self::Text,
            Self::Auto => Self::Json,
            explicit => explicit,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `LOG_FORMAT`.
    pub format: LogFormat,
    /// `RUST_LOG`-style filter, default `info`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            filter: "info".to_owned(),
        }
    }
}
