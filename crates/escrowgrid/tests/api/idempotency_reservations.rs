//! `Idempotency-Key` reservations live in the KV store: they hold across instances sharing it,
//! and answers that are not stored (409, 5xx, cancellation) free the key for a retry.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use escrowgrid::store::EscrowStore;
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::testing::slow_kv::SlowKv;
use gridstore::KvStore;
use gridstore::memory::MemoryKvStore;
use serde_json::{Value, json};

use super::helpers::outage::OutageStore;
use super::helpers::{Reply, TestApp};

fn position(asset: &str, holder: &str) -> Value {
    json!({ "assetId": asset, "holderReference": holder, "currency": "USD", "amount": 1 })
}

/// Sends the keyed request until it is created (not replayed), within 10 s; until then the
/// key must read as in progress. Fails when the key is never released.
async fn retry_until_created<F, Fut>(send: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = send().await;
        if reply.status.as_u16() == 201 {
            assert_eq!(reply.header("idempotency-replayed"), None);
            return;
        }
        assert_eq!(
            reply.expect(409)["error"],
            "A request with this Idempotency-Key is in progress"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the key was never released"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sharing_a_store_run_a_keyed_request_once() {
    let store: Arc<dyn EscrowStore> = Arc::new(MemoryStore::new());
    let kv: Arc<dyn KvStore> = Arc::new(MemoryKvStore::new());
    let first = TestApp::on_ports(Arc::clone(&store), Arc::clone(&kv), |_| {});
    let second = TestApp::on_ports(Arc::clone(&store), Arc::clone(&kv), |_| {});
    let world = first.world("Acme").await;
    let mut tasks = Vec::new();
    for task in 0..16 {
        let app = if task % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let (key, body) = (world.tenant.admin.clone(), position(&world.asset, "shared"));
        tasks.push(tokio::spawn(async move {
            app.post("/positions")
                .key(&key)
                .header("idempotency-key", "across")
                .json(&body)
                .send()
                .await
        }));
    }
    let mut created = std::collections::HashSet::new();
    for task in tasks {
        let reply = task.await.expect("task");
        match reply.status.as_u16() {
            201 => {
                created.insert(reply.id());
            }
            409 => assert_eq!(
                reply.json["error"],
                "A request with this Idempotency-Key is in progress"
            ),
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(created.len(), 1);
    let listed = second
        .get("/positions?holderReference=shared")
        .key(&world.tenant.admin)
        .send()
        .await;
    assert_eq!(listed.expect(200)["pagination"]["total"], 1);
}

#[tokio::test]
async fn a_retry_runs_again_after_a_conflict_that_was_not_stored() {
    let store = OutageStore::shared();
    let app = TestApp::on_store(store.clone(), |_| {});
    let world = app.world("Acme").await;
    store.lose_next_race.store(true, Ordering::SeqCst);
    let path = format!("/positions/{}/transition", world.position);
    let send = || {
        app.post(&path)
            .key(&world.tenant.admin)
            .header("idempotency-key", "retry-me")
            .json(&json!({ "toState": "FUNDED" }))
            .send()
    };
    send().await.expect(409);
    let retried = send().await;
    assert_eq!(retried.expect(200)["state"], "FUNDED");
    assert_eq!(retried.header("idempotency-replayed"), None);
    let replayed = send().await;
    assert_eq!(replayed.header("idempotency-replayed"), Some("true"));
}

#[tokio::test]
async fn a_request_cut_by_the_timeout_releases_its_key() {
    let store = OutageStore::shared();
    let app = TestApp::on_store(store.clone(), |settings| {
        settings.request_timeout = Duration::from_millis(100);
    });
    let world = app.world("Acme").await;
    let send = || {
        app.post("/positions")
            .key(&world.tenant.admin)
            .header("idempotency-key", "slow")
            .json(&position(&world.asset, "slow"))
            .send()
    };
    store.hung_positions.store(true, Ordering::SeqCst);
    send().await.expect_error(503, "Request timed out");
    store.hung_positions.store(false, Ordering::SeqCst);
    // The cancelled request releases its reservation in a background task.
    retry_until_created(send).await;
}

/// Issue 13: the reservation is written but answered late (a stalled database), so the
/// request times out while reserving. The key is released once the write answers instead of
/// staying "in progress" until the 60 s lease ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_by_the_timeout_while_reserving_its_key_releases_it() {
    let kv = Arc::new(SlowKv::new(Arc::new(MemoryKvStore::new())));
    let app = TestApp::on_ports(
        Arc::new(MemoryStore::new()),
        Arc::clone(&kv) as Arc<dyn KvStore>,
        |settings| settings.request_timeout = Duration::from_millis(100),
    );
    let world = app.world("Acme").await;
    let send = || {
        app.post("/positions")
            .key(&world.tenant.admin)
            .header("idempotency-key", "stalled")
            .json(&position(&world.asset, "stalled"))
            .send()
    };
    kv.hold_next_reservation();
    send().await.expect_error(503, "Request timed out");
    kv.release_held();

    retry_until_created(send).await;
    assert_eq!(kv.late_reservations(), 1);
    let listed = app
        .get("/positions?holderReference=stalled")
        .key(&world.tenant.admin)
        .send()
        .await;
    assert_eq!(listed.expect(200)["pagination"]["total"], 1);
}
