//! The 10,000-client level (issue 10 item 5): many keep-alive HTTP connections against one
//! `escrowgrid` process on a pool of at most 64 database connections.
//!
//! The server runs as a child process (the `escrowgrid` binary next to this one, so build it
//! first with the same profile) so that its memory can be read alone from `/proc/<pid>/status`.
//! Both processes get their file-descriptor limit raised with `prlimit(1)` (no unsafe code).
//! Steps: open every connection and send one request on it (so the server holds a served,
//! idle keep-alive connection), read the server's RSS (the idle cost per connection is the
//! RSS delta over the connection count), then every connection sends `GET /positions/{id}`
//! once per think interval (`connections / rate`), staggered, for the duration.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::BoxError;
use crate::client::Conn;
use crate::stats::Samples;

const ROOT_KEY: &str = "root_loadgen_0123456789abcdef0123456789abcdef0123";
/// Connections opened at once (the server's listen backlog is finite).
const CONNECT_PARALLELISM: usize = 256;
/// File descriptors beyond the connections (pool, listener, logs, runtime).
const FD_HEADROOM: usize = 1024;
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// What the level is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Keep-alive connections.
    pub connections: usize,
    /// `DATABASE_POOL_MAX` of the server.
    pub pool_max: usize,
    /// Requests per second offered in total.
    pub rate: u32,
    /// How long the measured load runs.
    pub duration: Duration,
}

/// Runs the level on a throwaway PostgreSQL and returns a Markdown report.
pub async fn run(plan: Plan) -> Result<String, BoxError> {
    let fds = plan.connections + FD_HEADROOM;
    raise_fd_limit(std::process::id(), fds)?;
    let postgres = tokio::task::spawn_blocking(testkit::TestPostgres::start).await??;
    let database = postgres.create_database().await;
    let mut server = Server::spawn(database.url(), plan, fds)?;
    let authority = server.authority.clone();
    let outcome = measure(&authority, server.pid(), plan).await;
    server.stop();
    drop(database);
    drop(postgres);
    Ok(report(plan, &outcome?))
}

#[derive(Debug, Default)]
struct Outcome {
    connect_errors: u64,
    rss_before_kib: u64,
    rss_idle_kib: u64,
    rss_after_kib: u64,
    elapsed: Duration,
    latency: Samples,
    errors: BTreeMap<String, u64>,
    requests: u64,
}

async fn measure(authority: &str, pid: u32, plan: Plan) -> Result<Outcome, BoxError> {
    let fixture = crate::load::fixture(authority, ROOT_KEY).await?;
    let mut admin = Conn::connect(authority, &fixture.admin_key).await?;
    let created = admin
        .send(
            Method::POST,
            "/positions",
            Some(&json!({
                "assetId": fixture.asset_id, "holderReference": "holder-10k",
                "currency": "USD", "amount": 1250.5,
            })),
        )
        .await?;
    if created.status != StatusCode::CREATED {
        return Err(format!("create position: {}", created.status).into());
    }
    let id = created.json()?["id"]
        .as_str()
        .ok_or("position without id")?
        .to_owned();
    let path: Arc<str> = Arc::from(format!("/positions/{id}"));
    drop(admin);

    let mut out = Outcome {
        rss_before_kib: rss_kib(pid)?,
        ..Outcome::default()
    };
    crate::progress(&format!("opening {} connections", plan.connections));
    let slots = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let mut opening = JoinSet::new();
    for _ in 0..plan.connections {
        let (slots, authority, key, path) = (
            slots.clone(),
            authority.to_owned(),
            fixture.admin_key.clone(),
            path.clone(),
        );
        opening.spawn(async move {
            let _slot = slots.acquire_owned().await?;
            let mut conn = Conn::connect(&authority, &key).await?;
            let reply = conn.send(Method::GET, &path, None).await?;
            if reply.status != StatusCode::OK {
                return Err(format!("first request: {}", reply.status).into());
            }
            Ok::<_, BoxError>(conn)
        });
    }
    let mut conns = Vec::with_capacity(plan.connections);
    while let Some(opened) = opening.join_next().await {
        match opened? {
            Ok(conn) => conns.push(conn),
            Err(e) => {
                out.connect_errors += 1;
                tracing::warn!(error = %e, "connection failed");
            }
        }
    }
    out.rss_idle_kib = rss_kib(pid)?;

    crate::progress(&format!(
        "{} connections open; {} req/s for {:?}",
        conns.len(),
        plan.rate,
        plan.duration
    ));
    let count = u32::try_from(conns.len().max(1)).unwrap_or(u32::MAX);
    let think = Duration::from_secs(1) * count / plan.rate.max(1);
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut load = JoinSet::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let path = path.clone();
        let offset = think * u32::try_from(i).unwrap_or(u32::MAX) / count;
        load.spawn(async move {
            let mut latency = Samples::default();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let mut next = started + offset;
            while next < deadline {
                tokio::time::sleep_until(next.into()).await;
                next += think;
                match conn.send(Method::GET, &path, None).await {
                    Ok(reply) if reply.status == StatusCode::OK => latency.push(reply.elapsed),
                    Ok(reply) => {
                        let error = reply.json().ok().and_then(|body| {
                            body.get("error")
                                .and_then(|e| e.as_str().map(str::to_owned))
                        });
                        let kind =
                            format!("{} {}", reply.status.as_u16(), error.unwrap_or_default());
                        *errors.entry(kind).or_default() += 1;
                    }
                    Err(e) => {
                        *errors.entry(format!("i/o: {e}")).or_default() += 1;
                        break;
                    }
                }
            }
            (latency, errors)
        });
    }
    while let Some(done) = load.join_next().await {
        let (latency, errors) = done?;
        out.requests += latency.len() as u64;
        out.latency.absorb(latency);
        for (kind, n) in errors {
            out.requests += n;
            *out.errors.entry(kind).or_default() += n;
        }
    }
    out.elapsed = started.elapsed();
    out.rss_after_kib = rss_kib(pid)?;
    Ok(out)
}

