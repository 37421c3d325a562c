//! In-memory [`EventLog`]: a vector under a lock, woken through a `watch` channel.
//!
//! Payloads are kept as compact JSON text and parsed again when read: a parsed `Value` costs
//! several times its text in heap blocks (one per key, string and number, with
//! `arbitrary_precision`), and a log keeps every event. The text round trip is exact. A caller
//! that keeps the data of its events anyway (a store) can append [`RenderPayload`]s instead
//! ([`MemoryEventLog::append_events_sync`]): the log then keeps a handle and renders the text
//! on read. Stream and type names are kept once each, shared by their events.
//!
//! Each append commits under the write lock, so the fence of [`EventLog::read_after`] is simply
//! "everything appended": positions are `(append number, global sequence)`.

mod stored;

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, SubsecRound, TimeZone, Utc};
use serde_json::Value;
use tokio::sync::watch;

use crate::event_log::{
    Event, EventFilter, EventLog, EventPosition, NewEvent, ScannedBatch, StreamStats, Wakeups,
};
use crate::metrics::record;
use crate::{Error, Result};

pub use stored::{MemoryEvent, MemoryPayload, RenderPayload};
use stored::{Names, Stored};

const PRIMITIVE: &str = "event_log";
const BACKEND: &str = "memory";

/// An in-memory event log; clone the `Arc` around it to share.
#[derive(Debug)]
pub struct MemoryEventLog {
    state: RwLock<State>,
    wake: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    events: Vec<Stored>,
    names: Names,
    last_tx: u64,
    last_seq: i64,
}

impl Default for MemoryEventLog {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryEventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            state: RwLock::new(State::default()),
            wake: watch::Sender::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a batch synchronously, atomically, and returns its positions: the same as
    /// [`EventLog::append`] without an `.await`, for callers that append while holding a lock
    /// of their own (a store's transactional outbox: the events are appended inside the
    /// store's critical section, after every check that could fail, so a failed write leaves
    /// no event and a committed one always has its events). Subscribers are woken on return.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a stream or event type is empty or a payload is not
    /// storable; nothing is appended then.
    pub fn append_sync(&self, events: Vec<NewEvent>) -> Result<Vec<EventPosition>> {
        self.append_events_sync(events.into_iter().map(MemoryEvent::from).collect())
    }

    /// [`MemoryEventLog::append_sync`] for events whose payloads may be
    /// [`MemoryPayload::Rendered`]: each such payload is rendered once here and checked like
    /// any other (it must be JSON without the nul character; release builds skip this for a
    /// payload [`RenderPayload::storable_by_construction`]), then only its handle is kept
    /// and it is rendered again whenever the event is read.
    ///
    /// # Errors
    /// As [`MemoryEventLog::append_sync`]; nothing is appended then.
    pub fn append_events_sync(&self, events: Vec<MemoryEvent>) -> Result<Vec<EventPosition>> {
        let started = Instant::now();
        let result = self.append_now(events);
        record(PRIMITIVE, "append", BACKEND, started, &result);
        result
    }

    fn append_now(&self, events: Vec<MemoryEvent>) -> Result<Vec<EventPosition>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let payloads = events
            .iter()
            .map(MemoryEvent::checked_payload)
            .collect::<Result<Vec<_>>>()?;
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.last_tx += 1;
        let tx_id = state.last_tx;
        let recorded_at = Utc::now().trunc_subsecs(3);
        let mut positions = Vec::with_capacity(events.len());
        // The events of one batch often share their correlation id: they share one copy.
        let mut correlation: Option<Arc<str>> = None;
        for (event, payload) in events.into_iter().zip(payloads) {
            state.last_seq += 1;
            let position = EventPosition::new(tx_id, state.last_seq);
            positions.push(position);
            let stream = state.names.intern(event.stream);
            let event_type = state.names.intern(event.event_type);
            let correlation_id = event.correlation_id.map(|id| match &correlation {
                Some(previous) if **previous == *id => Arc::clone(previous),
                _ => Arc::clone(correlation.insert(id.into())),
            });
            state.events.push(Stored {
                position,
                stream,
                event_type,
                correlation_id,
                payload,
                recorded_at,
            });
        }
        drop(state);
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
        Ok(positions)
    }

    fn select(&self, filter: &EventFilter, after: EventPosition, limit: usize) -> Vec<Event> {
        self.select_scanned(filter, after, limit).events
    }
}

