//! The command-line layer: one flag per environment variable, with the same meaning.
//!
//! Flags are plain `Option`s (clap does not read the environment here: the environment layer
//! is applied by [`super::env`] from an injectable lookup so tests never mutate the process
//! environment). A flag that is given wins over everything else.

use std::net::IpAddr;

use clap::Args;

use super::{LogFormat, Secret, Settings, StoreBackend};

/// Flags of `escrowgrid serve` (and the store flags of `escrowgrid migrate`).
///
/// Each flag overrides the environment variable named in its help text.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// Address to bind [env: HOST]
    #[arg(long)]
    pub host: Option<IpAddr>,
    /// Port to bind [env: PORT]
    #[arg(long)]
    pub port: Option<u16>,
    /// Deployment environment; `production` disables the localhost CORS fallback [env: NODE_ENV]
    #[arg(long)]
    pub node_env: Option<String>,
    /// Milliseconds shutdown waits for in-flight requests [env: SHUTDOWN_TIMEOUT_MS]
    #[arg(long)]
    pub shutdown_timeout_ms: Option<u64>,
    /// Per-request timeout in milliseconds [env: REQUEST_TIMEOUT_MS]
    #[arg(long)]
    pub request_timeout_ms: Option<u64>,
    /// Threads of the async runtime (default one per CPU) [env: WORKER_THREADS]
    #[arg(long)]
    pub worker_threads: Option<usize>,
    /// `memory` or `postgres` [env: STORE_BACKEND]
    #[arg(long, value_parser = parse_backend)]
    pub store_backend: Option<StoreBackend>,
    /// PostgreSQL URL [env: DATABASE_URL]
    #[arg(long)]
    pub database_url: Option<String>,
    /// PostgreSQL URL bypassing PgBouncer, for migrations [env: DATABASE_DIRECT_URL]
    #[arg(long)]
    pub database_direct_url: Option<String>,
    /// Keep named prepared statements per connection; `false` behind PgBouncer's transaction
    /// mode [env: DATABASE_STATEMENT_CACHE]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub database_statement_cache: Option<bool>,
    /// Comma list of read replica URLs [env: DATABASE_READ_URLS]
    #[arg(long)]
    pub database_read_urls: Option<String>,
    /// Replicas lagging more milliseconds are skipped [env: DATABASE_REPLICA_MAX_LAG_MS]
    #[arg(long)]
    pub database_replica_max_lag_ms: Option<u64>,
    /// Connection pool size [env: DATABASE_POOL_MAX]
    #[arg(long)]
    pub database_pool_max: Option<usize>,
    /// Milliseconds an API key read from PostgreSQL is trusted; 0: no cache
    /// [env: API_KEY_CACHE_TTL_MS]
    #[arg(long)]
    pub api_key_cache_ttl_ms: Option<u64>,
    /// Do not apply pending migrations at start [env: MIGRATE_ON_START=false]
    #[arg(long)]
    pub no_migrate: bool,
    /// Root API key; prefer the environment (flags show in `ps`) [env: ROOT_API_KEY]
    #[arg(long)]
    pub root_api_key: Option<String>,
    /// Comma list of IPs allowed to use the root key [env: ROOT_API_KEY_ALLOWED_IPS]
    #[arg(long, value_delimiter = ',')]
    pub root_api_key_allowed_ips: Option<Vec<IpAddr>>,
    /// Comma list of allowed CORS origins [env: CORS_ALLOWED_ORIGINS]
    #[arg(long, value_delimiter = ',')]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Trust X-Forwarded-For for the client IP [env: TRUST_PROXY]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub trust_proxy: Option<bool>,
    /// Serve the metrics endpoints [env: METRICS_ENABLED]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub metrics_enabled: Option<bool>,
    /// Serve /openapi.json without a key [env: PUBLIC_DOCS_ENABLED]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub public_docs_enabled: Option<bool>,
    /// Serve the browser console under /console [env: CONSOLE_ENABLED]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub console_enabled: Option<bool>,
    /// Milliseconds a client has to send a complete request head [env: HTTP_HEADER_READ_TIMEOUT_MS]
    #[arg(long)]
    pub http_header_read_timeout_ms: Option<u64>,
    /// Connections served at once [env: HTTP_MAX_CONNECTIONS]
    #[arg(long)]
    pub http_max_connections: Option<usize>,
    /// Requests handled at once; more are shed with 503 [env: HTTP_MAX_IN_FLIGHT_REQUESTS]
    #[arg(long)]
    pub http_max_in_flight_requests: Option<usize>,
    /// Enable the general per-key rate limiter [env: RATE_LIMIT_ENABLED]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rate_limit_enabled: Option<bool>,
    /// Ledger checkpoint interval in milliseconds, 0 disables [env: LEDGER_CHECKPOINT_INTERVAL_MS]
    #[arg(long)]
    pub ledger_checkpoint_interval_ms: Option<u64>,
    /// Rate-limit window in milliseconds [env: RATE_LIMIT_WINDOW_MS]
    #[arg(long)]
    pub rate_limit_window_ms: Option<u64>,
    /// Requests allowed per window and key [env: RATE_LIMIT_MAX_REQUESTS]
    #[arg(long)]
    pub rate_limit_max_requests: Option<u32>,
    /// Institution creations per caller and hour [env: RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR]
    #[arg(long)]
    pub rate_limit_institution_creations_per_hour: Option<u32>,
    /// API key creations per caller and hour [env: RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR]
    #[arg(long)]
    pub rate_limit_api_key_creations_per_hour: Option<u32>,
    /// `auto` (text on a terminal, else JSON), `json` or `text` [env: LOG_FORMAT]
    #[arg(long, value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info,escrowgrid=debug` [env: RUST_LOG]
    #[arg(long)]
    pub log_filter: Option<String>,
}

