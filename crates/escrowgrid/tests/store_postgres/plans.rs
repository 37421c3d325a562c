//! The audit list's resource and time filters have indexes that serve them (migration 0003),
//! so do the reads that do not know the tenant since the tenant keys (migration 0008), and
//! so does every filter of a keyset page (migrations 0009 and, for the lists answered as
//! arrays, 0010).
//!
//! The statement's shape is `($n is null or column = $n)` with every filter a parameter; a
//! custom plan folds the null tests away, which is what the literals below reproduce. A tiny
//! table is always scanned, so sequential scans are switched off to ask "can an index serve
//! this?" rather than "is it cheaper here?".

use super::support::migrated_store;

async fn plan(client: &tokio_postgres::Client, condition: &str) -> String {
    explain(
        client,
        &format!("select id from audit_events where {condition} order by seq limit 100 offset 0"),
    )
    .await
}

#[tokio::test]
async fn resource_and_time_filters_of_the_audit_list_use_their_indexes() {
    let (_store, database) = migrated_store().await;
    let client = database.connect().await;
    client
        .batch_execute("set enable_seqscan = off")
        .await
        .unwrap();
    let by_resource = plan(
        &client,
        "(null::text is null or institution_id = null) and resource_id = 'pos_a'",
    )
    .await;
    assert!(
        by_resource.contains("idx_audit_events_resource"),
        "{by_resource}"
    );
    let by_type_and_resource = plan(
        &client,
        "resource_type = 'position' and resource_id = 'pos_a'",
    )
    .await;
    assert!(
        by_type_and_resource.contains("idx_audit_events_resource"),
        "{by_type_and_resource}"
    );
    let by_time = plan(
        &client,
        "occurred_at >= '2026-01-01T00:00:00Z' and occurred_at <= '2026-01-02T00:00:00Z'",
    )
    .await;
    assert!(
        by_time.contains("idx_audit_events_occurred_at"),
        "{by_time}"
    );
    let tenant_by_time = plan(
        &client,
        "institution_id = 'inst_x' and occurred_at >= '2026-01-01T00:00:00Z'",
    )
    .await;
    // An index led by the tenant serves it: (institution_id, occurred_at), or the tenant's
    // (institution_id, seq) key in list order with the time as a filter, which the plan on an
    // empty table prefers. Before migration 0008 that was idx_audit_events_institution_seq,
    // which the name idx_audit_events_institution matched as a prefix.
    assert!(
        tenant_by_time.contains("using idx_audit_events_institution on")
            || tenant_by_time.contains("using audit_events_institution_id_seq_key on"),
        "{tenant_by_time}"
    );
}

/// A connection to a fresh migrated database on which sequential and bitmap scans and sorts
/// are switched off (the tables are empty): a plan that still sorts has no index that serves
/// it in order. The database lives as long as the second value.
async fn index_only_client() -> (tokio_postgres::Client, impl Sized) {
    let (_store, database) = migrated_store().await;
    let client = database.connect().await;
    client
        .batch_execute(
            "set enable_seqscan = off; set enable_bitmapscan = off; set enable_sort = off",
        )
        .await
        .unwrap();
    (client, database)
}

