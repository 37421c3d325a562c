//! Idempotency records.

use chrono::Duration;

use crate::Error;
use crate::domain::now_millis;
use crate::store::{EscrowStore, StoredResponse};

fn response(status: u16, age: Duration) -> StoredResponse {
    StoredResponse {
        request_hash: format!("hash-{status}"),
        status,
        body: br#"{"id":"pos_1","amount":12345678901234.12345678}"#.to_vec(),
        created_at: now_millis() - age,
    }
}

/// A stored response is returned as stored; a second put under the same key is a Duplicate;
/// keys are separate per scope.
pub async fn an_idempotent_response_is_stored_once(store: &dyn EscrowStore) {
    assert_eq!(
        store.idempotency_get("inst_a", "key-1").await.unwrap(),
        None
    );
    let first = response(201, Duration::zero());
    store
        .idempotency_put("inst_a", "key-1", first.clone())
        .await
        .unwrap();
    assert_eq!(
        store.idempotency_get("inst_a", "key-1").await.unwrap(),
        Some(first.clone())
    );
    let again = store
        .idempotency_put("inst_a", "key-1", response(500, Duration::zero()))
        .await;
    assert!(matches!(again, Err(Error::Duplicate { .. })), "{again:?}");
    assert_eq!(
        store.idempotency_get("inst_a", "key-1").await.unwrap(),
        Some(first)
    );
    assert_eq!(
        store.idempotency_get("inst_b", "key-1").await.unwrap(),
        None
    );
    store
        .idempotency_put("inst_b", "key-1", response(200, Duration::zero()))
        .await
        .unwrap();
}

/// A response older than 24 hours is not returned, and a new one may take its key.
pub async fn an_expired_idempotent_response_is_gone_and_can_be_replaced(store: &dyn EscrowStore) {
    let old = response(201, Duration::hours(24) + Duration::seconds(1));
    store.idempotency_put("root", "key-1", old).await.unwrap();
    assert_eq!(store.idempotency_get("root", "key-1").await.unwrap(), None);
    let fresh = response(200, Duration::hours(23));
    store
        .idempotency_put("root", "key-1", fresh.clone())
        .await
        .unwrap();
    assert_eq!(
        store.idempotency_get("root", "key-1").await.unwrap(),
        Some(fresh)
    );
}
