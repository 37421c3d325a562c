//! A resumable, at-least-once subscription over any [`EventLog`], and its wake-up signal.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::Stream;

use tokio::sync::watch;

use super::{Event, EventFilter, EventLog, EventPosition};
use crate::Result;

/// The `subscription` label of subscriptions that were not named.
const UNNAMED: &str = "unnamed";

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

/// The result of [`EventLog::read_after_scanned`].
#[derive(Clone, Debug, PartialEq)]
pub struct ScannedBatch {
    /// The matching events, in position order.
    pub events: Vec<Event>,
    /// How far the read looked: no matching event with a position up to here is missing from
    /// `events` or can still appear. At least the last event's position.
    pub scanned: EventPosition,
}

/// Follows an event log from a cursor, in position order, never skipping a late committer.
///
/// Its [`position`](Subscription::position) advances only past events this subscription
/// returned; its reads start from [`Subscription::scanned_position`], which also moves past
/// events that did not match the filter, so a selective filter does not re-read the same
/// non-matching events on every poll. To resume after a crash
/// or restart, persist [`Subscription::position`] after processing a batch and pass it to
/// [`Subscription::new`] again: events after it are delivered again, so delivery is
/// at-least-once across restarts and exactly once within one subscription.
///
/// Each read that returns events sets the gauge
/// `gridstore_subscription_lag_seconds{subscription}`: how long ago the last returned event was
/// recorded. Name subscriptions with [`Subscription::with_name`] so each gets its own series;
/// unnamed ones share the series `subscription="unnamed"`.
#[derive(Debug)]
pub struct Subscription {
    log: Arc<dyn EventLog>,
    filter: EventFilter,
    cursor: EventPosition,
    scanned: EventPosition,
    options: SubscriptionOptions,
    wakeups: Wakeups,
    name: String,
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
            scanned: from.unwrap_or(EventPosition::START),
            options,
            wakeups,
            name: UNNAMED.to_owned(),
        }
    }

    /// Names the subscription: the `subscription` label of its lag gauge (use the consumer's
    /// name, e.g. the key its checkpoint is saved under).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The subscription's name (`"unnamed"` unless set with [`Subscription::with_name`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The position of the last event returned (the start position before the first one).
    pub fn position(&self) -> EventPosition {
        self.cursor
    }

    /// How far the subscription has looked: every matching event up to this position was
    /// returned. Past [`Subscription::position`] when the events after the last one returned
    /// did not match the filter (or were not there), so the next read starts here instead of
    /// re-reading them. Also a valid resume point once every returned event was processed.
    pub fn scanned_position(&self) -> EventPosition {
        self.scanned
    }

    /// Reads the next batch without waiting; empty when nothing new is committed yet.
    ///
    /// # Errors
    /// Backend errors; the cursor is unchanged, so calling again retries the same read.
    pub async fn poll(&mut self) -> Result<Vec<Event>> {
        let batch = self
            .log
            .read_after_scanned(self.scanned, &self.filter, self.options.batch_size.max(1))
            .await?;
        if let Some(last) = batch.events.last() {
            self.cursor = last.position;
            record_lag(&self.name, last);
        }
        self.scanned = batch.scanned.max(self.cursor);
        Ok(batch.events)
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

/// Sets the lag gauge of subscription `name` from the last event it returned.
fn record_lag(name: &str, last: &Event) {
    let lag = (Utc::now() - last.recorded_at).num_milliseconds().max(0);
    #[allow(clippy::cast_precision_loss)] // milliseconds fit an f64 exactly
    metrics::gauge!("gridstore_subscription_lag_seconds", "subscription" => name.to_owned())
        .set(lag as f64 / 1000.0);
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, PoisonError};

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };
    use serde_json::json;

    use super::*;
    use crate::event_log::NewEvent;
    use crate::memory::MemoryEventLog;

    /// Records the key of every gauge registered.
    #[derive(Debug, Default)]
    struct GaugeKeys(Arc<Mutex<Vec<String>>>);

    impl Recorder for GaugeKeys {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
            Counter::noop()
        }

        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let line = format!("{}{{{}}}", key.name(), labels.join(","));
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
            Gauge::noop()
        }

        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn each_named_subscription_reports_lag_under_its_own_label() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let log: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new());
        let mut billing = Subscription::new(
            log.clone(),
            None,
            EventFilter::all(),
            SubscriptionOptions::default(),
        )
        .with_name("billing");
        let mut audit =
            Subscription::new(log.clone(), None, EventFilter::all(), Default::default());
        runtime
            .block_on(log.append(vec![NewEvent::new("s", "t", json!(1))]))
            .expect("append");

        let recorder = GaugeKeys::default();
        metrics::with_local_recorder(&recorder, || {
            for sub in [&mut billing, &mut audit] {
                let batch = runtime.block_on(sub.poll()).expect("poll");
                assert_eq!(batch.len(), 1);
            }
        });

        let keys = recorder
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(
            keys,
            [
                "gridstore_subscription_lag_seconds{subscription=billing}",
                "gridstore_subscription_lag_seconds{subscription=unnamed}",
            ]
        );
        assert_eq!(billing.name(), "billing");
    }
}
