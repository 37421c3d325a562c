//! Append-only event log with commit-ordered, gap-free subscriptions.
//!
//! An [`EventLog`] stores [`Event`]s appended in atomic batches ([`EventLog::append`]) and
//! answers queries over them ([`EventLog::query`], [`EventLog::count`],
//! [`EventLog::aggregate`]). Consumers follow the log with a [`Subscription`].
//!
//! # Positions and order
//!
//! Every event has an [`EventPosition`] `(tx_id, seq)`: the id of the transaction that wrote it
//! and a sequence number taken at insert time. Positions are totally ordered, first by
//! `tx_id`, then by `seq`. All events of one [`EventLog::append`] share one `tx_id` and keep the
//! order of the batch.
//!
//! A plain sequence is not a safe cursor: sequence values are taken at insert time but become
//! visible at commit time, so a reader that advanced past a gap would silently skip the late
//! committer (prior-art §0.1, Marten's long-running bug). The fenced read
//! [`EventLog::read_after`] therefore only returns events whose transaction is older than the
//! oldest transaction still running, so nothing can ever appear behind a position once it was
//! handed out. On PostgreSQL `tx_id` is the writer's `xid8` and the fence is
//! `pg_snapshot_xmin(pg_current_snapshot())`; the memory backend commits under a lock, so its
//! fence is trivially "everything appended".
//!
//! The order is "commit order" in the sense that matters to consumers: a transaction that began
//! after another one committed always sorts after it, and every event is delivered exactly
//! once per cursor while the cursor only moves forward. A long-running writer delays (never
//! skips) delivery of everything behind it; the lag is exported as the gauge
//! `gridstore_subscription_lag_seconds{subscription}` (see [`Subscription::with_name`]).
//!
//! # Subscriptions
//!
//! [`Subscription`] delivers at least once: the consumer persists the position of the last
//! event it processed (for example with the checkpoint primitive) and resumes from it with
//! [`Subscription::new`]. Wake-ups ([`Wakeups`]) only shorten the wait; a subscription polls
//! every [`SubscriptionOptions::poll_interval`] anyway, so it stays correct when notifications
//! are lost (a listener disconnect, a restart). A filtered subscription reads with
//! [`EventLog::read_after_scanned`], which also reports how far it looked, so it moves past
//! non-matching events (up to the newest event behind the commit fence) without skipping a
//! matching one. A consumer that starts "from now" instead of replaying history subscribes from
//! [`EventLog::tail`].
//!
//! Positions survive a crash and a failover to a synchronous standby: the PostgreSQL backend
//! never reports a position beyond the newest committed event behind the fence, because
//! transaction ids above it may be handed out again after a crash (see
//! `crates/gridstore/tests/failover_primitives.rs` and `docs/SCALING.md`).
//!
//! # Transactional outbox
//!
//! The trait's [`EventLog::append`] commits on its own. To append in the same transaction as
//! other writes, use the backend's own entry point, which keeps driver types out of the trait:
//! `PgEventLog::append_in(&transaction, ..)` on PostgreSQL, and
//! [`MemoryEventLog::append_sync`](crate::memory::MemoryEventLog::append_sync) on memory, which
//! appends without an `.await` so a store can call it inside its own critical section.
//!
//! # Semantic choices
//!
//! - `limit = 0` in [`EventLog::query`] and [`EventLog::read_after`] returns no events.
//! - Appending an empty batch is a no-op that returns no positions.
//! - Payloads follow the [payload rules](crate::payload); no text field may contain NUL.
//! - `recorded_at` is stamped by the backend (the database clock on PostgreSQL), truncated to
//!   milliseconds. Callers cannot back-date events: partitions are by month of `recorded_at`.
//! - [`EventFilter::contains`] is JSON containment (PostgreSQL `@>`): objects match when every
//!   key of the filter is present with a contained value, arrays when every filter element is
//!   contained in some element, scalars when equal.
//! - [`EventFilter::text`] is a full-text match over the string values of the payload with the
//!   `simple` configuration (no stemming, case-insensitive): every word of the text must occur
//!   as a word of some string value. Words are runs of letters and digits.
//! - [`EventLog::drop_months_before`] removes whole calendar months (UTC) strictly before the
//!   month containing the given instant; it never touches the current month of that instant.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use gridstore::memory::MemoryEventLog;
//! use gridstore::{EventFilter, EventLog, NewEvent, Subscription, SubscriptionOptions};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> gridstore::Result<()> {
//! let log: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new());
//! log.append(vec![
//!     NewEvent::new("job-1", "step.started", json!({"step": 1})),
//!     NewEvent::new("job-1", "step.completed", json!({"step": 1})).with_correlation_id("c-9"),
//! ])
//! .await?;
//!
//! // A consumer resumes from the position it saved last time (here: the beginning).
//! let saved = None;
//! let filter = EventFilter::all().stream("job-1");
//! let mut sub = Subscription::new(log.clone(), saved, filter, SubscriptionOptions::default());
//! let batch = sub.next_batch().await?;
//! assert_eq!(batch.len(), 2);
//! let checkpoint = sub.position().to_string(); // persist this after processing the batch
//! assert!(!checkpoint.is_empty());
//! # Ok(())
//! # }
//! ```

