//! Turning a [`PgConfig`] into the driver's configuration and connections, and its redacted
//! `Debug`.

use std::fmt;

use tokio_postgres::config::{SslMode as DriverSslMode, TargetSessionAttrs};

use super::{PgConfig, SslMode};
use crate::Result;

impl PgConfig {
    /// Opens one connection outside any pool (with TLS as configured); its driver task ends
    /// when the client is dropped.
    pub(crate) async fn connect_session(&self) -> Result<deadpool_postgres::ClientWrapper> {
        let (client, connection) = self.to_driver_config()?.connect(self.tls()?).await?;
        let task = tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "postgres session connection ended");
            }
        });
        Ok(deadpool_postgres::ClientWrapper::new(client, task))
    }

    /// Builds the driver configuration, e.g. for a dedicated `LISTEN` connection outside the
    /// pool; connect it with [`PgConfig::tls`]. It carries the `statement_timeout` and
    /// `application_name`.
    ///
    /// # Errors
    ///
    /// None today; kept fallible for settings the driver may reject.
    pub fn to_driver_config(&self) -> Result<tokio_postgres::Config> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.dbname)
            .user(&self.user)
            .application_name(&self.application_name)
            .connect_timeout(self.connect_timeout)
            .keepalives(true)
            .ssl_mode(match self.ssl_mode {
                SslMode::Disable => DriverSslMode::Disable,
                SslMode::Prefer => DriverSslMode::Prefer,
                _ => DriverSslMode::Require,
            });
        for (host, port) in &self.fallback_hosts {
            config.host(host).port(*port);
        }
        if self.read_write_only {
            config.target_session_attrs(TargetSessionAttrs::ReadWrite);
        }
        if let Some(password) = &self.password {
            config.password(password);
        }
        let mut options = self.options.clone().unwrap_or_default();
        if let Some(timeout) = self.statement_timeout {
            if !options.is_empty() {
                options.push(' ');
            }
            // Whole milliseconds, rounded up: PostgreSQL reads 0 as "no timeout", so a
            // sub-millisecond timeout must not silently become none.
            let millis = timeout.as_nanos().div_ceil(1_000_000);
            options.push_str(&format!("-c statement_timeout={millis}"));
        }
        if !options.is_empty() {
            config.options(&options);
        }
        Ok(config)
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("fallback_hosts", &self.fallback_hosts)
            .field("read_write_only", &self.read_write_only)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("options", &self.options)
            .field("pool_max_size", &self.pool_max_size)
            .field("pool_min_idle", &self.pool_min_idle)
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("statement_timeout", &self.statement_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("verify_after_idle", &self.verify_after_idle)
            .field("application_name", &self.application_name)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("statement_cache", &self.statement_cache)
            .field("direct", &self.direct)
            .finish()
    }
}
