//! gridstore's own migrations, applied with [`migrate`] into the `gridstore_migrations` history
//! table.

use super::{Migration, PgPool};
use crate::Result;

/// The history table of gridstore's migrations.
pub const HISTORY_TABLE: &str = "gridstore_migrations";

/// Every gridstore migration, in version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 4,
        name: "event_log",
        sql: include_str!("../../migrations/0004_event_log.sql"),
    },
    Migration {
        version: 5,
        name: "dlq",
        sql: include_str!("../../migrations/0005_dlq.sql"),
    },
    Migration {
        version: 6,
        name: "leases",
        sql: include_str!("../../migrations/0006_leases.sql"),
    },
];

/// Applies gridstore's pending migrations; returns the versions this call applied.
///
/// # Errors
/// See [`super::migrate()`](fn@super::migrate).
pub async fn migrate(pool: &PgPool) -> Result<Vec<i64>> {
    super::migrate(pool, HISTORY_TABLE, MIGRATIONS).await
}
