//! Recovery of the dispatcher's work: a new holder of an endpoint resumes pending retries on
//! their schedule, and concurrent re-drives of one delivery attempt it once. Memory and
//! PostgreSQL.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use escrowgrid::webhooks::WebhookSettings;

use super::receiver::{Behaviour, Receiver};
use super::support::{Backend, Instance, fast_settings, wait_for_delivery, wait_until};

/// A schedule whose second retry is long (1.5–3 s after jitter) so that a crash lands inside
/// it, then a short third one.
fn long_second_retry() -> WebhookSettings {
    WebhookSettings {
        retry_schedule: vec![
            Duration::from_millis(50),
            Duration::from_millis(3_000),
            Duration::from_millis(50),
        ],
        ..fast_settings()
    }
}

async fn a_new_holder_resumes_a_pending_retry_on_its_schedule(backend: Backend) {
    let receiver = Receiver::start(Behaviour::Status(500)).await;
    let mut first = Instance::start(&backend, long_second_retry()).await;
    let (acme, _, _) = first.tenant("Acme").await;
    let (webhook, _) = first.webhook(&acme, &receiver.url(), &["*"]).await;
    let ids = first
        .emit(&acme, &[("position.state_changed", Some("pos_r"))])
        .await;

    let pending = wait_for_delivery(&first, &webhook, "two failed attempts", |d| {
        d["attempts"] == 2
    })
    .await;
    // Crash inside the long wait and free the lease at once (as if it had expired), so the
    // next holder starts well before the recorded next attempt.
    first.crash_dispatcher();
    assert_eq!(pending["status"], "pending", "{pending}");
    let next_attempt: DateTime<Utc> = pending["nextAttemptAt"]
        .as_str()
        .expect("next attempt recorded")
        .parse()
        .expect("timestamp");
    first
        .ports
        .locks
        .force_release(&format!("webhook:{webhook}"))
        .await
        .expect("release");
    let second = first.sibling(long_second_retry());

    let failed = wait_for_delivery(&second, &webhook, "the delivery dead-lettered", |d| {
        d["status"] == "failed"
    })
    .await;
    let requests = receiver.requests();
    assert_eq!(
        failed["attempts"], 4,
        "the count continues across holders: {failed}"
    );
    assert_eq!(
        requests.len(),
        4,
        "one attempt plus three retries, not a schedule started over"
    );
    assert!(requests.iter().all(|r| r.header("webhook-id") == ids[0]));
    // Stored timestamps have millisecond (memory) or microsecond (PostgreSQL) precision.
    let slack = chrono::Duration::milliseconds(1);
    assert!(
        requests[2].at + slack >= next_attempt,
        "the third attempt ({}) came before its scheduled time ({next_attempt})",
        requests[2].at
    );
}

#[tokio::test]
async fn a_new_holder_resumes_a_pending_retry_on_its_schedule_on_memory() {
    a_new_holder_resumes_a_pending_retry_on_its_schedule(Backend::Memory).await;
}

#[tokio::test]
async fn a_new_holder_resumes_a_pending_retry_on_its_schedule_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    a_new_holder_resumes_a_pending_retry_on_its_schedule(backend).await;
}

