//! The server's metrics upkeep: histogram samples folded into buckets between scrapes, and on
//! PostgreSQL gridstore's health check exported as gauges (`gridstore_health_up`, pool
//! connections, lock waits, missing event-log partitions, NOTIFY queue usage).

use std::time::Duration;

use gridstore::postgres::PgPool;
use gridstore::postgres::event_log::DEFAULT_MONTHS_AHEAD;
use tokio::task::JoinHandle;

use crate::api::AppState;
use crate::observability::{self, UPKEEP_EVERY};

/// How often the database health gauges are refreshed (a few cheap catalog queries).
const HEALTH_EVERY: Duration = Duration::from_secs(15);

/// Runs until aborted: upkeep every [`UPKEEP_EVERY`], the health check every
/// [`HEALTH_EVERY`] (first one at once, so a fresh server exports its database gauges).
pub(super) fn spawn(state: AppState, pool: Option<PgPool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
        let mut health = tokio::time::interval(HEALTH_EVERY);
        upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = upkeep.tick() => {
                    state.metrics().run_upkeep();
                    if let Some(global) = observability::global_metrics() {
                        global.run_upkeep();
                    }
                }
                _ = health.tick(), if pool.is_some() => {
                    if let Some(pool) = &pool {
                        let report = gridstore::postgres::health::check(pool, DEFAULT_MONTHS_AHEAD).await;
                        if !report.is_healthy() {
                            tracing::warn!(problems = ?report.problems, "database health check");
                        }
                    }
                }
            }
        }
    })
}
