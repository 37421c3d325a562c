//! Blocking helpers: running async code from sync code, and polling a condition with a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

use crate::TestkitError;

/// How long one connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest pause between two polls.
const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// The first pause between two polls.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// Runs `future` to completion on a new thread with its own current-thread runtime.
///
/// Safe to call from inside another runtime (e.g. in `Drop` during an async test), where
/// `block_on` on the caller's thread would panic.
pub(crate) fn block_on_own_thread<F>(future: F) -> Result<F::Output, TestkitError>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(TestkitError::io("build a tokio runtime"))?;
                Ok(runtime.block_on(future))
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Polls `done` with a short, growing backoff until it returns true or `timeout` passes.
/// Returns whether it became true.
pub(crate) fn poll_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut backoff = FIRST_BACKOFF;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Connects without TLS and spawns the connection task on the current runtime.
pub(crate) async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "testkit connection ended with an error");
        }
    });
    Ok(client)
}

/// Connects and runs `select 1` until it succeeds or `timeout` passes; returns the last
/// error on timeout.
pub(crate) async fn wait_until_accepting(
    url: &str,
    timeout: Duration,
) -> Result<(), tokio_postgres::Error> {
    let deadline = Instant::now() + timeout;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let attempt = async { connect(url).await?.simple_query("select 1").await };
        match attempt.await {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() >= deadline => return Err(error),
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
