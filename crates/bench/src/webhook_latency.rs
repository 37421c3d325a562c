//! Commit → webhook receiver latency: an endpoint (`position.created`) of the fixture's
//! institution points at a receiver on 127.0.0.1 while a paced writer creates positions at a
//! fixed rate through the API (each create commits two events: `position.created` and
//! `ledger_event.recorded`, so the log grows at twice the create rate). The path measured is
//! the server's own: outbox append in the write, NOTIFY wake-up of the dispatcher's
//! subscription, lease, signing, one HTTP/1.1 attempt, the delivery record.
//!
//! As in [`crate::stream`], each delivery's latency is bracketed: `ack → receiver` (from the
//! create's `201`: a lower bound) and `send → receiver` (from sending the create: an upper
//! bound).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::BoxError;
use crate::client::Conn;
use crate::load::Fixture;
use crate::stream::StreamOutcome;

/// When each create was sent and acknowledged, and when its delivery arrived, by position id.
#[derive(Debug, Default)]
struct Times {
    sent: HashMap<String, (Instant, Instant)>,
    arrived: HashMap<String, Instant>,
}

fn lock(times: &Mutex<Times>) -> std::sync::MutexGuard<'_, Times> {
    times.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts a receiver recording when each position's delivery first arrives (answers 204).
async fn receiver(times: Arc<Mutex<Times>>) -> Result<SocketAddr, BoxError> {
    let app = Router::new().route(
        "/hook",
        post(move |body: Bytes| {
            let times = Arc::clone(&times);
            async move {
                let now = Instant::now();
                if let Ok(payload) = serde_json::from_slice::<Value>(&body) {
                    if let Some(id) = payload["data"]["id"].as_str() {
                        lock(&times).arrived.entry(id.to_owned()).or_insert(now);
                    }
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// Registers the endpoint, waits until its dispatcher delivers a probe, then creates
/// `creates_per_s` positions per second for `duration`.
pub async fn measure(
    fixture: &Fixture,
    creates_per_s: u32,
    duration: Duration,
) -> Result<StreamOutcome, BoxError> {
    let times = Arc::new(Mutex::new(Times::default()));
    let addr = receiver(Arc::clone(&times)).await?;
    let mut writer = Conn::connect(&fixture.authority, &fixture.admin_key).await?;
    let endpoint =
        json!({"url": format!("http://{addr}/hook"), "eventTypes": ["position.created"]});
    let reply = writer
        .send(Method::POST, "/webhooks", Some(&endpoint))
        .await?;
    if reply.status != StatusCode::CREATED {
        return Err(format!("creating the endpoint answered {}", reply.status).into());
    }
    let body = json!({
        "assetId": fixture.asset_id, "holderReference": "webhook-bench", "currency": "USD",
        "amount": 10
    });
    // A probe: the endpoint's worker runs once its delivery arrived.
    let probe = writer.send(Method::POST, "/positions", Some(&body)).await?;
    let probe = probe.json()?["id"].as_str().unwrap_or_default().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lock(&times).arrived.contains_key(&probe) {
        if Instant::now() > deadline {
            return Err("the probe was not delivered within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut ticker = tokio::time::interval(Duration::from_secs(1) / creates_per_s.max(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut creates = 0u64;
    while started.elapsed() < duration {
        ticker.tick().await;
        let sent = Instant::now();
        let reply = writer.send(Method::POST, "/positions", Some(&body)).await?;
        let acked = Instant::now();
        if reply.status != StatusCode::CREATED {
            return Err(format!("create answered {}", reply.status).into());
        }
        let id = reply.json()?["id"].as_str().unwrap_or_default().to_owned();
        lock(&times).sent.insert(id, (sent, acked));
        creates += 1;
    }
    let elapsed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pending = || {
        let times = lock(&times);
        times.sent.keys().any(|id| !times.arrived.contains_key(id))
    };
    while Instant::now() < deadline && pending() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let times = lock(&times);
    let mut outcome = StreamOutcome {
        creates,
        #[allow(clippy::cast_precision_loss)]
        events_per_s: (creates * 2) as f64 / elapsed.as_secs_f64(),
        ..StreamOutcome::default()
    };
    for (id, (sent, acked)) in &times.sent {
        let Some(arrived) = times.arrived.get(id) else {
            continue;
        };
        outcome.received += 1;
        outcome
            .after_send
            .push(arrived.saturating_duration_since(*sent));
        outcome
            .after_ack
            .push(arrived.saturating_duration_since(*acked));
    }
    Ok(outcome)
}
