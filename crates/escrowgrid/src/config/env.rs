//! The environment layer: the original service's variable names and parse rules.

use std::net::IpAddr;
use std::str::FromStr;

use super::onchain::ONCHAIN_ENV_VARS;
use super::{LogFormat, Secret, Settings, StoreBackend};
use crate::{Error, Result};

/// Every environment variable of the environment layer, with a one-line meaning.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("HOST", "address to bind (default 0.0.0.0)"),
    ("PORT", "port to bind (default 4000; garbage is an error)"),
    (
        "NODE_ENV",
        "`production` disables the localhost CORS fallback",
    ),
    (
        "SHUTDOWN_TIMEOUT_MS",
        "how long shutdown waits for in-flight requests (default 10000)",
    ),
    ("REQUEST_TIMEOUT_MS", "per-request timeout (default 30000)"),
    (
        "WORKER_THREADS",
        "threads of the async runtime (default one per CPU)",
    ),
    (
        "STORE_BACKEND",
        "`memory` (default) or `postgres`; anything else is an error",
    ),
    (
        "DATABASE_URL",
        "PostgreSQL URL, required when STORE_BACKEND=postgres (secret)",
    ),
    (
        "DATABASE_DIRECT_URL",
        "PostgreSQL URL bypassing PgBouncer, for migrations (secret; default DATABASE_URL)",
    ),
    (
        "DATABASE_STATEMENT_CACHE",
        "named prepared statements per connection (default true; `false` behind PgBouncer)",
    ),
    (
        "DATABASE_READ_URLS",
        "comma list of read replica URLs for list, ledger and audit reads (secret)",
    ),
    (
        "DATABASE_REPLICA_MAX_LAG_MS",
        "replicas lagging more are skipped (default 1000)",
    ),
    ("DATABASE_POOL_MAX", "connection pool size (default 16)"),
    (
        "API_KEY_CACHE_TTL_MS",
        "how long an API key read from PostgreSQL is trusted (default 10000; 0: no cache)",
    ),
    (
        "MIGRATE_ON_START",
        "apply pending migrations at start (default true; only `false` disables)",
    ),
    (
        "ROOT_API_KEY",
        "root key (secret); generated and printed once when unset",
    ),
    (
        "ROOT_API_KEY_ALLOWED_IPS",
        "comma list of IPs allowed to use the root key",
    ),
    ("CORS_ALLOWED_ORIGINS", "comma list of allowed origins"),
    ("TRUST_PROXY", "trust X-Forwarded-For (only `true` enables)"),
    (
        "METRICS_ENABLED",
        "metrics endpoints (default true; only `false` disables)",
    ),
    (
        "PUBLIC_DOCS_ENABLED",
        "serve /openapi.json without a key (only `true` enables)",
    ),
    (
        "CONSOLE_ENABLED",
        "browser console under /console (default true; only `false` disables)",
    ),
    (
        "HTTP_HEADER_READ_TIMEOUT_MS",
        "time to send a complete request head; also the keep-alive idle limit (default 10000)",
    ),
    (
        "HTTP_MAX_CONNECTIONS",
        "connections served at once; more wait in the listen backlog (default 512)",
    ),
    (
        "HTTP_MAX_IN_FLIGHT_REQUESTS",
        "requests handled at once; more are shed with 503 (default 1024)",
    ),
    (
        "RATE_LIMIT_ENABLED",
        "general per-key rate limiter (only `true` enables)",
    ),
    ("RATE_LIMIT_WINDOW_MS", "rate-limit window (default 60000)"),
    (
        "LEDGER_CHECKPOINT_INTERVAL_MS",
        "ledger checkpoint interval (default 60000, 0 disables)",
    ),
    (
        "RATE_LIMIT_MAX_REQUESTS",
        "requests per window (default 1000)",
    ),
    (
        "RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR",
        "institution creations per caller and hour, root included (default 10)",
    ),
    (
        "RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR",
        "API key creations per caller and hour, root included (default 5)",
    ),
    (
        "EVENTS_STREAM_HEARTBEAT_MS",
        "heartbeat comment interval of idle event streams (default 15000)",
    ),
    (
        "EVENTS_STREAM_MAX_BUFFER",
        "events queued per stream client before a lagging client is cut off (default 1024)",
    ),
    (
        "WEBHOOKS_ENABLED",
        "webhook routes and dispatcher (default true; only `false` disables)",
    ),
    (
        "WEBHOOKS_CONCURRENCY",
        "endpoints one instance dispatches at once (default 64)",
    ),
    (
        "WEBHOOKS_RETRY_SCHEDULE_MS",
        "comma list of retry delays (default 1000,5000,30000,120000,600000)",
    ),
    ("WEBHOOKS_TIMEOUT_MS", "per-attempt timeout (default 10000)"),
    (
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS",
        "allow loopback/private webhook targets (only `true` enables)",
    ),
    (
        "WEBHOOKS_SECRET_KEY",
        "base64 of 32 bytes: encrypt webhook secrets at rest (secret)",
    ),
    ONCHAIN_ENV_VARS[0],
    ONCHAIN_ENV_VARS[1],
    ONCHAIN_ENV_VARS[2],
    ONCHAIN_ENV_VARS[3],
    ONCHAIN_ENV_VARS[4],
    ONCHAIN_ENV_VARS[5],
    ONCHAIN_ENV_VARS[6],
    ONCHAIN_ENV_VARS[7],
    ONCHAIN_ENV_VARS[8],
    ONCHAIN_ENV_VARS[9],
    ONCHAIN_ENV_VARS[10],
    ONCHAIN_ENV_VARS[11],
    (
        "LOG_FORMAT",
        "`auto` (default: `text` when stdout and stderr are terminals, else `json`), `json` or `text`",
    ),
    (
        "RUST_LOG",
        "log filter, e.g. `info,escrowgrid=debug` (default info)",
    ),
];

