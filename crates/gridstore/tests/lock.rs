//! The lease contract suite against every backend.

mod memory {
    use gridstore::memory::MemoryLocks;

    async fn store() -> (MemoryLocks, ()) {
        (MemoryLocks::new(), ())
    }

    gridstore::lock_contract_tests!(store);
}
