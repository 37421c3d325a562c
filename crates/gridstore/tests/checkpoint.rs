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
