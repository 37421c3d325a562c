//! Shared helpers: fresh databases, pools on them, and waiting on conditions with a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

use gridstore::postgres::{PgConfig, PgPool};
use testkit::TestDatabase;

/// How long any condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A fresh database and a pool on it; keep the database alive as long as the pool.
pub async fn fresh_pool() -> (TestDatabase, PgPool) {
    fresh_pool_with(|config| config).await
}

/// Like [`fresh_pool`], with the configuration adjusted by `adjust`.
pub async fn fresh_pool_with(adjust: impl FnOnce(PgConfig) -> PgConfig) -> (TestDatabase, PgPool) {
    let db = testkit::database().await;
    let config = adjust(PgConfig::from_url(db.url()).expect("testkit url parses"));
    let pool = PgPool::connect(&config).await.expect("pool connects");
    (db, pool)
}

/// Polls `condition` until it returns true, failing the test after [`DEADLINE`].
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The backend pid of a pooled connection.
pub async fn backend_pid(client: &tokio_postgres::Client) -> i32 {
    client
        .query_one("select pg_backend_pid()", &[])
        .await
        .expect("pid query")
        .get(0)
}

/// Terminates backend `pid` from another pooled connection and waits until it is gone.
pub async fn terminate_backend(pool: &PgPool, pid: i32) {
    let admin = pool.get().await.expect("admin connection");
    let terminated: bool = admin
        .query_one("select pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate")
        .get(0);
    assert!(terminated, "backend {pid} was not terminated");
    wait_until("the terminated backend is gone", || async {
        let rows = admin
            .query("select 1 from pg_stat_activity where pid = $1", &[&pid])
            .await
            .expect("pg_stat_activity");
        rows.is_empty()
    })
    .await;
}
