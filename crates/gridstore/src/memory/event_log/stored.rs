//! What the memory log keeps per event: interned stream and type names, and the payload as
//! JSON text or as a [`RenderPayload`] that writes the text again when the event is read.
//!
//! A rendered payload lets a caller that already keeps the data of an event (a store keeping
//! the entity the event describes) append the event without a second copy of that data: the
//! log keeps a small handle and renders the JSON only when the event is read.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::event_log::{Event, EventPosition, NewEvent};
use crate::payload::check_text;
use crate::{Error, Payload, Result};

/// A payload rendered on every read instead of kept as text (see
/// [`MemoryEventLog::append_events_sync`](super::MemoryEventLog::append_events_sync)).
///
/// `render` must write the same JSON text every time it is called (the data it renders must
/// not change after the append): readers see the event as it was appended.
pub trait RenderPayload: Send + Sync + fmt::Debug {
    /// Writes the payload's JSON text to `out`.
    ///
    /// # Errors
    /// Only if the payload cannot be serialized.
    fn render(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;

    /// Whether `render` is known to write JSON without the nul character, so the log need not
    /// render the payload at append to check it: true only when that holds by construction
    /// (typed data serialized by serde_json, its free text checked for the nul character by
    /// the caller before the append). The default, false, renders once at append and checks.
    /// Debug builds render and check either way.
    fn storable_by_construction(&self) -> bool {
        false
    }
}

/// The payload of a [`MemoryEvent`].
#[derive(Debug, Clone)]
pub enum MemoryPayload {
    /// A JSON payload (a value or encoded text), kept as its compact text.
    Json(Payload),
    /// A payload rendered when read; the log keeps only the handle.
    Rendered(Arc<dyn RenderPayload>),
}

/// An event to append to a [`MemoryEventLog`](super::MemoryEventLog): a [`NewEvent`] whose
/// payload may be rendered on read.
#[derive(Debug, Clone)]
pub struct MemoryEvent {
    /// The stream the event belongs to.
    pub stream: String,
    /// The event's type.
    pub event_type: String,
    /// Correlates events across streams.
    pub correlation_id: Option<String>,
    /// The payload.
    pub payload: MemoryPayload,
}

impl From<NewEvent> for MemoryEvent {
    fn from(event: NewEvent) -> Self {
        Self {
            stream: event.stream,
            event_type: event.event_type,
            correlation_id: event.correlation_id,
            payload: MemoryPayload::Json(event.payload),
        }
    }
}

impl MemoryEvent {
    /// Checks the event as [`NewEvent`]s are checked, then turns its payload into what the
    /// log keeps: a value's text, or a rendered payload after rendering it once to check it
    /// (except, in release builds, one [`RenderPayload::storable_by_construction`]).
    pub(super) fn checked_payload(&self) -> Result<StoredPayload> {
        crate::event_log::validate_header(
            &self.stream,
            &self.event_type,
            self.correlation_id.as_deref(),
        )?;
        match &self.payload {
            MemoryPayload::Json(payload) => {
                payload.check_storable()?;
                Ok(StoredPayload::Text(payload.to_text()?))
            }
            MemoryPayload::Rendered(source) => {
                let by_construction = source.storable_by_construction();
                if by_construction && !cfg!(debug_assertions) {
                    return Ok(StoredPayload::Rendered(Arc::clone(source)));
                }
                let checked = check_rendered(source.as_ref());
                assert!(
                    !by_construction || checked.is_ok(),
                    "a payload storable by construction failed its check: {checked:?}"
                );
                checked?;
                Ok(StoredPayload::Rendered(Arc::clone(source)))
            }
        }
    }
}

/// Renders `source` once and checks the text: JSON without the nul character, readable back.
fn check_rendered(source: &dyn RenderPayload) -> Result<()> {
    let mut text = Vec::with_capacity(1024);
    source.render(&mut text).map_err(unserializable)?;
    check_text(&text)?;
    serde_json::from_slice::<serde::de::IgnoredAny>(&text).map_err(unserializable)?;
    Ok(())
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` hands over
fn unserializable(e: serde_json::Error) -> Error {
    Error::InvalidInput(format!("payload does not serialize: {e}"))
}

/// A payload as the log keeps it.
#[derive(Debug)]
pub(super) enum StoredPayload {
    Text(Box<str>),
    Rendered(Arc<dyn RenderPayload>),
}

/// Stream and type names, one shared copy each (every event of a stream repeats its name).
#[derive(Debug, Default)]
pub(super) struct Names(HashSet<Arc<str>>);

impl Names {
    pub(super) fn intern(&mut self, name: String) -> Arc<str> {
        if let Some(known) = self.0.get(name.as_str()) {
            return Arc::clone(known);
        }
        let name: Arc<str> = name.into();
        self.0.insert(Arc::clone(&name));
        name
    }
}

/// An event as the log keeps it.
#[derive(Debug)]
pub(super) struct Stored {
    pub(super) position: EventPosition,
    pub(super) stream: Arc<str>,
    pub(super) event_type: Arc<str>,
    pub(super) correlation_id: Option<Arc<str>>,
    pub(super) payload: StoredPayload,
    pub(super) recorded_at: DateTime<Utc>,
}

impl Stored {
    /// The payload, parsed from its text (kept, or rendered again).
    pub(super) fn payload(&self) -> Value {
        let parsed = match &self.payload {
            StoredPayload::Text(text) => serde_json::from_str(text),
            StoredPayload::Rendered(source) => {
                let mut text = Vec::with_capacity(1024);
                source
                    .render(&mut text)
                    .and_then(|()| serde_json::from_slice(&text))
            }
        };
        parsed.expect("a stored payload is checked at append, or storable by construction")
    }

    pub(super) fn to_event(&self) -> Event {
        Event {
            position: self.position,
            stream: self.stream.to_string(),
            event_type: self.event_type.to_string(),
            correlation_id: self.correlation_id.as_deref().map(str::to_owned),
            payload: self.payload(),
            recorded_at: self.recorded_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload of fixed text that claims to be storable by construction.
    #[derive(Debug)]
    struct Claimed(&'static str);

    impl RenderPayload for Claimed {
        fn render(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
            out.extend_from_slice(self.0.as_bytes());
            Ok(())
        }

        fn storable_by_construction(&self) -> bool {
            true
        }
    }

    fn claimed(text: &'static str) -> MemoryEvent {
        MemoryEvent {
            stream: "s".into(),
            event_type: "t".into(),
            correlation_id: None,
            payload: MemoryPayload::Rendered(Arc::new(Claimed(text))),
        }
    }

    #[test]
    fn a_payload_storable_by_construction_is_kept_and_rendered_on_read() {
        let log = super::super::MemoryEventLog::new();
        log.append_events_sync(vec![claimed(r#"{"a":[1,"b"]}"#)])
            .unwrap();
        let state = log.read();
        assert_eq!(
            state.events[0].payload(),
            serde_json::json!({"a": [1, "b"]})
        );
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "storable by construction failed its check")]
    fn a_broken_promise_of_a_storable_payload_panics_in_debug_builds() {
        let log = super::super::MemoryEventLog::new();
        let _ = log.append_events_sync(vec![claimed(r#"{"a":"\u0000"}"#)]);
    }

    #[test]
    fn a_stored_event_is_at_most_104_bytes_besides_its_payload() {
        assert!(
            std::mem::size_of::<Stored>() <= 104,
            "{}",
            std::mem::size_of::<Stored>()
        );
    }

    #[test]
    fn events_of_a_batch_share_one_copy_of_their_correlation_id() {
        let log = super::super::MemoryEventLog::new();
        let event = |correlation: Option<&str>| NewEvent {
            stream: "s".into(),
            event_type: "t".into(),
            correlation_id: correlation.map(str::to_owned),
            payload: Value::Object(serde_json::Map::new()).into(),
        };
        log.append_sync(vec![
            event(Some("c1")),
            event(Some("c1")),
            event(None),
            event(Some("c2")),
        ])
        .unwrap();
        log.append_sync(vec![event(Some("c1"))]).unwrap();
        let state = log.read();
        let ids: Vec<_> = state
            .events
            .iter()
            .map(|e| e.correlation_id.clone())
            .collect();
        let texts: Vec<_> = ids.iter().map(|id| id.as_deref()).collect();
        assert_eq!(
            texts,
            [Some("c1"), Some("c1"), None, Some("c2"), Some("c1")]
        );
        let same =
            |a: usize, b: usize| Arc::ptr_eq(ids[a].as_ref().unwrap(), ids[b].as_ref().unwrap());
        assert!(same(0, 1));
        assert!(!same(0, 4));
    }
}
