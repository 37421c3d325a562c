//! Migration 0005: idempotency records move from `idempotency_records` to gridstore's KV, and
//! an upgrade never lets a key in flight on an old instance run twice.

use std::sync::Arc;
use std::time::Duration;

use escrowgrid::idempotency::{IdempotencyKeys, Reservation};
use escrowgrid::store::postgres::{HISTORY_TABLE, MIGRATIONS, PgEscrowStore};
use gridstore::postgres::{PgConfig, migrate};
use serde_json::json;
use testkit::TestDatabase;

/// A database migrated up to 0004 (the previous version's schema), gridstore included.
async fn previous_version() -> (PgEscrowStore, TestDatabase) {
    let database = testkit::database().await;
    let store = PgEscrowStore::connect(&PgConfig::from_url(database.url()).unwrap())
        .await
        .unwrap();
    gridstore::postgres::migrations::migrate(store.pool())
        .await
        .unwrap();
    migrate(store.pool(), HISTORY_TABLE, &MIGRATIONS[..4])
        .await
        .unwrap();
    (store, database)
}

/// The versions an upgrade from the last release before KV idempotency (version 4) applies:
/// 5 (this upgrade) and whatever came after it.
fn after_version_4() -> Vec<i64> {
    MIGRATIONS[4..].iter().map(|m| m.version).collect()
}

/// Rows as the previous version wrote them: a live stored response, an expired one, an
/// expired reservation.
const OLD_ROWS: &str = r#"
insert into idempotency_records (scope, key, request_hash, status, body, created_at, expires_at)
values ('ak_1', 'live', 'hash-1', 201, convert_to('{"id":"pos_1","amount":1.50}', 'UTF8'),
        now() - interval '1 hour', now() + interval '23 hours'),
       ('ak_1', 'old', 'hash-2', 200, convert_to('{}', 'UTF8'),
        now() - interval '25 hours', now() - interval '1 hour'),
       ('root', 'crashed', 'hash-3', null, null,
        now() - interval '2 minutes', now() - interval '1 minute')"#;

#[tokio::test]
async fn upgrading_moves_replayable_responses_to_kv_with_their_expiry_and_drops_the_table() {
    let (store, database) = previous_version().await;
    let client = database.connect().await;
    client.batch_execute(OLD_ROWS).await.unwrap();
    let expiry = "select expires_at from idempotency_records where key = 'live'";
    let old_expiry: chrono::DateTime<chrono::Utc> =
        client.query_one(expiry, &[]).await.unwrap().get(0);

    let applied = store.migrate().await.unwrap();

    assert_eq!(applied, after_version_4());
    let table: Option<String> = client
        .query_one("select to_regclass('idempotency_records')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(table, None, "the old table is dropped");
    let rows = client
        .query(
            "select key, value, expires_at from gs_kv where key like 'idem:%' order by key",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the live response is copied");
    assert_eq!(rows[0].get::<_, String>(0), "idem:ak_1:live");
    assert_eq!(
        rows[0].get::<_, serde_json::Value>(1),
        json!({
            "state": "completed", "requestHash": "hash-1", "status": 201,
            "body": r#"{"id":"pos_1","amount":1.50}"#,
        })
    );
    assert_eq!(
        rows[0].get::<_, chrono::DateTime<chrono::Utc>>(2),
        old_expiry
    );
    let keys = IdempotencyKeys::new(Arc::new(store.kv_store()));
    match keys
        .reserve("ak_1", "live", "hash-1", Duration::from_secs(60))
        .await
        .unwrap()
    {
        Reservation::Replay(stored) => {
            assert_eq!(stored.status, 201);
            assert_eq!(stored.body, r#"{"id":"pos_1","amount":1.50}"#);
        }
        other => panic!("expected the old response to replay, got {other:?}"),
    }
}

#[tokio::test]
async fn upgrading_refuses_while_an_old_instance_holds_a_live_reservation() {
    let (store, database) = previous_version().await;
    let client = database.connect().await;
    client
        .batch_execute(
            "insert into idempotency_records (scope, key, request_hash, created_at, expires_at)
             values ('ak_1', 'running', 'hash-1', now(), now() + interval '60 seconds')",
        )
        .await
        .unwrap();

    let refused = store.migrate().await;

    let message = refused.expect_err("the migration must refuse").to_string();
    assert!(message.contains("in flight"), "{message}");
    let still_there: i64 = client
        .query_one("select count(*) from idempotency_records", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(still_there, 1, "a refused migration changes nothing");
    let copied: i64 = client
        .query_one("select count(*) from gs_kv", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(copied, 0);

    // The old instance finishes (completes its key); the upgrade then goes through and the
    // key replays instead of running again.
    client
        .batch_execute(
            "update idempotency_records set status = 201, body = convert_to('{}', 'UTF8'),
                    expires_at = now() + interval '24 hours'
              where key = 'running'",
        )
        .await
        .unwrap();
    assert_eq!(store.migrate().await.unwrap(), after_version_4());
    let keys = IdempotencyKeys::new(Arc::new(store.kv_store()));
    let replay = keys
        .reserve("ak_1", "running", "hash-1", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(replay, Reservation::Replay(_)), "{replay:?}");
}

#[tokio::test]
async fn the_migrations_a_database_lacks_are_listed() {
    let (store, _database) = previous_version().await;

    let behind = store.pending_migrations().await.unwrap();
    store.migrate().await.unwrap();
    let current = store.pending_migrations().await.unwrap();

    let lacking: Vec<_> = after_version_4()
        .into_iter()
        .map(|version| (HISTORY_TABLE, version))
        .collect();
    assert_eq!(behind, lacking);
    assert_eq!(current, []);
    let empty = testkit::database().await;
    let fresh = PgEscrowStore::connect(&PgConfig::from_url(empty.url()).unwrap())
        .await
        .unwrap();
    let all = fresh.pending_migrations().await.unwrap();
    let expected = gridstore::postgres::migrations::MIGRATIONS.len() + MIGRATIONS.len();
    assert_eq!(all.len(), expected, "{all:?}");
}

#[tokio::test]
async fn a_server_started_without_migrations_refuses_a_schema_that_is_behind() {
    let (_store, database) = previous_version().await;
    let mut settings = escrowgrid::config::Settings::default();
    settings.store.backend = escrowgrid::config::StoreBackend::Postgres;
    settings.store.database_url = Some(escrowgrid::config::Secret::new(database.url().to_owned()));
    settings.store.migrate_on_start = false;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();

    let served = tokio::time::timeout(
        Duration::from_secs(30),
        escrowgrid::server::serve(settings, listener, std::future::pending()),
    )
    .await
    .expect("serve must refuse at once, not serve");

    let message = served.expect_err("a schema behind the binary").to_string();
    assert!(message.contains("escrowgrid migrate"), "{message}");
}
