//! Typed, layered configuration of the `escrowgrid` binary.
//!
//! # Layers
//!
//! Highest precedence first: **command-line flags > environment variables > TOML file >
//! defaults**. [`Settings::from_layers`] applies them in the opposite order, each layer
//! overwriting only what it sets. The environment is passed in as a lookup function, so tests
//! inject a map and never mutate the process environment.
//!
//! # Environment variables
//!
//! The original service's names are kept (`PORT`, `STORE_BACKEND`, `DATABASE_URL`,
//! `ROOT_API_KEY`, `ROOT_API_KEY_ALLOWED_IPS`, `CORS_ALLOWED_ORIGINS`, `RATE_LIMIT_ENABLED`,
//! `RATE_LIMIT_WINDOW_MS`, `RATE_LIMIT_MAX_REQUESTS`, `METRICS_ENABLED`, `PUBLIC_DOCS_ENABLED`,
//! `NODE_ENV`) and a few are new (`HOST`, `CONSOLE_ENABLED`, `TRUST_PROXY`, `DATABASE_POOL_MAX`,
//! `DATABASE_DIRECT_URL`, `DATABASE_STATEMENT_CACHE`, `DATABASE_READ_URLS`,
//! `DATABASE_REPLICA_MAX_LAG_MS`, `LEDGER_CHECKPOINT_INTERVAL_MS`,
//! `MIGRATE_ON_START`, `SHUTDOWN_TIMEOUT_MS`, `REQUEST_TIMEOUT_MS`, `HTTP_HEADER_READ_TIMEOUT_MS`,
//! `HTTP_MAX_CONNECTIONS`, `HTTP_MAX_IN_FLIGHT_REQUESTS`, `RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR`,
//! `RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR`, `LOG_FORMAT`, `RUST_LOG`,
//! `EVENTS_STREAM_HEARTBEAT_MS`, `EVENTS_STREAM_MAX_BUFFER`, `WEBHOOKS_*`, `ONCHAIN_*`);
//! see [`ENV_VARS`]. Parse rules:
//!
//! - opt-in booleans (`RATE_LIMIT_ENABLED`, `PUBLIC_DOCS_ENABLED`, `TRUST_PROXY`,
//!   `WEBHOOKS_ALLOW_PRIVATE_TARGETS`, `ONCHAIN_LEDGER_ENABLED`): only the exact string `true`
//!   enables, as in the original; opt-out booleans (`METRICS_ENABLED`, `CONSOLE_ENABLED`,
//!   `MIGRATE_ON_START`, `WEBHOOKS_ENABLED`, `DATABASE_STATEMENT_CACHE`): only `false`
//!   disables; `ONCHAIN_RETRY_WORKER_ENABLED` defaults to true but, once set, only `true` keeps
//!   it (the original's rule);
//! - a blank variable counts as unset;
//! - **deviation:** a number that does not parse (`PORT=abc`, `RATE_LIMIT_WINDOW_MS=x`) is an
//!   error naming the variable, where the original silently used 4000 for `PORT` and `NaN` for
//!   the rate-limit numbers;
//! - **deviation:** an unknown `STORE_BACKEND` is an error, where the original silently used
//!   memory; `postgresql` is accepted as a synonym of `postgres`;
//! - `DATABASE_URL` is required when the backend is `postgres` (the original's message);
//! - `WEBHOOKS_SECRET_KEY`, when set, must be base64 of 32 bytes.
//!
//! # Secrets
//!
//! The root API key and the database URL live in [`Secret`], whose `Debug` is redacted, so
//! `Settings` can be logged with `{:?}`.

mod args;
mod env;
mod onchain;
mod secret;
mod sections;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub use args::SettingsArgs;
pub use env::ENV_VARS;
pub use onchain::{FailureMode, OnchainConfig};
pub use secret::Secret;
pub use sections::{
    AuthSettings, EventsSettings, HttpSettings, LedgerSettings, LogFormat, LogSettings,
    RateLimitConfig, ServerSettings, StoreBackend, StoreSettings, WebhooksConfig,
};

use crate::{Error, Result};

/// An example configuration file with every key and its default (printed by
/// `escrowgrid print-config`).
pub const EXAMPLE_TOML: &str = include_str!("config/example.toml");

