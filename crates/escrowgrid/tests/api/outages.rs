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
        app.get("/ready").send().await.expect(200),
        &json!({ "ok": true, "storeBackend": "postgres", "db": { "ok": true } })
    );
    store.set_down(true);
    let reply = app.get("/ready").send().await;
    assert_eq!(
        reply.expect(503),
        &json!({ "ok": false, "storeBackend": "postgres", "db": { "ok": false, "error": "database unavailable" } })
    );
    store.set_down(false);
    app.get("/ready").send().await.expect(200);
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
    let metrics = app.get("/metrics/prometheus").key(ROOT).send().await;
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
    app.get("/health").send().await.expect(200);
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
