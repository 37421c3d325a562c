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
    Migration {
        version: 3,
        name: "audit_filters",
        sql: include_str!("../../../migrations/0003_audit_filters.sql"),
    },
    Migration {
        version: 4,
        name: "idempotency_reservations",
        sql: include_str!("../../../migrations/0004_idempotency_reservations.sql"),
    },
    Migration {
        version: 5,
        name: "idempotency_on_kv",
        sql: include_str!("../../../migrations/0005_idempotency_on_kv.sql"),
    },
    Migration {
        version: 6,
        name: "webhooks",
        sql: include_str!("../../../migrations/0006_webhooks.sql"),
    },
    Migration {
        version: 7,
        name: "ledger_hash_chain",
        sql: include_str!("../../../migrations/0007_ledger_hash_chain.sql"),
    },
    Migration {
        version: 8,
        name: "tenant_keys",
        sql: include_str!("../../../migrations/0008_tenant_keys.sql"),
    },
    Migration {
        version: 9,
        name: "keyset_indexes",
        sql: include_str!("../../../migrations/0009_keyset_indexes.sql"),
    },
    Migration {
        version: 10,
        name: "list_keysets",
        sql: include_str!("../../../migrations/0010_list_keysets.sql"),
    },
    Migration {
        version: 11,
        name: "policy_guard",
        sql: include_str!("../../../migrations/0011_policy_guard.sql"),
    },
    Migration {
        version: 12,
        name: "position_guard",
        sql: include_str!("../../../migrations/0012_position_guard.sql"),
    },
];

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::domain::{
        ApiKeyRole, AuditAction, AuditOutcome, CURRENCIES, LedgerEventKind, PositionState, Region,
        ResourceType, TemplateCode, Vertical,
    };

    /// Fails when the domain gains a spelling that no CHECK constraint of the schema lists.
    fn assert_listed<'a>(kind: &str, spellings: impl IntoIterator<Item = &'a str>) {
        let schema: String = MIGRATIONS.iter().map(|m| m.sql).collect();
        for spelling in spellings {
            assert!(
                schema.contains(&format!("'{spelling}'")),
                "{kind} {spelling} is missing from the schema's check constraints"
            );
        }
    }

    #[test]
    fn every_domain_enum_spelling_is_allowed_by_the_schema() {
        assert_listed("region", Region::ALL.iter().map(|v| v.as_str()));
        assert_listed("vertical", Vertical::ALL.iter().map(|v| v.as_str()));
        assert_listed("state", PositionState::ALL.iter().map(|v| v.as_str()));
        assert_listed("role", ApiKeyRole::ALL.iter().map(|v| v.as_str()));
        assert_listed("code", TemplateCode::ALL.iter().map(|v| v.as_str()));
        assert_listed("kind", LedgerEventKind::ALL.iter().map(|v| v.as_str()));
        assert_listed("action", AuditAction::ALL.iter().map(|v| v.as_str()));
        assert_listed("outcome", AuditOutcome::ALL.iter().map(|v| v.as_str()));
        assert_listed("resource", ResourceType::ALL.iter().map(|v| v.as_str()));
        assert_listed("currency", CURRENCIES);
    }

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(usize::try_from(migration.version).unwrap(), index + 1);
        }
    }
}
