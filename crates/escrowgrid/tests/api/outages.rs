//! Store outages: `/ready` answers 503 and every other failure is an opaque JSON 5xx.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::helpers::outage::OutageStore;
use super::helpers::{ROOT, TestApp};

#[tokio::test]
async fn ready_is_503_with_a_fixed_message_when_the_store_is_down() {
    let store = OutageStore::shared();
    let app = TestApp::on_store(store.clone(), |s| s.store_backend = "postgres".into());
    assert_eq!(
        app.ready().await.expect(200),
        &json!({ "ok": true, "storeBackend": "postgres", "db": { "ok": true } })
    );
    store.set_down(true);
    let reply = app.ready().await;
    assert_eq!(
        reply.expect(503),
        &json!({ "ok": false, "storeBackend": "postgres", "db": { "ok": false, "error": "database unavailable" } })
    );
    store.set_down(false);
    app.ready().await.expect(200);
}

#[tokio::test]
async fn a_store_outage_is_an_opaque_503_that_never_leaks_the_cause() {
    let store = OutageStore::shared();
    let app = TestApp::on_store(store.clone(), |_| {});
    let tenant = app.tenant("Acme").await;
    store.set_down(true);
    for reply in [
        app.list_institutions(ROOT).await,
        app.list_institutions(&tenant.admin).await,
        app.create_institution(ROOT, json!({ "name": "X", "regions": ["US"] }))
            .await,
    ] {
        assert_eq!(
            reply.expect(503),
            &json!({ "error": "Service unavailable" })
        );
        assert!(!reply.text.contains("10.0.0.9"));
        assert!(reply.header("x-request-id").is_some());
    }
    store.set_down(false);
    let metrics = app.metrics_prometheus(ROOT).await;
    assert!(
        metrics.text.contains("taas_requests_errors_total 3"),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("taas_store_errors_total{kind=\"unavailable\"} 3"),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn health_stays_up_during_a_store_outage() {
    let store = OutageStore::shared();
    let app = TestApp::on_store(Arc::clone(&store) as _, |_| {});
    store.set_down(true);
    app.health().await.expect(200);
}

#[tokio::test]
async fn a_request_that_outlives_the_timeout_is_answered_503_json() {
    let store = OutageStore::shared();
    let app = TestApp::on_store(store.clone(), |s| {
        s.request_timeout = Duration::from_millis(50);
    });
    store.set_hung(true);
    let reply = app.list_institutions(ROOT).await;
    assert_eq!(reply.expect(503), &json!({ "error": "Request timed out" }));
    assert!(reply.header("x-request-id").is_some());
}

#[tokio::test]
async fn a_lost_race_is_409_with_the_original_details_and_audited() {
    let store = OutageStore::shared();
    let app = TestApp::on_store(store.clone(), |_| {});
    let world = app.world("Acme").await;
    store
        .lose_next_race
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let reply = app
        .post(&format!("/positions/{}/transition", world.position))
        .key(&world.tenant.admin)
        .header("x-request-id", "req-race")
        .json(&json!({ "toState": "FUNDED" }))
        .send()
        .await;
    assert_eq!(
        reply.expect(409),
        &json!({
            "error": "Concurrent modification detected",
            "details": "Position was modified by another request. Expected state: CREATED, actual: FUNDED. Please retry.",
        })
    );
    let audit = app.audit_events(ROOT, "?action=CONCURRENCY_CONFLICT").await;
    let body = audit.expect(200);
    assert_eq!(body["pagination"]["total"], 1);
    let row = &body["data"][0];
    assert_eq!(row["requestId"], "req-race");
    assert_eq!(row["statusCode"], 409);
    assert_eq!(row["resourceId"], world.position.as_str());
    assert_eq!(row["institutionId"], world.tenant.id.as_str());
    app.transition(
        &world.tenant.admin,
        &world.position,
        json!({ "toState": "FUNDED" }),
    )
    .await
    .expect(200);
}
