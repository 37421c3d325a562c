//! `set_if_absent`, `compare_and_set` and racing writers.

use futures_util::future::join_all;
use serde_json::json;

use crate::kv::KvStore;

const WRITERS: u64 = 16;

/// `set_if_absent` writes a missing key and leaves an existing one alone.
pub async fn set_if_absent_writes_only_when_the_key_is_absent<S: KvStore>(store: &S) {
    assert!(
        store
            .set_if_absent("once", json!("first"), None)
            .await
            .expect("first")
    );
    assert!(
        !store
            .set_if_absent("once", json!("second"), None)
            .await
            .expect("second")
    );

    assert_eq!(store.get("once").await.expect("get"), Some(json!("first")));
}

/// `compare_and_set` swaps only when the live value equals the expected one (objects compare
/// regardless of key order) and never creates a missing key.
pub async fn compare_and_set_replaces_only_the_expected_value<S: KvStore>(store: &S) {
    store
        .set("cas", json!({"a": 1, "b": [true, null]}), None)
        .await
        .expect("set");

    let wrong = store
        .compare_and_set("cas", &json!({"a": 2}), json!("x"), None)
        .await;
    let right = store
        .compare_and_set(
            "cas",
            &json!({"b": [true, null], "a": 1}),
            json!("swapped"),
            None,
        )
        .await;
    let missing = store
        .compare_and_set("nope", &json!(null), json!(1), None)
        .await;

    assert!(!wrong.expect("wrong cas"));
    assert!(right.expect("right cas"));
    assert!(!missing.expect("missing cas"));
    assert_eq!(store.get("cas").await.expect("get"), Some(json!("swapped")));
    assert!(!store.has("nope").await.expect("has"));
}

/// Gap: of 16 concurrent `set_if_absent` calls on one key exactly one wins (the idempotency
/// key use case).
pub async fn racing_set_if_absent_calls_have_exactly_one_winner<S: KvStore>(store: &S) {
    let calls = (0..WRITERS).map(|n| store.set_if_absent("idem:1", json!(n), None));

    let results = join_all(calls).await;

    let winners: Vec<usize> = results
        .into_iter()
        .enumerate()
        .filter_map(|(n, r)| r.expect("set_if_absent").then_some(n))
        .collect();
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(
        store.get("idem:1").await.expect("get"),
        Some(json!(winners[0]))
    );
}

/// Gap: 16 writers incrementing one counter with `compare_and_set`, retrying when it fails,
/// lose no increment.
pub async fn racing_compare_and_set_increments_lose_no_update<S: KvStore>(store: &S) {
    store.set("counter", json!(0), None).await.expect("set");

    let writers = (0..WRITERS).map(|_| async {
        // Each failed swap means another writer succeeded: 15 retries at most, the bound
        // only turns a livelock into a failure.
        for _ in 0..=WRITERS * 4 {
            let current = store.get("counter").await.expect("get").expect("exists");
            tokio::task::yield_now().await;
            let next = json!(current.as_u64().expect("number") + 1);
            if store
                .compare_and_set("counter", &current, next, None)
                .await
                .expect("cas")
            {
                return;
            }
        }
        panic!("a writer kept losing: livelock");
    });
    join_all(writers).await;

    assert_eq!(
        store.get("counter").await.expect("get"),
        Some(json!(WRITERS))
    );
}
