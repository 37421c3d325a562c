//! Commit → SSE client latency of `GET /events/stream`: one client follows the stream
//! (`?types=position.created`) while a paced writer creates positions at a fixed rate (each
//! create commits two events: `position.created` and `ledger_event.recorded`).
//!
//! The commit happens between sending the create and receiving its `201`, so each event's
//! latency is bracketed: `ack → event` (from the acknowledgment: a lower bound, negative when
//! the event arrived first, counted as 0) and `send → event` (from the request: an upper bound).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::handshake;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::BoxError;
use crate::client::Conn;
use crate::load::Fixture;
use crate::stats::Samples;

/// What one stream measurement saw.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    /// Creates acknowledged.
    pub creates: u64,
    /// Their `position.created` events received on the stream.
    pub received: u64,
    /// Events per second committed (two per create).
    pub events_per_s: f64,
    /// From the `201` to the event.
    pub after_ack: Samples,
    /// From sending the create to the event.
    pub after_send: Samples,
}

/// When each create was sent and acknowledged, and when its event arrived, by position id.
#[derive(Debug, Default)]
struct Times {
    sent: HashMap<String, (Instant, Option<Instant>)>,
    arrived: HashMap<String, Instant>,
}

/// Creates `creates_per_s` positions per second for `duration` while a stream client follows.
pub async fn measure(
    fixture: &Fixture,
    creates_per_s: u32,
    duration: Duration,
) -> Result<StreamOutcome, BoxError> {
    let times = Arc::new(Mutex::new(Times::default()));
    let (connected_tx, connected) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(follow(fixture.clone(), Arc::clone(&times), connected_tx));
    // The stream starts at the log's tail once its response head arrived.
    connected
        .await
        .map_err(|_| "the event stream did not connect")?;

    let mut writer = Conn::connect(&fixture.authority, &fixture.admin_key).await?;
    let body = serde_json::json!({
        "assetId": fixture.asset_id, "holderReference": "stream-bench", "currency": "USD",
        "amount": 10
    });
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
        lock(&times).sent.insert(id, (sent, Some(acked)));
        creates += 1;
    }
    let elapsed = started.elapsed();
    // Wait (bounded) for the last events, then stop following.
    let deadline = Instant::now() + Duration::from_secs(10);
    let pending = || {
        let times = lock(&times);
        times.arrived.len() < times.sent.len()
    };
    while Instant::now() < deadline && pending() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();

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
        if let Some(acked) = acked {
            outcome
                .after_ack
                .push(arrived.saturating_duration_since(*acked));
        }
    }
    Ok(outcome)
}

fn lock(times: &Mutex<Times>) -> std::sync::MutexGuard<'_, Times> {
    times.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Follows the stream, recording when each position's `position.created` arrives.
async fn follow(
    fixture: Fixture,
    times: Arc<Mutex<Times>>,
    connected: tokio::sync::oneshot::Sender<()>,
) -> Result<(), BoxError> {
    let tcp = TcpStream::connect(&fixture.authority).await?;
    tcp.set_nodelay(true)?;
    let (mut sender, connection) = handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    let request = Request::get("/events/stream?types=position.created")
        .header(header::HOST, &fixture.authority)
        .header("x-api-key", &fixture.admin_key)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if response.status() != StatusCode::OK {
        return Err(format!("stream answered {}", response.status()).into());
    }
    let _ = connected.send(());
    let mut body = response.into_body();
    let mut buffer = String::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        let now = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&data));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let payload: Value = serde_json::from_str(data)?;
            if let Some(id) = payload["data"]["id"].as_str() {
                lock(&times).arrived.insert(id.to_owned(), now);
            }
        }
    }
    Ok(())
}
