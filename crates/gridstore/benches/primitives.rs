//! gridstore primitives benchmark: measures each primitive on its own throwaway PostgreSQL
//! server, with the baseline (`pgbench -M prepared`, `psql \copy`) run against the same server
//! in the same run, and prints a Markdown table of results against the targets.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/main/target cargo bench -p gridstore --bench primitives [-- SECTION...]
//! ```
//!
//! Sections: `sessions`, `batch`, `events`, `delivery`, `memory` (default: all). Knobs:
//! `GSBENCH_SECS` (seconds per timed run, default 3), `GSBENCH_REPS` (repetitions, median
//! reported, default 3), `GSBENCH_DURABLE=0` (testkit's durability-off server instead of
//! PostgreSQL's durable defaults). Results and their discussion: `docs/BENCHMARKS.md`.
//!
//! This is a benchmark, not a test: it asserts nothing and prints what it measured.
#![allow(clippy::print_stdout, reason = "a benchmark prints its results")]

#[path = "primitives/baseline.rs"]
mod baseline;
#[path = "primitives/batch.rs"]
mod batch;
#[path = "primitives/data.rs"]
mod data;
#[path = "primitives/diagnostics.rs"]
mod diagnostics;
#[path = "primitives/events.rs"]
mod events;
#[path = "primitives/load.rs"]
mod load;
#[path = "primitives/memory.rs"]
mod memory;
#[path = "primitives/report.rs"]
mod report;
#[path = "primitives/saves.rs"]
mod saves;
#[path = "primitives/sessions.rs"]
mod sessions;
#[path = "primitives/setup.rs"]
mod setup;

use std::time::Instant;

use report::Report;
use setup::{Bench, Settings};

/// Any error ends the benchmark with its message.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(settings))
}

async fn run(settings: Settings) -> Result<(), BoxError> {
    let started = Instant::now();
    let load_before = setup::load_average();
    println!("== load average at start: {load_before}");
    let mut report = Report::default();
    if settings.runs("memory") {
        println!("== memory backend");
        memory::memory(&settings, &mut report).await?;
    }
    let mut server = String::from("not started");
    let needs_postgres = ["sessions", "batch", "events", "delivery"]
        .iter()
        .any(|section| settings.runs(section));
    if needs_postgres {
        let bench = Bench::start(settings.clone()).await?;
        server = bench.describe_server().await?;
        println!("== server: {server}");
        if settings.runs("sessions") {
            println!("== sessions: loading");
            let store = sessions::prepare(&bench).await?;
            println!("== sessions: get");
            sessions::gets(&bench, &store, &mut report).await?;
            diagnostics::get_paths(&bench, &mut report).await?;
            println!("== sessions: versioned save");
            saves::saves(&bench, &store, &mut report).await?;
        }
        if settings.runs("batch") {
            println!("== sessions: batch save");
            batch::batch(&bench, &mut report).await?;
        }
        if settings.runs("events") {
            println!("== events: append vs \\copy");
            events::append(&bench, &mut report).await?;
        }
        if settings.runs("delivery") {
            println!("== events: commit to subscriber delivery");
            events::delivery(&bench, &mut report).await?;
        }
    }
    println!(
        "\n## Results ({} s per run, median of {} repetitions, {:.0} s in total; load average {load_before} at start, {} at end)\n",
        settings.run_time.as_secs_f64(),
        settings.reps,
        started.elapsed().as_secs_f64(),
        setup::load_average()
    );
    println!("Server: {server}.\n");
    println!("{}", report.to_markdown());
    Ok(())
}
