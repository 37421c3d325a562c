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
const MAX_RUN: Duration = Duration::from_secs(2);

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
            let per_second = rate_on_threads(settings, threads, &ids, &target)?;
            report.push(Row {
                measurement: format!("{name}, {threads} thread(s)"),
                gridstore: rate(per_second),
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
/// times; returns the median of the summed rates.
fn rate_on_threads(
    settings: &Settings,
    threads: usize,
    ids: &Arc<Vec<String>>,
    target: &Target,
) -> Result<f64, BoxError> {
    let run_time = settings.run_time.min(MAX_RUN);
    let mut rates = Vec::new();
    for _ in 0..settings.reps {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (ids, target) = (Arc::clone(ids), target.clone());
                std::thread::spawn(move || count_gets(thread, run_time, &ids, &target))
            })
            .collect();
        let mut total = 0.0;
        for handle in handles {
            total += handle
                .join()
                .map_err(|_| "memory bench thread panicked")??;
        }
        rates.push(total);
    }
    Ok(median(&mut rates))
}

/// Gets per second of one thread.
fn count_gets(
    thread: usize,
    run_time: Duration,
    ids: &[String],
    target: &Target,
) -> Result<f64, BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        let started = Instant::now();
        let mut n = 0_u64;
        loop {
            if !target.get(&ids[any_key(thread, n, ids.len())]).await? {
                return Err("memory get missed".into());
            }
            n += 1;
            if n % CHECK_EVERY == 0 && started.elapsed() >= run_time {
                #[allow(clippy::cast_precision_loss)]
                return Ok(n as f64 / started.elapsed().as_secs_f64());
            }
        }
    })
}
