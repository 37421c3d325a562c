//! Deliveries to real receivers: signatures, retries, the DLQ and re-drive, timeouts, DNS
//! rebinding. Memory and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use escrowgrid::webhooks::TargetPolicy;
use escrowgrid::webhooks::metrics::Outcome;
use gridstore::{DlqFilter, DlqStatus};

use super::api::FixedResolver;
use super::receiver::{Behaviour, Receiver};
use super::support::{
    Backend, Instance, ROOT, fast_settings, verify_with_reference_library, wait_for_delivery,
    wait_until,
};

async fn signed_deliveries_verify_with_the_reference_library(backend: Backend) {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let app = Instance::start(&backend, fast_settings()).await;
    let (acme, _, _) = app.tenant("Acme").await;
    let (webhook, secret) = app
        .webhook(
            &acme,
            &receiver.url(),
            &["position.created", "position.state_changed"],
        )
        .await;
    let ids = app
        .emit(
            &acme,
            &[
                ("position.created", Some("pos_1")),
                ("asset.created", None),
                ("position.state_changed", Some("pos_1")),
            ],
        )
        .await;

    wait_until("two deliveries", Duration::from_secs(20), || {
        receiver.count() >= 2
    })
    .await;
    let requests = receiver.requests();
    verify_with_reference_library(&secret, &requests);
    let delivered: Vec<&str> = requests.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(
        delivered,
        [ids[0].as_str(), ids[2].as_str()],
        "unsubscribed types are skipped"
    );
    let body = requests[1].json();
    assert_eq!(body["type"], "position.state_changed");
    assert_eq!(body["timestamp"], "2026-11-30T01:02:03.456Z");
    assert_eq!(body["data"]["id"], "pos_1");
    assert_eq!(requests[0].header("content-type"), "application/json");

    let delivery = wait_for_delivery(&app, &webhook, "a succeeded delivery", |d| {
        d["eventId"] == ids[2].as_str() && d["status"] == "succeeded"
    })
    .await;
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["lastStatusCode"], 204);
    wait_until("two successes counted", Duration::from_secs(10), || {
        app.metrics.count(Outcome::Succeeded) >= 2
    })
    .await;
    let metrics = app.prometheus().await;
    let line = format!(
        "taas_webhook_deliveries_total{{outcome=\"succeeded\"}} {}",
        app.metrics.count(Outcome::Succeeded)
    );
    assert!(metrics.contains(&line), "{metrics}");
}

#[tokio::test]
async fn signed_deliveries_verify_with_the_reference_library_on_memory() {
    signed_deliveries_verify_with_the_reference_library(Backend::Memory).await;
}

#[tokio::test]
async fn signed_deliveries_verify_with_the_reference_library_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    signed_deliveries_verify_with_the_reference_library(backend).await;
}

