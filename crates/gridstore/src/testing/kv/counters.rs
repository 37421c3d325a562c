//! `increment` (fixed-window counters) and `compare_and_delete`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;

use crate::Error;
use crate::kv::{Counter, KvStore};
use crate::testing::eventually;

const WINDOW: Duration = Duration::from_secs(60);
const WRITERS: i64 = 16;
const INCREMENTS_PER_WRITER: i64 = 10;

/// A missing key counts from zero and takes the call's TTL; a live counter adds to its value
/// and keeps its first expiry (a fixed window), whatever TTL later calls carry. Negative
/// steps subtract; a counter without TTL never expires.
pub async fn increment_counts_from_zero_and_keeps_the_first_expiry<S: KvStore>(store: &S) {
    let first = store.increment("c", 1, Some(WINDOW)).await.expect("first");
    let second = store
        .increment("c", 5, Some(WINDOW * 60))
        .await
        .expect("second");
    let third = store.increment("c", -2, None).await.expect("third");
    let forever = store.increment("f", 7, None).await.expect("forever");

    assert_eq!(first.value, 1);
    let left = first.expires_in.expect("a window");
    assert!(
        left <= WINDOW && left > WINDOW - Duration::from_secs(5),
        "{left:?}"
    );
    assert_eq!(second.value, 6);
    let kept = second.expires_in.expect("a window");
    assert!(kept <= left, "the window was extended: {kept:?} > {left:?}");
    assert_eq!(third.value, 4);
    assert!(third.expires_in.is_some_and(|t| t <= kept));
    assert_eq!(
        forever,
        Counter {
            value: 7,
            expires_in: None
        }
    );
    assert_eq!(store.get("c").await.expect("get"), Some(json!(4)));
}

/// Incrementing a value that is not an integer, or past `i64::MAX`, is invalid input and
/// leaves the value as it was; so is an invalid key or TTL.
pub async fn incrementing_anything_but_an_integer_is_invalid_input<S: KvStore>(store: &S) {
    store.set("text", json!("abc"), None).await.expect("set");
    store.set("fraction", json!(1.5), None).await.expect("set");
    store.set("max", json!(i64::MAX), None).await.expect("set");

    for key in ["text", "fraction", "max"] {
        let result = store.increment(key, 1, None).await;
        assert!(
            matches!(result, Err(Error::InvalidInput(_))),
            "{key}: {result:?}"
        );
    }
    let zero_ttl = store.increment("new", 1, Some(Duration::ZERO)).await;
    let empty_key = store.increment("", 1, None).await;

    assert!(
        matches!(zero_ttl, Err(Error::InvalidInput(_))),
        "{zero_ttl:?}"
    );
    assert!(
        matches!(empty_key, Err(Error::InvalidInput(_))),
        "{empty_key:?}"
    );
    assert_eq!(store.get("text").await.expect("get"), Some(json!("abc")));
    assert_eq!(store.get("fraction").await.expect("get"), Some(json!(1.5)));
    assert_eq!(store.get("max").await.expect("get"), Some(json!(i64::MAX)));
    assert!(!store.has("new").await.expect("has"));
}

/// Gap: 16 writers incrementing one counter 10 times each, all at once, lose no increment:
/// the final value is 160 and every call saw a distinct value from 1 to 160.
pub async fn concurrent_increments_sum_exactly<S: KvStore>(store: &S) {
    let writers = (0..WRITERS).map(|_| async {
        let mut seen = Vec::new();
        for _ in 0..INCREMENTS_PER_WRITER {
            let counter = store
                .increment("rate:shared", 1, Some(WINDOW))
                .await
                .expect("increment");
            seen.push(counter.value);
        }
        seen
    });

    let seen: Vec<i64> = join_all(writers).await.into_iter().flatten().collect();

    let total = WRITERS * INCREMENTS_PER_WRITER;
    let distinct: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), distinct.len(), "a value was handed out twice");
    assert_eq!(distinct, (1..=total).collect::<BTreeSet<_>>());
    assert_eq!(
        store.get("rate:shared").await.expect("get"),
        Some(json!(total))
    );
}

/// When its window ends, a counter restarts from the step with a new window (an expired
/// value of any kind is replaced, not added to). Polls to a deadline: PostgreSQL decides
/// expiry with the database clock.
pub async fn an_expired_counter_restarts_with_a_new_window<S: KvStore>(store: &S) {
    let short = Duration::from_millis(200);
    let started = Instant::now();
    store.increment("w", 3, Some(short)).await.expect("first");
    store
        .set("was-text", json!("abc"), Some(short))
        .await
        .expect("set");

    let expired = eventually(Duration::from_secs(5), || async {
        !store.has("w").await.expect("has") && !store.has("was-text").await.expect("has")
    })
    .await;
    assert!(expired, "the counters did not expire");
    assert!(started.elapsed() + Duration::from_millis(1) >= short);

    let restarted = store.increment("w", 1, Some(WINDOW)).await.expect("again");
    let replaced = store
        .increment("was-text", 2, Some(WINDOW))
        .await
        .expect("over text");

    assert_eq!(restarted.value, 1);
    assert!(
        restarted
            .expires_in
            .is_some_and(|t| t > short && t <= WINDOW)
    );
    assert_eq!(replaced.value, 2);
}

/// `compare_and_delete` removes the key only while it holds the expected value: another
/// value, a missing key and an expired key are left alone (and report `false`).
pub async fn compare_and_delete_removes_only_the_expected_value<S: KvStore>(store: &S) {
    store
        .set("claim", json!({"holder": "a", "n": 1}), None)
        .await
        .expect("set");
    store
        .set("gone", json!("v"), Some(Duration::from_millis(100)))
        .await
        .expect("set");

    let wrong = store
        .compare_and_delete("claim", &json!({"holder": "b", "n": 1}))
        .await
        .expect("wrong");
    let still_there = store.has("claim").await.expect("has");
    let right = store
        .compare_and_delete("claim", &json!({"n": 1, "holder": "a"}))
        .await
        .expect("right");
    let missing = store
        .compare_and_delete("nope", &json!(null))
        .await
        .expect("missing");
    let expired = eventually(Duration::from_secs(5), || async {
        !store.has("gone").await.expect("has")
    })
    .await;
    let after_expiry = store
        .compare_and_delete("gone", &json!("v"))
        .await
        .expect("expired");

    assert!(!wrong);
    assert!(still_there);
    assert!(right);
    assert!(!store.has("claim").await.expect("has"));
    assert!(!missing);
    assert!(expired, "the key did not expire");
    assert!(!after_expiry);
}
