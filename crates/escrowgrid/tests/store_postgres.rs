//! The `EscrowStore` contract suite on PostgreSQL (one throwaway database per test, from
//! testkit), plus PostgreSQL-specific tests: schema guards (immutable ledger, CHECK
//! constraints, composite foreign keys), statement budgets, index use of the audit filters,
//! concurrent migrations, exact decimals and one-transaction writes.
//!
//! Run against an existing server with `TEST_DATABASE_URL=postgres://...`.

#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

#[path = "store_postgres/support.rs"]
mod support;

#[path = "store_postgres/schema.rs"]
mod schema;

#[path = "store_postgres/statements.rs"]
mod statements;

#[path = "store_postgres/atomicity.rs"]
mod atomicity;

#[path = "store_postgres/round_trips.rs"]
mod round_trips;

#[path = "store_postgres/plans.rs"]
mod plans;

#[path = "store_postgres/citus.rs"]
mod citus;

escrowgrid::escrow_store_contract_tests!(support::postgres_store);

mod webhooks {
    escrowgrid::webhook_store_contract_tests!(super::support::postgres_webhook_store);
}
mod idempotency_keys {
    escrowgrid::idempotency_contract_tests!(super::support::postgres_kv);
}

#[path = "store_postgres/idempotency_upgrade.rs"]
mod idempotency_upgrade;

#[path = "store_postgres/tenant_keys_upgrade.rs"]
mod tenant_keys_upgrade;

#[path = "store_postgres/tamper.rs"]
mod tamper;

#[path = "store_postgres/key_cache.rs"]
mod key_cache;

#[path = "store_postgres/policy_guard.rs"]
mod policy_guard;

#[path = "store_postgres/position_guard.rs"]
mod position_guard;
