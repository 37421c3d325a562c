//! `escrowgrid-floor`: the HTTP floor under `escrowgrid-loadgen --floor-bin`.
//!
//! The same HTTP stack as `escrowgrid serve` (tokio's multi-threaded runtime, hyper HTTP/1
//! with a header read timeout and `TCP_NODELAY`, an axum router, mimalloc) with no
//! application: `POST /positions` parses its body into a typed struct and answers `201` with
//! a position of the same shape and size as the real one; a transition answers `200` with the
//! position and one lifecycle event; the fixture's routes answer canned ids. No store, no
//! authentication, no validation, no metrics, no logging: what is left is what any server on
//! this machine pays per request (system calls, wake-ups, HTTP parsing and JSON), so a run that
//! measures both gives the share of the server's CPU that the application itself costs.
//!
//! It reads `HOST` and `PORT` like the real binary and ignores its arguments (`serve`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The body of `POST /positions` as the real server reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewPosition {
    asset_id: String,
    holder_reference: String,
    currency: String,
    amount: Number,
    external_reference: Option<String>,
}

/// The body of a transition.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Transition {
    to_state: String,
    reason: Option<String>,
}

/// A position as the real server answers it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Position {
    id: String,
    institution_id: &'static str,
    asset_id: String,
    holder_reference: String,
    currency: String,
    amount: Number,
    state: String,
    external_reference: Option<String>,
    version: u64,
    created_at: &'static str,
    updated_at: &'static str,
    events: Vec<Value>,
}

const INSTITUTION: &str = "inst_00000000-0000-4000-8000-000000000000";
const AT: &str = "2026-12-07T12:00:00.000Z";

fn next_id(prefix: &str) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_00000000-0000-4000-8000-{n:012}")
}

async fn create(Json(new): Json<NewPosition>) -> (StatusCode, Json<Position>) {
    let position = Position {
        id: next_id("pos"),
        institution_id: INSTITUTION,
        asset_id: new.asset_id,
        holder_reference: new.holder_reference,
        currency: new.currency,
        amount: new.amount,
        state: "CREATED".to_owned(),
        external_reference: new.external_reference,
        version: 1,
        created_at: AT,
        updated_at: AT,
        events: Vec::new(),
    };
    (StatusCode::CREATED, Json(position))
}

async fn transition(Path(id): Path<String>, Json(t): Json<Transition>) -> Json<Position> {
    let event = json!({
        "id": next_id("ple"), "positionId": id, "fromState": "CREATED",
        "toState": t.to_state, "reason": t.reason, "at": AT,
    });
    Json(Position {
        id,
        institution_id: INSTITUTION,
        asset_id: next_id("ast"),
        holder_reference: "holder-0".to_owned(),
        currency: "USD".to_owned(),
        amount: Number::from(1250),
        state: t.to_state,
        external_reference: None,
        version: 2,
        created_at: AT,
        updated_at: AT,
        events: vec![event],
    })
}

/// The fixture's creates (institution, API key, template, asset): canned ids.
async fn created(Path(_): Path<String>) -> (StatusCode, Json<Value>) {
    canned()
}

async fn created_root() -> (StatusCode, Json<Value>) {
    canned()
}

fn canned() -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({"id": next_id("any"), "apiKey": "floor"})),
    )
}

fn router() -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/positions", post(create))
        .route("/positions/{id}/transition", post(transition))
        .route("/institutions", post(created_root))
        .route("/institutions/{id}/api-keys", post(created))
        .route("/asset-templates", post(created_root))
        .route("/assets", post(created_root))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let addr: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let router = router();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let connection =
            builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(router.clone()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}
