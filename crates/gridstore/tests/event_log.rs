//! The event-log contract suite against every backend.

mod memory {
    use std::sync::Arc;

    use futures_util::StreamExt;
    use gridstore::memory::MemoryEventLog;
    use gridstore::{EventFilter, EventLog, NewEvent, Subscription, SubscriptionOptions};
    use serde_json::json;

    async fn store() -> (MemoryEventLog, ()) {
        (MemoryEventLog::new(), ())
    }

    gridstore::event_log_contract_tests!(store);

    #[tokio::test]
    async fn a_subscription_as_a_stream_yields_events_one_by_one_in_order() {
        let log: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new());
        let batch = (0..5).map(|n| NewEvent::new("s", "t", json!(n))).collect();
        log.append(batch).await.expect("append");
        let options = SubscriptionOptions {
            batch_size: 2,
            ..SubscriptionOptions::default()
        };
        let sub = Subscription::new(log, None, EventFilter::all(), options);
        let got: Vec<_> = sub
            .into_stream()
            .take(5)
            .map(|e| e.expect("event").payload)
            .collect()
            .await;
        assert_eq!(got, [json!(0), json!(1), json!(2), json!(3), json!(4)]);
    }
}

mod postgres {
    use gridstore::postgres::{PgConfig, PgEventLog, PgListener, PgPool, migrations};
    use testkit::TestDatabase;

    async fn store() -> (PgEventLog, TestDatabase) {
        let db = testkit::database().await;
        let config = PgConfig::from_url(db.url()).expect("config");
        let pool = PgPool::connect(&config).await.expect("pool");
        migrations::migrate(&pool).await.expect("migrate");
        let listener = PgListener::start(&config).await.expect("listener");
        (PgEventLog::new(pool).with_listener(listener), db)
    }

    gridstore::event_log_contract_tests!(store);
}
