//! Idempotency keys ([`IdempotencyKeys`]) on a KV backend: reservations, stored responses,
//! leases, retention and cancellation. Expanded per KV backend by
//! [`idempotency_contract_tests!`](crate::idempotency_contract_tests).

use std::sync::Arc;
use std::time::Duration;

use gridstore::KvStore;

use crate::idempotency::{IDEMPOTENCY_LEASE, IdempotencyKeys, Reservation, StoredResponse};

use super::flaky_kv::FlakyKv;
use super::slow_kv::SlowKv;

const DEADLINE: Duration = Duration::from_secs(10);

fn response(status: u16) -> StoredResponse {
    StoredResponse {
        status,
        body: r#"{"id":"pos_1","amount":12345678901234.12345678}"#.to_owned(),
    }
}

async fn reserve(keys: &IdempotencyKeys, scope: &str, key: &str, hash: &str) -> Reservation {
    keys.reserve(scope, key, hash, IDEMPOTENCY_LEASE)
        .await
        .unwrap()
}

fn held(outcome: Reservation) -> crate::idempotency::Held {
    match outcome {
        Reservation::Reserved(held) => held,
        other => panic!("expected a reservation, got {other:?}"),
    }
}

/// Polls `reserve` with `hash` until it reserves the key, within [`DEADLINE`]; every other
/// answer must be `waiting`.
async fn reserve_eventually(
    keys: &IdempotencyKeys,
    key: &str,
    hash: &str,
    waiting: fn(&Reservation) -> bool,
) -> crate::idempotency::Held {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let outcome = reserve(keys, "root", key, hash).await;
        if let Reservation::Reserved(held) = outcome {
            return held;
        }
        assert!(waiting(&outcome), "unexpected {outcome:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the key was never freed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A free key is reserved once; while reserved the same request is in progress and another
/// is a mismatch; once completed the same request replays the response byte for byte and
/// another is still a mismatch. Keys are separate per scope.
pub async fn a_reserved_key_is_in_progress_until_completed_then_replayed(kv: Arc<dyn KvStore>) {
    let keys = IdempotencyKeys::new(kv);
    let first = held(reserve(&keys, "inst_a", "k", "hash-1").await);
    assert!(matches!(
        reserve(&keys, "inst_a", "k", "hash-1").await,
        Reservation::InProgress
    ));
    assert!(matches!(
        reserve(&keys, "inst_a", "k", "hash-2").await,
        Reservation::Mismatch
    ));
    let other_scope = held(reserve(&keys, "inst_b", "k", "hash-1").await);

    assert!(first.complete(response(201)).await);

    match reserve(&keys, "inst_a", "k", "hash-1").await {
        Reservation::Replay(stored) => assert_eq!(stored, response(201)),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert!(matches!(
        reserve(&keys, "inst_a", "k", "hash-2").await,
        Reservation::Mismatch
    ));
    assert!(matches!(
        reserve(&keys, "inst_b", "k", "hash-1").await,
        Reservation::InProgress
    ));
    other_scope.release().await;
}

/// Releasing frees the key for any request; dropping a held reservation (a cancelled or
/// panicking request) releases it in the background.
pub async fn a_released_or_dropped_reservation_frees_the_key(kv: Arc<dyn KvStore>) {
    let keys = IdempotencyKeys::new(kv);
    held(reserve(&keys, "root", "k", "hash-1").await)
        .release()
        .await;
    let second = held(reserve(&keys, "root", "k", "hash-2").await);
    drop(second);
    let third = reserve_eventually(&keys, "k", "hash-3", |outcome| {
        matches!(outcome, Reservation::Mismatch)
    })
    .await;
    assert!(third.complete(response(422)).await);
    match reserve(&keys, "root", "k", "hash-3").await {
        Reservation::Replay(stored) => assert_eq!(stored.status, 422),
        other => panic!("expected a replay, got {other:?}"),
    }
}

/// A reservation whose lease ran out (a crashed instance) is taken by the next request; the
/// old holder can then neither complete nor release the key (its record belongs to the new
/// holder, and later to the new holder's stored response).
pub async fn an_expired_reservation_is_taken_over_and_its_old_holder_changes_nothing(
    kv: Arc<dyn KvStore>,
) {
    let keys = IdempotencyKeys::new(kv);
    let short = Duration::from_millis(50);
    let stale = held(keys.reserve("root", "k", "hash-1", short).await.unwrap());
    let stale_release = held(keys.reserve("root", "r", "hash-1", short).await.unwrap());

    let taken = reserve_eventually(&keys, "k", "hash-2", |outcome| {
        matches!(outcome, Reservation::Mismatch)
    })
    .await;
    assert!(
        !stale.complete(response(201)).await,
        "a stale holder completed"
    );
    assert!(matches!(
        reserve(&keys, "root", "k", "hash-2").await,
        Reservation::InProgress
    ));
    assert!(taken.complete(response(201)).await);
    let winner = reserve_eventually(&keys, "r", "hash-2", |outcome| {
        matches!(outcome, Reservation::Mismatch)
    })
    .await;
    assert!(winner.complete(response(200)).await);
    stale_release.release().await;

    assert!(matches!(
        reserve(&keys, "root", "k", "hash-2").await,
        Reservation::Replay(_)
    ));
    assert!(
        matches!(
            reserve(&keys, "root", "r", "hash-2").await,
            Reservation::Replay(_)
        ),
        "a stale release removed a completed response"
    );
}

/// A response is replayed until its retention ends (24 hours in the API; short here); then
/// it is gone and the key can be reserved again, by any request.
pub async fn an_expired_response_is_gone_and_its_key_can_be_reserved_again(kv: Arc<dyn KvStore>) {
    let keys = IdempotencyKeys::new(kv).with_retention(Duration::from_millis(100));
    assert!(
        held(reserve(&keys, "root", "old", "hash-1").await)
            .complete(response(201))
            .await
    );
    let again = reserve_eventually(&keys, "old", "hash-2", |outcome| {
        matches!(outcome, Reservation::Mismatch)
    })
    .await;
    again.release().await;
}

/// Eight tasks reserving one free key at once: exactly one gets it; the others see it in
/// progress (same request) or a mismatch (other requests).
pub async fn eight_concurrent_reservations_of_one_key_have_one_winner(kv: Arc<dyn KvStore>) {
    let keys = IdempotencyKeys::new(kv);
    for (key, same_hash) in [("same", true), ("different", false)] {
        let mut tasks = Vec::new();
        for task in 0..8 {
            let keys = keys.clone();
            let hash = if same_hash {
                "hash".to_owned()
            } else {
                format!("hash-{task}")
            };
            tasks.push(tokio::spawn(async move {
                keys.reserve("root", key, &hash, IDEMPOTENCY_LEASE)
                    .await
                    .unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let winners = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, Reservation::Reserved(_)))
            .count();
        assert_eq!(winners, 1, "{key}: {outcomes:?}");
        assert!(
            outcomes.iter().all(|outcome| match outcome {
                Reservation::Reserved(_) => true,
                Reservation::InProgress => same_hash,
                Reservation::Mismatch => !same_hash,
                Reservation::Replay(_) => false,
            }),
            "{key}: {outcomes:?}"
        );
    }
}

/// Issue 13 (a key stuck after a request timeout): the reservation is written but the store
/// answers late, after the caller gave up. The reservation is released once the answer
/// arrives, so the key is free again long before the lease (60 s) ends.
pub async fn a_reservation_written_after_its_caller_gave_up_is_released(kv: Arc<dyn KvStore>) {
    let slow = Arc::new(SlowKv::new(kv));
    let keys = IdempotencyKeys::new(Arc::clone(&slow) as Arc<dyn KvStore>);
    slow.hold_next_reservation();

    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        keys.reserve("root", "stuck", "hash-1", IDEMPOTENCY_LEASE),
    )
    .await;
    assert!(cut.is_err(), "the reservation should still be in flight");
    // Written but not yet answered: the same request is in progress.
    assert!(matches!(
        reserve(&keys, "root", "stuck", "hash-1").await,
        Reservation::InProgress
    ));
    slow.release_held();

    let retry = reserve_eventually(&keys, "stuck", "hash-1", |outcome| {
        matches!(outcome, Reservation::InProgress)
    })
    .await;
    assert_eq!(
        slow.late_reservations(),
        1,
        "the reservation was never held"
    );
    retry.release().await;
}

/// Issue 13 (a key stuck after an outage): releasing fails three times (the store is down);
/// the caller is not kept waiting, and the release is retried in the background until the
/// key is free, long before the lease (60 s) would free it.
pub async fn a_release_that_fails_is_retried_until_the_key_is_free(kv: Arc<dyn KvStore>) {
    let flaky = Arc::new(FlakyKv::new(kv));
    let keys = IdempotencyKeys::new(Arc::clone(&flaky) as Arc<dyn KvStore>);
    let first = held(reserve(&keys, "root", "outage", "hash-1").await);
    flaky.fail_next_releases(3);

    first.release().await;
    assert!(
        matches!(
            reserve(&keys, "root", "outage", "hash-1").await,
            Reservation::InProgress
        ),
        "the first release attempt should have failed"
    );

    let retry = reserve_eventually(&keys, "outage", "hash-1", |outcome| {
        matches!(outcome, Reservation::InProgress)
    })
    .await;
    assert_eq!(flaky.failures(), 3);
    retry.release().await;
}

/// Issue 13: storing the final response fails and so does the release right after it; the
/// key is still freed (by the retried release) instead of staying reserved, and nothing was
/// stored, so the same request runs again.
pub async fn a_completion_that_fails_releases_the_key_even_when_the_release_fails_too(
    kv: Arc<dyn KvStore>,
) {
    let flaky = Arc::new(FlakyKv::new(kv));
    let keys = IdempotencyKeys::new(Arc::clone(&flaky) as Arc<dyn KvStore>);
    let first = held(reserve(&keys, "root", "unsaved", "hash-1").await);
    flaky.fail_next_completions(1);
    flaky.fail_next_releases(1);

    assert!(!first.complete(response(201)).await, "nothing was stored");

    let retry = reserve_eventually(&keys, "unsaved", "hash-1", |outcome| {
        matches!(outcome, Reservation::InProgress)
    })
    .await;
    assert_eq!(flaky.failures(), 2);
    assert!(retry.complete(response(201)).await);
    assert!(matches!(
        reserve(&keys, "root", "unsaved", "hash-1").await,
        Reservation::Replay(_)
    ));
}
