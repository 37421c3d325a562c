//! The `EscrowStore` contract suite on the in-memory backend.

use std::sync::Arc;

use escrowgrid::store::EscrowStore;
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::testing::StoreGuard;

async fn memory_store() -> (Arc<dyn EscrowStore>, StoreGuard) {
    (Arc::new(MemoryStore::new()), Box::new(()))
}

escrowgrid::escrow_store_contract_tests!(memory_store);
