//! Per-test databases on the shared server.

use tokio_postgres::NoTls;

/// A connection to the `postgres` database of the server `db` lives on.
async fn server_client(db: &testkit::TestDatabase) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = db.url().parse().expect("url parses");
    config.dbname("postgres");
    let (client, connection) = config.connect(NoTls).await.expect("connect to the server");
    tokio::spawn(connection);
    client
}

async fn database_exists(client: &tokio_postgres::Client, name: &str) -> bool {
    client
        .query_opt("select 1 from pg_database where datname = $1", &[&name])
        .await
        .expect("look up database")
        .is_some()
}

#[tokio::test]
async fn a_fresh_database_is_usable() {
    // Arrange
    let db = testkit::database().await;
    let client = db.connect().await;

    // Act
    client
        .batch_execute("create table t (id int primary key); insert into t values (1), (2)")
        .await
        .expect("create and fill a table");
    let count: i64 = client
        .query_one("select count(*) from t", &[])
        .await
        .expect("count")
        .get(0);

    // Assert
    assert_eq!(count, 2);
    let current: String = client
        .query_one("select current_database()", &[])
        .await
        .expect("current database")
        .get(0);
    assert_eq!(current, db.name());
    assert!(
        db.name().starts_with("t_a_fresh_database_is_usable_"),
        "{}",
        db.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_databases_are_distinct_and_isolated() {
    // Arrange
    let first = testkit::database().await;
    let second = testkit::database().await;
    let first_client = first.connect().await;
    let second_client = second.connect().await;

    // Act
    first_client
        .batch_execute("create table only_in_first (id int)")
        .await
        .expect("create table");
    let in_second = second_client
        .query_opt(
            "select 1 from pg_tables where tablename = 'only_in_first'",
            &[],
        )
        .await
        .expect("look up table");

    // Assert
    assert_ne!(first.name(), second.name());
    assert_ne!(first.url(), second.url());
    assert!(
        in_second.is_none(),
        "a table of the first database is visible in the second"
    );
}

#[tokio::test]
async fn a_dropped_database_is_gone() {
    // Arrange
    let db = testkit::database().await;
    let name = db.name().to_owned();
    let server = server_client(&db).await;
    let _open_connection = db.connect().await; // drop uses `with (force)`
    assert!(database_exists(&server, &name).await);

    // Act
    drop(db);

    // Assert
    assert!(
        !database_exists(&server, &name).await,
        "database {name} still exists"
    );
}

#[tokio::test]
async fn many_tests_share_one_server() {
    let first = testkit::database().await;
    let second = testkit::database().await;

    let port = |db: &testkit::TestDatabase| {
        let config: tokio_postgres::Config = db.url().parse().expect("url parses");
        config.get_ports().to_vec()
    };
    assert_eq!(port(&first), port(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_databases_can_be_created_at_once() {
    // Arrange
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        tasks.spawn(testkit::database());
    }

    // Act
    let databases = tasks.join_all().await;

    // Assert
    let mut names: Vec<&str> = databases.iter().map(|db| db.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 8);
}

/// The server inherits the test process's clock: under `.ci/calendar` both see
/// the same faked instant, so suites that compare the two clocks hold at any date.
#[tokio::test]
async fn the_server_clock_agrees_with_the_test_process_clock() {
    let db = testkit::database().await;
    let client = db.connect().await;

    let server: f64 = client
        .query_one("select extract(epoch from clock_timestamp())::float8", &[])
        .await
        .expect("server clock")
        .get(0);
    let process = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();

    assert!(
        (server - process).abs() < 5.0,
        "server clock {server} vs process clock {process}"
    );
}
