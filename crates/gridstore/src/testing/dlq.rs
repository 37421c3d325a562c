//! Contract suite for [`DeadLetterQueue`]: one generic async fn per behaviour.
//!
//! Expand it with [`dlq_contract_tests!`](crate::dlq_contract_tests), giving a factory
//! `async fn() -> (impl DeadLetterQueue, guard)`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;

use crate::Error;
use crate::dlq::{ClaimRequest, DeadLetterQueue, DlqFilter, DlqOutcome, DlqStatus, NewDlqItem};

/// Expands the DLQ contract suite into `#[tokio::test]`s for one backend factory.
#[macro_export]
macro_rules! dlq_contract_tests {
    ($factory:expr) => {
        $crate::dlq_contract_tests!(@expand $factory;
            enqueued_items_round_trip_with_failure_details,
            list_filters_by_job_status_retries_and_time,
            claims_take_the_oldest_pending_items_and_hide_them,
            an_expired_claim_can_be_claimed_again,
            an_expired_claim_counts_as_a_failed_attempt,
            a_retry_limit_parks_a_poison_item,
            settling_records_the_outcome,
            only_the_claimer_can_settle,
            an_administrator_can_settle_any_item_without_claiming_it,
            purge_deletes_old_items_but_not_live_claims,
            stats_count_per_status_and_retry_count,
            two_workers_never_claim_the_same_item,
        );
    };
    (@expand $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = ($factory)().await;
                $crate::testing::dlq::$name(store).await;
            }
        )*
    };
}

mod redelivery;
mod settling;

pub use redelivery::{
    a_retry_limit_parks_a_poison_item, an_expired_claim_counts_as_a_failed_attempt,
};

pub use settling::{
    an_administrator_can_settle_any_item_without_claiming_it, only_the_claimer_can_settle,
    settling_records_the_outcome,
};

const LONG: Duration = Duration::from_secs(300);

fn item(job: &str, n: u64) -> NewDlqItem {
    NewDlqItem::new(job, json!({"n": n}), format!("failure {n}"))
}

/// An enqueued item comes back with its payload, error, details and a pending status.
pub async fn enqueued_items_round_trip_with_failure_details(dlq: impl DeadLetterQueue) {
    let before = Utc::now() - ChronoDuration::seconds(5);
    let new = item("job-1", 1).with_details(json!({"attempt": 3, "trace": ["a", "b"]}));
    let stored = dlq.enqueue(new).await.expect("enqueue");
    assert_eq!(stored.job_id, "job-1");
    assert_eq!(stored.payload, json!({"n": 1}));
    assert_eq!(stored.error, "failure 1");
    assert_eq!(stored.details, json!({"attempt": 3, "trace": ["a", "b"]}));
    assert_eq!(stored.retry_count, 0);
    assert_eq!(stored.status, DlqStatus::Pending);
    assert!(stored.is_eligible());
    assert!(stored.failed_at >= before);
    assert_eq!(dlq.get(stored.id).await.expect("get"), Some(stored.clone()));
    assert_eq!(dlq.get(stored.id + 1000).await.expect("get"), None);
    let empty = dlq.enqueue(item("", 2)).await;
    assert!(matches!(empty, Err(Error::InvalidInput(_))));
    let nul = dlq
        .enqueue(item("job-1", 3).with_details(json!({"k": "a\u{0}b"})))
        .await;
    assert!(matches!(nul, Err(Error::InvalidInput(_))));
}