impl MemoryEventLog {
    /// [`MemoryEventLog::select`], also reporting how far it looked: to the end of the log when
    /// it returned fewer than `limit` events (every append is committed).
    fn select_scanned(
        &self,
        filter: &EventFilter,
        after: EventPosition,
        limit: usize,
    ) -> ScannedBatch {
        if limit == 0 {
            return ScannedBatch {
                events: Vec::new(),
                scanned: after,
            };
        }
        let state = self.read();
        // Events are stored in position order: skip to the first one after the cursor.
        let start = state.events.partition_point(|e| e.position <= after);
        let events: Vec<Event> = state.events[start..]
            .iter()
            .filter(|e| matches(filter, e))
            .take(limit)
            .map(Stored::to_event)
            .collect();
        let scanned = if events.len() == limit {
            events.last().map_or(after, |e| e.position)
        } else {
            state.events.last().map_or(after, |e| e.position.max(after))
        };
        ScannedBatch { events, scanned }
    }
}

#[async_trait]
impl EventLog for MemoryEventLog {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<EventPosition>> {
        self.append_sync(events)
    }

    async fn query(
        &self,
        filter: &EventFilter,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let started = Instant::now();
        let result = Ok(self.select(filter, after.unwrap_or(EventPosition::START), limit));
        record(PRIMITIVE, "query", BACKEND, started, &result);
        result
    }

    async fn count(&self, filter: &EventFilter) -> Result<u64> {
        let started = Instant::now();
        let n = self
            .read()
            .events
            .iter()
            .filter(|e| matches(filter, e))
            .count();
        let result = Ok(n as u64);
        record(PRIMITIVE, "count", BACKEND, started, &result);
        result
    }

    async fn aggregate(&self, filter: &EventFilter) -> Result<Vec<StreamStats>> {
        let started = Instant::now();
        let mut per_stream: BTreeMap<String, StreamStats> = BTreeMap::new();
        for event in self.read().events.iter().filter(|e| matches(filter, e)) {
            let stats = per_stream
                .entry(event.stream.to_string())
                .or_insert_with(|| StreamStats {
                    stream: event.stream.to_string(),
                    count: 0,
                    by_type: BTreeMap::new(),
                    first_recorded_at: event.recorded_at,
                    last_recorded_at: event.recorded_at,
                });
            stats.count += 1;
            *stats
                .by_type
                .entry(event.event_type.to_string())
                .or_default() += 1;
            stats.first_recorded_at = stats.first_recorded_at.min(event.recorded_at);
            stats.last_recorded_at = stats.last_recorded_at.max(event.recorded_at);
        }
        let result = Ok(per_stream.into_values().collect());
        record(PRIMITIVE, "aggregate", BACKEND, started, &result);
        result
    }

    async fn drop_months_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let started = Instant::now();
        let result = month_start(before).map(|cutoff| {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            let len = state.events.len();
            state.events.retain(|e| e.recorded_at >= cutoff);
            (len - state.events.len()) as u64
        });
        record(PRIMITIVE, "drop_months_before", BACKEND, started, &result);
        result
    }

    async fn read_after(
        &self,
        after: EventPosition,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let started = Instant::now();
        let result = Ok(self.select(filter, after, limit));
        record(PRIMITIVE, "read_after", BACKEND, started, &result);
        result
    }

    async fn read_after_scanned(
        &self,
        after: EventPosition,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<ScannedBatch> {
        let started = Instant::now();
        let result = Ok(self.select_scanned(filter, after, limit));
        record(PRIMITIVE, "read_after", BACKEND, started, &result);
        result
    }

    async fn tail(&self) -> Result<EventPosition> {
        // Every append is committed: the tail is the last event.
        Ok(self
            .read()
            .events
            .last()
            .map_or(EventPosition::START, |e| e.position))
    }

    fn wakeups(&self) -> Wakeups {
        Wakeups::new(self.wake.subscribe())
    }
}

