//! Issue 10 item 6: the schema is ready to distribute by tenant on Citus. Every table of
//! EscrowGrid's schema that carries tenant rows has `institution_id`, and its primary key, its
//! unique constraints and unique indexes include it (Citus enforces uniqueness per shard, so
//! a unique key without the distribution column cannot be kept), and every foreign key
//! between two tenant tables joins on it (co-located joins). Read from the catalog of a
//! migrated database, so a new migration cannot break it unnoticed.
//!
//! What does not hold today is listed in [`EXCEPTIONS`] with the reason and the way out
//! (`docs/SCALING.md`, "Citus"); the test also fails when a listed exception stops being one,
//! so the list stays true.

use std::collections::BTreeSet;

use super::support::migrated_store;

/// Tables that are not distributed by tenant: reference tables (copied to every node) and
/// bookkeeping outside the tenant model.
const NOT_TENANT_TABLES: [(&str, &str); 3] = [
    (
        "institutions",
        "the tenants themselves: a reference table (create_reference_table)",
    ),
    (
        "escrowgrid_migrations",
        "migration history, on the coordinator only",
    ),
    (
        "ledger_checkpoints",
        "checkpoints seal the whole ledger across tenants: a reference table, or on the coordinator",
    ),
];

/// Why a primary key on `id` alone is kept until the schema moves to Citus.
const ID_PK: &str = "ids are random UUIDs; root's by-id reads need an index on id alone. The Citus migration makes the key (institution_id, id) with a plain index on id; on one server that is one more index on every write for nothing";

/// Known violations: `(table, violation, why it is kept and the way out)`; `docs/SCALING.md`
/// ("Citus") describes the migration that removes them.
const EXCEPTIONS: [(&str, &str, &str); 17] = [
    (
        "api_keys",
        "unique index api_keys_key_hash_key without institution_id",
        "authentication finds a key by its hash before the tenant is known: on Citus a reference table (key_hash -> institution_id) answers that lookup",
    ),
    (
        "api_keys",
        "unique index api_keys_pkey without institution_id",
        ID_PK,
    ),
    (
        "asset_templates",
        "unique index asset_templates_pkey without institution_id",
        ID_PK,
    ),
    (
        "assets",
        "unique index assets_pkey without institution_id",
        ID_PK,
    ),
    (
        "audit_events",
        "institution_id is nullable",
        "root's actions and failed authentications have no tenant: on Citus they get a reserved institution id (one shard) or a table of their own",
    ),
    (
        "audit_events",
        "unique index audit_events_pkey without institution_id",
        ID_PK,
    ),
    (
        "audit_events",
        "unique index audit_events_seq_key without institution_id",
        "seq is the global write order from a sequence: on Citus unique (institution_id, seq), the sequence still orders",
    ),
    (
        "institution_policies",
        "unique index institution_policies_pkey without institution_id",
        ID_PK,
    ),
    (
        "ledger_events",
        "unique index ledger_events_pkey without institution_id",
        ID_PK,
    ),
    (
        "ledger_events",
        "unique index ledger_events_seq_key without institution_id",
        "seq is the global write order from a sequence: on Citus unique (institution_id, seq), the sequence still orders",
    ),
    (
        "position_events",
        "foreign key position_events_position_id_fkey to positions without institution_id",
        "follows from the missing column: (institution_id, position_id) references positions (institution_id, id)",
    ),
    (
        "position_events",
        "no institution_id column",
        "the store writes it without the tenant: the Citus migration adds it (backfilled from positions) and the insert sets it",
    ),
    (
        "position_events",
        "unique index position_events_pkey without institution_id",
        ID_PK,
    ),
    (
        "positions",
        "unique index positions_pkey without institution_id",
        ID_PK,
    ),
    (
        "webhook_deliveries",
        "foreign key webhook_deliveries_webhook_id_fkey to webhooks without institution_id",
        "on Citus (institution_id, webhook_id) references webhooks (institution_id, id)",
    ),
    (
        "webhook_deliveries",
        "unique index webhook_deliveries_pkey without institution_id",
        ID_PK,
    ),
    (
        "webhooks",
        "unique index webhooks_pkey without institution_id",
        ID_PK,
    ),
];