async fn concurrent_redrives_of_one_delivery_attempt_it_once(backend: Backend) {
    let receiver = Receiver::start(Behaviour::Status(500)).await;
    let app = Instance::start(&backend, fast_settings()).await;
    let (acme, admin, _) = app.tenant("Acme").await;
    let (webhook, _) = app.webhook(&acme, &receiver.url(), &["*"]).await;
    app.emit(&acme, &[("position.state_changed", Some("pos_c"))])
        .await;
    let failed = wait_for_delivery(&app, &webhook, "a dead-lettered delivery", |d| {
        d["status"] == "failed"
    })
    .await;
    let attempts_before = receiver.count();
    assert_eq!(attempts_before, 3);
    receiver.set(Behaviour::Accept);
    let delivery = failed["id"].as_str().expect("delivery id");
    let path = format!("/webhooks/{webhook}/deliveries/{delivery}/retry");

    let requests = (0..8).map(|_| app.call(Method::POST, &path, &admin, None));
    let answers = futures_util::future::join_all(requests).await;

    let accepted = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .count();
    assert_eq!(accepted, 1, "exactly one re-drive is accepted: {answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::ACCEPTED || *status == StatusCode::CONFLICT,
            "{status} {body}"
        );
    }
    let redriven = wait_for_delivery(&app, &webhook, "the re-driven delivery", |d| {
        d["status"] == "succeeded"
    })
    .await;
    assert_eq!(redriven["attempts"], 4);
    // Settled before the record was saved: resolved, after exactly one more attempt.
    let item = failed["dlqItemId"].as_i64().expect("dlq item");
    let resolved = app.ports.dlq.get(item).await.expect("dlq").expect("item");
    assert_eq!(resolved.status, gridstore::DlqStatus::Resolved);
    assert_eq!(
        receiver.count(),
        attempts_before + 1,
        "one re-drive attempt"
    );
    let (_, audit) = app
        .call(
            Method::GET,
            "/audit-events?action=WEBHOOK_DELIVERY_REDRIVEN",
            super::support::ROOT,
            None,
        )
        .await;
    assert_eq!(audit["data"].as_array().map(Vec::len), Some(1), "{audit}");
}

#[tokio::test]
async fn concurrent_redrives_of_one_delivery_attempt_it_once_on_memory() {
    concurrent_redrives_of_one_delivery_attempt_it_once(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_redrives_of_one_delivery_attempt_it_once_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    concurrent_redrives_of_one_delivery_attempt_it_once(backend).await;
}

async fn a_new_holder_does_not_resend_what_already_succeeded(backend: Backend) {
    let receiver = Receiver::start(Behaviour::Slow(Duration::from_millis(15))).await;
    let settings = WebhookSettings {
        endpoint_parallelism: 3,
        ..fast_settings()
    };
    let mut first = Instance::start(&backend, settings.clone()).await;
    let (acme, _, _) = first.tenant("Acme").await;
    let (webhook, _) = first.webhook(&acme, &receiver.url(), &["*"]).await;
    let events: Vec<_> = (0..15)
        .map(|i| {
            (
                "position.state_changed",
                Some(["pos_a", "pos_b", "pos_c"][i % 3]),
            )
        })
        .collect();
    let ids = first.emit(&acme, &events).await;
    wait_until("the first deliveries", Duration::from_secs(20), || {
        receiver.count() >= 5
    })
    .await;
    first.crash_dispatcher();
    // What is recorded as delivered now cannot change any more (the worker is gone).
    let (status, page) = first
        .call(
            Method::GET,
            &format!("/webhooks/{webhook}/deliveries?limit=100"),
            super::support::ROOT,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let succeeded: Vec<String> = page["data"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|d| d["status"] == "succeeded")
        .filter_map(|d| d["eventId"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !succeeded.is_empty(),
        "some deliveries succeeded before the crash"
    );
    assert!(succeeded.len() < ids.len(), "the crash must land mid-batch");
    first
        .ports
        .locks
        .force_release(&format!("webhook:{webhook}"))
        .await
        .expect("release");
    let _second = first.sibling(settings);

    wait_until("every event delivered", Duration::from_secs(30), || {
        let seen: std::collections::HashSet<String> = receiver
            .requests()
            .iter()
            .map(|r| r.header("webhook-id").to_owned())
            .collect();
        ids.iter().all(|id| seen.contains(id))
    })
    .await;
    let requests = receiver.requests();
    for id in &succeeded {
        let times = requests
            .iter()
            .filter(|r| r.header("webhook-id") == id)
            .count();
        assert_eq!(times, 1, "{id} was recorded as delivered and sent again");
    }
}

#[tokio::test]
async fn a_new_holder_does_not_resend_what_already_succeeded_on_memory() {
    a_new_holder_does_not_resend_what_already_succeeded(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_holder_does_not_resend_what_already_succeeded_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    a_new_holder_does_not_resend_what_already_succeeded(backend).await;
}
