//! Issue 10 item 6: the schema is ready to distribute by tenant on Citus. Every table of
//! EscrowGrid's schema that carries tenant rows has a `not null` `institution_id`, and its
//! primary key, its unique constraints and unique indexes include it (Citus enforces
//! uniqueness per shard, so a unique key without the distribution column cannot be kept),
//! every foreign key between two tenant tables joins on it (co-located joins), and no table
//! outside the tenant model (a reference table) refers to a tenant table. Read from the catalog
//! of a migrated database, so a new migration cannot break it unnoticed.
//!
//! What does not hold is listed in [`EXCEPTIONS`] with the reason (`docs/SCALING.md`,
//! "Citus"); none since migration 0008. The test also fails when a listed exception stops
//! being one, so the list stays true, and a second test proves that the check reports each
//! kind of violation.

use std::collections::BTreeSet;

use super::support::migrated_store;

/// Tables that are not distributed by tenant: reference tables (copied to every node) and
/// bookkeeping outside the tenant model.
const NOT_TENANT_TABLES: [(&str, &str); 4] = [
    (
        "institutions",
        "the tenants themselves: a reference table (create_reference_table)",
    ),
    (
        "api_keys",
        "authentication finds a key by its hash before the tenant is known, so the lookup cannot be routed to a tenant's shard: a reference table (small, written rarely, read on every request), keeping primary key (id) and unique (key_hash)",
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

/// Known violations: `(table, violation, why it is kept)`; `docs/SCALING.md` ("Citus") lists
/// them too. Empty since migration 0008: a new violation is fixed, or listed here with its
/// reason.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

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
    // Foreign keys between tenant tables that do not join on institution_id, and foreign keys
    // from a table outside the tenant model (a reference table on Citus) to a tenant table,
    // which Citus cannot keep at all.
    let keys = client
        .query(
            "select t.relname::text, f.relname::text, k.conname::text,
                    exists (
                        select 1 from unnest(k.conkey, k.confkey) as p(own, other)
                        join pg_attribute a on a.attrelid = k.conrelid and a.attnum = p.own
                        join pg_attribute b on b.attrelid = k.confrelid and b.attnum = p.other
                        where a.attname = 'institution_id' and b.attname = 'institution_id')
             from pg_constraint k
             join pg_class t on t.oid = k.conrelid
             join pg_class f on f.oid = k.confrelid
             join pg_namespace n on n.oid = t.relnamespace
             where n.nspname = current_schema() and k.contype = 'f'
             order by 1, 3",
            &[],
        )
        .await
        .expect("foreign keys");
    for row in &keys {
        let (table, target, key, joined): (String, String, String, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if !tenant_tables.contains(&target) {
            continue;
        }
        if tenant_tables.contains(&table) && !joined {
            found.insert((
                table,
                format!("foreign key {key} to {target} without institution_id"),
            ));
        } else if not_tenant.contains(&table.as_str()) {
            found.insert((
                table,
                format!("foreign key {key} from a reference table to tenant table {target}"),
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

/// The probe tables of [`the_check_reports_every_kind_of_violation`] and what it must report.
const PROBE: &str = "
    create table probe_items (id text primary key, institution_id text, code text unique);
    create table probe_children (
        id text primary key,
        institution_id text not null,
        item_id text references probe_items (id)
    );
    create table probe_bare (id bigint primary key);
    alter table ledger_checkpoints add column probe_child text references probe_children (id);";

const PROBE_VIOLATIONS: [(&str, &str); 8] = [
    (
        "ledger_checkpoints",
        "foreign key ledger_checkpoints_probe_child_fkey from a reference table to tenant table probe_children",
    ),
    ("probe_bare", "no institution_id column"),
    (
        "probe_bare",
        "unique index probe_bare_pkey without institution_id",
    ),
    (
        "probe_children",
        "foreign key probe_children_item_id_fkey to probe_items without institution_id",
    ),
    (
        "probe_children",
        "unique index probe_children_pkey without institution_id",
    ),
    ("probe_items", "institution_id is nullable"),
    (
        "probe_items",
        "unique index probe_items_code_key without institution_id",
    ),
    (
        "probe_items",
        "unique index probe_items_pkey without institution_id",
    ),
];

#[tokio::test]
async fn the_check_reports_every_kind_of_violation() {
    // Arrange: tables that break each rule, next to the migrated schema.
    let (_store, database) = migrated_store().await;
    let client = database.connect().await;
    let before = violations(&client).await;
    client.batch_execute(PROBE).await.expect("probe tables");

    // Act
    let after = violations(&client).await;

    // Assert
    let reported: BTreeSet<(String, String)> = after.difference(&before).cloned().collect();
    let expected: BTreeSet<(String, String)> = PROBE_VIOLATIONS
        .iter()
        .map(|(table, violation)| ((*table).to_owned(), (*violation).to_owned()))
        .collect();
    assert_eq!(reported, expected);
}
