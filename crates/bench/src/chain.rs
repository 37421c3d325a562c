//! Chain throughput: how fast the on-chain sender drains queued position events to a real EVM
//! node (anvil from testkit, automine), and the commit → confirmed latency of each event.
//!
//! Each run: a fresh in-process instance on the memory backend (API on 127.0.0.1, the sender
//! with the production settings except `ONCHAIN_RETRY_BATCH_SIZE`), a template with
//! `config.onchain.enabled`, then `events` position creates from 4 connections as fast as the
//! API takes them while the sender runs (the node is available: the writes outpace the sender,
//! so a backlog builds). A poller reads each event's record every 5 ms and notes when it is
//! first `confirmed`. Reported: drain rate = events / (last confirmation − first commit), and
//! commit (the create's `201`) → confirmed latency p50/p95. Each measurement gets a fresh
//! node. The baseline, in the same run, is batch size 1 (one transaction signed, persisted, broadcast and
//! awaited at a time, as the sender worked before batching).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use escrowgrid::api::{ApiSettings, AppState, router};
use escrowgrid::config::{OnchainConfig, Secret};
use escrowgrid::domain::{LedgerEventId, PositionId};
use escrowgrid::onchain::{
    ChainTarget, OnchainApi, OnchainPorts, OnchainSender, OnchainStatus, Records, SenderSettings,
};
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::store::{EscrowStore, Scope};
use gridstore::memory::MemoryKvStore;
use gridstore::{EventLog, KvStore};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::BoxError;
use crate::client::Conn;
use crate::stats::{Samples, median};

const ROOT_KEY: &str = "root_chainbench_0123456789abcdef0123456789abcdef";
/// Connections creating positions.
const WRITERS: usize = 4;
/// How long one run may take before it is declared stuck.
const RUN_DEADLINE: Duration = Duration::from_secs(600);

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Position creates (one on-chain event each) per run.
    pub events: usize,
    /// `ONCHAIN_RETRY_BATCH_SIZE` values; the first is the baseline of the ratios.
    pub batch_sizes: Vec<usize>,
    /// Repetitions (medians shown).
    pub runs: usize,
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    events_per_s: f64,
    p50_ms: f64,
    p95_ms: f64,
}

/// Runs the plan and returns the Markdown table.
pub async fn run(plan: &Plan) -> Result<String, BoxError> {
    let mut figures: Vec<Vec<Figures>> = vec![Vec::new(); plan.batch_sizes.len()];
    for run in 0..plan.runs {
        for (i, &batch) in plan.batch_sizes.iter().enumerate() {
            // A fresh node per measurement: anvil slows down as its chain grows (see
            // docs/BENCHMARKS.md), which would favour whichever batch size runs first.
            let anvil = testkit::TestAnvil::start().await?;
            let measured = once(&anvil, plan.events, batch).await?;
            drop(anvil);
            crate::progress(&format!(
                "chain run {}: batch {batch}: {:.0} events/s, p50 {:.0} ms, p95 {:.0} ms",
                run + 1,
                measured.events_per_s,
                measured.p50_ms,
                measured.p95_ms
            ));
            figures[i].push(measured);
        }
    }
    let medians: Vec<(usize, f64, f64, f64)> = plan
        .batch_sizes
        .iter()
        .zip(&figures)
        .map(|(&batch, runs)| {
            let pick = |f: fn(&Figures) -> f64| {
                median(&mut runs.iter().map(f).collect::<Vec<_>>()).unwrap_or(f64::NAN)
            };
            (
                batch,
                pick(|f| f.events_per_s),
                pick(|f| f.p50_ms),
                pick(|f| f.p95_ms),
            )
        })
        .collect();
    let base = medians.first().map_or(f64::NAN, |m| m.1);
    let mut table = String::from(
        "| batch size | events/s drained | commit → confirmed p50 (ms) | p95 (ms) | × batch size 1st row |\n|---:|---:|---:|---:|---:|\n",
    );
    for (batch, rate, p50, p95) in medians {
        table.push_str(&format!(
            "| {batch} | {rate:.0} | {p50:.0} | {p95:.0} | {:.2} |\n",
            rate / base
        ));
    }
    Ok(table)
}