/// The first instant of the UTC month containing `at`.
fn month_start(at: DateTime<Utc>) -> Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
        .single()
        .ok_or_else(|| Error::InvalidInput(format!("no month start for {at}")))
}

/// Whether `event` passes every set field of `filter` (the payload is parsed only for the
/// payload conditions).
fn matches(filter: &EventFilter, event: &Stored) -> bool {
    let passes = filter.stream.as_deref().is_none_or(|s| s == &*event.stream)
        && filter
            .event_type
            .as_deref()
            .is_none_or(|t| t == &*event.event_type)
        && filter
            .correlation_id
            .as_deref()
            .is_none_or(|c| event.correlation_id.as_deref() == Some(c))
        && filter.recorded_from.is_none_or(|t| event.recorded_at >= t)
        && filter.recorded_before.is_none_or(|t| event.recorded_at < t);
    if !passes || (filter.contains.is_none() && filter.text.is_none()) {
        return passes;
    }
    let payload = event.payload();
    filter
        .contains
        .as_ref()
        .is_none_or(|c| json_contains(&payload, c))
        && filter
            .text
            .as_ref()
            .is_none_or(|t| text_matches(&payload, t))
}

/// JSON containment with PostgreSQL `@>` semantics (objects by key, arrays by element).
pub(crate) fn json_contains(value: &Value, pattern: &Value) -> bool {
    match (value, pattern) {
        (Value::Object(v), Value::Object(p)) => p
            .iter()
            .all(|(k, pv)| v.get(k).is_some_and(|vv| json_contains(vv, pv))),
        (Value::Array(v), Value::Array(p)) => {
            p.iter().all(|pv| v.iter().any(|vv| json_contains(vv, pv)))
        }
        (Value::Array(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        (v, p) => v == p,
    }
}

/// Full-text match: every word of `text` is a word of some string value of `payload`.
pub(crate) fn text_matches(payload: &Value, text: &str) -> bool {
    let mut words = std::collections::HashSet::new();
    collect_words(payload, &mut words);
    let wanted = split_words(text);
    !wanted.is_empty() && wanted.iter().all(|w| words.contains(w))
}

fn collect_words(value: &Value, words: &mut std::collections::HashSet<String>) {
    match value {
        Value::String(s) => words.extend(split_words(s)),
        Value::Array(items) => items.iter().for_each(|v| collect_words(v, words)),
        Value::Object(map) => map.values().for_each(|v| collect_words(v, words)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn split_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn containment_follows_postgres_rules() {
        let doc = json!({"a": 1, "tags": ["x", "y"], "n": {"b": true, "c": null}});
        assert!(json_contains(&doc, &json!({})));
        assert!(json_contains(&doc, &json!({"a": 1})));
        assert!(json_contains(&doc, &json!({"tags": ["y"]})));
        assert!(json_contains(&doc, &json!({"n": {"b": true}})));
        assert!(!json_contains(&doc, &json!({"a": 2})));
        assert!(!json_contains(&doc, &json!({"tags": ["z"]})));
        assert!(!json_contains(&doc, &json!({"missing": null})));
    }

    #[test]
    fn text_search_needs_every_word_in_string_values() {
        let doc = json!({"message": "Step finished successfully", "n": 42, "k": ["Disk-full"]});
        assert!(text_matches(&doc, "finished step"));
        assert!(text_matches(&doc, "disk"));
        assert!(!text_matches(&doc, "finished failed"));
        assert!(!text_matches(&doc, "42"));
        assert!(!text_matches(&doc, "message"));
        assert!(!text_matches(&doc, "  "));
    }
}
