//! The connection pool: deadpool-postgres with idle-aware verification, lifetimes and idle
//! reaping.

use std::fmt;
use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Metrics, Pool, RecyclingMethod, Runtime, WeakPool,
};
use futures_util::future::try_join_all;

use super::PgConfig;
use super::statements::{PgConnection, PgStatement, Statements};
use crate::{Error, Result};

/// A pooled connection; derefs to [`tokio_postgres::Client`] and implements
/// [`deadpool_postgres::GenericClient`]. Dropping it returns it to the pool.
pub type PgClient = deadpool_postgres::Object;

/// The shortest interval at which the background reaper looks for idle or expired connections.
const MIN_REAP_INTERVAL: Duration = Duration::from_millis(100);

/// A snapshot of the pool's occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool will open.
    pub max_size: usize,
    /// Connections currently open (checked out or idle).
    pub size: usize,
    /// Idle connections ready to be checked out.
    pub available: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// A pool of PostgreSQL connections shared by every PostgreSQL backend. Cheap to clone.
///
/// Connections are closed when older than the configured maximum lifetime or idle for longer
/// than the idle timeout, and carry the configured `statement_timeout` and `application_name`.
///
/// # Verification on checkout
///
/// Every checkout first makes the local check that costs nothing: a connection whose socket
/// the driver has seen close (the server terminated it, restarted, or the peer reset the TCP
/// connection) is discarded and another one is handed out. A connection that has not been
/// checked out for [`PgConfig::verify_after_idle`] (default 1 s) or longer is also verified
/// with a round trip (an empty query, bounded by the connect timeout) and replaced
/// transparently when that fails. `Duration::ZERO` verifies every checkout.
///
/// The trade-off: a connection that died less than `verify_after_idle` after its previous
/// checkout, in a way the driver has not noticed yet, is handed out unverified. When the
/// server or the network closed it (FIN or RST, e.g. `pg_terminate_backend` or a restart whose
/// close the driver had not processed yet), the caller's first statement fails with
/// [`Error::Connection`], which is [retryable](crate::Retryable): gridstore's retry helpers
/// take a fresh connection on the next attempt, and the broken one is discarded by the next
/// checkout that sees it closed. When it died *silently* (a network partition or half-open
/// TCP connection: no FIN, no RST, no reply), the statement waits until TCP keepalive or the
/// caller's own timeout gives up, where a verifying checkout would have given up after the
/// connect timeout. Both cases need a death within the window of a recent successful use. In
/// exchange, a busy pool saves one round trip per checkout, which on a loopback server is most
/// of the cost of a primary-key read.
#[derive(Clone)]
pub struct PgPool {
    pool: Pool,
    config: PgConfig,
    statements: Statements,
}

impl fmt::Debug for PgPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgPool")
            .field("config", &self.config)
            .field("status", &self.status())
            .finish()
    }
}

impl PgPool {
    /// Builds the pool, opens `pool_min_idle` connections (at least one) and checks that the
    /// server answers.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unusable configuration (e.g. `verify-full` without a root certificate),
    /// [`Error::Tls`] when the TLS handshake fails (e.g. an untrusted certificate or a server
    /// without TLS under `require`),
    /// [`Error::Connection`] when the server cannot be reached, and any classified error of the
    /// check query.
    pub async fn connect(config: &PgConfig) -> Result<Self> {
        let this = Self::build(config)?;
        this.prewarm().await?;
        tracing::debug!(
            host = this.config.host(),
            port = this.config.port(),
            dbname = this.config.dbname(),
            max_size = this.config.pool_max_size(),
            "postgres pool connected"
        );
        Ok(this)
    }

