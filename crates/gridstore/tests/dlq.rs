//! The dead-letter-queue contract suite against every backend.

mod memory {
    use gridstore::memory::MemoryDeadLetterQueue;

    async fn store() -> (MemoryDeadLetterQueue, ()) {
        (MemoryDeadLetterQueue::new(), ())
    }

    gridstore::dlq_contract_tests!(store);
}
