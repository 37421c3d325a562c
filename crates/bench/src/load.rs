//! The load itself: a fixture (institution, admin key, template, asset) and N clients looping
//! `POST /positions` (+ `POST /positions/:id/transition` to FUNDED) for a fixed duration.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::BoxError;
use crate::client::Conn;
use crate::stats::Samples;

/// What every client needs: where to send requests and as whom.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// `host:port` of the server.
    pub authority: String,
    /// Institution of the admin key.
    pub institution_id: String,
    /// Asset every position is created on.
    pub asset_id: String,
    /// Plaintext admin API key of the institution.
    pub admin_key: String,
    /// Record id of that key (`ak_...`).
    pub admin_key_id: String,
    /// Process id of the server when it runs as a separate process: CPU figures are then its
    /// own; otherwise they are this process's (load generator and in-process server).
    pub server_pid: Option<u32>,
    /// The PostgreSQL postmaster's pid when the run started the cluster (its CPU is read
    /// from `/proc`: [`crate::stats::cluster_cpu`]).
    pub db_pid: Option<u32>,
}

/// Creates the institution, an admin key, a template and an asset through the API (as root).
pub async fn fixture(authority: &str, root_key: &str) -> Result<Fixture, BoxError> {
    let mut root = Conn::connect(authority, root_key).await?;
    let institution = expect(
        &root.send(
            Method::POST,
            "/institutions",
            Some(&json!({"name": "Load Test Bank", "regions": ["US"], "verticals": ["CONSTRUCTION"]})),
        )
        .await?,
        StatusCode::CREATED,
        "create institution",
    )?;
    let institution_id = string_field(&institution, "id")?;
    let key = expect(
        &root
            .send(
                Method::POST,
                &format!("/institutions/{institution_id}/api-keys"),
                Some(&json!({"label": "loadgen", "role": "admin"})),
            )
            .await?,
        StatusCode::CREATED,
        "create api key",
    )?;
    let admin_key = string_field(&key, "apiKey")?;
    let admin_key_id = string_field(&key, "id")?;
    let mut admin = Conn::connect(authority, &admin_key).await?;
    let template = expect(
        &admin
            .send(
                Method::POST,
                "/asset-templates",
                Some(&json!({
                    "code": "CONSTR_ESCROW", "name": "Escrow", "vertical": "CONSTRUCTION",
                    "region": "US", "config": {"currency": "USD", "region": "US"}
                })),
            )
            .await?,
        StatusCode::CREATED,
        "create template",
    )?;
    let template_id = string_field(&template, "id")?;
    let asset = expect(
        &admin
            .send(
                Method::POST,
                "/assets",
                Some(&json!({"templateId": template_id, "label": "Tower A"})),
            )
            .await?,
        StatusCode::CREATED,
        "create asset",
    )?;
    Ok(Fixture {
        authority: authority.to_owned(),
        institution_id,
        asset_id: string_field(&asset, "id")?,
        admin_key,
        admin_key_id,
        server_pid: None,
        db_pid: None,
    })
}

fn expect(reply: &crate::client::Reply, status: StatusCode, what: &str) -> Result<Value, BoxError> {
    if reply.status != status {
        return Err(format!(
            "{what}: expected {status}, got {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        )
        .into());
    }
    reply.json()
}

fn string_field(v: &Value, name: &str) -> Result<String, BoxError> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("response has no string field {name}: {v}").into())
}

/// What one level (a client count) of one scenario measured.
#[derive(Debug, Default)]
pub struct LevelOutcome {
    /// Wall time from the common start to the last client's end.
    pub elapsed: Duration,
    /// CPU time the server used meanwhile: the server process's when it is separate
    /// ([`Fixture::server_pid`]), else this process's (load generator + in-process server).
    pub cpu: Option<Duration>,
    /// CPU time the PostgreSQL cluster used meanwhile, when the run started it.
    pub db_cpu: Option<Duration>,
    /// Successful creates (201).
    pub creates: u64,
    /// Successful transitions to FUNDED (200).
    pub transitions: u64,
    /// Create latencies.
    pub create_latency: Samples,
    /// Transition latencies.
    pub transition_latency: Samples,
    /// Create + transition latencies of complete pairs.
    pub pair_latency: Samples,
    /// Unexpected statuses (or transport errors, as status 0) and how often.
    pub errors: BTreeMap<u16, u64>,
}