/// Every setting of the `escrowgrid` binary.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Listening socket and process lifecycle.
    pub server: ServerSettings,
    /// Storage backend.
    pub store: StoreSettings,
    /// Root key.
    pub auth: AuthSettings,
    /// HTTP behaviour (CORS, proxy trust, optional endpoints).
    pub http: HttpSettings,
    /// General per-key rate limiter.
    pub rate_limit: RateLimitConfig,
    /// The tamper-evident ledger.
    pub ledger: LedgerSettings,
    /// Webhook delivery.
    pub webhooks: WebhooksConfig,
    /// The on-chain ledger.
    pub onchain: OnchainConfig,
    /// Logging.
    pub log: LogSettings,
    /// The live event stream (`GET /events/stream`).
    pub events: EventsSettings,
}

impl Settings {
    /// Builds settings from the process: the optional file at `config_path`, the process
    /// environment and the parsed flags.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the file cannot be read or parsed, a variable or flag is invalid,
    /// or the result is inconsistent (see [`Settings::validate`]).
    pub fn load(config_path: Option<&Path>, args: &SettingsArgs) -> Result<Self> {
        let file = match config_path {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| Error::Config {
                key: path.display().to_string(),
                message: format!("cannot read config file: {e}"),
            })?),
            None => None,
        };
        Self::from_layers(file.as_deref(), &|name| std::env::var(name).ok(), args)
    }

    /// Layers defaults < `file` (TOML text) < `env` < `args`, then validates.
    ///
    /// # Errors
    ///
    /// As [`Settings::load`].
    pub fn from_layers(
        file: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
        args: &SettingsArgs,
    ) -> Result<Self> {
        let mut settings = match file {
            Some(text) => toml::from_str(text).map_err(|e| Error::Config {
                key: "config file".to_owned(),
                message: e.to_string(),
            })?,
            None => Self::default(),
        };
        env::apply(&mut settings, env)?;
        args.apply(&mut settings);
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the cross-field rules.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the backend is postgres without a database URL, the pool size is
    /// 0, the rate limiter is enabled with a zero window or limit, or the header read timeout,
    /// the connection cap or an hourly creation limit is 0.
    pub fn validate(&self) -> Result<()> {
        let fail = |key: &str, message: &str| {
            Err(Error::Config {
                key: key.to_owned(),
                message: message.to_owned(),
            })
        };
        if self.store.backend == StoreBackend::Postgres && self.store.database_url.is_none() {
            return fail(
                "DATABASE_URL",
                "DATABASE_URL is required when STORE_BACKEND=postgres",
            );
        }
        if self.server.worker_threads == Some(0) {
            return fail("WORKER_THREADS", "must be at least 1");
        }
        if self.store.pool_max == 0 {
            return fail("DATABASE_POOL_MAX", "must be at least 1");
        }
        if self.events.stream_heartbeat_ms == 0 {
            return fail("EVENTS_STREAM_HEARTBEAT_MS", "must be at least 1");
        }
        if self.events.stream_max_buffer == 0 {
            return fail("EVENTS_STREAM_MAX_BUFFER", "must be at least 1");
        }
        if self.rate_limit.enabled
            && (self.rate_limit.window_ms == 0 || self.rate_limit.max_requests == 0)
        {
            return fail(
                "RATE_LIMIT_WINDOW_MS",
                "window and max requests must be positive when the rate limiter is enabled",
            );
        }
        let positive = [
            (
                "HTTP_HEADER_READ_TIMEOUT_MS",
                self.http.header_read_timeout_ms == 0,
            ),
            ("HTTP_MAX_CONNECTIONS", self.http.max_connections == 0),
            (
                "HTTP_MAX_IN_FLIGHT_REQUESTS",
                self.http.max_in_flight_requests == 0,
            ),
            (
                "RATE_LIMIT_INSTITUTION_CREATIONS_PER_HOUR",
                self.rate_limit.institution_creations_per_hour == 0,
            ),
            (
                "RATE_LIMIT_API_KEY_CREATIONS_PER_HOUR",
                self.rate_limit.api_key_creations_per_hour == 0,
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, zero)| *zero) {
            return fail(key, "must be at least 1");
        }
        if self.webhooks.timeout_ms == 0 {
            return fail("WEBHOOKS_TIMEOUT_MS", "must be positive");
        }
        if let Err((key, message)) = self.onchain.check() {
            return fail(key, &message);
        }
        if let Some(key) = &self.webhooks.secret_key {
            if let Err(message) = crate::webhooks::SecretBox::from_base64_key(key.expose()) {
                return fail("WEBHOOKS_SECRET_KEY", &message);
            }
        }
        Ok(())
    }

    /// Whether `NODE_ENV` is `production`.
    pub fn production(&self) -> bool {
        self.server.environment.as_deref() == Some("production")
    }

    /// The drain deadline for graceful shutdown.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.server.shutdown_timeout_ms)
    }
}

#[cfg(test)]
mod tests;