/// Overwrites every setting whose environment variable is set (and not blank).
pub(super) fn apply(settings: &mut Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let get = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };

    if let Some(v) = get("HOST") {
        settings.server.host = parse("HOST", &v)?;
    }
    if let Some(v) = get("PORT") {
        settings.server.port = parse("PORT", &v)?;
    }
    if let Some(v) = get("NODE_ENV") {
        settings.server.environment = Some(v);
    }
    if let Some(v) = get("SHUTDOWN_TIMEOUT_MS") {
        settings.server.shutdown_timeout_ms = parse("SHUTDOWN_TIMEOUT_MS", &v)?;
    }
    if let Some(v) = get("REQUEST_TIMEOUT_MS") {
        settings.server.request_timeout_ms = parse("REQUEST_TIMEOUT_MS", &v)?;
    }
    if let Some(v) = get("WORKER_THREADS") {
        settings.server.worker_threads = Some(parse("WORKER_THREADS", &v)?);
    }
    if let Some(v) = get("STORE_BACKEND") {
        settings.store.backend = parse("STORE_BACKEND", &v)?;
    }
    if let Some(v) = get("DATABASE_URL") {
        settings.store.database_url = Some(Secret::new(v));
    }
    if let Some(v) = get("DATABASE_DIRECT_URL") {
        settings.store.database_direct_url = Some(Secret::new(v));
    }
    if let Some(v) = get("DATABASE_STATEMENT_CACHE") {
        settings.store.statement_cache = unless_false(&v);
    }
    if let Some(v) = get("DATABASE_READ_URLS") {
        settings.store.database_read_urls = Some(Secret::new(v));
    }
    if let Some(v) = get("DATABASE_REPLICA_MAX_LAG_MS") {
        settings.store.replica_max_lag_ms = parse("DATABASE_REPLICA_MAX_LAG_MS", &v)?;
    }
    if let Some(v) = get("DATABASE_POOL_MAX") {
        settings.store.pool_max = parse("DATABASE_POOL_MAX", &v)?;
    }
    if let Some(v) = get("API_KEY_CACHE_TTL_MS") {
        settings.store.api_key_cache_ttl_ms = parse("API_KEY_CACHE_TTL_MS", &v)?;
    }
    if let Some(v) = get("MIGRATE_ON_START") {
        settings.store.migrate_on_start = unless_false(&v);
    }
    if let Some(v) = get("ROOT_API_KEY") {
        settings.auth.root_api_key = Some(Secret::new(v));
    }
    if let Some(v) = get("ROOT_API_KEY_ALLOWED_IPS") {
        settings.auth.root_api_key_allowed_ips = parse_ips("ROOT_API_KEY_ALLOWED_IPS", &v)?;
    }
    if let Some(v) = get("CORS_ALLOWED_ORIGINS") {
        settings.http.cors_allowed_origins = Some(split_list(&v));
    }
    if let Some(v) = get("TRUST_PROXY") {
        settings.http.trust_proxy = only_true(&v);
    }
    if let Some(v) = get("METRICS_ENABLED") {
        settings.http.metrics_enabled = unless_false(&v);
    }
    if let Some(v) = get("PUBLIC_DOCS_ENABLED") {
        settings.http.public_docs_enabled = only_true(&v);
    }
    if let Some(v) = get("CONSOLE_ENABLED") {
        settings.http.console_enabled = unless_false(&v);
    }
    if let Some(v) = get("HTTP_HEADER_READ_TIMEOUT_MS") {
        settings.http.header_read_timeout_ms = parse("HTTP_HEADER_READ_TIMEOUT_MS", &v)?;
    }
    if let Some(v) = get("HTTP_MAX_CONNECTIONS") {
        settings.http.max_connections = parse("HTTP_MAX_CONNECTIONS", &v)?;
    }
    if let Some(v) = get("HTTP_MAX_IN_FLIGHT_REQUESTS") {
        settings.http.max_in_flight_requests = parse("HTTP_MAX_IN_FLIGHT_REQUESTS", &v)?;
    }
    if let Some(v) = get("RATE_LIMIT_ENABLED") {
        settings.rate_limit.enabled = only_true(&v);
    }
    if let Some(v) = get("RATE_LIMIT_WINDOW_MS") {
        settings.rate_limit.window_ms = parse("RATE_LIMIT_WINDOW_MS", &v)?;
    }
    if let Some(v) = get("LEDGER_CHECKPOINT_INTERVAL_MS") {
        settings.ledger.checkpoint_interval_ms = parse("LEDGER_CHECKPOINT_INTERVAL_MS", &v)?;
    }
    if let Some(v) = get("RATE_LIMIT_MAX_REQUESTS") {
        settings.rate_limit.max_requests = parse("RATE_LIMIT_MAX_REQUESTS", &v)?;
    }
    if let Some(v) = get("RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR") {
        settings.rate_limit.institution_creations_per_hour =
            parse("RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR", &v)?;
    }
    if let Some(v) = get("RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR") {
        settings.rate_limit.api_key_creations_per_hour =
            parse("RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR", &v)?;
    }
    if let Some(v) = get("EVENTS_STREAM_HEARTBEAT_MS") {
        settings.events.stream_heartbeat_ms = parse("EVENTS_STREAM_HEARTBEAT_MS", &v)?;
    }
    if let Some(v) = get("EVENTS_STREAM_MAX_BUFFER") {
        settings.events.stream_max_buffer = parse("EVENTS_STREAM_MAX_BUFFER", &v)?;
    }
    if let Some(v) = get("WEBHOOKS_ENABLED") {
        settings.webhooks.enabled = unless_false(&v);
    }
    if let Some(v) = get("WEBHOOKS_CONCURRENCY") {
        settings.webhooks.concurrency = parse("WEBHOOKS_CONCURRENCY", &v)?;
    }
    if let Some(v) = get("WEBHOOKS_RETRY_SCHEDULE_MS") {
        settings.webhooks.retry_schedule_ms = split_list(&v)
            .iter()
            .map(|ms| parse("WEBHOOKS_RETRY_SCHEDULE_MS", ms))
            .collect::<Result<_>>()?;
    }
    if let Some(v) = get("WEBHOOKS_TIMEOUT_MS") {
        settings.webhooks.timeout_ms = parse("WEBHOOKS_TIMEOUT_MS", &v)?;
    }
    if let Some(v) = get("WEBHOOKS_ALLOW_PRIVATE_TARGETS") {
        settings.webhooks.allow_private_targets = only_true(&v);
    }
    if let Some(v) = get("WEBHOOKS_SECRET_KEY") {
        settings.webhooks.secret_key = Some(Secret::new(v));
    }
    super::onchain::apply(&mut settings.onchain, &get)?;
    if let Some(v) = get("LOG_FORMAT") {
        settings.log.format = parse("LOG_FORMAT", &v)?;
    }
    if let Some(v) = get("RUST_LOG") {
        settings.log.filter = v;
    }
    Ok(())
}

/// The original's rule for opt-in flags: exactly `true` enables, anything else disables.
pub(super) fn only_true(value: &str) -> bool {
    value == "true"
}

/// The original's rule for opt-out flags: exactly `false` disables, anything else enables.
pub(super) fn unless_false(value: &str) -> bool {
    value != "false"
}

/// Splits a comma list, trimming entries and dropping empty ones.
pub(super) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses a comma list of IP addresses; `::ffff:a.b.c.d` is kept as written (the API matches
/// IPv4-mapped addresses both ways).
pub(super) fn parse_ips(key: &str, value: &str) -> Result<Vec<IpAddr>> {
    split_list(value).iter().map(|ip| parse(key, ip)).collect()
}

/// Parses one value, naming the variable in the error.
pub(super) fn parse<T>(key: &str, value: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e: T::Err| Error::Config {
        key: key.to_owned(),
        message: format!("cannot parse {value:?}: {e}"),
    })
}

impl FromStr for StoreBackend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "memory" => Ok(Self::Memory),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err("expected `memory` or `postgres`".to_owned()),
        }
    }
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "json" => Ok(Self::Json),
            "text" => Ok(Self::Text),
            _ => Err("expected `auto`, `json` or `text`".to_owned()),
        }
    }
}