/// Filters combine; results come in id order; `limit` caps them and `Some(0)` lists nothing.
pub async fn list_filters_by_job_status_retries_and_time(dlq: impl DeadLetterQueue) {
    for n in 0..4 {
        dlq.enqueue(item(if n % 2 == 0 { "even" } else { "odd" }, n))
            .await
            .expect("enqueue");
    }
    let claimed = dlq
        .claim(&ClaimRequest::new("w", 1, LONG).for_job("odd"))
        .await
        .expect("claim");
    let retried = dlq
        .settle(
            claimed[0].id,
            "w",
            DlqOutcome::Retried {
                error: "again".into(),
            },
        )
        .await
        .expect("settle");
    assert_eq!(retried.retry_count, 1);
    let list = |filter: DlqFilter| {
        let dlq = &dlq;
        async move {
            let items = dlq.list(&filter).await.expect("list");
            items
                .iter()
                .map(|i| i.payload["n"].as_u64().unwrap_or(99))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(DlqFilter::default()).await, [0, 1, 2, 3]);
    let even = DlqFilter {
        job_id: Some("even".into()),
        ..DlqFilter::default()
    };
    assert_eq!(list(even).await, [0, 2]);
    let retried = DlqFilter {
        min_retry_count: Some(1),
        ..DlqFilter::default()
    };
    assert_eq!(list(retried).await, [1]);
    let fresh = DlqFilter {
        max_retry_count: Some(0),
        ..DlqFilter::default()
    };
    assert_eq!(list(fresh).await, [0, 2, 3]);
    let pending = DlqFilter {
        status: Some(DlqStatus::Pending),
        eligible: Some(true),
        ..DlqFilter::default()
    };
    assert_eq!(list(pending).await, [0, 1, 2, 3]);
    let final_items = DlqFilter {
        eligible: Some(false),
        ..DlqFilter::default()
    };
    assert!(list(final_items).await.is_empty());
    let future = DlqFilter {
        failed_from: Some(Utc::now() + ChronoDuration::hours(1)),
        ..DlqFilter::default()
    };
    assert!(list(future).await.is_empty());
    let past = DlqFilter {
        failed_before: Some(Utc::now() + ChronoDuration::hours(1)),
        limit: Some(2),
        ..DlqFilter::default()
    };
    assert_eq!(list(past).await, [0, 1]);
    let all = dlq.list(&DlqFilter::default()).await.expect("list");
    let after_second = DlqFilter {
        after_id: Some(all[1].id),
        limit: Some(1),
        ..DlqFilter::default()
    };
    assert_eq!(list(after_second).await, [2]);
    let even_after_first = DlqFilter {
        job_id: Some("even".into()),
        after_id: Some(all[0].id),
        ..DlqFilter::default()
    };
    assert_eq!(list(even_after_first).await, [2]);
    let none = DlqFilter {
        limit: Some(0),
        ..DlqFilter::default()
    };
    assert!(list(none).await.is_empty());
}

/// A claim takes the oldest pending items; claimed items are invisible to the next claim.
pub async fn claims_take_the_oldest_pending_items_and_hide_them(dlq: impl DeadLetterQueue) {
    for n in 0..5 {
        dlq.enqueue(item("job", n)).await.expect("enqueue");
    }
    let first = dlq
        .claim(&ClaimRequest::new("a", 2, LONG))
        .await
        .expect("claim");
    let ns: Vec<_> = first.iter().map(|i| i.payload["n"].clone()).collect();
    assert_eq!(ns, [json!(0), json!(1)]);
    assert!(first.iter().all(|i| i.status == DlqStatus::Claimed));
    assert!(first.iter().all(|i| i.claimed_by.as_deref() == Some("a")));
    assert!(
        first
            .iter()
            .all(|i| i.claimed_until.is_some_and(|t| t > Utc::now()))
    );
    let second = dlq
        .claim(&ClaimRequest::new("b", 10, LONG))
        .await
        .expect("claim");
    assert_eq!(second.len(), 3);
    assert!(
        dlq.claim(&ClaimRequest::new("c", 10, LONG))
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(
        dlq.claim(&ClaimRequest::new("c", 0, LONG))
            .await
            .expect("claim")
            .is_empty()
    );
    let zero = dlq.claim(&ClaimRequest::new("c", 1, Duration::ZERO)).await;
    assert!(matches!(zero, Err(Error::InvalidInput(_))));
}

/// After the visibility timeout the item is pending again and another worker can claim it.
pub async fn an_expired_claim_can_be_claimed_again(dlq: impl DeadLetterQueue) {
    let stored = dlq.enqueue(item("job", 1)).await.expect("enqueue");
    // Long enough that the second claim below still sees it on a loaded box.
    let short = Duration::from_millis(1000);
    let first = dlq
        .claim(&ClaimRequest::new("a", 1, short))
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert!(
        dlq.claim(&ClaimRequest::new("b", 1, LONG))
            .await
            .expect("claim")
            .is_empty()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let reclaimed = loop {
        let got = dlq
            .claim(&ClaimRequest::new("b", 1, LONG))
            .await
            .expect("claim");
        if !got.is_empty() {
            break got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "claim never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(reclaimed[0].id, stored.id);
    assert_eq!(reclaimed[0].claimed_by.as_deref(), Some("b"));
    let late = dlq.settle(stored.id, "a", DlqOutcome::Resolved).await;
    assert!(matches!(late, Err(Error::LockNotHeld { .. })), "{late:?}");
}

/// Purge removes items older than the cutoff in any status except live claims.
pub async fn purge_deletes_old_items_but_not_live_claims(dlq: impl DeadLetterQueue) {
    for n in 0..3 {
        dlq.enqueue(item("job", n)).await.expect("enqueue");
    }
    let claimed = dlq
        .claim(&ClaimRequest::new("w", 2, LONG))
        .await
        .expect("claim");
    dlq.settle(claimed[0].id, "w", DlqOutcome::Resolved)
        .await
        .expect("settle");
    assert_eq!(
        dlq.purge_older_than(Utc::now() - ChronoDuration::hours(1))
            .await
            .expect("purge"),
        0
    );
    let purged = dlq
        .purge_older_than(Utc::now() + ChronoDuration::hours(1))
        .await
        .expect("purge");
    assert_eq!(purged, 2);
    let left = dlq.list(&DlqFilter::default()).await.expect("list");
    assert_eq!(
        left.iter().map(|i| i.id).collect::<Vec<_>>(),
        [claimed[1].id]
    );
}

/// Stats count per effective status and per retry count, for one job or all.
pub async fn stats_count_per_status_and_retry_count(dlq: impl DeadLetterQueue) {
    for n in 0..3 {
        dlq.enqueue(item("a", n)).await.expect("enqueue");
    }
    dlq.enqueue(item("b", 9)).await.expect("enqueue");
    let claimed = dlq
        .claim(&ClaimRequest::new("w", 2, LONG).for_job("a"))
        .await
        .expect("claim");
    dlq.settle(
        claimed[0].id,
        "w",
        DlqOutcome::Retried { error: "x".into() },
    )
    .await
    .expect("settle");
    let all = dlq.stats(None).await.expect("stats");
    assert_eq!(all.total, 4);
    assert_eq!(all.by_status.get(&DlqStatus::Pending), Some(&3));
    assert_eq!(all.by_status.get(&DlqStatus::Claimed), Some(&1));
    assert_eq!(all.by_retry_count.get(&0), Some(&3));
    assert_eq!(all.by_retry_count.get(&1), Some(&1));
    assert!(all.oldest_failed_at <= all.newest_failed_at);
    let b = dlq.stats(Some("b")).await.expect("stats");
    assert_eq!(b.total, 1);
    let none = dlq.stats(Some("nope")).await.expect("stats");
    assert_eq!((none.total, none.oldest_failed_at), (0, None));
}

/// Two workers claiming concurrently in small batches never get the same item.
pub async fn two_workers_never_claim_the_same_item(dlq: impl DeadLetterQueue) {
    const ITEMS: u64 = 200;
    for n in 0..ITEMS {
        dlq.enqueue(item("job", n)).await.expect("enqueue");
    }
    let dlq = Arc::new(dlq);
    let mut workers = Vec::new();
    for w in 0..2 {
        let dlq = dlq.clone();
        workers.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut mine = Vec::new();
            loop {
                let batch = dlq
                    .claim(&ClaimRequest::new(&worker, 3, LONG))
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                for it in batch {
                    dlq.settle(it.id, &worker, DlqOutcome::Resolved)
                        .await
                        .expect("settle");
                    mine.push(it.id);
                }
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for worker in workers {
        for id in worker.await.expect("worker") {
            assert!(seen.insert(id), "item {id} was claimed twice");
            total += 1;
        }
    }
    assert_eq!(total, ITEMS);
}
