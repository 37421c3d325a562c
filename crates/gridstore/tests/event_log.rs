//! The event-log contract suite against every backend.

mod memory {
    use gridstore::memory::MemoryEventLog;

    async fn store() -> (MemoryEventLog, ()) {
        (MemoryEventLog::new(), ())
    }

    gridstore::event_log_contract_tests!(store);
}

mod postgres {
    use gridstore::postgres::{PgConfig, PgEventLog, PgListener, PgPool, migrations};
    use testkit::TestDatabase;

    async fn store() -> (PgEventLog, TestDatabase) {
        let db = testkit::database().await;
        let config = PgConfig::from_url(db.url()).expect("config");
        let pool = PgPool::connect(&config).await.expect("pool");
        migrations::migrate(&pool).await.expect("migrate");
        let listener = PgListener::start(&config).await.expect("listener");
        (PgEventLog::new(pool).with_listener(listener), db)
    }

    gridstore::event_log_contract_tests!(store);
}
