//! Concurrent clients running one operation in a loop for a fixed time, and cheap randomness.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::BoxError;
use crate::report::Percentiles;

/// How long clients run before the timed part starts (connections, prepared statements).
const WARM_UP: Duration = Duration::from_millis(300);

/// What a timed run of concurrent clients did.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub ops: u64,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Run {
    /// Completed operations per second over the timed window.
    pub fn per_second(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let ops = self.ops as f64;
        ops / self.elapsed.as_secs_f64()
    }

    /// Latency percentiles of every operation (sorts the samples).
    pub fn percentiles(&mut self) -> Percentiles {
        Percentiles::of(&mut self.latencies)
    }
}

/// Runs `op(client, n)` in a loop on `clients` concurrent tasks for `run_time` (after a short
/// warm-up) and times every call. `n` counts the client's calls.
pub async fn run_clients<F, Fut>(clients: usize, run_time: Duration, op: F) -> Result<Run, BoxError>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let op = Arc::new(op);
    let warm_until = Instant::now() + WARM_UP;
    let stop_at = warm_until + run_time;
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let op = Arc::clone(&op);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0_u64;
            loop {
                let started = Instant::now();
                if started >= stop_at {
                    break;
                }
                op(client, n).await?;
                n += 1;
                if started >= warm_until {
                    latencies.push(started.elapsed());
                }
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let mut run = Run {
        elapsed: run_time,
        ..Run::default()
    };
    for task in tasks {
        let latencies = task.await??;
        run.ops += latencies.len() as u64;
        run.latencies.extend(latencies);
    }
    Ok(run)
}

/// A well-mixed pseudo-random number from two inputs (splitmix64), for picking keys without
/// shared state.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A key index in `0..keys` owned by `client` when keys are split among `clients`
/// (index % clients == client), so concurrent clients never touch the same key.
pub fn owned_key(client: usize, n: u64, clients: usize, keys: usize) -> usize {
    let per_client = (keys / clients).max(1) as u64;
    #[allow(clippy::cast_possible_truncation)]
    let slot = (mix(client as u64, n) % per_client) as usize;
    slot * clients + client
}

/// A key index in `0..keys`, any client.
pub fn any_key(client: usize, n: u64, keys: usize) -> usize {
    #[allow(clippy::cast_possible_truncation)]
    let key = (mix(client as u64 + 1_000, n) % keys as u64) as usize;
    key
}