async fn explain(client: &tokio_postgres::Client, sql: &str) -> String {
    let rows = client.query(&format!("explain {sql}"), &[]).await.unwrap();
    rows.iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn keyset_plan(client: &tokio_postgres::Client, table: &str, condition: &str) -> String {
    let sql = format!(
        "select id from {table} where {condition} \
         and (created_at, id) > ('2026-01-01T00:00:00Z', 'x_0') order by created_at, id limit 101"
    );
    explain(client, &sql).await
}

/// Migration 0008 keys the tenant tables by `(institution_id, id)`; reads by id without the
/// tenant (root's) and root's audit list in write order keep an index of their own.
#[tokio::test]
async fn reads_without_the_tenant_keep_their_indexes_after_the_tenant_keys() {
    let (_store, database) = migrated_store().await;
    let client = database.connect().await;
    client
        .batch_execute("set enable_seqscan = off")
        .await
        .unwrap();
    for (table, index) in [
        ("asset_templates", "idx_asset_templates_id"),
        ("assets", "idx_assets_id"),
        ("positions", "idx_positions_id"),
        ("webhooks", "idx_webhooks_id"),
    ] {
        let by_id = explain(&client, &format!("select * from {table} where id = 'x'")).await;
        assert!(by_id.contains(index), "{table}: {by_id}");
    }
    let root_audit = explain(
        &client,
        "select id from audit_events order by seq limit 100 offset 0",
    )
    .await;
    assert!(root_audit.contains("idx_audit_events_seq"), "{root_audit}");
    let tenant_audit = explain(
        &client,
        "select id from audit_events where institution_id = 'inst_x' order by seq limit 100",
    )
    .await;
    assert!(
        tenant_audit.contains("audit_events_institution_id_seq_key"),
        "{tenant_audit}"
    );
}

/// A keyset page (migration 0009) of every filter of the position and asset lists reads an
/// index that starts at the key in list order: no sort, whatever the depth. Sequential and
/// bitmap scans and sorts are switched off (the tables are empty) to ask "can an index serve
/// this in order?": a plan that still sorts means none can.
#[tokio::test]
async fn every_keyset_page_filter_reads_an_index_in_list_order() {
    let (client, _database) = index_only_client().await;
    for (table, condition, index) in [
        ("positions", "true", "idx_positions_created"),
        (
            "positions",
            "institution_id = 'inst_a'",
            "idx_positions_institution",
        ),
        (
            "positions",
            "asset_id = 'ast_a'",
            "idx_positions_asset_created",
        ),
        (
            "positions",
            "holder_reference = 'h'",
            "idx_positions_holder_created",
        ),
        (
            "assets",
            "template_id = 'tmpl_a'",
            "idx_assets_template_created",
        ),
        (
            "assets",
            "institution_id = 'inst_a'",
            "idx_assets_institution",
        ),
        (
            "asset_templates",
            "institution_id = 'inst_a'",
            "idx_asset_templates_institution",
        ),
    ] {
        let plan = keyset_plan(&client, table, condition).await;
        assert!(plan.contains(index), "{condition}: {plan}");
        assert!(!plan.contains("Sort"), "{condition}: {plan}");
    }
    let plan = explain(
        &client,
        "select id from audit_events where api_key_id = 'ak_a' and seq > 5 order by seq limit 101",
    )
    .await;
    assert!(plan.contains("idx_audit_events_api_key_seq"), "{plan}");
    assert!(!plan.contains("Sort"), "{plan}");
}

/// The keyset pages of the lists answered as arrays (migration 0010), written as the store
/// writes them, read an index from the key in list order: the ledger (root's whole ledger,
/// one institution's, one position's under its position row) at a deep cursor, webhooks
/// across institutions, institutions, and an institution's API keys under its row. No sort
/// of the list: whatever the depth, a page reads the page.
#[tokio::test]
async fn deep_keyset_pages_of_the_array_lists_read_an_index_in_list_order() {
    let (client, _database) = index_only_client().await;
    let ledger = "select seq, id from ledger_events";
    let deep = "seq > 900000000 order by seq limit 101";
    for (sql, index) in [
        (format!("{ledger} where {deep}"), "idx_ledger_events_seq"),
        (
            format!("{ledger} where institution_id = 'inst_a' and {deep}"),
            "ledger_events_institution_id_seq_key",
        ),
        (
            "select id from webhooks where (created_at, id) > ('2026-01-01T00:00:00Z', 'wh_0') \
             order by created_at, id limit 101"
                .to_owned(),
            "idx_webhooks_created",
        ),
        (
            "select id from institutions where (created_at, id) > ('2026-01-01T00:00:00Z', \
             'inst_0') order by created_at, id limit 101"
                .to_owned(),
            "idx_institutions_created",
        ),
    ] {
        let plan = explain(&client, &sql).await;
        assert!(plan.contains(index), "{sql}: {plan}");
        assert!(!plan.contains("Sort"), "{sql}: {plan}");
    }
    // Under the parent row: the page itself is read from the index in order; only the outer
    // `order by` of the joined page (at most a page of rows) may sort.
    for (sql, index) in [
        (
            format!(
                "select p.id as parent_found, k.* from positions p left join lateral \
                 ({ledger} where position_id = 'pos_a' and {deep}) k on true \
                 where p.id = 'pos_a' and p.institution_id = 'inst_a' order by k.seq"
            ),
            "idx_ledger_events_position",
        ),
        (
            "select p.id as parent_found, k.* from institutions p left join lateral \
             (select id, created_at from api_keys where institution_id = 'inst_a' \
             and revoked_at is null and (created_at, id) > ('2026-01-01T00:00:00Z', 'ak_0') \
             order by created_at, id limit 101) k on true where p.id = 'inst_a' \
             order by k.created_at, k.id"
                .to_owned(),
            "idx_api_keys_institution",
        ),
    ] {
        let plan = explain(&client, &sql).await;
        assert!(plan.contains(index), "{sql}: {plan}");
    }
}