impl LevelOutcome {
    /// Adds `other` (another client of the level, or a later slice of the same level on the
    /// same fixture): counts, samples and elapsed time summed, CPU times summed when both have
    /// them.
    pub fn absorb(&mut self, other: LevelOutcome) {
        self.elapsed += other.elapsed;
        self.cpu = self.cpu.zip(other.cpu).map(|(a, b)| a + b);
        self.db_cpu = self.db_cpu.zip(other.db_cpu).map(|(a, b)| a + b);
        self.creates += other.creates;
        self.transitions += other.transitions;
        self.create_latency.absorb(other.create_latency);
        self.transition_latency.absorb(other.transition_latency);
        self.pair_latency.absorb(other.pair_latency);
        for (status, count) in other.errors {
            *self.errors.entry(status).or_default() += count;
        }
    }
}

/// Runs `clients` connections, each looping create (+ transition when `pairs`) until `duration`
/// has passed since the common start.
pub async fn run_level(
    fixture: &Fixture,
    clients: usize,
    duration: Duration,
    pairs: bool,
) -> Result<LevelOutcome, BoxError> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::with_capacity(clients);
    for n in 0..clients {
        let conn = Conn::connect(&fixture.authority, &fixture.admin_key).await?;
        let barrier = Arc::clone(&barrier);
        let fixture = fixture.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client_loop(conn, &fixture, n, Instant::now() + duration, pairs).await
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let cpu_before = crate::stats::process_cpu(fixture.server_pid);
    let db_before = fixture.db_pid.and_then(crate::stats::cluster_cpu);
    let mut outcome = LevelOutcome::default();
    for task in tasks {
        // A client's outcome has counts and samples only: the times are the level's, below.
        outcome.absorb(task.await?);
    }
    outcome.elapsed = started.elapsed();
    outcome.cpu = crate::stats::process_cpu(fixture.server_pid)
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    outcome.db_cpu = fixture
        .db_pid
        .and_then(crate::stats::cluster_cpu)
        .zip(db_before)
        .map(|(after, before)| after.saturating_sub(before));
    Ok(outcome)
}

async fn client_loop(
    mut conn: Conn,
    fixture: &Fixture,
    client: usize,
    deadline: Instant,
    pairs: bool,
) -> LevelOutcome {
    let mut out = LevelOutcome::default();
    let create_body = Bytes::from(
        json!({
            "assetId": fixture.asset_id,
            "holderReference": format!("holder-{client}"),
            "currency": "USD",
            "amount": 1250.5,
        })
        .to_string(),
    );
    let transition_body =
        Bytes::from(json!({"toState": "FUNDED", "reason": "loadgen"}).to_string());
    while Instant::now() < deadline {
        let created = match conn
            .send_bytes(Method::POST, "/positions", Some(create_body.clone()))
            .await
        {
            Ok(reply) if reply.status == StatusCode::CREATED => reply,
            Ok(reply) => {
                *out.errors.entry(reply.status.as_u16()).or_default() += 1;
                continue;
            }
            Err(_) => {
                *out.errors.entry(0).or_default() += 1;
                break;
            }
        };
        out.creates += 1;
        out.create_latency.push(created.elapsed);
        if !pairs {
            continue;
        }
        let Ok(id) = created.json().and_then(|v| string_field(&v, "id")) else {
            *out.errors.entry(1).or_default() += 1;
            continue;
        };
        let path = format!("/positions/{id}/transition");
        match conn
            .send_bytes(Method::POST, &path, Some(transition_body.clone()))
            .await
        {
            Ok(reply) if reply.status == StatusCode::OK => {
                out.transitions += 1;
                out.transition_latency.push(reply.elapsed);
                out.pair_latency.push(created.elapsed + reply.elapsed);
            }
            Ok(reply) => *out.errors.entry(reply.status.as_u16()).or_default() += 1,
            Err(_) => {
                *out.errors.entry(0).or_default() += 1;
                break;
            }
        }
    }
    out
}
