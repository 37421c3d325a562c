//! The session contract suite against every backend.

mod memory {
    use gridstore::memory::MemorySessionStore;
    use gridstore::testing::session::{concurrency, maintenance};

    async fn store() -> (MemorySessionStore, ()) {
        (MemorySessionStore::new(), ())
    }

    gridstore::session_contract_tests!(store);

    #[tokio::test]
    async fn clearing_memory_sessions_leaves_memory_kv_untouched() {
        let kv = gridstore::memory::MemoryKvStore::new();
        maintenance::clearing_sessions_leaves_kv_untouched(&MemorySessionStore::new(), &kv).await;
    }

    #[tokio::test]
    async fn clones_of_a_memory_store_share_their_sessions() {
        let store = MemorySessionStore::new();
        concurrency::sessions_written_through_one_store_are_read_through_another(
            &store,
            &store.clone(),
        )
        .await;
    }
}

mod postgres {
    use gridstore::postgres::PgSessionStore;
    use gridstore::testing::migrated_pool;
    use testkit::TestDatabase;

    async fn store() -> (PgSessionStore, TestDatabase) {
        let db = testkit::database().await;
        let pool = migrated_pool(db.url()).await.expect("connect and migrate");
        (PgSessionStore::new(pool), db)
    }

    gridstore::session_contract_tests!(store);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn data_survives_reopening_the_store_on_a_new_pool() {
        let (writer, db) = store().await;
        let reopened = PgSessionStore::new(migrated_pool(db.url()).await.expect("reopen"));

        gridstore::testing::session::concurrency::sessions_written_through_one_store_are_read_through_another(&writer, &reopened).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clearing_sessions_leaves_kv_in_the_same_database_untouched() {
        let (sessions, db) = store().await;
        let kv = gridstore::postgres::PgKvStore::new(migrated_pool(db.url()).await.expect("pool"));

        gridstore::testing::session::maintenance::clearing_sessions_leaves_kv_untouched(
            &sessions, &kv,
        )
        .await;
    }
}
