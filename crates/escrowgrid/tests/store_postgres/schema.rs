//! The schema guards what the store never relies on the application for: an immutable
//! ledger, CHECK constraints on enums and amounts, composite foreign keys between tenants'
//! rows, exact decimals, and migrations that several instances may run at once.

use escrowgrid::store::EscrowStore;
use escrowgrid::store::Scope;
use escrowgrid::store::postgres::{HISTORY_TABLE, PgEscrowStore};
use escrowgrid::testing::fixtures;
use gridstore::postgres::PgConfig;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::support::migrated_store;

/// Runs `sql` and asserts it fails with `state` on `constraint` (when given).
async fn assert_rejected(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    state: &SqlState,
    constraint: Option<&str>,
) {
    let err = client
        .execute(sql, params)
        .await
        .expect_err(&format!("{sql} must be rejected"));
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code(), state, "{sql}: {db}");
    if let Some(constraint) = constraint {
        assert_eq!(db.constraint(), Some(constraint), "{sql}: {db}");
    }
}

#[tokio::test]
async fn ledger_events_reject_update_delete_and_truncate() {
    let (store, database) = migrated_store().await;
    let (_, _, position) = fixtures::position_setup(&store).await;
    let client = database.connect().await;
    let restrict = &SqlState::RESTRICT_VIOLATION;

    assert_rejected(
        &client,
        "update ledger_events set kind = kind",
        &[],
        restrict,
        None,
    )
    .await;
    assert_rejected(&client, "delete from ledger_events", &[], restrict, None).await;
    assert_rejected(&client, "truncate ledger_events", &[], restrict, None).await;

    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&position.id))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1, "the ledger is untouched");
}

#[tokio::test]
async fn check_constraints_reject_bad_enums_and_amounts() {
    let (store, database) = migrated_store().await;
    let (institution, asset, _) = fixtures::position_setup(&store).await;
    let client = database.connect().await;
    let check = &SqlState::CHECK_VIOLATION;
    let (inst, ast) = (institution.id.as_str(), asset.id.as_str());

    let institution_sql = "insert into institutions values ('i', 'n', $1, '{}', now(), now())";
    let mars = vec!["MARS"];
    assert_rejected(
        &client,
        institution_sql,
        &[&mars],
        check,
        Some("institutions_regions_check"),
    )
    .await;

    let position_sql = "insert into positions (id, institution_id, asset_id, holder_reference,
            currency, amount, state, version, created_at, updated_at)
        values ($1, $2, $3, 'h', $4, $5::text::numeric, $6, 1, now(), now())";
    let cases = [
        ("USD", "0", "CREATED", "positions_amount_check"),
        ("USD", "-1", "CREATED", "positions_amount_check"),
        (
            "USD",
            "1000000000000001",
            "CREATED",
            "positions_amount_check",
        ),
        ("XXX", "1", "CREATED", "positions_currency_check"),
        ("USD", "1", "LIMBO", "positions_state_check"),
    ];
    for (index, (currency, value, state, constraint)) in cases.into_iter().enumerate() {
        let id = format!("p{index}");
        let params: [&(dyn ToSql + Sync); 6] = [&id, &inst, &ast, &currency, &value, &state];
        assert_rejected(&client, position_sql, &params, check, Some(constraint)).await;
    }

    let key_sql = "insert into api_keys values ('k', $1, repeat('a', 64), 'l', 'root', now())";
    assert_rejected(
        &client,
        key_sql,
        &[&inst],
        check,
        Some("api_keys_role_check"),
    )
    .await;
    let audit_sql = "insert into audit_events (id, institution_id, occurred_at, created_at, method,
            path, action, outcome)
        values ('a', '', now(), now(), 'GET', '/', 'POSITION_CREATED', 'maybe')";
    assert_rejected(
        &client,
        audit_sql,
        &[],
        check,
        Some("audit_events_outcome_check"),
    )
    .await;
    let ledger_sql = "insert into ledger_events (id, institution_id, kind, position_id, at,
            new_state, created_at)
        values ('l', $1, 'POSITION_DELETED', 'p', now(), 'CREATED', now())";
    assert_rejected(
        &client,
        ledger_sql,
        &[&inst],
        check,
        Some("ledger_events_kind_check"),
    )
    .await;
}

