//! `webhook-bench`: webhook delivery throughput to a local receiver on PostgreSQL.
//!
//! Each run appends `--events` contract events (spread over `--positions` positions) to the
//! gridstore event log of a fresh database, then starts the dispatcher and times how long the
//! receiver on 127.0.0.1 takes to get all of them (deliveries/s, end to end: subscription
//! reads, signing, one HTTP/1.1 connection per attempt, a delivery record per event,
//! checkpoints). The baseline, measured in the same run, posts the same number of signed
//! requests with the same client and the same parallelism, without the dispatcher (no event
//! log, no records, no checkpoints). Prints medians over `--runs`.
//!
//! ```text
//! cargo run --release -p bench --bin webhook-bench -- --runs 3
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use clap::Parser;
use escrowgrid::domain::{AuditContext, NewInstitution, NewWebhook, Region, WebhookId, WebhookUrl};
use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, Scope, WebhookStore};
use escrowgrid::webhooks::{
    DeliveryClient, Dispatcher, SecretBox, TargetPolicy, WebhookMetrics, WebhookPorts,
    WebhookSettings,
};
use gridstore::postgres::{PgConfig, PgEventLog, PgPool};
use gridstore::{EventLog, NewEvent};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Webhook delivery throughput on PostgreSQL, with a raw-client baseline.
#[derive(Debug, Parser)]
#[command(name = "webhook-bench", about)]
struct Args {
    /// Events per run.
    #[arg(long, default_value_t = 5000)]
    events: usize,
    /// Positions the events are spread over (one lane each).
    #[arg(long, default_value_t = 200)]
    positions: usize,
    /// Lanes of the endpoint delivered at once (and requests at once in the baseline).
    #[arg(long, default_value_t = 16)]
    parallelism: usize,
    /// Events per subscription read.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// Repetitions; medians are printed.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Pool size.
    #[arg(long, default_value_t = 16)]
    pool_max: usize,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let postgres = tokio::task::spawn_blocking(testkit::TestPostgres::start).await??;
    let receiver = Receiver::start().await?;
    let mut dispatched = Vec::new();
    let mut baseline = Vec::new();
    for run in 1..=args.runs {
        let database = postgres.create_database().await;
        let rate = dispatcher_run(&args, database.url(), &receiver).await?;
        let base = baseline_run(&args, &receiver).await?;
        eprintln!("run {run}: dispatcher {rate:.0}/s, baseline {base:.0}/s");
        dispatched.push(rate);
        baseline.push(base);
    }
    let (rate, base) = (median(&mut dispatched), median(&mut baseline));
    let mut out = std::io::stdout();
    writeln!(
        out,
        "| events | positions | parallelism | dispatcher deliveries/s | baseline requests/s | ratio |\n\
         |---|---|---|---|---|---|\n\
         | {} | {} | {} | {rate:.0} | {base:.0} | {:.0}% |",
        args.events,
        args.positions,
        args.parallelism,
        100.0 * rate / base
    )?;
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Appends the events, starts the dispatcher, returns deliveries per second.
async fn dispatcher_run(args: &Args, url: &str, receiver: &Receiver) -> Result<f64, BoxError> {
    let pool = PgPool::connect(&PgConfig::from_url(url)?.with_pool_max_size(args.pool_max)).await?;
    let store = Arc::new(PgEscrowStore::new(pool.clone()));
    store.migrate().await?;
    gridstore::postgres::migrations::migrate(&pool).await?;
    let audit = AuditContext::default();
    let institution = store
        .create_institution(
            NewInstitution::new("Bench".into(), vec![Region::Us], None),
            &audit,
        )
        .await?;
    let new = NewWebhook {
        id: WebhookId::new(),
        institution_id: institution.id.clone(),
        url: receiver.url(),
        event_types: vec!["*".into()],
        description: None,
        enabled: true,
    };
    let secret = escrowgrid::domain::WebhookSecret::generate();
    store
        .create_webhook(&Scope::Root, new, secret.expose().to_owned(), &audit)
        .await?;
    let events: Arc<dyn EventLog> = Arc::new(PgEventLog::new(pool.clone()));
    for chunk in (0..args.events).collect::<Vec<_>>().chunks(500) {
        let batch = chunk
            .iter()
            .map(|i| {
                let position = format!("pos_{}", i % args.positions);
                let payload = json!({
                    "id": format!("evt_{}", uuid::Uuid::new_v4()), "type": "position.state_changed",
                    "institutionId": institution.id, "occurredAt": "2026-11-30T00:00:00.000Z",
                    "data": {"id": position, "n": i},
                });
                NewEvent::new(
                    format!("inst:{}", institution.id),
                    "position.state_changed",
                    payload,
                )
                .with_correlation_id(position)
            })
            .collect();
        events.append(batch).await?;
    }
    let settings = WebhookSettings {
        endpoint_parallelism: args.parallelism,
        batch_size: args.batch_size,
        refresh_interval: Duration::from_millis(20),
        ..WebhookSettings::default()
    };
    let policy = TargetPolicy::new(true);
    let client = DeliveryClient::new(policy, settings.timeout)?;
    let ports = WebhookPorts::postgres(&pool, events);
    let before = receiver.count();
    let started = Instant::now();
    let handle = Dispatcher::spawn(
        store,
        ports,
        client,
        SecretBox::plain(),
        settings,
        Arc::new(WebhookMetrics::default()),
    );
    let deadline = started + Duration::from_secs(600);
    while receiver.count() < before + args.events {
        if Instant::now() > deadline {
            return Err("deliveries did not finish within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed();
    handle.shutdown().await;
    pool.close();
    Ok(args.events as f64 / elapsed.as_secs_f64())
}

/// The same number of signed requests with the same client, `parallelism` at a time.
async fn baseline_run(args: &Args, receiver: &Receiver) -> Result<f64, BoxError> {
    let client = Arc::new(DeliveryClient::new(
        TargetPolicy::new(true),
        Duration::from_secs(10),
    )?);
    let url = Arc::new(WebhookUrl::parse(&receiver.url())?);
    let secret = escrowgrid::domain::WebhookSecret::generate();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.parallelism {
        let (client, url, next, secret) =
            (client.clone(), url.clone(), next.clone(), secret.clone());
        let total = args.events;
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let id = format!("evt_{}", uuid::Uuid::new_v4());
                let body = escrowgrid::webhooks::signing::body(
                    "position.state_changed",
                    "2026-11-30T00:00:00.000Z",
                    &json!({"id": "pos_1"}),
                );
                let timestamp = chrono_now();
                let signature = escrowgrid::webhooks::signing::sign(&secret, &id, timestamp, &body)
                    .unwrap_or_default();
                let headers = [
                    ("webhook-id", id),
                    ("webhook-timestamp", timestamp.to_string()),
                    ("webhook-signature", signature),
                ];
                let outcome = client.post(&url, &headers, Bytes::from(body)).await;
                if !outcome.succeeded() {
                    return Err(format!("baseline request failed: {outcome:?}"));
                }
            }
            Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(args.events as f64 / started.elapsed().as_secs_f64())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or_default())
}

/// A receiver answering 204 and counting requests.
struct Receiver {
    addr: SocketAddr,
    count: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> Result<Self, BoxError> {
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let app = Router::new().route(
            "/hook",
            post(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, count })
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}
