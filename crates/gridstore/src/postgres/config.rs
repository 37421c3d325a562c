//! Typed connection and pool settings for PostgreSQL.

mod driver;
mod ssl;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, TargetSessionAttrs};

pub use self::ssl::SslMode;
use super::tls::PgTls;
use crate::{Error, Result};

/// Default pool size.
const DEFAULT_POOL_MAX_SIZE: usize = 16;
/// Default time allowed to open one connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time a caller waits for a pooled connection.
const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default idle time after which a pooled connection is verified with a round trip on checkout.
const DEFAULT_VERIFY_AFTER_IDLE: Duration = Duration::from_secs(1);
/// Default `application_name` reported to the server.
const DEFAULT_APPLICATION_NAME: &str = "gridstore";

/// Connection and pool settings for a PostgreSQL backend.
///
/// Built from a URL ([`PgConfig::from_url`]) or field by field ([`PgConfig::new`] and the
/// consuming `with_*` setters). `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    host: String,
    port: u16,
    dbname: String,
    user: String,
    password: Option<String>,
    options: Option<String>,
    pool_max_size: usize,
    pool_min_idle: usize,
    connect_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    statement_timeout: Option<Duration>,
    wait_timeout: Duration,
    verify_after_idle: Duration,
    application_name: String,
    ssl_mode: SslMode,
    ssl_root_cert: Option<PathBuf>,
    statement_cache: bool,
    direct: Option<Box<PgConfig>>,
    fallback_hosts: Vec<(String, u16)>,
    read_write_only: bool,
}

impl Default for PgConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl PgConfig {
    /// Returns the defaults: `localhost:5432`, database and user `postgres`, no password,
    /// 16 connections, 5 s connect timeout, 10 s pool wait timeout, no idle timeout, no
    /// maximum lifetime, no statement timeout, checkouts verified after 1 s idle,
    /// `application_name` `gridstore`, TLS when the server offers it ([`SslMode::Prefer`]).
    pub fn new() -> Self {
        Self {
            host: "localhost".to_owned(),
            port: 5432,
            dbname: "postgres".to_owned(),
            user: "postgres".to_owned(),
            password: None,
            options: None,
            pool_max_size: DEFAULT_POOL_MAX_SIZE,
            pool_min_idle: 0,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            idle_timeout: None,
            max_lifetime: None,
            statement_timeout: None,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            verify_after_idle: DEFAULT_VERIFY_AFTER_IDLE,
            application_name: DEFAULT_APPLICATION_NAME.to_owned(),
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            statement_cache: true,
            direct: None,
            fallback_hosts: Vec::new(),
            read_write_only: false,
        }
    }

