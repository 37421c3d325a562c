//! `escrowgrid-loadgen`: drives `POST /positions` (+ `POST /positions/:id/transition` to
//! FUNDED) at several client counts on the memory and PostgreSQL backends and, in the same
//! run, the same SQL transactions through `pgbench` as the baseline. Prints a Markdown table.
//!
//! ```text
//! cargo run --release -p bench -- --runs 3
//! cargo run --release -p bench -- --backend postgres --clients 32 --duration-secs 20
//! cargo run --release -p bench -- --url http://127.0.0.1:4000 --root-key $ROOT_API_KEY --backend memory
//! cargo run --release -p bench -- --backend postgres --clients 1,4,32 --outbox-cost --loads pairs
//! cargo run --release -p bench -- --stream-creates-per-s 100 --duration-secs 20 --runs 3
//! cargo build --release -p escrowgrid -p bench && \
//!   target/release/escrowgrid-loadgen --keep-alive-connections 10000 --pool-max 64 --rate 1000 --duration-secs 30
//! cargo run --release -p bench -- --webhook-creates-per-s 100 --duration-secs 20 --runs 3
//! cargo run --release -p bench -- --backend memory --server-bin target/release/escrowgrid \
//!   --floor-bin target/release/escrowgrid-floor
//! cargo run --release -p bench -- --backend postgres --durable --server-bin target/release/escrowgrid
//! cargo run --release -p bench -- --scale-positions 500000 --server-bin target/release/escrowgrid
//! cargo run --release -p bench -- --chain-events 2000 --chain-batch-sizes 1,10,50 --runs 3
//! cargo run --release -p bench -- --keyset-positions 1000000 --runs 3
//! cargo run --release -p bench -- --keyset-ledger 1000000 --runs 3
//! ```

mod args;
mod chain;
mod client;
mod connections;
mod event_latency;
mod keyset;
mod ledger_pages;
mod load;
mod measure;
mod pgbench;
mod report;
mod scale;
mod sql;
mod stats;
mod stream;
mod target;
mod webhook_latency;

/// The in-process server runs on the allocator the `escrowgrid` binary uses (see its
/// `main.rs`), so that its CPU figures are those of the server as deployed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::time::Duration;

use clap::Parser;

use crate::args::{Args, Backend};
use crate::event_latency::Follower;
use crate::report::Row;
use crate::target::Target;

/// Error type of the load generator (a binary: any error ends the run with a message).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The rows of `--compare-key-cache`: PostgreSQL with `API_KEY_CACHE_TTL_MS=0`.
const NO_KEY_CACHE: &str = "postgres-nokeycache";

