//! The session contract suite against every backend.

mod memory {
    use gridstore::memory::MemorySessionStore;
    use gridstore::testing::session::concurrency;

    async fn store() -> (MemorySessionStore, ()) {
        (MemorySessionStore::new(), ())
    }

    gridstore::session_contract_tests!(store);

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