    /// Parses a `postgres://user:password@host:port/db?...` URL or a libpq `key=value`
    /// connection string. Settings the string does not mention keep their defaults.
    ///
    /// A host starting with `/` is a Unix socket directory. `sslmode` takes libpq's five
    /// values and `sslrootcert` names a PEM file of trusted certificates (see [`SslMode`]).
    ///
    /// # Errors
    ///
    /// Several hosts (`postgres://h1:5432,h2:5432/db`) are tried in order; with
    /// `target_session_attrs=read-write` only a server accepting writes is kept, so after a
    /// failover new connections find the promoted standby.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the string does not parse, has several ports but not one per
    /// host, has an unknown `sslmode`, or the password is not UTF-8. The message never contains the password.
    pub fn from_url(url: &str) -> Result<Self> {
        let (url, ssl) = ssl::take_ssl_params(url)?;
        let parsed = tokio_postgres::Config::from_str(&url)
            .map_err(|err| Error::Config(format!("invalid database url: {err}")))?;
        let mut config = Self::new();
        let hosts: Vec<String> = parsed
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(host) => host.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.to_string_lossy().into_owned(),
            })
            .collect();
        let ports = parsed.get_ports();
        if ports.len() > 1 && ports.len() != hosts.len() {
            return Err(Error::Config(
                "give one port, or one port per host".to_owned(),
            ));
        }
        let port_of = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        if let Some(first) = hosts.first() {
            config.host.clone_from(first);
        }
        config.port = port_of(0);
        config.fallback_hosts = hosts
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, host)| (host.clone(), port_of(i)))
            .collect();
        config.read_write_only = parsed.get_target_session_attrs() == TargetSessionAttrs::ReadWrite;
        if let Some(dbname) = parsed.get_dbname() {
            config.dbname = dbname.to_owned();
        }
        if let Some(user) = parsed.get_user() {
            config.user = user.to_owned();
        }
        if let Some(password) = parsed.get_password() {
            let password = String::from_utf8(password.to_vec())
                .map_err(|_| Error::Config("password is not valid utf-8".to_owned()))?;
            config.password = Some(password);
        }
        config.options = parsed.get_options().map(str::to_owned);
        if let Some(name) = parsed.get_application_name() {
            config.application_name = name.to_owned();
        }
        if let Some(timeout) = parsed.get_connect_timeout() {
            config.connect_timeout = *timeout;
        }
        config.ssl_mode = ssl.mode.unwrap_or_default();
        config.ssl_root_cert = ssl.root_cert.map(PathBuf::from);
        Ok(config)
    }

    /// Sets the host name, IP address, or Unix socket directory (starting with `/`).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Sets the TCP port (or the socket file suffix for Unix sockets).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the database name.
    pub fn with_dbname(mut self, dbname: impl Into<String>) -> Self {
        self.dbname = dbname.into();
        self
    }

    /// Sets the user name.
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// Sets the password.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Sets the maximum number of pooled connections (default 16).
    pub fn with_pool_max_size(mut self, size: usize) -> Self {
        self.pool_max_size = size;
        self
    }

    /// Sets how many connections [`PgPool::connect`](super::PgPool::connect) opens up front
    /// (default 0). deadpool does not keep a minimum alive afterwards: connections closed by
    /// the idle timeout or maximum lifetime are reopened on demand.
    pub fn with_pool_min_idle(mut self, size: usize) -> Self {
        self.pool_min_idle = size;
        self
    }

    /// Sets the time allowed to open one connection (default 5 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Closes idle pooled connections whose last checkout began longer ago than this (default
    /// never; deadpool records checkout, not return, times). A background task of the pool
    /// checks every half timeout (at most every 100 ms).
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Closes connections older than this (default never): idle ones from the background task,
    /// busy ones when they are next checked out.
    pub fn with_max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Sets the server-side `statement_timeout` of every connection (default none), in whole
    /// milliseconds rounded up; `Some(Duration::ZERO)` means no timeout, as in PostgreSQL.
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Sets how long a caller waits for a pooled connection (default 10 s).
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Sets how long a pooled connection may go without a checkout before the next checkout
    /// verifies it with a round trip to the server (default 1 s). Connections checked out
    /// more recently get only a local check that the driver has not seen the socket close.
    /// `Duration::ZERO` verifies every checkout. See [`PgPool`](super::PgPool) for the
    /// trade-off.
    pub fn with_verify_after_idle(mut self, idle: Duration) -> Self {
        self.verify_after_idle = idle;
        self
    }

    /// Sets the `application_name` reported to the server (default `gridstore`).
    pub fn with_application_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.application_name);
        self
    }

    /// Sets the TLS mode (default [`SslMode::Prefer`]).
    pub fn with_ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = mode;
        self
    }

    /// Sets the PEM file of trusted root certificates (libpq's `sslrootcert`); required by
    /// `verify-ca` and `verify-full`, and makes `prefer` and `require` check the chain too.
    pub fn with_ssl_root_cert(mut self, path: Option<PathBuf>) -> Self {
        self.ssl_root_cert = path;
        self
    }

    /// Whether pooled connections keep named prepared statements (default true). Set false
    /// behind a transaction pooler such as PgBouncer in transaction mode: statements then run
    /// on the unnamed statement and no named statement outlives its transaction (see
    /// [`statements`](super::statements)).
    pub fn with_statement_cache(mut self, cache: bool) -> Self {
        self.statement_cache = cache;
        self
    }

    /// Sets the server to reach directly, bypassing a pooler, for what needs a session of its
    /// own: the `LISTEN` connection ([`PgListener`](super::PgListener)) and migrations
    /// ([`migrate`](super::migrate()), which holds a session advisory lock). Default none: they
    /// use this configuration's server. Its own pool settings are ignored.
    pub fn with_direct(mut self, direct: Option<PgConfig>) -> Self {
        self.direct = direct.map(Box::new);
        self
    }

    /// Returns whether pooled connections keep named prepared statements.
    pub fn statement_cache(&self) -> bool {
        self.statement_cache
    }

    /// Returns the hosts (and ports) tried after the first, in order.
    pub fn fallback_hosts(&self) -> &[(String, u16)] {
        &self.fallback_hosts
    }

    /// Returns whether only a server accepting writes is kept (`target_session_attrs`).
    pub fn read_write_only(&self) -> bool {
        self.read_write_only
    }

    /// Returns the direct server's configuration, if one is set.
    pub fn direct(&self) -> Option<&PgConfig> {
        self.direct.as_deref()
    }

    /// Returns the host name, IP address or Unix socket directory.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Returns the port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the database name.
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// Returns the user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Returns whether a password is set (the password itself is never handed out).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Returns the maximum number of pooled connections.
    pub fn pool_max_size(&self) -> usize {
        self.pool_max_size
    }

    /// Returns how many connections are opened up front.
    pub fn pool_min_idle(&self) -> usize {
        self.pool_min_idle
    }

    /// Returns the time allowed to open one connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Returns the idle timeout of pooled connections.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// Returns the maximum lifetime of pooled connections.
    pub fn max_lifetime(&self) -> Option<Duration> {
        self.max_lifetime
    }

    /// Returns the per-connection `statement_timeout`.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// Returns how long a caller waits for a pooled connection.
    pub fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    /// Returns the idle time after which a checkout verifies the connection.
    pub fn verify_after_idle(&self) -> Duration {
        self.verify_after_idle
    }

    /// Returns the `application_name`.
    pub fn application_name(&self) -> &str {
        &self.application_name
    }

    /// Returns the TLS mode.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// Returns the root certificate file, if any.
    pub fn ssl_root_cert(&self) -> Option<&Path> {
        self.ssl_root_cert.as_deref()
    }

    /// Builds the TLS connector for [`PgConfig::to_driver_config`]'s configuration (it reads
    /// the root certificate file).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `verify-ca` or `verify-full` has no root certificate, or the
    /// file cannot be read.
    pub fn tls(&self) -> Result<PgTls> {
        PgTls::new(self.ssl_mode, self.ssl_root_cert.as_deref())
    }
}
