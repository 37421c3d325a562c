//! `TEST_DATABASE_URL` makes `testkit::database()` create its databases on that server.
//!
//! Setting an environment variable inside a multi-threaded test binary needs `unsafe` in
//! edition 2024 (forbidden here), so this binary has no libtest harness: the parent starts a
//! `TestPostgres` and runs this same executable again with `TEST_DATABASE_URL` pointing at it.

use std::process::Command;

use testkit::{TEST_DATABASE_URL, TestPostgres};
use tokio_postgres::NoTls;

/// Set in the child run.
const CHILD_MARKER: &str = "TESTKIT_ENV_OVERRIDE_CHILD";
const TEST_NAME: &str = "test_database_url_makes_databases_on_that_server";

/// libtest options that take a separate value, which is not a name filter.
const OPTIONS_WITH_VALUES: [&str; 6] = [
    "--skip",
    "--test-threads",
    "--format",
    "--color",
    "--logfile",
    "-Z",
];

fn main() {
    if std::env::var_os(CHILD_MARKER).is_some() {
        let url = std::env::var(TEST_DATABASE_URL).expect("the parent sets TEST_DATABASE_URL");
        runtime().block_on(child(&url));
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        eprintln!("{TEST_NAME}: test");
    } else if selected(&args) {
        parent();
        eprintln!("test {TEST_NAME} ... ok");
    } else {
        eprintln!("test result: ok. 0 passed; 0 failed; 0 ignored; 1 filtered out");
    }
}

/// Whether libtest-style arguments select this (not ignored) test: no `--ignored`, no
/// `--skip` matching it, and any name filter matches it.
fn selected(args: &[String]) -> bool {
    let mut filters = Vec::new();
    let mut skips = Vec::new();
    let mut previous: Option<&str> = None;
    for arg in args {
        match previous {
            Some("--skip") => skips.push(arg.as_str()),
            Some(option) if OPTIONS_WITH_VALUES.contains(&option) => {}
            _ if arg == "--ignored" => return false,
            _ if !arg.starts_with('-') => filters.push(arg.as_str()),
            _ => {}
        }
        previous = Some(arg.as_str());
    }
    let skipped = skips.iter().any(|skip| TEST_NAME.contains(skip));
    !skipped && (filters.is_empty() || filters.iter().any(|filter| TEST_NAME.contains(filter)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn parent() {
    // Arrange
    let server = TestPostgres::start().expect("start a server to point TEST_DATABASE_URL at");

    // Act
    let status = Command::new(std::env::current_exe().expect("current exe"))
        .env(TEST_DATABASE_URL, server.url("postgres"))
        .env(CHILD_MARKER, "1")
        .status()
        .expect("run the child");

    // Assert: the child's checks passed, and its database was dropped from our server.
    assert!(status.success(), "child run failed: {status}");
    let leftovers: i64 = runtime().block_on(async {
        let (client, connection) = tokio_postgres::connect(&server.url("postgres"), NoTls)
            .await
            .expect("connect to the server");
        tokio::spawn(connection);
        let row = client
            .query_one(
                "select count(*) from pg_database where datname like 't\\_test\\_database\\_url%'",
                &[],
            )
            .await
            .expect("count databases");
        row.get(0)
    });
    assert_eq!(leftovers, 0, "the child's database was not dropped");
}

async fn child(server_url: &str) {
    let server_config: tokio_postgres::Config = server_url.parse().expect("url parses");
    let db = std::thread::Builder::new()
        .name(TEST_NAME.to_owned())
        .spawn(|| runtime().block_on(testkit::database()))
        .expect("spawn")
        .join()
        .expect("database() succeeded");

    let db_config: tokio_postgres::Config = db.url().parse().expect("db url parses");
    assert_eq!(
        db_config.get_ports(),
        server_config.get_ports(),
        "not on TEST_DATABASE_URL's server"
    );
    assert!(
        db.name().starts_with("t_test_database_url_"),
        "{}",
        db.name()
    );

    let (admin, connection) = server_config
        .connect(NoTls)
        .await
        .expect("connect to TEST_DATABASE_URL");
    tokio::spawn(connection);
    let found = admin
        .query_opt(
            "select 1 from pg_database where datname = $1",
            &[&db.name()],
        )
        .await
        .expect("look up database");
    assert!(
        found.is_some(),
        "database {} not on TEST_DATABASE_URL's server",
        db.name()
    );

    let client = db.connect().await;
    let current: String = client
        .query_one("select current_database()", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(current, db.name());
}
