//! TTL expiry and sweeping, with short real TTLs polled to a deadline (the PostgreSQL backend
//! decides expiry with the database clock, so time cannot be faked there).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::kv::{KvStats, KvStore, spawn_sweeper};
use crate::testing::eventually;

const TTL: Duration = Duration::from_millis(200);
const DEADLINE: Duration = Duration::from_secs(5);
/// Expiry times are truncated to the millisecond, so a key may expire up to 1 ms early.
const TRUNCATION: Duration = Duration::from_millis(1);

async fn wait_until_gone<S: KvStore>(store: &S, key: &str) {
    let gone = eventually(DEADLINE, || async { !store.has(key).await.expect("has") }).await;
    assert!(gone, "{key} did not expire within {DEADLINE:?}");
}

/// Gap: a key is readable until its TTL passes, then invisible at once, before any sweep.
pub async fn a_key_is_visible_until_its_ttl_and_invisible_at_once_after<S: KvStore>(store: &S) {
    let started = Instant::now();
    store
        .set("short", json!("v"), Some(TTL))
        .await
        .expect("set");
    store.set("forever", json!(1), None).await.expect("set");

    let first_read = store.get("short").await.expect("get");
    // A miss is only legitimate if the TTL had already passed (a very slow machine).
    match first_read {
        Some(value) => assert_eq!(value, json!("v")),
        None => assert!(
            started.elapsed() + TRUNCATION >= TTL,
            "expired before its ttl"
        ),
    }
    wait_until_gone(store, "short").await;

    assert!(
        started.elapsed() + TRUNCATION >= TTL,
        "expired before its ttl"
    );
    assert_eq!(store.get("short").await.expect("get"), None);
    assert_eq!(store.get("forever").await.expect("get"), Some(json!(1)));
    assert_eq!(
        store.stats().await.expect("stats"),
        KvStats {
            keys: 1,
            expired_pending: 1
        }
    );
}

/// Gap: an expired, unswept key is absent for `has`, `delete` and `compare_and_set`, and
/// `set_if_absent` writes over it.
pub async fn an_expired_key_counts_as_absent_for_every_operation<S: KvStore>(store: &S) {
    store.set("a", json!("old"), Some(TTL)).await.expect("set");
    store.set("b", json!("old"), Some(TTL)).await.expect("set");
    wait_until_gone(store, "a").await;
    wait_until_gone(store, "b").await;

    assert!(!store.has("a").await.expect("has"));
    assert!(
        !store
            .compare_and_set("a", &json!("old"), json!("new"), None)
            .await
            .expect("cas")
    );
    assert!(!store.delete("b").await.expect("delete"));
    assert!(
        store
            .set_if_absent("a", json!("fresh"), None)
            .await
            .expect("set_if_absent")
    );

    assert_eq!(store.get("a").await.expect("get"), Some(json!("fresh")));
    assert_eq!(store.get("b").await.expect("get"), None);
    assert_eq!(
        store
            .get_many(&["a".to_owned(), "b".to_owned()])
            .await
            .expect("get_many"),
        vec![Some(json!("fresh")), None]
    );
}

/// Every write replaces the TTL: a key set with a TTL and then set without one never
/// expires; a witness key with the same TTL shows that the TTL did pass.
pub async fn setting_again_replaces_the_ttl<S: KvStore>(store: &S) {
    store.set("k", json!(1), Some(TTL)).await.expect("set");
    store.set("k", json!(2), None).await.expect("set again");
    store.set("cas", json!(1), Some(TTL)).await.expect("set");
    assert!(
        store
            .compare_and_set("cas", &json!(1), json!(2), None)
            .await
            .expect("cas")
    );
    store
        .set("witness", json!(0), Some(TTL))
        .await
        .expect("set");

    wait_until_gone(store, "witness").await;

    assert_eq!(store.get("k").await.expect("get"), Some(json!(2)));
    assert_eq!(store.get("cas").await.expect("get"), Some(json!(2)));
}

/// `sweep_expired(n)` deletes at most `n` expired keys per call and never a live one.
pub async fn sweeping_deletes_expired_keys_in_batches<S: KvStore>(store: &S) {
    for n in 0..5 {
        store
            .set(&format!("e{n}"), json!(n), Some(TTL))
            .await
            .expect("set");
    }
    store.set("live", json!("stays"), None).await.expect("set");
    let all_expired = eventually(DEADLINE, || async {
        store.stats().await.expect("stats")
            == KvStats {
                keys: 1,
                expired_pending: 5,
            }
    })
    .await;
    assert!(all_expired, "keys did not expire within {DEADLINE:?}");

    assert_eq!(store.sweep_expired(0).await.expect("sweep"), 0);
    let swept: Vec<u64> = [
        store.sweep_expired(2).await.expect("sweep"),
        store.sweep_expired(2).await.expect("sweep"),
        store.sweep_expired(2).await.expect("sweep"),
        store.sweep_expired(2).await.expect("sweep"),
    ]
    .into();

    assert_eq!(swept, [2, 2, 1, 0]);
    assert_eq!(
        store.stats().await.expect("stats"),
        KvStats {
            keys: 1,
            expired_pending: 0
        }
    );
    assert_eq!(store.get("live").await.expect("get"), Some(json!("stays")));
}

/// The background sweeper removes expired keys without being asked, and stops on drop.
pub async fn the_background_sweeper_deletes_expired_keys<S: KvStore + Clone>(store: &S) {
    for n in 0..7 {
        store
            .set(&format!("e{n}"), json!(n), Some(TTL))
            .await
            .expect("set");
    }
    store.set("live", json!("stays"), None).await.expect("set");

    let sweeper = spawn_sweeper(Arc::new(store.clone()), Duration::from_millis(50), 3);
    let swept = eventually(DEADLINE, || async {
        store.stats().await.expect("stats")
            == KvStats {
                keys: 1,
                expired_pending: 0,
            }
    })
    .await;
    sweeper.stop().await;

    assert!(
        swept,
        "the sweeper did not remove expired keys within {DEADLINE:?}"
    );
    assert_eq!(store.get("live").await.expect("get"), Some(json!("stays")));
}
