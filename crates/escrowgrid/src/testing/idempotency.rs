//! Idempotency reservations and stored responses.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::domain::now_millis;
use crate::store::{EscrowStore, IDEMPOTENCY_LEASE, Reservation, StoredResponse};

fn response(hash: &str, status: u16, age: chrono::Duration) -> StoredResponse {
    StoredResponse {
        request_hash: hash.to_owned(),
        status,
        body: br#"{"id":"pos_1","amount":12345678901234.12345678}"#.to_vec(),
        created_at: now_millis() - age,
    }
}

async fn reserve(store: &dyn EscrowStore, scope: &str, key: &str, hash: &str) -> Reservation {
    store
        .idempotency_reserve(scope, key, hash, IDEMPOTENCY_LEASE)
        .await
        .unwrap()
}

/// A free key is reserved once; while reserved the same request is in progress and another
/// is a mismatch; once completed the same request replays the response byte for byte and
/// another is still a mismatch. Keys are separate per scope.
pub async fn a_reserved_key_is_in_progress_until_completed_then_replayed(store: &dyn EscrowStore) {
    assert_eq!(
        reserve(store, "inst_a", "k", "hash-1").await,
        Reservation::Reserved
    );
    assert_eq!(
        reserve(store, "inst_a", "k", "hash-1").await,
        Reservation::InProgress
    );
    assert_eq!(
        reserve(store, "inst_a", "k", "hash-2").await,
        Reservation::Mismatch
    );
    assert_eq!(
        reserve(store, "inst_b", "k", "hash-1").await,
        Reservation::Reserved
    );
    let first = response("hash-1", 201, chrono::Duration::zero());
    store
        .idempotency_complete("inst_a", "k", first.clone())
        .await
        .unwrap();
    assert_eq!(
        reserve(store, "inst_a", "k", "hash-1").await,
        Reservation::Replay(first)
    );
    assert_eq!(
        reserve(store, "inst_a", "k", "hash-2").await,
        Reservation::Mismatch
    );
    assert_eq!(
        reserve(store, "inst_b", "k", "hash-1").await,
        Reservation::InProgress
    );
}

/// Completing needs a reservation with the response's hash: no reservation, another hash or
/// an already completed record is NotFound and changes nothing.
pub async fn completing_needs_the_reservation_with_the_same_hash(store: &dyn EscrowStore) {
    let done = response("hash-1", 200, chrono::Duration::zero());
    let missing = store.idempotency_complete("root", "k", done.clone()).await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(
        reserve(store, "root", "k", "hash-1").await,
        Reservation::Reserved
    );
    let other = store
        .idempotency_complete(
            "root",
            "k",
            response("hash-2", 200, chrono::Duration::zero()),
        )
        .await;
    assert!(matches!(other, Err(Error::NotFound { .. })), "{other:?}");
    assert_eq!(
        reserve(store, "root", "k", "hash-1").await,
        Reservation::InProgress
    );
    store
        .idempotency_complete("root", "k", done.clone())
        .await
        .unwrap();
    let again = store
        .idempotency_complete(
            "root",
            "k",
            response("hash-1", 500, chrono::Duration::zero()),
        )
        .await;
    assert!(matches!(again, Err(Error::NotFound { .. })), "{again:?}");
    assert_eq!(
        reserve(store, "root", "k", "hash-1").await,
        Reservation::Replay(done)
    );
}

/// Releasing drops a reservation (any request may then reserve the key) but never a completed
/// record; releasing a free key is fine.
pub async fn a_released_reservation_frees_the_key_but_a_completed_record_stays(
    store: &dyn EscrowStore,
) {
    store.idempotency_release("root", "free").await.unwrap();
    assert_eq!(
        reserve(store, "root", "k", "hash-1").await,
        Reservation::Reserved
    );
    store.idempotency_release("root", "k").await.unwrap();
    assert_eq!(
        reserve(store, "root", "k", "hash-2").await,
        Reservation::Reserved
    );
    let done = response("hash-2", 422, chrono::Duration::zero());
    store
        .idempotency_complete("root", "k", done.clone())
        .await
        .unwrap();
    store.idempotency_release("root", "k").await.unwrap();
    assert_eq!(
        reserve(store, "root", "k", "hash-2").await,
        Reservation::Replay(done)
    );
}

/// A reservation whose lease ran out (a crashed instance) is taken by the next request, and
/// the old holder can no longer complete it.
pub async fn an_expired_reservation_is_taken_over(store: &dyn EscrowStore) {
    let short = Duration::from_millis(20);
    let reserved = store
        .idempotency_reserve("root", "k", "hash-1", short)
        .await
        .unwrap();
    assert_eq!(reserved, Reservation::Reserved);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let outcome = reserve(store, "root", "k", "hash-2").await;
        if outcome == Reservation::Reserved {
            break;
        }
        assert_eq!(outcome, Reservation::Mismatch);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease never ended"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let late = store
        .idempotency_complete(
            "root",
            "k",
            response("hash-1", 201, chrono::Duration::zero()),
        )
        .await;
    assert!(matches!(late, Err(Error::NotFound { .. })), "{late:?}");
    assert_eq!(
        reserve(store, "root", "k", "hash-2").await,
        Reservation::InProgress
    );
}

/// A response is replayed for 24 hours; an older one is gone and its key is free again.
pub async fn an_expired_response_is_gone_and_its_key_can_be_reserved_again(
    store: &dyn EscrowStore,
) {
    let young = response("hash-1", 201, chrono::Duration::hours(23));
    assert_eq!(
        reserve(store, "root", "young", "hash-1").await,
        Reservation::Reserved
    );
    store
        .idempotency_complete("root", "young", young.clone())
        .await
        .unwrap();
    assert_eq!(
        reserve(store, "root", "young", "hash-1").await,
        Reservation::Replay(young)
    );
    let old = response(
        "hash-1",
        201,
        chrono::Duration::hours(24) + chrono::Duration::seconds(1),
    );
    assert_eq!(
        reserve(store, "root", "old", "hash-1").await,
        Reservation::Reserved
    );
    store
        .idempotency_complete("root", "old", old)
        .await
        .unwrap();
    assert_eq!(
        reserve(store, "root", "old", "hash-2").await,
        Reservation::Reserved
    );
}

/// Eight tasks reserving one free key at once: exactly one gets it; the others see it in
/// progress (same request) or a mismatch (other requests).
pub async fn eight_concurrent_reservations_of_one_key_have_one_winner(store: Arc<dyn EscrowStore>) {
    for (key, same_hash) in [("same", true), ("different", false)] {
        let mut tasks = Vec::new();
        for task in 0..8 {
            let store = Arc::clone(&store);
            let hash = if same_hash {
                "hash".to_owned()
            } else {
                format!("hash-{task}")
            };
            tasks.push(tokio::spawn(async move {
                store
                    .idempotency_reserve("root", key, &hash, IDEMPOTENCY_LEASE)
                    .await
                    .unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let loser = if same_hash {
            Reservation::InProgress
        } else {
            Reservation::Mismatch
        };
        let winners = outcomes
            .iter()
            .filter(|outcome| **outcome == Reservation::Reserved)
            .count();
        assert_eq!(winners, 1, "{key}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|outcome| *outcome == Reservation::Reserved || *outcome == loser),
            "{key}: {outcomes:?}"
        );
    }
}
