//! Contract suite for [`Locks`]: one generic async fn per behaviour.
//!
//! Expand it with [`lock_contract_tests!`](crate::lock_contract_tests), giving a factory
//! `async fn() -> (impl Locks, guard)`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::Error;
use crate::lock::{Lease, Locks};

/// Expands the lock contract suite into `#[tokio::test]`s for one backend factory.
#[macro_export]
macro_rules! lock_contract_tests {
    ($factory:expr) => {
        $crate::lock_contract_tests!(@expand $factory;
            acquiring_a_free_key_grants_a_lease,
            a_held_key_reports_its_holder_and_expiry,
            the_same_holder_can_acquire_again_with_a_new_token,
            an_expired_lease_can_be_taken_over,
            extending_moves_the_expiry_and_keeps_the_token,
            an_expired_holder_cannot_extend_or_release_the_new_lease,
            releasing_frees_the_key,
            force_release_removes_any_lease,
            list_and_get_show_live_leases_only,
            fencing_tokens_strictly_increase,
            contending_acquirers_get_exactly_one_lease,
        );
    };
    (@expand $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = ($factory)().await;
                $crate::testing::lock::$name(store).await;
            }
        )*
    };
}

const LONG: Duration = Duration::from_secs(300);
const SHORT: Duration = Duration::from_millis(200);

