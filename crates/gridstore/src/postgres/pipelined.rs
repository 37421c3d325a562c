//! Transactions in two round trips: [`PgTransaction`] sends `BEGIN` in the same flight as the
//! first statements (the reads before a write) and `COMMIT` in the same flight as the writes;
//! or in one, when the writes need nothing read first ([`PgTransaction::run_with`]); or a
//! single statement as a transaction of its own, without `BEGIN` ([`PgTransaction::run_alone`]).
//!
//! tokio-postgres sends a request when its future is first polled and answers requests in
//! order, so futures polled together on one connection share a round trip (see
//! [`PgStatement`](super::PgStatement)). What this guard adds:
//!
//! - **Order.** `BEGIN` is polled before the first statements; `COMMIT` only after every write
//!   has been polled once, so it follows them on the wire.
//! - **No partial commit.** A write that fails on its first poll may not have been sent (a
//!   parameter that cannot be encoded, an invalid event batch): then `COMMIT` is not sent at
//!   all and the transaction is rolled back. A write that fails on the server aborts the
//!   transaction, and the `COMMIT` pipelined behind it ends it as a `ROLLBACK` (PostgreSQL
//!   answers `COMMIT` in an aborted transaction with a rollback), so nothing is committed; the
//!   results are checked in order and the first error is returned.
//! - **Unknown outcomes.** A connection lost during the commit flight (in a write or in the
//!   `COMMIT`) is [`Error::CommitOutcomeUnknown`], as with [`commit`](super::commit), and
//!   the connection is discarded when the guard is dropped, never handed back to the pool.
//! - **Cancellation.** A guard dropped while its transaction is open (the request future was
//!   dropped at any await, or the caller returned early) queues a `ROLLBACK` on the connection
//!   before the connection goes back to the pool, like tokio-postgres' own `Transaction`: the
//!   connection's requests are sent in order, so the server ends the transaction before it
//!   sees anything of the connection's next user. When the `ROLLBACK` cannot be queued (the
//!   connection is closed), the connection is detached from the pool instead.
//!
//! Every write given to [`PgTransaction::commit_with`] must send its one request on its first
//! poll: a statement already prepared ([`PgPool::prepare`](super::PgPool::prepare), then
//! [`PgStatement::execute`](super::PgStatement::execute)) or
//! [`PgEventLog::append_in`](super::PgEventLog::append_in). A write that awaited something
//! else first would be sent after the `COMMIT`, outside the transaction.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use futures_util::FutureExt as _;
use futures_util::future::{MaybeDone, maybe_done};

use super::PgClient;
use super::error::is_connection_loss;
use super::retry::commit_error;
use crate::{Error, Result};

/// One write of a commit flight (see [`PgTransaction::commit_with`]): its result is the number
/// of rows it affected.
pub type PgWrite<'a> = Pin<Box<dyn Future<Output = Result<u64>> + Send + 'a>>;

/// `BEGIN` not sent yet: nothing to roll back.
const IDLE: u8 = 0;
/// `BEGIN` sent and no `COMMIT` answered: a drop rolls back.
const OPEN: u8 = 1;
/// Committed or rolled back by the server.
const FINISHED: u8 = 2;
/// The connection was lost during the commit: never handed back to the pool.
const LOST: u8 = 3;

/// A read-committed transaction on a pooled connection whose `BEGIN` and `COMMIT` share round
/// trips with statements; see the [module docs](self).
///
/// Statements run on it through [`PgConnection`](super::PgConnection) like on a connection.
pub struct PgTransaction {
    /// Always `Some` until dropped.
    client: Option<PgClient>,
    state: AtomicU8,
}