mod position;
mod subscription;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{Error, Payload, Result};

pub use position::EventPosition;
pub use subscription::{ScannedBatch, Subscription, SubscriptionOptions, Wakeups};

/// An event to append.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// The stream (job id) the event belongs to.
    pub stream: String,
    /// The event's type, e.g. `"step.completed"`.
    pub event_type: String,
    /// Correlates events across streams.
    pub correlation_id: Option<String>,
    /// The event's JSON payload: a [`Value`], or text encoded once ([`Payload::encode`]).
    pub payload: Payload,
}

impl NewEvent {
    /// Builds an event without a correlation id.
    pub fn new(
        stream: impl Into<String>,
        event_type: impl Into<String>,
        payload: impl Into<Payload>,
    ) -> Self {
        Self {
            stream: stream.into(),
            event_type: event_type.into(),
            correlation_id: None,
            payload: payload.into(),
        }
    }

    /// Sets the correlation id.
    #[must_use]
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }
}

/// A stored event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Where the event sits in commit order.
    pub position: EventPosition,
    /// The stream (job id) the event belongs to.
    pub stream: String,
    /// The event's type.
    pub event_type: String,
    /// Correlates events across streams.
    pub correlation_id: Option<String>,
    /// The event's JSON payload.
    pub payload: Value,
    /// When the backend recorded the event (millisecond precision).
    pub recorded_at: DateTime<Utc>,
}

/// Which events a query, count, aggregate or subscription selects; every set field must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventFilter {
    /// Only this stream.
    pub stream: Option<String>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this correlation id.
    pub correlation_id: Option<String>,
    /// Only events recorded at or after this instant.
    pub recorded_from: Option<DateTime<Utc>>,
    /// Only events recorded strictly before this instant.
    pub recorded_before: Option<DateTime<Utc>>,
    /// Only events whose payload contains this JSON value (see the module docs).
    pub contains: Option<Value>,
    /// Only events whose payload's string values contain every word of this text.
    pub text: Option<String>,
}

impl EventFilter {
    /// A filter that matches every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Restricts to one stream.
    #[must_use]
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = Some(stream.into());
        self
    }

    /// Restricts to one event type.
    #[must_use]
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Restricts to one correlation id.
    #[must_use]
    pub fn correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// Restricts to events recorded in `[from, before)`; either bound may be open.
    #[must_use]
    pub fn recorded_between(
        mut self,
        from: Option<DateTime<Utc>>,
        before: Option<DateTime<Utc>>,
    ) -> Self {
        self.recorded_from = from;
        self.recorded_before = before;
        self
    }

    /// Restricts to payloads containing `value`.
    #[must_use]
    pub fn contains(mut self, value: Value) -> Self {
        self.contains = Some(value);
        self
    }

    /// Restricts to payloads matching a full-text search.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }
}

