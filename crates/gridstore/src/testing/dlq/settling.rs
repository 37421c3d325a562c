//! Settling behaviours of the DLQ contract suite: by the claimer, and by an administrator.

use super::{LONG, item};
use crate::Error;
use crate::dlq::{ClaimRequest, DeadLetterQueue, DlqOutcome, DlqStatus};

/// Retried bumps the count and re-queues; resolved and ineligible are final.
pub async fn settling_records_the_outcome(dlq: impl DeadLetterQueue) {
    for n in 0..3 {
        dlq.enqueue(item("job", n)).await.expect("enqueue");
    }
    let claimed = dlq
        .claim(&ClaimRequest::new("w", 3, LONG))
        .await
        .expect("claim");
    let ids: Vec<_> = claimed.iter().map(|i| i.id).collect();
    let retried = dlq
        .settle(
            ids[0],
            "w",
            DlqOutcome::Retried {
                error: "still broken".into(),
            },
        )
        .await
        .expect("retried");
    assert_eq!(
        (retried.status, retried.retry_count),
        (DlqStatus::Pending, 1)
    );
    assert_eq!(retried.error, "still broken");
    let resolved = dlq
        .settle(ids[1], "w", DlqOutcome::Resolved)
        .await
        .expect("resolved");
    assert_eq!(resolved.status, DlqStatus::Resolved);
    assert!(!resolved.is_eligible());
    let ineligible = dlq
        .settle(
            ids[2],
            "w",
            DlqOutcome::Ineligible {
                reason: "bad input".into(),
            },
        )
        .await
        .expect("ineligible");
    assert_eq!(
        (ineligible.status, ineligible.error.as_str()),
        (DlqStatus::Ineligible, "bad input")
    );
    let again = dlq
        .claim(&ClaimRequest::new("w", 10, LONG))
        .await
        .expect("claim");
    assert_eq!(again.iter().map(|i| i.id).collect::<Vec<_>>(), [ids[0]]);
    let twice = dlq.settle(ids[1], "w", DlqOutcome::Resolved).await;
    assert!(matches!(twice, Err(Error::LockNotHeld { .. })));
}

/// Settling needs the claim: an unclaimed item, another's claim or an unknown id fail.
pub async fn only_the_claimer_can_settle(dlq: impl DeadLetterQueue) {
    let stored = dlq.enqueue(item("job", 1)).await.expect("enqueue");
    let unclaimed = dlq.settle(stored.id, "w", DlqOutcome::Resolved).await;
    assert!(matches!(unclaimed, Err(Error::LockNotHeld { .. })));
    dlq.claim(&ClaimRequest::new("owner", 1, LONG))
        .await
        .expect("claim");
    let other = dlq.settle(stored.id, "thief", DlqOutcome::Resolved).await;
    assert!(matches!(other, Err(Error::LockNotHeld { .. })));
    let missing = dlq
        .settle(stored.id + 1000, "owner", DlqOutcome::Resolved)
        .await;
    assert!(matches!(missing, Err(Error::NotFound { .. })));
    dlq.settle(stored.id, "owner", DlqOutcome::Resolved)
        .await
        .expect("owner settles");
}

/// Force-settling needs no claim, ends a live one, can re-open a final item, and fails only
/// for an unknown id.
pub async fn an_administrator_can_settle_any_item_without_claiming_it(dlq: impl DeadLetterQueue) {
    let unclaimed = dlq.enqueue(item("job", 1)).await.expect("enqueue");
    let claimed = dlq.enqueue(item("job", 2)).await.expect("enqueue");
    let resolved = dlq
        .force_settle(unclaimed.id, DlqOutcome::Resolved)
        .await
        .expect("force resolve");
    assert_eq!(resolved.status, DlqStatus::Resolved);
    let got = dlq
        .claim(&ClaimRequest::new("w", 10, LONG))
        .await
        .expect("claim");
    assert_eq!(got.iter().map(|i| i.id).collect::<Vec<_>>(), [claimed.id]);

    let reason = DlqOutcome::Ineligible {
        reason: "operator: poison message".into(),
    };
    let ineligible = dlq.force_settle(claimed.id, reason).await.expect("force");
    assert_eq!(
        (
            ineligible.status,
            ineligible.error.as_str(),
            ineligible.claimed_until
        ),
        (DlqStatus::Ineligible, "operator: poison message", None)
    );
    let late = dlq.settle(claimed.id, "w", DlqOutcome::Resolved).await;
    assert!(matches!(late, Err(Error::LockNotHeld { .. })), "{late:?}");

    let reopened = dlq
        .force_settle(
            claimed.id,
            DlqOutcome::Retried {
                error: "operator: try again".into(),
            },
        )
        .await
        .expect("reopen");
    assert_eq!(
        (reopened.status, reopened.retry_count),
        (DlqStatus::Pending, 1)
    );
    let again = dlq
        .claim(&ClaimRequest::new("w", 10, LONG))
        .await
        .expect("claim");
    assert_eq!(again.iter().map(|i| i.id).collect::<Vec<_>>(), [claimed.id]);
    let missing = dlq
        .force_settle(claimed.id + 1000, DlqOutcome::Resolved)
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
}
