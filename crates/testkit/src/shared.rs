//! The shared per-binary server and the [`database`] entry point.

use std::sync::OnceLock;

use crate::{TestDatabase, TestPostgres};

/// The environment variable naming an existing server to create test databases on.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// One server per test binary, started by the first test that asks. Only this sync handle is
/// shared: every test connects from its own runtime. A failed start is kept as its message so
/// that every test fails with it.
static SHARED_SERVER: OnceLock<Result<TestPostgres, String>> = OnceLock::new();

/// Creates a fresh database for one test, dropped (`drop database ... with (force)`) when the
/// handle drops.
///
/// The database lives on the server named by `TEST_DATABASE_URL` when that is set, else on a
/// throwaway server shared by all tests of this binary (started on first use).
///
/// # Panics
///
/// When no server can be started (e.g. PostgreSQL is not installed: the message says what to
/// install) or the database cannot be created. Tests never skip silently.
pub async fn database() -> TestDatabase {
    database_for(std::env::var(TEST_DATABASE_URL).ok()).await
}

/// Creates a fresh test database on the server `server_url` points to (URL or key=value
/// form; the database it names is used to issue `create database`).
///
/// # Panics
///
/// When the server cannot be reached or the database cannot be created.
pub async fn database_at(server_url: &str) -> TestDatabase {
    TestDatabase::create_on(server_url)
        .await
        .unwrap_or_else(|error| panic!("testkit: could not create a test database: {error}"))
}

/// [`database`] with the value of `TEST_DATABASE_URL` passed in.
pub(crate) async fn database_for(test_database_url: Option<String>) -> TestDatabase {
    match test_database_url.filter(|url| !url.trim().is_empty()) {
        Some(url) => database_at(&url).await,
        None => database_at(&shared_server().await.url("postgres")).await,
    }
}

/// The URL of the server [`database`] creates databases on (starting the shared one if
/// needed).
pub(crate) async fn server_url() -> String {
    match std::env::var(TEST_DATABASE_URL)
        .ok()
        .filter(|url| !url.trim().is_empty())
    {
        Some(url) => url,
        None => shared_server().await.url("postgres"),
    }
}

async fn shared_server() -> &'static TestPostgres {
    let init =
        || SHARED_SERVER.get_or_init(|| TestPostgres::start().map_err(|error| error.to_string()));
    // Starting blocks for a while; keep the test's runtime free meanwhile.
    let server = match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::task::spawn_blocking(init)
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic())),
        Err(_) => init(),
    };
    match server {
        Ok(server) => server,
        Err(message) => panic!("testkit: could not start the shared PostgreSQL server: {message}"),
    }
}