/// One instance, `events` creates, until every event is confirmed.
async fn once(
    anvil: &testkit::TestAnvil,
    events: usize,
    batch: usize,
) -> Result<Figures, BoxError> {
    let store = Arc::new(MemoryStore::new());
    let log: Arc<dyn EventLog> = store.events();
    let kv: Arc<dyn KvStore> = Arc::new(MemoryKvStore::new());
    let ports = OnchainPorts::memory(log, Arc::clone(&kv));
    let api = ApiSettings {
        root_api_key: Some(ROOT_KEY.to_owned()),
        ..ApiSettings::default()
    };
    let store_port: Arc<dyn EscrowStore> = store.clone();
    let state = AppState::new(Arc::clone(&store_port), Arc::clone(&kv), api)
        .with_onchain(OnchainApi::new(&ports, None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let authority = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router(state)).await;
    });
    let asset = fixture(&authority).await?;

    let config = OnchainConfig {
        chain_id: Some(anvil.chain_id()),
        retry_batch_size: batch,
        ..OnchainConfig::default()
    };
    let target = ChainTarget {
        rpc_url: anvil.rpc_url(),
        private_key: Secret::new(anvil.sender_private_key().to_owned()),
        contract: anvil.contract_address(),
    };
    let sender = OnchainSender::spawn(
        store_port,
        ports.clone(),
        target,
        SenderSettings::from_config(&config),
    );

    let committed: Arc<Mutex<Vec<(LedgerEventId, Instant)>>> = Arc::default();
    let poller = tokio::spawn(poll(
        Records::new(Arc::clone(&kv)),
        Arc::clone(&committed),
        events,
    ));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let share = events / WRITERS + usize::from(w < events % WRITERS);
        writers.push(tokio::spawn(write(
            authority.clone(),
            asset.clone(),
            share,
            Arc::clone(&store),
            Arc::clone(&committed),
        )));
    }
    for writer in writers {
        writer.await??;
    }
    let confirmed = tokio::time::timeout(RUN_DEADLINE, poller).await???;
    sender.shutdown().await;
    server.abort();

    let committed = committed.lock().unwrap_or_else(PoisonError::into_inner);
    let first_commit = committed
        .iter()
        .map(|(_, at)| *at)
        .min()
        .ok_or("no events")?;
    let last_confirmed = confirmed
        .values()
        .max()
        .copied()
        .ok_or("no confirmations")?;
    let mut samples = Samples::default();
    for (id, at) in committed.iter() {
        let done = confirmed.get(id).ok_or("an event was never confirmed")?;
        samples.push(done.saturating_duration_since(*at));
    }
    #[allow(clippy::cast_precision_loss)] // event counts are small
    let events_per_s = events as f64 / last_confirmed.duration_since(first_commit).as_secs_f64();
    Ok(Figures {
        events_per_s,
        p50_ms: samples.quantile_ms(0.5).unwrap_or(f64::NAN),
        p95_ms: samples.quantile_ms(0.95).unwrap_or(f64::NAN),
    })
}

/// An institution, a template with `config.onchain.enabled` and an asset: the asset's id.
async fn fixture(authority: &str) -> Result<String, BoxError> {
    let mut root = Conn::connect(authority, ROOT_KEY).await?;
    let institution = created(
        &mut root,
        "/institutions",
        json!({"name": "Chain Bench", "regions": ["US"]}),
    )
    .await?;
    let template = created(
        &mut root,
        "/asset-templates",
        json!({
            "institutionId": institution["id"], "code": "CONSTR_ESCROW", "name": "Escrow",
            "vertical": "CONSTRUCTION", "region": "US",
            "config": {"currency": "USD", "region": "US", "onchain": {"enabled": true}}
        }),
    )
    .await?;
    let asset = created(
        &mut root,
        "/assets",
        json!({"institutionId": institution["id"], "templateId": template["id"], "label": "Tower"}),
    )
    .await?;
    let institution_id = institution["id"]
        .as_str()
        .ok_or("institution id")?
        .to_owned();
    let asset_id = asset["id"].as_str().ok_or("asset id")?.to_owned();
    Ok(format!("{institution_id}|{asset_id}"))
}

/// `POST path` expecting `201`: the JSON answered.
async fn created(conn: &mut Conn, path: &str, body: Value) -> Result<Value, BoxError> {
    let reply = conn.send(Method::POST, path, Some(&body)).await?;
    if reply.status != StatusCode::CREATED {
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        return Err(format!("{path}: {} {text}", reply.status).into());
    }
    reply.json()
}

/// `count` creates on one connection; each commit instant (the `201`) with its ledger event.
async fn write(
    authority: String,
    fixture: String,
    count: usize,
    store: Arc<MemoryStore>,
    committed: Arc<Mutex<Vec<(LedgerEventId, Instant)>>>,
) -> Result<(), BoxError> {
    let (institution, asset) = fixture.split_once('|').ok_or("fixture")?;
    let mut conn = Conn::connect(&authority, ROOT_KEY).await?;
    for _ in 0..count {
        let body = json!({
            "institutionId": institution, "assetId": asset, "holderReference": "holder-1",
            "currency": "USD", "amount": 1250.5, "externalReference": "bench"
        });
        let reply = conn.send(Method::POST, "/positions", Some(&body)).await?;
        let at = Instant::now();
        if reply.status != StatusCode::CREATED {
            return Err(format!("create: {}", reply.status).into());
        }
        let id = reply.json()?["id"].as_str().map(PositionId::parse);
        let Some(Ok(id)) = id else {
            return Err("create answered no position id".into());
        };
        let ledger = store.list_ledger_events(&Scope::Root, Some(&id)).await?;
        let event = ledger.first().ok_or("a position without a ledger event")?;
        committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((event.id.clone(), at));
    }
    Ok(())
}

/// Reads every unconfirmed record every 5 ms until `events` are confirmed; when each was
/// first seen confirmed.
async fn poll(
    records: Records,
    committed: Arc<Mutex<Vec<(LedgerEventId, Instant)>>>,
    events: usize,
) -> Result<HashMap<LedgerEventId, Instant>, BoxError> {
    let mut confirmed = HashMap::with_capacity(events);
    while confirmed.len() < events {
        let ids: Vec<LedgerEventId> = committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(id, _)| !confirmed.contains_key(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let view = records.view(&id).await?;
            match view.status {
                OnchainStatus::Confirmed => {
                    confirmed.insert(id, Instant::now());
                }
                OnchainStatus::Pending => {}
                other => return Err(format!("event {id} ended {other:?}").into()),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(confirmed)
}