/// Per-stream aggregate of the events selected by a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamStats {
    /// The stream (job id).
    pub stream: String,
    /// How many events it has.
    pub count: u64,
    /// How many events of each type it has.
    pub by_type: BTreeMap<String, u64>,
    /// When its earliest event was recorded.
    pub first_recorded_at: DateTime<Utc>,
    /// When its latest event was recorded.
    pub last_recorded_at: DateTime<Utc>,
}

/// An append-only event log. See the [module docs](self) for the semantics.
#[async_trait]
pub trait EventLog: Send + Sync + fmt::Debug + 'static {
    /// Appends a batch atomically (all or nothing) and returns the positions in batch order.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a stream or event type is empty; backend errors otherwise.
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<EventPosition>>;

    /// Returns up to `limit` committed events matching `filter` with a position after `after`
    /// (all when `None`), in position order. Not fenced: use [`EventLog::read_after`] to follow
    /// the log.
    async fn query(
        &self,
        filter: &EventFilter,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<Event>>;

    /// Counts the events matching `filter`.
    async fn count(&self, filter: &EventFilter) -> Result<u64>;

    /// Aggregates the events matching `filter` per stream, ordered by stream.
    async fn aggregate(&self, filter: &EventFilter) -> Result<Vec<StreamStats>>;

    /// Removes every event of the calendar months (UTC) strictly before the month of `before`;
    /// returns how many events were removed.
    async fn drop_months_before(&self, before: DateTime<Utc>) -> Result<u64>;

    /// The fenced read behind subscriptions: up to `limit` events matching `filter` after
    /// `after`, in position order, never returning an event behind which another one could
    /// still commit.
    async fn read_after(
        &self,
        after: EventPosition,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>>;

    /// [`EventLog::read_after`], also reporting how far the read looked: every event matching
    /// `filter` with a position in `(after, scanned]` is in the batch, and no event can appear
    /// there later. Subscriptions continue from `scanned`, so a filtered subscription does not
    /// re-read the non-matching events it already passed. The default reports the last
    /// returned position (or `after`); backends that know their commit fence report up to it.
    async fn read_after_scanned(
        &self,
        after: EventPosition,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<ScannedBatch> {
        let events = self.read_after(after, filter, limit).await?;
        let scanned = events.last().map_or(after, |e| e.position);
        Ok(ScannedBatch { events, scanned })
    }

    /// The current tail of the log: a position to subscribe from so that a subscription
    /// delivers every event committed after this call (and possibly a few committed shortly
    /// before it, never one out of order or twice). Used by consumers that start "from now"
    /// instead of replaying history.
    ///
    /// The default asks [`EventLog::read_after_scanned`] how far a read that matches nothing
    /// (the empty stream, which no event can have) may look, which is up to the commit fence;
    /// backends may answer more directly.
    async fn tail(&self) -> Result<EventPosition> {
        let nothing = EventFilter::all().stream("");
        let batch = self
            .read_after_scanned(EventPosition::START, &nothing, 1)
            .await?;
        Ok(batch.scanned)
    }

    /// A wake-up signal for subscribers (a hint; see [`Wakeups`]).
    fn wakeups(&self) -> Wakeups;
}

/// Validates a batch before any backend touches it.
pub(crate) fn validate_batch(events: &[NewEvent]) -> Result<()> {
    for event in events {
        validate_header(
            &event.stream,
            &event.event_type,
            event.correlation_id.as_deref(),
        )?;
        event.payload.check_storable()?;
    }
    Ok(())
}

/// Validates an event's stream, type and correlation id (everything but the payload).
pub(crate) fn validate_header(
    stream: &str,
    event_type: &str,
    correlation_id: Option<&str>,
) -> Result<()> {
    if stream.is_empty() {
        return Err(Error::InvalidInput("event stream must not be empty".into()));
    }
    if event_type.is_empty() {
        return Err(Error::InvalidInput("event type must not be empty".into()));
    }
    let texts = [Some(stream), Some(event_type), correlation_id];
    if texts.into_iter().flatten().any(|t| t.contains('\0')) {
        return Err(Error::InvalidInput(
            "event stream, type and correlation id must not contain the nul character".into(),
        ));
    }
    Ok(())
}
