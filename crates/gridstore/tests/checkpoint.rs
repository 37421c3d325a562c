//! The checkpoint contract suite against every backend.

mod memory {
    use gridstore::memory::MemoryCheckpointStore;
    use gridstore::testing::checkpoint;

    async fn store() -> (MemoryCheckpointStore, ()) {
        (MemoryCheckpointStore::new(), ())
    }

    gridstore::checkpoint_contract_tests!(store);

    #[tokio::test]
    async fn clones_of_a_memory_store_share_their_checkpoints() {
        let store = MemoryCheckpointStore::new();
        checkpoint::checkpoints_written_through_one_store_are_read_through_another(
            &store,
            &store.clone(),
        )
        .await;
    }
}

mod postgres {
    use gridstore::postgres::PgCheckpointStore;
    use gridstore::testing::migrated_pool;
    use testkit::TestDatabase;

    async fn store() -> (PgCheckpointStore, TestDatabase) {
        let db = testkit::database().await;
        let pool = migrated_pool(db.url()).await.expect("connect and migrate");
        (PgCheckpointStore::new(pool), db)
    }

    gridstore::checkpoint_contract_tests!(store);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn data_survives_reopening_the_store_on_a_new_pool() {
        let (writer, db) = store().await;
        let reopened = PgCheckpointStore::new(migrated_pool(db.url()).await.expect("reopen"));

        gridstore::testing::checkpoint::checkpoints_written_through_one_store_are_read_through_another(&writer, &reopened).await;
    }
}