#[tokio::test]
async fn composite_foreign_keys_keep_rows_inside_one_institution() {
    let (store, database) = migrated_store().await;
    let (owner, asset, position) = fixtures::position_setup(&store).await;
    let other = fixtures::institution(&store, "Other").await;
    let client = database.connect().await;
    let fk = &SqlState::FOREIGN_KEY_VIOLATION;
    let (other_id, owner_id) = (other.id.as_str(), owner.id.as_str());

    let position_sql = "insert into positions (id, institution_id, asset_id, holder_reference,
            currency, amount, state, version, created_at, updated_at)
        values ('p', $1, $2, 'h', 'USD', 1, 'CREATED', 1, now(), now())";
    let params: [&(dyn ToSql + Sync); 2] = [&other_id, &asset.id.as_str()];
    assert_rejected(
        &client,
        position_sql,
        &params,
        fk,
        Some("positions_asset_fkey"),
    )
    .await;

    let asset_sql = "insert into assets values ('a', $1, $2, 'l', '{}', now(), now())";
    let params: [&(dyn ToSql + Sync); 2] = [&other_id, &asset.template_id.as_str()];
    assert_rejected(
        &client,
        asset_sql,
        &params,
        fk,
        Some("assets_template_fkey"),
    )
    .await;

    let ledger_sql = "insert into ledger_events (id, institution_id, kind, position_id, at,
            new_state, created_at)
        values ('l', $1, 'POSITION_CREATED', $2, now(), 'CREATED', now())";
    let params: [&(dyn ToSql + Sync); 2] = [&other_id, &position.id.as_str()];
    assert_rejected(
        &client,
        ledger_sql,
        &params,
        fk,
        Some("ledger_events_position_fkey"),
    )
    .await;

    let event_sql = "insert into position_events (id, institution_id, position_id, to_state, at,
            created_at)
        values ('e', $1, $2, 'FUNDED', now(), now())";
    assert_rejected(
        &client,
        event_sql,
        &params,
        fk,
        Some("position_events_position_fkey"),
    )
    .await;

    // The same rows with the owner's institution are accepted.
    let params: [&(dyn ToSql + Sync); 2] = [&owner_id, &asset.id.as_str()];
    client.execute(position_sql, &params).await.unwrap();
}

#[tokio::test]
async fn a_large_amount_round_trips_exactly_through_numeric() {
    let (store, database) = migrated_store().await;
    let (institution, asset, _) = fixtures::position_setup(&store).await;
    let new = fixtures::new_position(&asset, "holder-big", "12345678901234.12345678");
    let created = store
        .create_position(&fixtures::scope(&institution), new, &fixtures::audit())
        .await
        .unwrap();

    let client = database.connect().await;
    let row = client
        .query_one(
            "select amount::text from positions where id = $1",
            &[&created.id.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "12345678901234.12345678");
    let loaded = store.get_position(&Scope::Root, &created.id).await.unwrap();
    assert_eq!(loaded.amount.to_string(), "12345678901234.12345678");
    assert_eq!(loaded.amount, created.amount);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_concurrent_migrations_apply_each_migration_once() {
    let database = testkit::database().await;
    let config = PgConfig::from_url(database.url()).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let store = PgEscrowStore::connect(&config).await.unwrap();
            store.migrate().await.unwrap()
        }));
    }
    let mut applied = Vec::new();
    for task in tasks {
        applied.extend(task.await.unwrap());
    }
    applied.sort_unstable();
    let all: Vec<i64> = escrowgrid::store::postgres::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied, all, "every migration applied exactly once");

    let client = database.connect().await;
    let sql = format!("select count(*) from {HISTORY_TABLE}");
    let recorded: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
    assert_eq!(usize::try_from(recorded).unwrap(), all.len());
    let store = PgEscrowStore::connect(&config).await.unwrap();
    assert!(
        store.migrate().await.unwrap().is_empty(),
        "nothing left to apply"
    );
    store.health().await.unwrap();
}