impl SettingsArgs {
    /// Overwrites every setting whose flag was given.
    pub(super) fn apply(&self, settings: &mut Settings) {
        let s = settings;
        set(&mut s.server.host, self.host);
        set(&mut s.server.port, self.port);
        if let Some(v) = &self.node_env {
            s.server.environment = Some(v.clone());
        }
        set(&mut s.server.shutdown_timeout_ms, self.shutdown_timeout_ms);
        set(&mut s.server.request_timeout_ms, self.request_timeout_ms);
        s.server.worker_threads = self.worker_threads.or(s.server.worker_threads);
        set(&mut s.store.backend, self.store_backend);
        if let Some(v) = &self.database_url {
            s.store.database_url = Some(Secret::new(v.clone()));
        }
        if let Some(v) = &self.database_direct_url {
            s.store.database_direct_url = Some(Secret::new(v.clone()));
        }
        set(&mut s.store.statement_cache, self.database_statement_cache);
        if let Some(v) = &self.database_read_urls {
            s.store.database_read_urls = Some(Secret::new(v.clone()));
        }
        set(
            &mut s.store.replica_max_lag_ms,
            self.database_replica_max_lag_ms,
        );
        set(&mut s.store.pool_max, self.database_pool_max);
        set(&mut s.store.api_key_cache_ttl_ms, self.api_key_cache_ttl_ms);
        if self.no_migrate {
            s.store.migrate_on_start = false;
        }
        if let Some(v) = &self.root_api_key {
            s.auth.root_api_key = Some(Secret::new(v.clone()));
        }
        if let Some(v) = &self.root_api_key_allowed_ips {
            s.auth.root_api_key_allowed_ips.clone_from(v);
        }
        if let Some(v) = &self.cors_allowed_origins {
            s.http.cors_allowed_origins = Some(v.clone());
        }
        set(&mut s.http.trust_proxy, self.trust_proxy);
        set(&mut s.http.metrics_enabled, self.metrics_enabled);
        set(&mut s.http.public_docs_enabled, self.public_docs_enabled);
        set(&mut s.http.console_enabled, self.console_enabled);
        set(
            &mut s.http.header_read_timeout_ms,
            self.http_header_read_timeout_ms,
        );
        set(&mut s.http.max_connections, self.http_max_connections);
        set(
            &mut s.http.max_in_flight_requests,
            self.http_max_in_flight_requests,
        );
        set(&mut s.rate_limit.enabled, self.rate_limit_enabled);
        set(&mut s.rate_limit.window_ms, self.rate_limit_window_ms);
        set(
            &mut s.ledger.checkpoint_interval_ms,
            self.ledger_checkpoint_interval_ms,
        );
        set(&mut s.rate_limit.max_requests, self.rate_limit_max_requests);
        set(
            &mut s.rate_limit.institution_creations_per_hour,
            self.rate_limit_institution_creations_per_hour,
        );
        set(
            &mut s.rate_limit.api_key_creations_per_hour,
            self.rate_limit_api_key_creations_per_hour,
        );
        set(&mut s.log.format, self.log_format);
        if let Some(v) = &self.log_filter {
            s.log.filter.clone_from(v);
        }
    }
}

fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *target = v;
    }
}

fn parse_backend(s: &str) -> Result<StoreBackend, String> {
    s.parse()
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    s.parse()
}