/// Every violation of the rules in the catalog, as `(table, violation)`.
async fn violations(client: &tokio_postgres::Client) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let not_tenant: Vec<&str> = NOT_TENANT_TABLES.iter().map(|(t, _)| *t).collect();
    // Ordinary and partitioned tables of the schema, partitions and gridstore's own excluded.
    let tables = client
        .query(
            "select c.relname::text,
                    exists (select 1 from pg_attribute a where a.attrelid = c.oid
                            and a.attname = 'institution_id' and not a.attisdropped),
                    exists (select 1 from pg_attribute a where a.attrelid = c.oid
                            and a.attname = 'institution_id' and a.attnotnull)
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = current_schema() and c.relkind in ('r', 'p')
               and not c.relispartition
               and c.relname not like 'gs\\_%' and c.relname <> 'gridstore_migrations'
             order by 1",
            &[],
        )
        .await
        .expect("tables");
    let mut tenant_tables = BTreeSet::new();
    for row in &tables {
        let (table, has, not_null): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
        if not_tenant.contains(&table.as_str()) {
            continue;
        }
        if !has {
            found.insert((table.clone(), "no institution_id column".to_owned()));
        } else if !not_null {
            found.insert((table.clone(), "institution_id is nullable".to_owned()));
        }
        tenant_tables.insert(table);
    }
    // Unique indexes (primary keys and unique constraints create one each) without the column.
    let uniques = client
        .query(
            "select t.relname::text, i.relname::text
             from pg_index x
             join pg_class t on t.oid = x.indrelid
             join pg_class i on i.oid = x.indexrelid
             join pg_namespace n on n.oid = t.relnamespace
             where n.nspname = current_schema() and x.indisunique
               and not exists (select 1 from pg_attribute a where a.attrelid = t.oid
                               and a.attname = 'institution_id'
                               and a.attnum = any (x.indkey::int2[]))
             order by 1, 2",
            &[],
        )
        .await
        .expect("unique indexes");
    for row in &uniques {
        let (table, index): (String, String) = (row.get(0), row.get(1));
        if tenant_tables.contains(&table) {
            found.insert((
                table,
                format!("unique index {index} without institution_id"),
            ));
        }
    }
    // Foreign keys between tenant tables that do not join on institution_id.
    let keys = client
        .query(
            "select t.relname::text, f.relname::text, k.conname::text
             from pg_constraint k
             join pg_class t on t.oid = k.conrelid
             join pg_class f on f.oid = k.confrelid
             join pg_namespace n on n.oid = t.relnamespace
             where n.nspname = current_schema() and k.contype = 'f'
               and not exists (
                   select 1 from unnest(k.conkey, k.confkey) as p(own, other)
                   join pg_attribute a on a.attrelid = k.conrelid and a.attnum = p.own
                   join pg_attribute b on b.attrelid = k.confrelid and b.attnum = p.other
                   where a.attname = 'institution_id' and b.attname = 'institution_id')
             order by 1, 3",
            &[],
        )
        .await
        .expect("foreign keys");
    for row in &keys {
        let (table, target, key): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        if tenant_tables.contains(&table) && tenant_tables.contains(&target) {
            found.insert((
                table,
                format!("foreign key {key} to {target} without institution_id"),
            ));
        }
    }
    found
}

#[tokio::test]
async fn every_tenant_table_is_keyed_by_institution_id_as_citus_requires() {
    // Arrange
    let (_store, database) = migrated_store().await;
    let client = database.connect().await;

    // Act
    let found = violations(&client).await;

    // Assert
    let expected: BTreeSet<(String, String)> = EXCEPTIONS
        .iter()
        .map(|(table, violation, _why)| ((*table).to_owned(), (*violation).to_owned()))
        .collect();
    let unexpected: Vec<_> = found.difference(&expected).collect();
    let resolved: Vec<_> = expected.difference(&found).collect();
    assert!(
        unexpected.is_empty() && resolved.is_empty(),
        "new violations (fix them, or list them with a reason in EXCEPTIONS and docs/SCALING.md): \
         {unexpected:#?}\nlisted exceptions that no longer apply (remove them): {resolved:#?}"
    );
}