async fn a_failing_receiver_gets_the_schedule_then_the_dlq_and_redrive_delivers_it(
    backend: Backend,
) {
    let receiver = Receiver::start(Behaviour::Status(500)).await;
    let app = Instance::start(&backend, fast_settings()).await;
    let (acme, admin, _) = app.tenant("Acme").await;
    let (webhook, secret) = app.webhook(&acme, &receiver.url(), &["*"]).await;
    let ids = app
        .emit(&acme, &[("ledger_event.recorded", Some("pos_9"))])
        .await;

    let failed = wait_for_delivery(&app, &webhook, "a dead-lettered delivery", |d| {
        d["status"] == "failed"
    })
    .await;
    // One attempt plus one per scheduled retry, all with the same webhook-id.
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["lastStatusCode"], 500);
    assert_eq!(receiver.count(), 3);
    assert!(
        receiver
            .requests()
            .iter()
            .all(|r| r.header("webhook-id") == ids[0])
    );
    verify_with_reference_library(&secret, &receiver.requests());
    wait_until("the dead letter counted", Duration::from_secs(10), || {
        app.metrics.count(Outcome::DeadLettered) == 1
    })
    .await;
    assert_eq!(app.metrics.count(Outcome::Retried), 2);

    let (_, audit) = app
        .call(
            Method::GET,
            "/audit-events?action=WEBHOOK_DELIVERY_FAILED",
            ROOT,
            None,
        )
        .await;
    let rows = audit["data"].as_array().expect("audit page");
    assert_eq!(rows.len(), 1, "{audit}");
    assert_eq!(rows[0]["resourceId"], webhook.as_str());
    assert_eq!(rows[0]["payload"]["eventId"], ids[0].as_str());
    assert_eq!(rows[0]["outcome"], "failure");
    let dlq_item = failed["dlqItemId"].as_i64().expect("dlq item");
    let parked = app
        .ports
        .dlq
        .get(dlq_item)
        .await
        .expect("dlq")
        .expect("item");
    assert_eq!(parked.status, DlqStatus::Ineligible);

    // Re-drive after the receiver recovered: one more attempt, which succeeds.
    receiver.set(Behaviour::Accept);
    let delivery = failed["id"].as_str().expect("delivery id");
    let (status, answer) = app
        .call(
            Method::POST,
            &format!("/webhooks/{webhook}/deliveries/{delivery}/retry"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["status"], "redriving");
    let redriven = wait_for_delivery(&app, &webhook, "the re-driven delivery", |d| {
        d["status"] == "succeeded"
    })
    .await;
    assert_eq!(redriven["attempts"], 4);
    assert_eq!(receiver.count(), 4);
    assert_eq!(receiver.requests()[3].header("webhook-id"), ids[0]);
    let resolved = app
        .ports
        .dlq
        .get(dlq_item)
        .await
        .expect("dlq")
        .expect("item");
    assert_eq!(resolved.status, DlqStatus::Resolved);
    // A delivery that is not dead-lettered cannot be re-driven: its state conflicts.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/webhooks/{webhook}/deliveries/{delivery}/retry"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["error"],
        "Only failed (dead-lettered) deliveries can be re-driven"
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_the_schedule_then_the_dlq_and_redrive_delivers_it_on_memory() {
    a_failing_receiver_gets_the_schedule_then_the_dlq_and_redrive_delivers_it(Backend::Memory)
        .await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_schedule_then_the_dlq_and_redrive_delivers_it_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    a_failing_receiver_gets_the_schedule_then_the_dlq_and_redrive_delivers_it(backend).await;
}

#[tokio::test]
async fn a_hanging_receiver_times_out_on_every_attempt_and_ends_in_the_dlq() {
    let receiver = Receiver::start(Behaviour::Hang).await;
    let app = Instance::start(&Backend::Memory, fast_settings()).await;
    let (acme, _, _) = app.tenant("Acme").await;
    let (webhook, _) = app.webhook(&acme, &receiver.url(), &["*"]).await;
    app.emit(&acme, &[("position.created", Some("pos_1"))])
        .await;
    let failed = wait_for_delivery(&app, &webhook, "a timed-out delivery", |d| {
        d["status"] == "failed"
    })
    .await;
    assert_eq!(failed["attempts"], 3);
    assert!(failed["lastStatusCode"].is_null());
    assert!(
        failed["lastError"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{failed}"
    );
    assert_eq!(receiver.count(), 3);
    let parked = app
        .ports
        .dlq
        .list(&DlqFilter::default())
        .await
        .expect("dlq list");
    assert_eq!(parked.len(), 1);
}

#[tokio::test]
async fn a_name_that_rebinds_to_a_private_address_is_refused_at_delivery() {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let resolver = Arc::new(FixedResolver::default());
    resolver.set("hooks.example.com", "203.0.113.10");
    let policy = TargetPolicy::with_resolver(false, resolver.clone());
    let app = Instance::with_policy(&Backend::Memory, fast_settings(), policy).await;
    let (acme, _, _) = app.tenant("Acme").await;
    let url = format!("http://hooks.example.com:{}/hooks", receiver.addr.port());
    let (webhook, _) = app.webhook(&acme, &url, &["*"]).await;

    // The name now answers with the loopback address of a live receiver.
    resolver.set("hooks.example.com", "127.0.0.1");
    app.emit(&acme, &[("position.created", Some("pos_1"))])
        .await;
    let failed = wait_for_delivery(&app, &webhook, "a refused delivery", |d| {
        d["status"] == "failed"
    })
    .await;
    assert!(
        failed["lastError"]
            .as_str()
            .unwrap_or_default()
            .contains("loopback"),
        "{failed}"
    );
    assert_eq!(
        receiver.count(),
        0,
        "no request may reach the private address"
    );
}

/// The whole path: an API write commits its domain event to the outbox, and the dispatcher
/// following that same log delivers it, signed, to the receiver. The endpoint starts at the
/// log's tail when it is created, so the earlier writes of the same institution (its keys,
/// created a moment before) are not delivered, whatever the clocks say.
async fn an_api_write_is_delivered_through_the_outbox(backend: Backend) {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let app = Instance::start(&backend, fast_settings()).await;
    let (acme, _, _) = app.tenant("Acme").await;
    let (_, secret) = app
        .webhook(&acme, &receiver.url(), &["api_key.created"])
        .await;
    let (status, key) = app
        .call(
            Method::POST,
            &format!("/institutions/{acme}/api-keys"),
            ROOT,
            Some(serde_json::json!({"label": "after the webhook", "role": "read_only"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");

    wait_until(
        "the api_key.created delivery",
        Duration::from_secs(20),
        || receiver.count() >= 1,
    )
    .await;
    let requests = receiver.requests();
    verify_with_reference_library(&secret, &requests);
    assert_eq!(requests.len(), 1, "only the key created after the webhook");
    let body = requests[0].json();
    assert_eq!(body["type"], "api_key.created");
    assert_eq!(body["data"]["id"], key["id"]);
    assert_eq!(body["data"]["label"], "after the webhook");
    let token = key["apiKey"].as_str().expect("token");
    assert!(
        !requests[0].body.contains(token),
        "the token never leaves in an event"
    );
}

#[tokio::test]
async fn an_api_write_is_delivered_through_the_outbox_on_memory() {
    an_api_write_is_delivered_through_the_outbox(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_write_is_delivered_through_the_outbox_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    an_api_write_is_delivered_through_the_outbox(backend).await;
}
