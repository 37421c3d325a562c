//! Waiting on a condition with a deadline, instead of sleeping a fixed time.

use std::time::{Duration, Instant};

/// Polls `condition` every 20 ms until it holds or `deadline` passes; returns whether it held.
pub async fn eventually<F, Fut>(deadline: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if condition().await {
            return true;
        }
        if started.elapsed() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
