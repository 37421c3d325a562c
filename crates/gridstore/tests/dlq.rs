//! The dead-letter-queue contract suite against every backend.

mod memory {
    use std::sync::Arc;
    use std::time::Duration;

    use gridstore::memory::{ManualClock, MemoryDeadLetterQueue};
    use gridstore::{ClaimRequest, DeadLetterQueue, DlqStatus, NewDlqItem};
    use serde_json::json;

    async fn store() -> (MemoryDeadLetterQueue, ()) {
        (MemoryDeadLetterQueue::new(), ())
    }

    gridstore::dlq_contract_tests!(store);

    #[tokio::test]
    async fn on_a_manual_clock_a_claim_becomes_visible_exactly_at_its_timeout() {
        let clock = ManualClock::default();
        let dlq = MemoryDeadLetterQueue::with_clock(Arc::new(clock.clone()));
        let item = dlq
            .enqueue(NewDlqItem::new("job", json!(1), "boom"))
            .await
            .expect("enqueue");
        let claim = |worker: &str| ClaimRequest::new(worker, 1, Duration::from_millis(500));
        assert_eq!(dlq.claim(&claim("a")).await.expect("claim").len(), 1);

        clock.advance(chrono::Duration::milliseconds(499));
        assert!(dlq.claim(&claim("b")).await.expect("claim").is_empty());
        let status = dlq.get(item.id).await.expect("get").map(|i| i.status);
        assert_eq!(status, Some(DlqStatus::Claimed));

        clock.advance(chrono::Duration::milliseconds(1));
        let status = dlq.get(item.id).await.expect("get").map(|i| i.status);
        assert_eq!(status, Some(DlqStatus::Pending));
        assert_eq!(dlq.claim(&claim("b")).await.expect("claim").len(), 1);
    }
}

mod postgres {
    use gridstore::postgres::{PgConfig, PgDeadLetterQueue, PgPool, migrations};
    use testkit::TestDatabase;

    async fn store() -> (PgDeadLetterQueue, TestDatabase) {
        let db = testkit::database().await;
        let config = PgConfig::from_url(db.url()).expect("config");
        let pool = PgPool::connect(&config).await.expect("pool");
        migrations::migrate(&pool).await.expect("migrate");
        (PgDeadLetterQueue::new(pool), db)
    }

    gridstore::dlq_contract_tests!(store);
}
