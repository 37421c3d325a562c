//! The event-log contract suite against every backend.

mod memory {
    use gridstore::memory::MemoryEventLog;

    async fn store() -> (MemoryEventLog, ()) {
        (MemoryEventLog::new(), ())
    }

    gridstore::event_log_contract_tests!(store);
}
