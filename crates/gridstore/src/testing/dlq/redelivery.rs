//! Redelivery behaviours of the DLQ contract suite: an abandoned claim counts as a failed
//! attempt, and a retry limit parks a poison item instead of looping on it forever.

use std::time::Duration;

use super::{LONG, item};
use crate::Error;
use crate::dlq::{ClaimRequest, DeadLetterQueue, DlqItem, DlqOutcome, DlqStatus};

/// Long enough that a claim is still live for the next statement on a loaded box.
const SHORT: Duration = Duration::from_millis(1000);

/// Claims with `request` until its result is non-empty or the item left the claimable set
/// (`id`'s effective status is no longer pending); fails after 5 s.
async fn claim_after_expiry(
    dlq: &impl DeadLetterQueue,
    id: i64,
    request: &ClaimRequest,
) -> Vec<DlqItem> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = dlq.claim(request).await.expect("claim");
        let status = dlq.get(id).await.expect("get").map(|i| i.status);
        // An expired claim reads as `Pending`: the claim above may have run just before the
        // expiry and the `get` just after, so only a claimed item or a final status ends the
        // wait.
        let open = matches!(status, Some(DlqStatus::Claimed | DlqStatus::Pending));
        if !got.is_empty() || !open {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "claim never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reclaiming an item whose claim expired counts the abandoned claim as a failed attempt.
pub async fn an_expired_claim_counts_as_a_failed_attempt(dlq: impl DeadLetterQueue) {
    let stored = dlq.enqueue(item("job", 1)).await.expect("enqueue");
    let first = dlq
        .claim(&ClaimRequest::new("a", 1, SHORT))
        .await
        .expect("claim");
    assert_eq!(first[0].retry_count, 0);
    let reclaimed = claim_after_expiry(&dlq, stored.id, &ClaimRequest::new("b", 1, LONG)).await;
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].retry_count, 1);
    assert_eq!(reclaimed[0].error, "failure 1", "the error is kept");
    let got = dlq.get(stored.id).await.expect("get").expect("item");
    assert_eq!((got.status, got.retry_count), (DlqStatus::Claimed, 1));
    let retried = dlq
        .settle(
            stored.id,
            "b",
            DlqOutcome::Retried {
                error: "again".into(),
            },
        )
        .await
        .expect("settle");
    assert_eq!(retried.retry_count, 2);
}

/// With a retry limit, an item that reached it (by settles or abandoned claims) is parked as
/// ineligible instead of being handed out again; without one nothing changes.
pub async fn a_retry_limit_parks_a_poison_item(dlq: impl DeadLetterQueue) {
    // Reached through a retried settle.
    let settled = dlq.enqueue(item("job", 1)).await.expect("enqueue");
    dlq.claim(&ClaimRequest::new("a", 1, LONG))
        .await
        .expect("claim");
    dlq.settle(
        settled.id,
        "a",
        DlqOutcome::Retried {
            error: "crash".into(),
        },
    )
    .await
    .expect("settle");
    let limited = ClaimRequest::new("b", 1, LONG).with_max_retries(1);
    assert!(dlq.claim(&limited).await.expect("claim").is_empty());
    let parked = dlq.get(settled.id).await.expect("get").expect("item");
    assert_eq!(
        (parked.status, parked.retry_count),
        (DlqStatus::Ineligible, 1)
    );
    assert_eq!(parked.error, "retry limit 1 reached; last error: crash");
    assert!(parked.claimed_until.is_none());

    // Reached through abandoned claims (a worker that crashes every time).
    let mut poison = item("job", 2);
    poison.retry_count = 1;
    let poison = dlq.enqueue(poison).await.expect("enqueue");
    let limited = |worker: &str| ClaimRequest::new(worker, 1, SHORT).with_max_retries(2);
    let first = dlq.claim(&limited("c")).await.expect("claim");
    assert_eq!((first.len(), first[0].retry_count), (1, 1));
    let again = claim_after_expiry(&dlq, poison.id, &limited("d")).await;
    assert!(again.is_empty(), "{again:?}");
    let parked = dlq.get(poison.id).await.expect("get").expect("item");
    assert_eq!(
        (parked.status, parked.retry_count),
        (DlqStatus::Ineligible, 2)
    );
    assert_eq!(parked.error, "retry limit 2 reached; last error: failure 2");
    let late = dlq.settle(poison.id, "c", DlqOutcome::Resolved).await;
    assert!(matches!(late, Err(Error::LockNotHeld { .. })), "{late:?}");

    // Parked is final for every claimer; an administrator can re-open it.
    let unlimited = ClaimRequest::new("e", 10, LONG);
    assert!(dlq.claim(&unlimited).await.expect("claim").is_empty());
    dlq.force_settle(
        poison.id,
        DlqOutcome::Retried {
            error: "fixed upstream".into(),
        },
    )
    .await
    .expect("force");
    let reopened = dlq.claim(&unlimited).await.expect("claim");
    assert_eq!(reopened.len(), 1);
    assert_eq!((reopened[0].id, reopened[0].retry_count), (poison.id, 3));
}
