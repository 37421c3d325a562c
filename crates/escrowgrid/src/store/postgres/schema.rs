//! The embedded migrations of the EscrowGrid schema.

use gridstore::postgres::Migration;

/// The history table recording applied migrations (version, name, checksum, timing).
pub const HISTORY_TABLE: &str = "escrowgrid_migrations";

/// Every migration, in version order. Never edit one that has landed: add a new file.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "idempotency",
        sql: include_str!("../../../migrations/0002_idempotency.sql"),
    },
];
