//! The dead-letter-queue contract suite against every backend.

mod memory {
    use gridstore::memory::MemoryDeadLetterQueue;

    async fn store() -> (MemoryDeadLetterQueue, ()) {
        (MemoryDeadLetterQueue::new(), ())
    }

    gridstore::dlq_contract_tests!(store);
}

mod postgres {
    use gridstore::postgres::{PgConfig, PgDeadLetterQueue, PgPool, migrations};
    use testkit::TestDatabase;

    async fn store() -> (PgDeadLetterQueue, TestDatabase) {
        let db = testkit::database().await;
        let config = PgConfig::from_url(db.url()).expect("config");
        let pool = PgPool::connect(&config).await.expect("pool");
        migrations::migrate(&pool).await.expect("migrate");
        (PgDeadLetterQueue::new(pool), db)
    }

    gridstore::dlq_contract_tests!(store);
}
