//! Owned servers for fault tests: stop, kill -9 and restart.

use std::time::Duration;

use testkit::TestPostgres;

/// Starts a server from inside the async test without blocking its runtime.
async fn start_server() -> TestPostgres {
    tokio::task::spawn_blocking(TestPostgres::start)
        .await
        .expect("start task")
        .expect("start a server")
}

async fn committed_row(pg: &TestPostgres) -> (testkit::TestDatabase, tokio_postgres::Client) {
    let db = pg.create_database().await;
    let client = db.connect().await;
    client
        .batch_execute("create table t (v text); insert into t values ('committed')")
        .await
        .expect("write a row");
    (db, client)
}

async fn read_row(db: &testkit::TestDatabase) -> String {
    db.connect()
        .await
        .query_one("select v from t", &[])
        .await
        .expect("read the row back")
        .get(0)
}

#[tokio::test]
async fn a_killed_server_restarts_with_its_checkpointed_data() {
    // Arrange: durability is off, so a checkpoint puts the row where kill -9 cannot reach it
    // (the OS page cache survives the process).
    let mut pg = start_server().await;
    let port = pg.port();
    let (db, client) = committed_row(&pg).await;
    client
        .batch_execute("checkpoint")
        .await
        .expect("checkpoint");

    // Act
    pg.kill();
    assert!(!pg.is_running());
    assert!(
        client.simple_query("select 1").await.is_err(),
        "old connection still works"
    );
    pg.restart();

    // Assert
    assert!(pg.is_running());
    assert_eq!(pg.port(), port);
    assert_eq!(read_row(&db).await, "committed");
    assert!(
        pg.log().contains("was interrupted"),
        "no crash recovery in the log"
    );
}

#[tokio::test]
async fn a_stopped_server_restarts_with_its_committed_data() {
    // Arrange
    let mut pg = start_server().await;
    let (db, _client) = committed_row(&pg).await;

    // Act
    pg.stop();
    let stopped = !pg.is_running();
    pg.restart();

    // Assert
    assert!(stopped);
    assert!(pg.is_running());
    assert_eq!(read_row(&db).await, "committed");
}

#[tokio::test]
async fn a_dropped_server_is_stopped_and_its_directory_removed() {
    // Arrange
    let pg = start_server().await;
    let data_dir = pg.data_dir();
    let url = pg.url("postgres");
    assert!(data_dir.exists());

    // Act
    drop(pg);

    // Assert
    assert!(!data_dir.exists(), "data dir left behind");
    assert!(
        tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_killed_server_takes_its_busy_backends_with_it() {
    // Arrange: backends lead their own process groups, and one busy in a CPU-bound query does
    // not look for the postmaster's death, so only the kill itself can end it.
    let mut pg = start_server().await;
    let db = pg.create_database().await;
    let busy = db.connect().await;
    let pid: i32 = busy
        .query_one("select pg_backend_pid()", &[])
        .await
        .expect("backend pid")
        .get(0);
    let query = tokio::spawn(async move {
        busy.batch_execute(
            "set statement_timeout = '60s'; select count(*) from generate_series(1, 10000000000)",
        )
        .await
    });
    wait_until_active(&db.connect().await, pid).await;

    // Act
    pg.kill();

    // Assert: the backend is gone, so its client sees the connection closed at once
    let outcome = tokio::time::timeout(Duration::from_secs(10), query)
        .await
        .expect("the busy backend outlived the kill");
    assert!(outcome.expect("query task").is_err(), "query finished");
}

/// Waits (at most 30 s) until backend `pid` is running a statement.
async fn wait_until_active(observer: &tokio_postgres::Client, pid: i32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let sql = "select 1 from pg_stat_activity where pid = $1 and state = 'active'";
    while observer
        .query_opt(sql, &[&pid])
        .await
        .expect("pg_stat_activity")
        .is_none()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "backend {pid} never became active"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn kill_and_stop_on_a_stopped_server_do_nothing() {
    let mut pg = TestPostgres::start().expect("start a server");
    pg.stop();
    pg.stop();
    pg.kill();
    assert!(!pg.is_running());
}

#[test]
fn a_missing_binary_directory_is_reported_with_an_install_hint() {
    let error = TestPostgres::builder()
        .with_bin_dir("/nonexistent")
        .start()
        .expect_err("no binaries there");
    assert!(
        error.to_string().contains("apt-get install postgresql"),
        "{error}"
    );
}
