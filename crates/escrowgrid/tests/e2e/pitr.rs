//! Point-in-time recovery (docs/OPERATIONS.md, "Backups"): a base backup, WAL archiving, and a
//! restore to a noted time holds exactly the writes committed before it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use testkit::TestPostgres;

use super::client::Client;
use super::flows::{position_body, tenant};
use super::lifecycle::ledger_items;
use super::server::{ROOT_KEY, TestServer};

const DEADLINE: Duration = Duration::from_secs(60);

/// A plain connection to `url`.
async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// Creates `count` positions; returns their ids.
async fn create_positions(admin: &mut Client, asset_id: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let created = admin
            .post("/positions", &position_body(asset_id))
            .await
            .expect(StatusCode::CREATED);
        ids.push(created.str("id"));
    }
    ids
}

/// Polls `sql` (one boolean) on `client` until it is true, failing after [`DEADLINE`].
async fn wait_until(client: &tokio_postgres::Client, sql: &str, what: &str) {
    let started = Instant::now();
    loop {
        let done: bool = client.query_one(sql, &[]).await.expect(what).get(0);
        if done {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_to_a_noted_time_has_exactly_the_writes_committed_before_it() {
    // Arrange: a server archiving its WAL, and a base backup taken before any data.
    let (primary, backup) = tokio::task::spawn_blocking(|| {
        let primary = TestPostgres::builder()
            .with_wal_archive()
            .start()
            .expect("primary");
        let backup = primary.base_backup().expect("base backup");
        (primary, backup)
    })
    .await
    .expect("servers");
    let archive = primary.wal_archive_dir().expect("archive dir");
    let db = primary.create_database().await;
    let api = TestServer::postgres(db.url()).await;
    let tenant = tenant(api.addr, ROOT_KEY).await;
    let mut admin = api.client(&tenant.admin_key).await;
    let before = create_positions(&mut admin, &tenant.asset_id, 3).await;
    let observer = connect(&primary.url("postgres")).await;
    let noted: String = observer
        .query_one("select now()::text", &[])
        .await
        .expect("note the time")
        .get(0);
    let after = create_positions(&mut admin, &tenant.asset_id, 2).await;
    api.stop().await;
    let segment: String = observer
        .query_one("select pg_walfile_name(pg_switch_wal())", &[])
        .await
        .expect("switch wal")
        .get(0);
    wait_until(
        &observer,
        &format!("select coalesce(last_archived_wal >= '{segment}', false) from pg_stat_archiver"),
        "the last segment is archived",
    )
    .await;

    // Act: restore the backup to the noted time from the archive.
    let restore_command = format!("cp {}/%f %p", archive.display());
    let restored = tokio::task::spawn_blocking(move || {
        backup
            .start_recovery(&[
                ("restore_command", restore_command.as_str()),
                ("recovery_target_time", noted.as_str()),
                ("recovery_target_action", "promote"),
            ])
            .expect("recovered server")
    })
    .await
    .expect("restore");
    let restored_admin = connect(&restored.url("postgres")).await;
    wait_until(
        &restored_admin,
        "select not pg_is_in_recovery()",
        "recovery ends",
    )
    .await;

    // Assert: exactly the positions created before the noted time, each with its ledger.
    let api = TestServer::postgres(&restored.url(db.name())).await;
    let mut admin = api.client(&tenant.admin_key).await;
    let listed = admin.get("/positions").await.expect(StatusCode::OK);
    let listed: BTreeSet<String> = ledger_items(&listed.body)
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(listed, before.iter().cloned().collect::<BTreeSet<_>>());
    for id in &before {
        let ledger = admin
            .get(&format!("/ledger-events?positionId={id}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            ledger_items(&ledger.body).len(),
            1,
            "{id}: its creation event"
        );
    }
    for id in &after {
        admin
            .get(&format!("/positions/{id}"))
            .await
            .expect(StatusCode::NOT_FOUND);
    }
    api.stop().await;
}
