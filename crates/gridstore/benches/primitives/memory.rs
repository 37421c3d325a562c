//! The memory backend: `get`s per second on 1 and 2 OS threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridstore::memory::{MemoryKvStore, MemorySessionStore};
use gridstore::{KvStore, Session, SessionState, SessionStore};

use crate::BoxError;
use crate::data::{SESSIONS, session_id, session_payload, small_payload};
use crate::load::any_key;
use crate::report::{Report, Row, Verdict, median, rate};
use crate::setup::Settings;

/// Calls between two looks at the clock.
const CHECK_EVERY: u64 = 256;

/// The longest a single memory run lasts (they are cheap and stable).
const MAX_RUN: Duration = Duration::from_secs(1);

/// What is read.
#[derive(Debug, Clone)]
enum Target {
    Sessions(Arc<MemorySessionStore>),
    Kv(Arc<MemoryKvStore>),
}

impl Target {
    async fn get(&self, id: &str) -> gridstore::Result<bool> {
        Ok(match self {
            Self::Sessions(store) => store.get(id).await?.is_some(),
            Self::Kv(store) => store.get(id).await?.is_some(),
        })
    }
}

/// Session gets (small and ~1 KB payloads) and KV gets on 1 and 2 threads.
pub async fn memory(settings: &Settings, report: &mut Report) -> Result<(), BoxError> {
    let ids: Arc<Vec<String>> = Arc::new((0..SESSIONS).map(session_id).collect());
    let small = Arc::new(MemorySessionStore::new());
    let large = Arc::new(MemorySessionStore::new());
    let kv = Arc::new(MemoryKvStore::new());
    for (i, id) in ids.iter().enumerate() {
        let session = |data| Session::new(id.clone(), SessionState::Active, data);
        small.save(&session(small_payload(i))).await?;
        large.save(&session(session_payload(i))).await?;
        kv.set(id, small_payload(i), None).await?;
    }
    let cases = [
        (
            "memory session get (~60 B payload)",
            Target::Sessions(small),
            vec![1, 2],
            true,
        ),
        (
            "memory session get (~1 KB payload)",
            Target::Sessions(large),
            vec![1],
            false,
        ),
        (
            "memory kv get (~60 B value)",
            Target::Kv(kv),
            vec![1, 2],
            true,
        ),
    ];
    for (name, target, thread_counts, judged) in cases {
        for threads in thread_counts {
            let (per_second, per_cpu_second) = rate_on_threads(settings, threads, &ids, &target)?;
            report.push(Row {
                measurement: format!("{name}, {threads} thread(s)"),
                gridstore: format!(
                    "{} wall clock ({} per second of CPU the threads got)",
                    rate(per_second),
                    rate(per_cpu_second)
                ),
                baseline: "-".into(),
                ratio: None,
                target: if judged { "≥ 1,000,000 gets/s" } else { "-" }.into(),
                verdict: if judged {
                    Verdict::from_bool(per_second >= 1_000_000.0)
                } else {
                    Verdict::Info
                },
            });
        }
    }
    Ok(())
}

/// Runs gets on `threads` OS threads (each with its own single-threaded runtime), `reps`
/// times; returns the medians of the summed rates per wall-clock second and per second the
/// threads actually ran on a CPU (the machine is shared, so the two can differ a lot).
fn rate_on_threads(
    settings: &Settings,
    threads: usize,
    ids: &Arc<Vec<String>>,
    target: &Target,
) -> Result<(f64, f64), BoxError> {
    let run_time = settings.run_time.min(MAX_RUN);
    let mut rates = Vec::new();
    let mut cpu_rates = Vec::new();
    for _ in 0..settings.reps {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (ids, target) = (Arc::clone(ids), target.clone());
                std::thread::spawn(move || count_gets(thread, run_time, &ids, &target))
            })
            .collect();
        let (mut total, mut cpu_total) = (0.0, 0.0);
        for handle in handles {
            let (wall, cpu) = handle
                .join()
                .map_err(|_| "memory bench thread panicked")??;
            total += wall;
            cpu_total += cpu;
        }
        rates.push(total);
        cpu_rates.push(cpu_total);
    }
    Ok((median(&mut rates), median(&mut cpu_rates)))
}

/// Nanoseconds the calling thread has run on a CPU (first field of
/// `/proc/thread-self/schedstat`).
fn thread_cpu_nanos() -> Result<u64, BoxError> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    Ok(text
        .split_whitespace()
        .next()
        .ok_or("empty schedstat")?
        .parse()?)
}

/// Gets per wall-clock second and per on-CPU second of one thread.
fn count_gets(
    thread: usize,
    run_time: Duration,
    ids: &[String],
    target: &Target,
) -> Result<(f64, f64), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        let cpu_before = thread_cpu_nanos()?;
        let started = Instant::now();
        let mut n = 0_u64;
        loop {
            if !target.get(&ids[any_key(thread, n, ids.len())]).await? {
                return Err("memory get missed".into());
            }
            n += 1;
            if n % CHECK_EVERY == 0 && started.elapsed() >= run_time {
                let wall = started.elapsed().as_secs_f64();
                #[allow(clippy::cast_precision_loss)]
                let cpu = (thread_cpu_nanos()? - cpu_before) as f64 / 1e9;
                #[allow(clippy::cast_precision_loss)]
                let n = n as f64;
                return Ok((n / wall, n / cpu));
            }
        }
    })
}
