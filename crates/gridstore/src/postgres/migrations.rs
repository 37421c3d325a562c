//! gridstore's own migrations (numbered SQL in `crates/gridstore/migrations/`, never edited
//! after landing) and the call that applies them.

use crate::Result;
use crate::postgres::{Migration, PgPool};

/// The history table recording which of [`MIGRATIONS`] are applied.
pub const HISTORY_TABLE: &str = "gridstore_migrations";

/// Every gridstore migration, in version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "sessions",
        sql: include_str!("../../migrations/0001_sessions.sql"),
    },
    Migration {
        version: 2,
        name: "kv",
        sql: include_str!("../../migrations/0002_kv.sql"),
    },
    Migration {
        version: 3,
        name: "checkpoints",
        sql: include_str!("../../migrations/0003_checkpoints.sql"),
    },
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
    Migration {
        version: 7,
        name: "sessions_save_many",
        sql: include_str!("../../migrations/0007_sessions_save_many.sql"),
    },
    Migration {
        version: 8,
        name: "partitions_at",
        sql: include_str!("../../migrations/0008_partitions_at.sql"),
    },
    Migration {
        version: 9,
        name: "checkpoint_fencing",
        sql: include_str!("../../migrations/0009_checkpoint_fencing.sql"),
    },
    Migration {
        version: 10,
        name: "announced_wakeups",
        sql: include_str!("../../migrations/0010_announced_wakeups.sql"),
    },
    Migration {
        version: 11,
        name: "containment_index_opt_in",
        sql: include_str!("../../migrations/0011_containment_index_opt_in.sql"),
    },
];

/// Applies the pending gridstore migrations (safe to call from several instances at once);
/// returns the versions this call applied.
///
/// # Errors
///
/// See [`crate::postgres::migrate()`].
pub async fn migrate(pool: &PgPool) -> Result<Vec<i64>> {
    crate::postgres::migrate(pool, HISTORY_TABLE, MIGRATIONS).await
}