/// Polls until `key` has no live lease, within 5 s.
async fn wait_until_expired(locks: &impl Locks, key: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while locks.get(key).await.expect("get").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "lease on {key} never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A free key is granted with the given TTL.
pub async fn acquiring_a_free_key_grants_a_lease(locks: impl Locks) {
    let before = Utc::now() - chrono::Duration::seconds(5);
    let lease = locks.acquire("k", "a", LONG).await.expect("acquire");
    assert_eq!((lease.key.as_str(), lease.holder.as_str()), ("k", "a"));
    assert!(lease.acquired_at >= before);
    let ttl = (lease.expires_at - lease.acquired_at).num_milliseconds();
    assert!((299_000..=300_001).contains(&ttl), "ttl {ttl} ms");
    assert_eq!(locks.get("k").await.expect("get"), Some(lease));
    let bad = locks.acquire("", "a", LONG).await;
    assert!(matches!(bad, Err(Error::InvalidInput(_))));
    let nul = locks.acquire("k\u{0}", "a", LONG).await;
    assert!(matches!(nul, Err(Error::InvalidInput(_))));
    let zero = locks.acquire("k2", "a", Duration::ZERO).await;
    assert!(matches!(zero, Err(Error::InvalidInput(_))));
}

/// Contention fails with `LockHeld` naming the holder and its expiry.
pub async fn a_held_key_reports_its_holder_and_expiry(locks: impl Locks) {
    let lease = locks.acquire("k", "a", LONG).await.expect("acquire");
    match locks.acquire("k", "b", LONG).await {
        Err(Error::LockHeld {
            key,
            holder,
            expires_at,
        }) => {
            assert_eq!((key.as_str(), holder.as_str()), ("k", "a"));
            assert_eq!(expires_at, lease.expires_at);
        }
        other => panic!("expected LockHeld, got {other:?}"),
    }
}

/// Re-acquiring by the same holder is a new grant: new token; the old token stops working.
pub async fn the_same_holder_can_acquire_again_with_a_new_token(locks: impl Locks) {
    let first = locks.acquire("k", "a", LONG).await.expect("acquire");
    let second = locks.acquire("k", "a", LONG).await.expect("re-acquire");
    assert!(second.fencing_token > first.fencing_token);
    let stale = locks.release(&first).await;
    assert!(matches!(stale, Err(Error::LockNotHeld { .. })));
    locks.release(&second).await.expect("release");
}

/// Once the TTL passes (database clock), another holder can take the key.
pub async fn an_expired_lease_can_be_taken_over(locks: impl Locks) {
    let old = locks.acquire("k", "a", SHORT).await.expect("acquire");
    assert!(matches!(
        locks.acquire("k", "b", LONG).await,
        Err(Error::LockHeld { .. })
    ));
    wait_until_expired(&locks, "k").await;
    let new = locks.acquire("k", "b", LONG).await.expect("take over");
    assert_eq!(new.holder, "b");
    assert!(new.fencing_token > old.fencing_token);
}

/// Extending a live lease moves its expiry forward and keeps its token.
pub async fn extending_moves_the_expiry_and_keeps_the_token(locks: impl Locks) {
    let lease = locks.acquire("k", "a", SHORT).await.expect("acquire");
    let extended = locks.extend(&lease, LONG).await.expect("extend");
    assert_eq!(extended.fencing_token, lease.fencing_token);
    assert!(extended.expires_at > lease.expires_at);
    assert_eq!(locks.get("k").await.expect("get"), Some(extended));
}

/// A holder whose lease expired and was taken over can neither extend nor release.
pub async fn an_expired_holder_cannot_extend_or_release_the_new_lease(locks: impl Locks) {
    let old = locks.acquire("k", "a", SHORT).await.expect("acquire");
    wait_until_expired(&locks, "k").await;
    assert!(matches!(
        locks.extend(&old, LONG).await,
        Err(Error::LockNotHeld { .. })
    ));
    let new = locks.acquire("k", "b", LONG).await.expect("take over");
    assert!(matches!(
        locks.extend(&old, LONG).await,
        Err(Error::LockNotHeld { .. })
    ));
    assert!(matches!(
        locks.release(&old).await,
        Err(Error::LockNotHeld { .. })
    ));
    let forged = Lease {
        holder: "b".into(),
        ..old
    };
    assert!(matches!(
        locks.release(&forged).await,
        Err(Error::LockNotHeld { .. })
    ));
    assert_eq!(locks.get("k").await.expect("get"), Some(new));
}

/// Releasing frees the key at once; releasing twice fails.
pub async fn releasing_frees_the_key(locks: impl Locks) {
    let lease = locks.acquire("k", "a", LONG).await.expect("acquire");
    locks.release(&lease).await.expect("release");
    assert_eq!(locks.get("k").await.expect("get"), None);
    assert!(matches!(
        locks.release(&lease).await,
        Err(Error::LockNotHeld { .. })
    ));
    locks.acquire("k", "b", LONG).await.expect("free again");
}

/// Force release removes whatever lease is there.
pub async fn force_release_removes_any_lease(locks: impl Locks) {
    locks.acquire("k", "a", LONG).await.expect("acquire");
    assert!(locks.force_release("k").await.expect("force"));
    assert!(!locks.force_release("k").await.expect("force"));
    locks
        .acquire("k", "b", LONG)
        .await
        .expect("acquire after force");
}

/// Get and list hide expired leases; list is ordered by key.
pub async fn list_and_get_show_live_leases_only(locks: impl Locks) {
    locks.acquire("b", "x", LONG).await.expect("acquire");
    locks.acquire("a", "y", LONG).await.expect("acquire");
    locks.acquire("c", "z", SHORT).await.expect("acquire");
    wait_until_expired(&locks, "c").await;
    let keys: Vec<_> = locks
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|l| l.key)
        .collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(locks.get("c").await.expect("get"), None);
}

/// Tokens increase across keys, holders and re-grants.
pub async fn fencing_tokens_strictly_increase(locks: impl Locks) {
    let mut last = 0;
    for i in 0..20 {
        let key = format!("k{}", i % 3);
        let lease = locks.acquire(&key, "a", LONG).await.expect("acquire");
        assert!(lease.fencing_token > last);
        last = lease.fencing_token;
        if i % 2 == 0 {
            locks.release(&lease).await.expect("release");
        }
    }
}

/// Many concurrent acquirers of one key: exactly one wins, the rest see `LockHeld`.
pub async fn contending_acquirers_get_exactly_one_lease(locks: impl Locks) {
    let locks = Arc::new(locks);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let locks = locks.clone();
        tasks.push(tokio::spawn(async move {
            locks.acquire("hot", &format!("holder-{i}"), LONG).await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(_) => winners += 1,
            Err(Error::LockHeld { .. }) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(winners, 1);
}
