//! Test setup shared by several test binaries (included with `#[path]`).

use gridstore::postgres::PgPool;

/// Runs `ddl` (one or more statements) on a connection of `pool`.
pub async fn create_schema(pool: &PgPool, ddl: &str) {
    pool.get()
        .await
        .expect("checkout")
        .batch_execute(ddl)
        .await
        .expect("schema");
}
