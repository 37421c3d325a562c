//! A resumable, at-least-once subscription over any [`EventLog`], and its wake-up signal.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::Stream;

use tokio::sync::watch;

use super::{Event, EventFilter, EventLog, EventPosition};
use crate::Result;

/// The first re-read delay after a wake-up that found nothing new.
const FENCE_RETRY_DELAY: Duration = Duration::from_millis(10);

/// How a [`Subscription`] reads and waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionOptions {
    /// The most events one read returns (default 100; at least 1 is used).
    pub batch_size: usize,
    /// How long to wait for a wake-up before polling anyway (default 500 ms). Polling alone is
    /// correct; wake-ups only make delivery faster.
    pub poll_interval: Duration,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Follows an event log from a cursor, in position order, never skipping a late committer.
///
/// The cursor advances only past events this subscription returned. To resume after a crash
/// or restart, persist [`Subscription::position`] after processing a batch and pass it to
/// [`Subscription::new`] again: events after it are delivered again, so delivery is
/// at-least-once across restarts and exactly once within one subscription.
#[derive(Debug)]
pub struct Subscription {
    log: Arc<dyn EventLog>,
    filter: EventFilter,
    cursor: EventPosition,
    options: SubscriptionOptions,
    wakeups: Wakeups,
}

impl Subscription {
    /// Subscribes to the events of `log` matching `filter` after `from` (from the start of the
    /// log when `None`).
    pub fn new(
        log: Arc<dyn EventLog>,
        from: Option<EventPosition>,
        filter: EventFilter,
        options: SubscriptionOptions,
    ) -> Self {
        let wakeups = log.wakeups();
        Self {
            log,
            filter,
            cursor: from.unwrap_or(EventPosition::START),
            options,
            wakeups,
        }
    }

    /// The position of the last event returned (the start position before the first one).
    pub fn position(&self) -> EventPosition {
        self.cursor
    }

    /// Reads the next batch without waiting; empty when nothing new is committed yet.
    ///
    /// # Errors
    /// Backend errors; the cursor is unchanged, so calling again retries the same read.
    pub async fn poll(&mut self) -> Result<Vec<Event>> {
        let batch = self
            .log
            .read_after(self.cursor, &self.filter, self.options.batch_size.max(1))
            .await?;
        if let Some(last) = batch.last() {
            self.cursor = last.position;
            let lag = (Utc::now() - last.recorded_at).num_milliseconds().max(0);
            #[allow(clippy::cast_precision_loss)] // milliseconds fit an f64 exactly
            metrics::gauge!("gridstore_subscription_lag_seconds").set(lag as f64 / 1000.0);
        }
        Ok(batch)
    }

    /// Waits until at least one new event is committed and returns the next batch.
    ///
    /// Waits for a wake-up or the poll interval, whichever comes first, between reads.
    ///
    /// # Errors
    /// Backend errors; the cursor is unchanged, so calling again resumes where it stopped.
    pub async fn next_batch(&mut self) -> Result<Vec<Event>> {
        // After a wake-up that found nothing (the commit fence still holds the new events back
        // behind an older running transaction), re-read soon with a doubling delay instead of
        // waiting a whole poll interval.
        let mut retry_delay: Option<Duration> = None;
        loop {
            // Mark before reading: an append that lands after the read wakes the wait below.
            self.wakeups.mark_seen();
            let batch = self.poll().await?;
            if !batch.is_empty() {
                return Ok(batch);
            }
            let wait = retry_delay.unwrap_or(self.options.poll_interval);
            tokio::select! {
                () = self.wakeups.changed() => retry_delay = Some(FENCE_RETRY_DELAY),
                () = tokio::time::sleep(wait) => {
                    retry_delay = retry_delay
                        .map(|d| d * 2)
                        .filter(|d| *d < self.options.poll_interval);
                }
            }
        }
    }

    /// Turns the subscription into an endless stream of events. A failed read yields one
    /// `Err` and the stream then retries from the same cursor.
    pub fn into_stream(self) -> impl Stream<Item = Result<Event>> + Send {
        futures_util::stream::unfold(
            (self, VecDeque::new()),
            |(mut sub, mut buffered)| async move {
                if let Some(event) = buffered.pop_front() {
                    return Some((Ok(event), (sub, buffered)));
                }
                match sub.next_batch().await {
                    Ok(batch) => {
                        buffered.extend(batch);
                        let first = buffered.pop_front()?;
                        Some((Ok(first), (sub, buffered)))
                    }
                    Err(err) => Some((Err(err), (sub, buffered))),
                }
            },
        )
    }
}

/// A wake-up signal: it changes whenever events may have been appended.
///
/// A hint only. Waiting on it never replaces polling (see [`Subscription`]).
#[derive(Clone, Debug)]
pub struct Wakeups(watch::Receiver<u64>);

impl Wakeups {
    /// Wraps a receiver whose value is bumped on every possible append.
    pub fn new(receiver: watch::Receiver<u64>) -> Self {
        Self(receiver)
    }

    /// A signal that never fires: its users rely on polling alone.
    pub fn never() -> Self {
        // With the sender dropped, `changed` pends forever.
        let (_tx, rx) = watch::channel(0);
        Self(rx)
    }

    /// Marks the current value as seen; call before reading, so no wake-up is lost.
    pub fn mark_seen(&mut self) {
        self.0.borrow_and_update();
    }

    /// Waits until the value changes after the last [`Wakeups::mark_seen`]. Pends forever once
    /// the sender is gone (callers always race it against a poll timer).
    pub async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
