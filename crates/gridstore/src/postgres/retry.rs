//! Retrying transactions: bounded exponential backoff with full jitter, and a commit that
//! never hides an unknown outcome.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::Transaction;
use futures_util::future::BoxFuture;
use rand::Rng;
use tokio_postgres::IsolationLevel;

use super::PgPool;
use super::error::is_connection_loss;
use crate::{Error, Result, Retryable};

/// How often and how patiently [`retry`] runs an operation again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first (at least one attempt always runs).
    pub max_attempts: u32,
    /// The backoff ceiling before the second attempt; it doubles for each further attempt.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, backing off from 10 ms up to 500 ms.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// A policy that runs the operation exactly once.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff before attempt `failed + 1`: uniformly random in
    /// `[0, min(max_delay, base_delay * 2^(failed - 1))]` ("full jitter").
    fn backoff(&self, failed: u32) -> Duration {
        let exponent = failed.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1_u32 << exponent)
            .min(self.max_delay);
        let ceiling_micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rand::thread_rng().gen_range(0..=ceiling_micros))
    }
}

/// Runs `op` again while its error `is_retryable()` (see [`Retryable`]), up to
/// `policy.max_attempts` attempts in all, with bounded exponential backoff and full jitter.
/// Logs each retry at `debug` and giving up at `warn`, with the attempt and the error.
///
/// # Errors
///
/// The first non-retryable error, or the last error once the attempts are used up.
pub async fn retry<T, E, F, Fut>(policy: &RetryPolicy, mut op: F) -> Result<T, E>
where
    E: Retryable + fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) => backoff_or_give_up(policy, &mut attempt, err).await?,
        }
    }
}

/// Sleeps before the next attempt when `err` is retryable and attempts remain (advancing
/// `attempt`); otherwise hands `err` back.
async fn backoff_or_give_up<E>(policy: &RetryPolicy, attempt: &mut u32, err: E) -> Result<(), E>
where
    E: Retryable + fmt::Display,
{
    if !err.is_retryable() {
        return Err(err);
    }
    if *attempt >= policy.max_attempts {
        tracing::warn!(attempt = *attempt, error = %err, "giving up after retryable errors");
        return Err(err);
    }
    let delay = policy.backoff(*attempt);
    tracing::debug!(attempt = *attempt, error = %err, ?delay, "retrying after retryable error");
    tokio::time::sleep(delay).await;
    *attempt += 1;
    Ok(())
}

/// Commits `tx`.
///
/// # Errors
///
/// [`Error::CommitOutcomeUnknown`] (not retryable, logged at `error`) when the connection is
/// lost while committing: the transaction may or may not have been applied. Other failures
/// (e.g. 40001 at commit under `serializable`, a deferred constraint) are classified as usual.
pub async fn commit(tx: Transaction<'_>) -> Result<()> {
    tx.commit()
        .await
        .map_err(|err| commit_error(Error::from(err)))
}

/// An error met while committing: a lost connection becomes [`Error::CommitOutcomeUnknown`]
/// (logged at `error`), any other error is returned as it is.
pub(crate) fn commit_error(err: Error) -> Error {
    if !is_connection_loss(&err) {
        return err;
    }
    tracing::error!(error = %err, "connection lost during commit; the outcome is unknown");
    let source = match err {
        Error::Connection(source) | Error::Shutdown(source) => source,
        other => Box::new(other),
    };
    Error::CommitOutcomeUnknown(source)
}

/// Checks a connection out, begins a transaction, runs `f` on it and commits, all inside
/// [`retry`]: `f` runs once per attempt, each time with a fresh transaction on a fresh
/// checkout, so it must not have effects outside the transaction it is given.
///
/// ```no_run
/// # use gridstore::postgres::{PgPool, RetryPolicy, transaction};
/// # async fn demo(pool: &PgPool) -> gridstore::Result<u64> {
/// transaction(pool, &RetryPolicy::default(), |tx| {
///     Box::pin(async move { Ok(tx.execute("update t set n = n + 1", &[]).await?) })
/// })
/// .await
/// # }
/// ```
///
/// # Errors
///
/// The error of `f` or of the commit (see [`commit`]), after retries when it is retryable.
pub async fn transaction<T, E, F>(pool: &PgPool, policy: &RetryPolicy, f: F) -> Result<T, E>
where
    T: Send,
    E: From<Error> + Retryable + fmt::Display + Send,
    F: for<'a> FnMut(&'a Transaction<'a>) -> BoxFuture<'a, Result<T, E>> + Send,
{
    transaction_with(pool, policy, IsolationLevel::ReadCommitted, f).await
}

/// Like [`transaction`], at the given isolation level (e.g. `Serializable`, whose
/// serialization failures are retried).
///
/// # Errors
///
/// As [`transaction`].
pub async fn transaction_with<T, E, F>(
    pool: &PgPool,
    policy: &RetryPolicy,
    isolation: IsolationLevel,
    mut f: F,
) -> Result<T, E>
where
    T: Send,
    E: From<Error> + Retryable + fmt::Display + Send,
    F: for<'a> FnMut(&'a Transaction<'a>) -> BoxFuture<'a, Result<T, E>> + Send,
{
    let mut attempt = 1;
    loop {
        match run_once(pool, isolation, &mut f).await {
            Ok(value) => return Ok(value),
            Err(err) => backoff_or_give_up(policy, &mut attempt, err).await?,
        }
    }
}

/// One attempt of [`transaction_with`].
async fn run_once<T, E, F>(pool: &PgPool, isolation: IsolationLevel, f: &mut F) -> Result<T, E>
where
    E: From<Error>,
    F: for<'a> FnMut(&'a Transaction<'a>) -> BoxFuture<'a, Result<T, E>>,
{
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(isolation)
        .start()
        .await
        .map_err(Error::from)?;
    let value = f(&tx).await?;
    commit(tx).await?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_futures_are_send_so_handlers_can_await_them() {
        fn assert_send<T: Send>(_: &T) {}
        fn check(pool: &PgPool) {
            let policy = RetryPolicy::default();
            let future = transaction(pool, &policy, |tx| {
                Box::pin(async move { Ok::<_, Error>(tx.execute("select 1", &[]).await?) })
            });
            assert_send(&future);
            assert_send(&super::super::migrate(pool, "t", &[]));
            assert_send(&pool.get());
        }
        let _compiles: fn(&PgPool) = check;
    }

    #[test]
    fn backoff_stays_within_the_doubling_ceiling_and_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        };
        for _ in 0..100 {
            assert!(policy.backoff(1) <= Duration::from_millis(10));
            assert!(policy.backoff(2) <= Duration::from_millis(20));
            assert!(policy.backoff(3) <= Duration::from_millis(40));
            assert!(policy.backoff(9) <= Duration::from_millis(50));
            assert!(policy.backoff(u32::MAX) <= Duration::from_millis(50));
        }
    }
}