    /// Builds the pool without opening a connection (they open on demand) and starts the
    /// reaper on the current runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unusable configuration.
    pub(crate) fn build(config: &PgConfig) -> Result<Self> {
        if config.pool_max_size() == 0 {
            return Err(Error::Config("pool max size must be at least 1".to_owned()));
        }
        let driver_config = config.to_driver_config()?;
        let tls = config.tls()?;
        let statements = if config.statement_cache() {
            Statements::cached()
        } else {
            Statements::uncached(driver_config.clone(), tls.clone())
        };
        let manager = Manager::from_config(
            driver_config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_max_size())
            .wait_timeout(Some(config.wait_timeout()))
            .create_timeout(Some(config.connect_timeout()))
            .recycle_timeout(Some(config.connect_timeout()))
            .pre_recycle(expiry_hook(config.idle_timeout(), config.max_lifetime()))
            .post_recycle(verify_hook(
                config.verify_after_idle(),
                config.connect_timeout(),
            ))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|err| Error::Config(err.to_string().to_lowercase()))?;
        let this = Self {
            pool,
            config: config.clone(),
            statements,
        };
        this.spawn_reaper();
        Ok(this)
    }

    /// Checks a connection out of the pool, opening one if none is idle.
    ///
    /// # Errors
    ///
    /// [`Error::PoolTimeout`] when none became free within the wait timeout,
    /// [`Error::Connection`] when a new one cannot be opened or the pool is closed.
    pub async fn get(&self) -> Result<PgClient> {
        Ok(self.pool.get().await?)
    }

    /// Prepares `sql` to run on `client` (a connection of this pool or a transaction on one):
    /// a named statement cached per connection, or, with the statement cache off, the unnamed
    /// statement with its parameter types (see [`statements`](super::statements)).
    ///
    /// # Errors
    ///
    /// Classified errors of the server (e.g. a syntax error) or of the connection.
    pub async fn prepare<C: PgConnection>(&self, client: &C, sql: &str) -> Result<PgStatement> {
        Ok(self.statements.prepare(client, sql).await?)
    }

    /// Returns how many connections are open, idle and awaited.
    pub fn status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        }
    }

    /// Runs `select 1` on a pooled connection.
    ///
    /// # Errors
    ///
    /// As [`PgPool::get`], plus any classified error of the query.
    pub async fn ping(&self) -> Result<()> {
        let client = self.get().await?;
        client.simple_query("select 1").await?;
        Ok(())
    }

    /// Closes the pool: idle connections are closed at once, checked-out ones when returned,
    /// and later [`PgPool::get`] calls fail.
    pub fn close(&self) {
        self.pool.close();
    }

    /// Returns the configuration this pool was built from, e.g. to open a dedicated `LISTEN`
    /// connection with [`PgConfig::to_driver_config`].
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// Opens `pool_min_idle` connections (at least one) at once and returns them to the pool.
    async fn prewarm(&self) -> Result<()> {
        let count = self
            .config
            .pool_min_idle()
            .clamp(1, self.config.pool_max_size());
        let clients = try_join_all((0..count).map(|_| self.get())).await?;
        if let Some(client) = clients.first() {
            client.simple_query("select 1").await?;
        }
        Ok(())
    }

    /// Spawns a task that closes idle or expired connections sitting in the pool. It holds only
    /// a weak reference and ends when the pool is dropped or closed.
    fn spawn_reaper(&self) {
        let idle_timeout = self.config.idle_timeout();
        let max_lifetime = self.config.max_lifetime();
        let Some(shortest) = [idle_timeout, max_lifetime].into_iter().flatten().min() else {
            return;
        };
        let interval = (shortest / 2).max(MIN_REAP_INTERVAL);
        let weak: WeakPool = self.pool.weak();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(pool) = weak.upgrade() else { break };
                if pool.is_closed() {
                    break;
                }
                let removed = pool
                    .retain(|_, metrics| !is_expired(&metrics, idle_timeout, max_lifetime))
                    .removed
                    .len();
                if removed > 0 {
                    tracing::debug!(removed, "closed idle or expired postgres connections");
                }
            }
        });
    }
}

/// A `pre_recycle` hook that discards connections past their idle timeout or lifetime instead
/// of handing them out.
fn expiry_hook(idle_timeout: Option<Duration>, max_lifetime: Option<Duration>) -> Hook {
    Hook::sync_fn(move |_, metrics| {
        if is_expired(metrics, idle_timeout, max_lifetime) {
            Err(HookError::message("connection expired"))
        } else {
            Ok(())
        }
    })
}

/// A `post_recycle` hook (it runs after deadpool's local `is_closed` check) that verifies a
/// connection with an empty query when its last checkout began at least `verify_after_idle`
/// ago, and discards it when the query fails or takes longer than `timeout`.
fn verify_hook(verify_after_idle: Duration, timeout: Duration) -> Hook {
    Hook::async_fn(move |client, metrics| {
        Box::pin(async move {
            let idle = metrics.last_used();
            if idle < verify_after_idle {
                return Ok(());
            }
            match tokio::time::timeout(timeout, client.simple_query("")).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => {
                    tracing::debug!(
                        error = %err,
                        idle_ms = idle.as_millis(),
                        "pooled postgres connection failed verification; replacing it"
                    );
                    Err(HookError::Backend(err))
                }
                Err(_) => {
                    tracing::debug!(
                        idle_ms = idle.as_millis(),
                        timeout_ms = timeout.as_millis(),
                        "pooled postgres connection verification timed out; replacing it"
                    );
                    Err(HookError::message("connection verification timed out"))
                }
            }
        })
    })
}

/// Whether a connection has been idle or alive for too long.
fn is_expired(
    metrics: &Metrics,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
) -> bool {
    idle_timeout.is_some_and(|limit| metrics.last_used() > limit)
        || max_lifetime.is_some_and(|limit| metrics.age() > limit)
}
