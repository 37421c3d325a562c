//! The KV contract suite against every backend, plus memory-only tests on a manual clock.

mod memory {
    use std::sync::Arc;
    use std::time::Duration;

    use gridstore::KvStore;
    use gridstore::memory::{ManualClock, MemoryKvStore};
    use gridstore::testing::kv::basics;
    use serde_json::json;

    async fn store() -> (MemoryKvStore, ()) {
        (MemoryKvStore::new(), ())
    }

    gridstore::kv_contract_tests!(store);

    #[tokio::test]
    async fn clones_of_a_memory_store_share_their_keys() {
        let store = MemoryKvStore::new();
        basics::keys_written_through_one_store_are_read_through_another(&store, &store.clone())
            .await;
    }

    #[tokio::test]
    async fn on_a_manual_clock_a_key_expires_exactly_at_its_ttl() {
        let clock = ManualClock::default();
        let store = MemoryKvStore::with_clock(Arc::new(clock.clone()));
        store
            .set("k", json!(1), Some(Duration::from_millis(1000)))
            .await
            .expect("set");

        clock.advance(chrono::Duration::milliseconds(999));
        assert!(store.has("k").await.expect("has"));
        clock.advance(chrono::Duration::milliseconds(1));
        assert!(!store.has("k").await.expect("has"));
        assert_eq!(store.stats().await.expect("stats").expired_pending, 1);
    }

    #[tokio::test]
    async fn on_a_manual_clock_a_counter_window_ends_exactly_at_its_ttl() {
        let clock = ManualClock::default();
        let store = MemoryKvStore::with_clock(Arc::new(clock.clone()));
        let window = Some(Duration::from_millis(1000));
        let first = store.increment("rate:k", 1, window).await.expect("first");

        clock.advance(chrono::Duration::milliseconds(400));
        let second = store.increment("rate:k", 1, window).await.expect("second");
        clock.advance(chrono::Duration::milliseconds(599));
        let last = store.increment("rate:k", 1, window).await.expect("last");
        clock.advance(chrono::Duration::milliseconds(1));
        let restarted = store.increment("rate:k", 1, window).await.expect("restart");

        let expect = |value, ms| gridstore::Counter {
            value,
            expires_in: Some(Duration::from_millis(ms)),
        };
        assert_eq!(first, expect(1, 1000));
        assert_eq!(second, expect(2, 600));
        assert_eq!(last, expect(3, 1));
        assert_eq!(restarted, expect(1, 1000));
    }
}

mod postgres {
    use gridstore::postgres::PgKvStore;
    use gridstore::testing::migrated_pool;
    use testkit::TestDatabase;

    async fn store() -> (PgKvStore, TestDatabase) {
        let db = testkit::database().await;
        let pool = migrated_pool(db.url()).await.expect("connect and migrate");
        (PgKvStore::new(pool), db)
    }

    gridstore::kv_contract_tests!(store);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn data_survives_reopening_the_store_on_a_new_pool() {
        let (writer, db) = store().await;
        let reopened = PgKvStore::new(migrated_pool(db.url()).await.expect("reopen"));

        gridstore::testing::kv::basics::keys_written_through_one_store_are_read_through_another(
            &writer, &reopened,
        )
        .await;
    }
}
