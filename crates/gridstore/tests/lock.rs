//! The lease contract suite against every backend.

mod memory {
    use gridstore::memory::MemoryLocks;

    async fn store() -> (MemoryLocks, ()) {
        (MemoryLocks::new(), ())
    }

    gridstore::lock_contract_tests!(store);
}

mod postgres {
    use gridstore::postgres::{PgConfig, PgLocks, PgPool, migrations};
    use testkit::TestDatabase;

    async fn store() -> (PgLocks, TestDatabase) {
        let db = testkit::database().await;
        let config = PgConfig::from_url(db.url()).expect("config");
        let pool = PgPool::connect(&config).await.expect("pool");
        migrations::migrate(&pool).await.expect("migrate");
        (PgLocks::new(pool), db)
    }

    gridstore::lock_contract_tests!(store);
}