/// Starts the server of one row group variant (see [`run`]).
async fn start_target(args: &Args, backend: &'static str) -> Result<Target, BoxError> {
    Ok(match (&args.url, backend) {
        (Some(url), _) => Target::external(url, args.root_key.as_deref().unwrap_or_default())?,
        (None, "floor") => {
            Target::spawn(args.floor_bin.as_deref().ok_or("no --floor-bin")?).await?
        }
        (None, "memory") => match &args.server_bin {
            Some(bin) => Target::spawn(bin).await?,
            None => Target::memory().await?,
        },
        (None, _) => {
            let no_cache = backend == NO_KEY_CACHE;
            Target::postgres_with(
                args.database_url.clone(),
                args.pool_max,
                args.durable,
                args.server_bin.as_deref(),
                |settings| {
                    if no_cache {
                        settings.store.api_key_cache_ttl_ms = 0;
                    }
                },
            )
            .await?
        }
    })
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("escrowgrid-loadgen: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("escrowgrid-loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), BoxError> {
    if let Some(dir) = &args.write_pgbench_scripts {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("pairs.sql"), pgbench::script(true, true))?;
        std::fs::write(
            dir.join("pairs_no_outbox.sql"),
            pgbench::script(false, true),
        )?;
        return Ok(());
    }
    if let Some(rate) = args.stream_creates_per_s {
        return event_latency::run(args, rate, Follower::Stream).await;
    }
    if let Some(rate) = args.webhook_creates_per_s {
        return event_latency::run(args, rate, Follower::Webhook).await;
    }
    if let Some(events) = args.chain_events {
        let load_before = load_average();
        let plan = chain::Plan {
            events,
            batch_sizes: args.chain_batch_sizes.clone(),
            runs: args.runs,
        };
        let table = chain::run(&plan).await?;
        writeln!(
            std::io::stdout(),
            "\n{events} events per run, {} run(s), medians shown; load average before: {load_before}, after: {}\n\n{table}",
            args.runs,
            load_average()
        )?;
        return Ok(());
    }
    if let Some(connections) = args.keep_alive_connections {
        let load_before = load_average();
        let plan = connections::Plan {
            connections,
            pool_max: args.pool_max,
            rate: args.rate,
            duration: Duration::from_secs(args.duration_secs),
        };
        let table = connections::run(plan).await?;
        writeln!(
            std::io::stdout(),
            "\nload average before: {load_before}, after: {}\n{table}",
            load_average()
        )?;
        return Ok(());
    }
    if let Some(events) = args.keyset_ledger {
        return ledger_pages::run(args.database_url.clone(), args.pool_max, events, args.runs)
            .await;
    }
    if let Some(positions) = args.keyset_positions {
        return keyset::run(
            args.database_url.clone(),
            args.pool_max,
            positions,
            args.runs,
        )
        .await;
    }
    if let Some(positions) = args.scale_positions {
        return scale::run(args.server_bin.as_deref(), positions, args.runs).await;
    }
    // Variants measured alternately within each run share a group.
    let mut groups: Vec<Vec<&'static str>> = Vec::new();
    if matches!(args.backend, Backend::Memory | Backend::Both) {
        if args.floor_bin.is_some() {
            groups.push(vec!["floor", "memory"]);
        } else {
            groups.push(vec!["memory"]);
        }
    }
    if matches!(args.backend, Backend::Postgres | Backend::Both) {
        if args.compare_key_cache {
            groups.push(vec![NO_KEY_CACHE, "postgres"]);
        } else {
            groups.push(vec!["postgres"]);
        }
    }
    let load_before = load_average();
    let mut all_runs: Vec<Vec<Row>> = Vec::new();
    for group in groups {
        let mut started = Vec::new();
        for backend in group {
            let target = start_target(args, backend).await?;
            let mut fixture = load::fixture(&target.authority, &target.root_key).await?;
            fixture.server_pid = target.pid;
            fixture.db_pid = target.db_pid().await;
            if let Some(pid) = target.pid {
                progress(&format!(
                    "{backend}: server process {pid}, CPU figures are its own"
                ));
            }
            progress(&format!("{backend}: warm-up {} s", args.warmup_secs));
            load::run_level(&fixture, 4, Duration::from_secs(args.warmup_secs), true).await?;
            started.push((backend, target, fixture));
        }
        for run in 0..args.runs {
            for (backend, target, fixture) in started.iter().map(|(b, t, f)| (*b, t, f)) {
                // The pgbench baseline once per group, on the default configuration's database.
                let baseline = target
                    .database_url
                    .as_deref()
                    .filter(|_| backend != NO_KEY_CACHE);
                let rows = measure::measure(args, backend, fixture, baseline).await?;
                if all_runs.len() <= run {
                    all_runs.push(Vec::new());
                }
                all_runs[run].extend(rows);
            }
        }
        for (_, target, _) in started {
            target.stop().await?;
        }
    }
    let medians: Vec<Row> = (0..all_runs.first().map_or(0, Vec::len))
        .filter_map(|i| {
            let same: Vec<Row> = all_runs
                .iter()
                .filter_map(|rows| rows.get(i).cloned())
                .collect();
            Row::median_of(&same)
        })
        .collect();
    let mut out = std::io::stdout();
    let cpu_of = if args.server_bin.is_some() {
        "the server process's own (user + system from /proc/<pid>/stat)"
    } else if args.floor_bin.is_some() {
        "floor rows: the floor process's own; other rows: this process's (load generator + \
         in-process server)"
    } else {
        "this process's (load generator + in-process server)"
    };
    writeln!(
        out,
        "\n{} s per level, {} run(s), medians shown; load average before: {}, after: {}\n\
         CPU µs/request: {cpu_of}\nPostgreSQL: {}\n\n{}",
        args.duration_secs,
        args.runs,
        load_before,
        load_average(),
        if args.database_url.is_some() {
            "--database-url (its own settings)"
        } else if args.durable {
            "testkit, durable (fsync, synchronous_commit, full_page_writes on)"
        } else {
            "testkit, durability off (fsync, synchronous_commit, full_page_writes off)"
        },
        report::table(&medians)
    )?;
    Ok(())
}

/// The 1/5/15-minute load averages (other processes compete for the same cores).
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

pub(crate) fn progress(message: &str) {
    eprintln!("escrowgrid-loadgen: {message}");
}
