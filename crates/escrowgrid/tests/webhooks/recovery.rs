//! Recovery of the dispatcher's work: a new holder of an endpoint resumes pending retries on
//! their schedule, and concurrent re-drives of one delivery attempt it once. Memory and
//! PostgreSQL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use escrowgrid::webhooks::WebhookSettings;

use super::receiver::{Behaviour, Receiver};
use super::support::{Backend, Instance, fast_settings, wait_for_delivery};

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