fn report(plan: Plan, out: &Outcome) -> String {
    let mut latency = out.latency.clone();
    let ms = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.1}"));
    let opened = plan.connections as u64 - out.connect_errors;
    let idle_delta = out.rss_idle_kib.saturating_sub(out.rss_before_kib);
    #[allow(clippy::cast_precision_loss)] // report figures
    let per_conn = idle_delta as f64 * 1024.0 / opened.max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let throughput = out.requests as f64 / out.elapsed.as_secs_f64();
    let errors: u64 = out.errors.values().sum::<u64>() + out.connect_errors;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "\n| connections | pool | offered req/s | achieved req/s | requests | errors | p50 ms | p99 ms | max ms | server RSS before / idle / after load | RSS per idle connection |"
    );
    let _ = writeln!(text, "|---|---|---|---|---|---|---|---|---|---|---|");
    let _ = writeln!(
        text,
        "| {opened} of {} | {} | {} | {throughput:.0} | {} | {errors} | {} | {} | {} | {} / {} / {} MiB | {:.1} KiB |",
        plan.connections,
        plan.pool_max,
        plan.rate,
        out.requests,
        ms(latency.quantile_ms(0.5)),
        ms(latency.quantile_ms(0.99)),
        ms(latency.quantile_ms(1.0)),
        out.rss_before_kib / 1024,
        out.rss_idle_kib / 1024,
        out.rss_after_kib / 1024,
        per_conn / 1024.0,
    );
    if !out.errors.is_empty() {
        let _ = writeln!(text, "\nerrors: {:?}", out.errors);
    }
    text
}

/// The `escrowgrid` binary serving on PostgreSQL in a child process.
struct Server {
    child: Child,
    authority: String,
}

impl Server {
    fn spawn(database_url: &str, plan: Plan, fds: usize) -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?
            .parent()
            .ok_or("no directory of the current executable")?
            .join("escrowgrid");
        if !exe.exists() {
            return Err(format!(
                "{} not found: build it with the same profile (cargo build [--release] -p escrowgrid)",
                exe.display()
            )
            .into());
        }
        // A free port: bound, read and released (the server binds it right after).
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("prlimit")
            .arg(format!("--nofile={fds}:{fds}"))
            .arg("--")
            .arg(&exe)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .env("STORE_BACKEND", "postgres")
            .env("DATABASE_URL", database_url)
            .env("DATABASE_POOL_MAX", plan.pool_max.to_string())
            .env("ROOT_API_KEY", ROOT_KEY)
            .env("HTTP_MAX_CONNECTIONS", (plan.connections + 64).to_string())
            // Connections idle for a whole think interval between requests.
            .env("HTTP_HEADER_READ_TIMEOUT_MS", "600000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        let server = Self {
            child,
            authority: format!("127.0.0.1:{port}"),
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&self) -> Result<(), BoxError> {
        let started = Instant::now();
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.authority) {
                use std::io::{Read, Write};
                stream.write_all(b"GET /ready HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")?;
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_DEADLINE {
                return Err("the escrowgrid server never became ready".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Raises the soft and hard `RLIMIT_NOFILE` of `pid` to at least `wanted` with `prlimit(1)`
/// (raising the hard limit needs root); fails when the soft limit stays below it.
fn raise_fd_limit(pid: u32, wanted: usize) -> Result<(), BoxError> {
    let current = nofile_soft_limit()?;
    if current >= wanted {
        return Ok(());
    }
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={wanted}:{wanted}"),
        ])
        .status()?;
    let now = nofile_soft_limit()?;
    if !status.success() || now < wanted {
        return Err(format!(
            "open-file limit is {now}, {wanted} needed: run as root or raise `ulimit -n`"
        )
        .into());
    }
    Ok(())
}

/// The soft `Max open files` of this process, from `/proc/self/limits`.
fn nofile_soft_limit() -> Result<usize, BoxError> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or("no open-file limit in /proc/self/limits")?;
    let soft = line
        .split_whitespace()
        .nth(3)
        .ok_or("unreadable open-file limit")?;
    Ok(if soft == "unlimited" {
        usize::MAX
    } else {
        soft.parse()?
    })
}

/// The resident set size of `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("unreadable VmRSS")?
        .parse()?)
}
