//! Fresh, migrated PostgreSQL stores for tests.

use std::sync::Arc;

use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, WebhookStore};
use escrowgrid::testing::StoreGuard;
use gridstore::postgres::PgConfig;
use testkit::TestDatabase;

/// A migrated store on a fresh database, and that database (drop it last).
pub async fn migrated_store() -> (PgEscrowStore, TestDatabase) {
    let database = testkit::database().await;
    let config = PgConfig::from_url(database.url()).unwrap();
    let store = PgEscrowStore::connect(&config).await.unwrap();
    store.migrate().await.unwrap();
    (store, database)
}

/// Another instance on `database` (already migrated): a store of its own, sharing nothing
/// in memory with the others (no kept positions, contexts or keys).
pub async fn another_instance(database: &TestDatabase) -> PgEscrowStore {
    let config = PgConfig::from_url(database.url()).unwrap();
    PgEscrowStore::connect(&config).await.unwrap()
}

/// The contract suite's factory: the database is the guard that keeps it alive.
pub async fn postgres_store() -> (Arc<dyn EscrowStore>, StoreGuard) {
    let (store, database) = migrated_store().await;
    (Arc::new(store), Box::new(database))
}

/// The webhook contract suite's factory: one migrated store as both traits.
pub async fn postgres_webhook_store() -> (Arc<dyn EscrowStore>, Arc<dyn WebhookStore>, StoreGuard) {
    let (store, database) = migrated_store().await;
    let store = Arc::new(store);
    (store.clone(), store, Box::new(database))
}

/// The idempotency suite's factory: gridstore KV on a migrated database.
pub async fn postgres_kv() -> (Arc<dyn gridstore::KvStore>, StoreGuard) {
    let (store, database) = migrated_store().await;
    (Arc::new(store.kv_store()), Box::new(database))
}

/// Asserts that the position's ledger has `len` events, each linked to the one before it.
pub async fn assert_one_unbroken_chain(
    store: &PgEscrowStore,
    position: &escrowgrid::domain::PositionId,
    len: usize,
) {
    let ledger = store
        .list_ledger_events(&escrowgrid::store::Scope::Root, Some(position))
        .await
        .unwrap();
    assert_eq!(ledger.len(), len);
    for pair in ledger.windows(2) {
        assert_eq!(pair[1].previous_hash, pair[0].hash, "one unbroken chain");
    }
}
