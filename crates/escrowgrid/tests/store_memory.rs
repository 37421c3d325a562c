//! The `EscrowStore` contract suite on the in-memory backend.

use std::sync::Arc;

use escrowgrid::store::memory::MemoryStore;
use escrowgrid::store::{EscrowStore, WebhookStore};
use escrowgrid::testing::StoreGuard;

async fn memory_store() -> (Arc<dyn EscrowStore>, StoreGuard) {
    (Arc::new(MemoryStore::new()), Box::new(()))
}

escrowgrid::escrow_store_contract_tests!(memory_store);

async fn memory_webhook_store() -> (Arc<dyn EscrowStore>, Arc<dyn WebhookStore>, StoreGuard) {
    let store = Arc::new(MemoryStore::new());
    (store.clone(), store, Box::new(()))
}

mod webhooks {
    use super::memory_webhook_store;

    escrowgrid::webhook_store_contract_tests!(memory_webhook_store);
}

mod idempotency_keys {
    use std::sync::Arc;

    use escrowgrid::testing::StoreGuard;
    use gridstore::memory::MemoryKvStore;

    async fn memory_kv() -> (Arc<dyn gridstore::KvStore>, StoreGuard) {
        (Arc::new(MemoryKvStore::new()), Box::new(()))
    }

    escrowgrid::idempotency_contract_tests!(memory_kv);
}