impl fmt::Debug for PgTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTransaction")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl PgTransaction {
    /// A transaction on `client`; nothing is sent until [`PgTransaction::begin_with`].
    pub fn new(client: PgClient) -> Self {
        Self {
            client: Some(client),
            state: AtomicU8::new(IDLE),
        }
    }

    /// The pooled connection.
    pub(super) fn client(&self) -> &PgClient {
        self.client
            .as_ref()
            .expect("the connection is only taken when the guard is dropped")
    }

    /// Whether `BEGIN` has been sent: statements run inside the transaction from then on.
    pub(super) fn begun(&self) -> bool {
        self.state.load(Ordering::Acquire) != IDLE
    }

    /// Sends `BEGIN`, then polls `first` (the statements before the writes) in the same
    /// flight, and returns what `first` returned.
    ///
    /// # Errors
    ///
    /// The error of `BEGIN` (classified), else the error of `first`. The transaction stays
    /// open after an error of `first` until the guard is dropped.
    pub async fn begin_with<T, E, F>(&self, first: F) -> Result<T, E>
    where
        E: From<Error>,
        F: Future<Output = Result<T, E>>,
    {
        let opened = self
            .state
            .compare_exchange(IDLE, OPEN, Ordering::AcqRel, Ordering::Acquire);
        if opened.is_err() {
            return Err(Error::InvalidInput("transaction already begun".to_owned()).into());
        }
        let begin = self.client().batch_execute("begin");
        let (begun, value) = tokio::join!(biased; begin, first);
        begun.map_err(Error::from)?;
        value
    }

    /// Sends `writes` in order, each on its first poll, and `COMMIT` behind them in the same
    /// flight; returns the rows each write affected, in order. When a write fails before
    /// `COMMIT` is sent, `COMMIT` is not sent and the transaction is rolled back (on drop).
    ///
    /// # Errors
    ///
    /// The first error of the writes, in order (nothing was committed), else the error of
    /// `COMMIT` (e.g. a deferred constraint). [`Error::CommitOutcomeUnknown`] when the
    /// connection was lost during the flight. [`Error::InvalidInput`] before `BEGIN`.
    pub async fn commit_with(&self, writes: Vec<PgWrite<'_>>) -> Result<Vec<u64>> {
        if self.state.load(Ordering::Acquire) != OPEN {
            return Err(Error::InvalidInput(
                "no open transaction to commit".to_owned(),
            ));
        }
        let mut writes: Vec<MaybeDone<PgWrite<'_>>> = writes.into_iter().map(maybe_done).collect();
        // First polls, in order: each write's request goes out now.
        poll_fn(|cx| {
            let _all_sent_or_done = poll_all(&mut writes, cx);
            Poll::Ready(())
        })
        .await;
        if let Some(err) = early_error(&mut writes) {
            tracing::debug!(error = %err, "a write failed before commit was sent; rolling back");
            return Err(err);
        }
        let commit = self.client().batch_execute("commit");
        let ((), committed) = tokio::join!(poll_fn(|cx| poll_all(&mut writes, cx)), commit);
        self.state.store(FINISHED, Ordering::Release);
        let mut counts = Vec::with_capacity(writes.len());
        for write in &mut writes {
            match Pin::new(write).take_output() {
                Some(Ok(count)) => counts.push(count),
                Some(Err(err)) => return Err(self.commit_error(err)),
                None => return Err(Error::InvalidInput("write result taken twice".to_owned())),
            }
        }
        committed.map_err(|err| self.commit_error(Error::from(err)))?;
        Ok(counts)
    }

    /// [`commit_error`] of an error of the commit's flight; a lost connection also marks the
    /// guard, so that the connection is discarded when it is dropped instead of going back to
    /// the pool, where the next checkout could get it before its close is noticed.
    fn commit_error(&self, err: Error) -> Error {
        if is_connection_loss(&err) {
            self.state.store(LOST, Ordering::Release);
        }
        commit_error(err)
    }

    /// Runs `write` as the whole transaction, without `BEGIN`: PostgreSQL runs a statement
    /// sent outside a transaction block in a transaction of its own and commits it before it
    /// answers (with `synchronous_commit`, after the commit record is flushed), so the write
    /// is one message each way. `write` must send exactly one statement, on its first poll (as
    /// for [`PgTransaction::commit_with`]): each further one would commit on its own. Returns
    /// the rows it affected.
    ///
    /// # Errors
    ///
    /// The statement's error, when nothing was committed; [`Error::CommitOutcomeUnknown`] when
    /// the connection was lost before the answer came, since the commit may have happened.
    /// [`Error::InvalidInput`] when a transaction was already begun on this guard.
    pub async fn run_alone(&self, write: PgWrite<'_>) -> Result<u64> {
        let alone =
            self.state
                .compare_exchange(IDLE, FINISHED, Ordering::AcqRel, Ordering::Acquire);
        if alone.is_err() {
            return Err(Error::InvalidInput(
                "a statement runs alone only outside a transaction".to_owned(),
            ));
        }
        write.await.map_err(|err| self.commit_error(err))
    }

    /// Sends `BEGIN`, `writes` (each on its first poll) and `COMMIT` in one flight: a
    /// transaction whose writes need nothing read first. Returns the rows each write affected.
    ///
    /// # Errors
    ///
    /// As [`PgTransaction::commit_with`], except that a connection lost anywhere in the flight
    /// is [`Error::CommitOutcomeUnknown`], even when `BEGIN`'s answer is what went missing: the
    /// `COMMIT` was already on its way, so the server may have committed, and an operation run
    /// again on such an error could write twice.
    pub async fn run_with(&self, writes: Vec<PgWrite<'_>>) -> Result<Vec<u64>> {
        match self.begin_with(self.commit_with(writes)).await {
            Err(err) if is_connection_loss(&err) => Err(self.commit_error(err)),
            other => other,
        }
    }

    /// Commits with no further writes (one round trip).
    ///
    /// # Errors
    ///
    /// As [`PgTransaction::commit_with`].
    pub async fn commit(&self) -> Result<()> {
        self.commit_with(Vec::new()).await.map(drop)
    }
}

/// Polls every write that has not finished; ready when all have.
fn poll_all(writes: &mut [MaybeDone<PgWrite<'_>>], cx: &mut Context<'_>) -> Poll<()> {
    let mut all = true;
    for write in writes {
        all &= Pin::new(write).poll(cx).is_ready();
    }
    if all { Poll::Ready(()) } else { Poll::Pending }
}

/// The first write (in order) that has already failed, if any.
fn early_error(writes: &mut [MaybeDone<PgWrite<'_>>]) -> Option<Error> {
    let failed = writes
        .iter_mut()
        .find(|write| matches!(write, MaybeDone::Done(Err(_))))?;
    match Pin::new(failed).take_output() {
        Some(Err(err)) => Some(err),
        _ => None,
    }
}

impl Drop for PgTransaction {
    fn drop(&mut self) {
        let state = *self.state.get_mut();
        if state != OPEN && state != LOST {
            return;
        }
        let Some(client) = self.client.take() else {
            return;
        };
        if state == LOST {
            // Its server is gone, though the pool's own check may not know it yet.
            drop(PgClient::take(client));
            return;
        }
        // The first poll queues the request; nobody reads its answer.
        let queued = client.batch_execute("rollback").now_or_never();
        if let Some(Err(err)) = queued {
            tracing::debug!(
                error = %err,
                "could not queue the rollback of a dropped transaction; discarding its connection"
            );
            drop(PgClient::take(client));
        }
    }
}
