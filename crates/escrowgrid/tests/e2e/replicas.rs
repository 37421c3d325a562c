//! `DATABASE_READ_URLS`: list, ledger and audit reads from a streaming replica (testkit,
//! `pg_basebackup -R`), and from the primary when the replica lags or is down.

use std::time::{Duration, Instant};

use escrowgrid::config::Secret;
use hyper::StatusCode;
use testkit::TestPostgres;

use super::client::Client;
use super::flows::{position_body, tenant};
use super::lifecycle::ledger_items;
use super::server::{ROOT_KEY, TestServer, postgres_settings};

const DEADLINE: Duration = Duration::from_secs(30);

/// Lists positions until one with `id` shows up, failing after [`DEADLINE`].
async fn wait_until_listed(admin: &mut Client, id: &str) {
    let started = Instant::now();
    loop {
        let listed = admin.get("/positions").await.expect(StatusCode::OK);
        if ledger_items(&listed.body).iter().any(|p| p["id"] == id) {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "position {id} never listed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A plain connection to `url` (also to a read-only replica).
async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// How many connections escrowgrid holds on `server`.
async fn escrowgrid_connections(server: &TestPostgres) -> i64 {
    connect(&server.url("postgres"))
        .await
        .query_one(
            "select count(*) from pg_stat_activity where application_name = 'escrowgrid'",
            &[],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_read_from_the_replica_and_from_the_primary_when_it_lags_or_dies() {
    // Arrange
    let (primary, mut replica) = tokio::task::spawn_blocking(|| {
        let primary = TestPostgres::start().expect("primary");
        let replica = primary.start_replica().expect("replica");
        (primary, replica)
    })
    .await
    .expect("servers");
    let db = primary.create_database().await;
    let mut settings = postgres_settings(db.url());
    settings.store.database_read_urls = Some(Secret::new(replica.url(db.name())));
    settings.store.replica_max_lag_ms = 300;
    let api = TestServer::start(settings).await;
    api.wait_ready().await;
    let tenant = tenant(api.addr, ROOT_KEY).await;
    let mut admin = api.client(&tenant.admin_key).await;

    // Act + assert: a new position is listed (from the replica once it replayed it)
    let first = admin
        .post("/positions", &position_body(&tenant.asset_id))
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    wait_until_listed(&mut admin, &first).await;
    // The list may have come from the primary (the replica skipped while it lagged): the
    // ledger read below may go to the replica, so wait until the replica replayed the row.
    let replica_rows = connect(&replica.url(db.name())).await;
    let started = Instant::now();
    while replica_rows
        .query_opt("select 1 from positions where id = $1", &[&first])
        .await
        .expect("replica read")
        .is_none()
    {
        assert!(
            started.elapsed() < DEADLINE,
            "the replica never replayed {first}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin
        .get(&format!("/ledger-events?positionId={first}"))
        .await
        .expect(StatusCode::OK);
    admin.get("/audit-events").await.expect(StatusCode::OK);
    // Once the replica's lag check passed, lists open connections there.
    let started = Instant::now();
    while escrowgrid_connections(&replica).await == 0 {
        assert!(
            started.elapsed() < DEADLINE,
            "reads never went to the replica"
        );
        admin.get("/positions").await.expect(StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A replica that stops replaying is skipped: the next position is listed (by the primary).
    let replica_db = connect(&replica.url("postgres")).await;
    replica_db
        .batch_execute("select pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    let second = admin
        .post("/positions", &position_body(&tenant.asset_id))
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    wait_until_listed(&mut admin, &second).await;
    drop(replica_db);

    // A dead replica: lists still answer.
    tokio::task::spawn_blocking(move || {
        replica.stop();
        replica
    })
    .await
    .expect("stop replica");
    for _ in 0..10 {
        admin.get("/positions").await.expect(StatusCode::OK);
    }
    api.stop().await;
}
