//! Read replicas: connections for reads that may lag behind the primary.
//!
//! [`PgReadPools`] holds the primary's pool and one pool per streaming replica. A background
//! task measures every replica's replay lag every [`ReplicaOptions::check_interval`]
//! (`0` when it has replayed everything it received, else the age of the last replayed
//! transaction) and publishes it as the gauge `replica_lag_seconds{replica}`. [`PgReadPools::get`]
//! hands out a connection to a replica whose last check succeeded within the lag limit (round
//! robin), and falls back to the primary when none qualifies or the checkout fails: a lagging
//! or dead replica costs freshness or load, never an error.
//!
//! Which reads may go there is the caller's rule; reads that must see the caller's own writes
//! stay on the primary's pool.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::AbortHandle;

use super::{PgClient, PgConfig, PgPool};
use crate::Result;

/// The replica's lag in seconds: 0 when it replayed all it received.
const LAG: &str = "select case when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
    else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), 0) end::float8";

/// The shortest time a lag check may take before the replica counts as unavailable.
const MIN_CHECK_TIMEOUT: Duration = Duration::from_millis(100);

/// Lag limit and check period of [`PgReadPools`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaOptions {
    /// A replica lagging more than this is skipped (default 1 s).
    pub max_lag: Duration,
    /// How often each replica's lag is measured (default 500 ms).
    pub check_interval: Duration,
}

impl Default for ReplicaOptions {
    fn default() -> Self {
        Self {
            max_lag: Duration::from_secs(1),
            check_interval: Duration::from_millis(500),
        }
    }
}

/// The primary's pool and the replicas' pools; cheap to clone. See the [module docs](self).
#[derive(Clone)]
pub struct PgReadPools {
    primary: PgPool,
    replicas: Arc<[Replica]>,
    next: Arc<AtomicUsize>,
    _checker: Arc<Checker>,
}

struct Replica {
    pool: PgPool,
    usable: AtomicBool,
    lag_micros: AtomicU64,
}

/// Aborts the lag checker when the last clone is dropped.
struct Checker(Option<AbortHandle>);

impl Drop for Checker {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

impl fmt::Debug for PgReadPools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgReadPools")
            .field("primary", &self.primary.config())
            .field("replicas", &self.replicas.len())
            .finish_non_exhaustive()
    }
}

impl PgReadPools {
    /// Only the primary: every read goes there.
    pub fn primary_only(primary: PgPool) -> Self {
        Self {
            primary,
            replicas: Arc::from(Vec::new()),
            next: Arc::default(),
            _checker: Arc::new(Checker(None)),
        }
    }

    /// Builds a pool per replica (connections open on demand, so an unreachable replica does
    /// not stop the start) and starts the lag checker on the current runtime.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Config`] for an unusable replica configuration.
    pub async fn connect(
        primary: PgPool,
        replicas: &[PgConfig],
        options: ReplicaOptions,
    ) -> Result<Self> {
        let mut built = Vec::with_capacity(replicas.len());
        for config in replicas {
            built.push(Replica {
                pool: PgPool::build(config)?,
                usable: AtomicBool::new(false),
                lag_micros: AtomicU64::new(0),
            });
        }
        let replicas: Arc<[Replica]> = Arc::from(built);
        let checker = (!replicas.is_empty()).then(|| {
            let replicas = Arc::downgrade(&replicas);
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(options.check_interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    let Some(replicas) = replicas.upgrade() else {
                        return;
                    };
                    for (index, replica) in replicas.iter().enumerate() {
                        replica.check(index, options).await;
                    }
                }
            })
            .abort_handle()
        });
        let this = Self {
            primary,
            replicas,
            next: Arc::default(),
            _checker: Arc::new(Checker(checker)),
        };
        for (index, replica) in this.replicas.iter().enumerate() {
            replica.check(index, options).await;
        }
        Ok(this)
    }

    /// The primary's pool.
    pub fn primary(&self) -> &PgPool {
        &self.primary
    }

    /// A connection for a read that may lag by up to the lag limit: a usable replica's, else
    /// the primary's.
    ///
    /// # Errors
    ///
    /// As [`PgPool::get`] on the primary.
    pub async fn get(&self) -> Result<PgClient> {
        let count = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..count {
            let replica = &self.replicas[(start + offset) % count];
            if !replica.usable.load(Ordering::Acquire) {
                continue;
            }
            match replica.pool.get().await {
                Ok(client) => return Ok(client),
                Err(err) => {
                    replica.usable.store(false, Ordering::Release);
                    tracing::warn!(error = %err, "read replica unavailable; skipping it");
                }
            }
        }
        self.primary.get().await
    }

    /// The last measured lag of each replica (`None` while it is not usable).
    pub fn lags(&self) -> Vec<Option<Duration>> {
        self.replicas
            .iter()
            .map(|r| {
                r.usable
                    .load(Ordering::Acquire)
                    .then(|| Duration::from_micros(r.lag_micros.load(Ordering::Acquire)))
            })
            .collect()
    }
}

impl Replica {
    /// Measures the lag (bounded by the check interval) and updates `usable` and the gauge.
    async fn check(&self, index: usize, options: ReplicaOptions) {
        let limit = options.check_interval.max(MIN_CHECK_TIMEOUT);
        let measured = tokio::time::timeout(limit, async {
            let client = self.pool.get().await?;
            lag_seconds(&client).await
        })
        .await;
        let label = index.to_string();
        match measured {
            Ok(Ok(Some(lag))) => {
                let lag = Duration::try_from_secs_f64(lag.max(0.0)).unwrap_or(Duration::MAX);
                self.lag_micros.store(
                    u64::try_from(lag.as_micros()).unwrap_or(u64::MAX),
                    Ordering::Release,
                );
                self.usable.store(lag <= options.max_lag, Ordering::Release);
                metrics::gauge!("replica_lag_seconds", "replica" => label).set(lag.as_secs_f64());
            }
            Ok(Ok(None)) => {
                self.usable.store(false, Ordering::Release);
                tracing::debug!(replica = index, "replica lag check returned no number");
            }
            Ok(Err(err)) => {
                self.usable.store(false, Ordering::Release);
                tracing::debug!(replica = index, error = %err, "replica lag check failed");
            }
            Err(_) => {
                self.usable.store(false, Ordering::Release);
                tracing::debug!(replica = index, "replica lag check timed out");
            }
        }
    }
}

/// The replica's lag in seconds, by a simple query (no prepared statement).
async fn lag_seconds(client: &PgClient) -> Result<Option<f64>> {
    let rows = client.simple_query(LAG).await?;
    Ok(rows.iter().find_map(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).and_then(|v| v.parse().ok()),
        _ => None,
    }))
}
