//! Containment on PostgreSQL answers the same with and without the opt-in GIN index
//! (migration 0011).

use gridstore::{EventFilter, EventLog, NewEvent};
use serde_json::json;

use super::fixture;
use gridstore::postgres::PgEventLog;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containment_answers_the_same_with_and_without_the_opt_in_index() {
    // Arrange: migrated without the index, one matching event among others.
    let fx = fixture().await;
    let log = PgEventLog::new(fx.pool.clone());
    assert!(
        !has_payload_index(&fx.pool).await,
        "migration 0011 drops the index"
    );
    let events =
        (0..20).map(|n| NewEvent::new("s", "tick", json!({"n": n, "k": {"even": n % 2 == 0}})));
    log.append(events.collect()).await.expect("append");
    let filter = EventFilter::all().contains(json!({"n": 7, "k": {"even": false}}));
    let without = log
        .query(&filter, None, 100)
        .await
        .expect("query without the index");

    // Act
    log.create_containment_index().await.expect("create");
    log.create_containment_index()
        .await
        .expect("creating it again is a no-op");

    // Assert
    assert!(has_payload_index(&fx.pool).await);
    let with = log
        .query(&filter, None, 100)
        .await
        .expect("query with the index");
    assert_eq!(without.len(), 1);
    assert_eq!(with, without);
}

async fn has_payload_index(pool: &gridstore::postgres::PgPool) -> bool {
    let client = pool.get().await.expect("client");
    let row = client
        .query_one(
            "select count(*) from pg_indexes where indexname = 'gs_events_payload_idx'",
            &[],
        )
        .await
        .expect("pg_indexes");
    row.get::<_, i64>(0) == 1
}
