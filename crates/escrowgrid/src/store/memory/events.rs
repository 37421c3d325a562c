//! The position events of the memory backend as rendered payloads: the memory store keeps each
//! position version and ledger event it writes anyway (shared through an `Arc`), so its event
//! log keeps only a handle on them (event id, the snapshot) and renders the payload when the
//! event is read, from the same [`Envelope`] as the outbox's encoded payloads, so the JSON is the
//! same.
//!
//! A snapshot never changes: a transition stores a new `Arc<PositionRow>`, the one an earlier
//! event holds stays as it was.
//!
//! The payloads are storable by construction ([`RenderPayload::storable_by_construction`]):
//! typed data serialized by serde_json is JSON, and the free text a write adds to its events
//! (holder and external references, the request id, a transition's reason and metadata) is
//! checked for the nul character before the append ([`check_created`], [`check_transition`],
//! the log's rule and error), so release builds skip rendering each event once at append.

use std::sync::Arc;

use gridstore::memory::{MemoryEvent, MemoryPayload, RenderPayload};
use serde::Serialize;

use serde_json::Value;

use crate::domain::{Position, PositionLifecycleEvent, PositionState};
use crate::{Error, Result};

use super::compact::LedgerRow;
use super::position_row::PositionRow;

use crate::store::outbox::{Envelope, EventId, EventType, StateChange, stream_of};

/// A position event whose payload is rendered on read.
#[derive(Debug)]
pub(super) enum Rendered {
    /// `position.created`: the position as created (state `CREATED`, no events).
    PositionCreated {
        id: EventId,
        position: Arc<PositionRow>,
    },
    /// `position.state_changed`: the position after the change, which is its last event.
    StateChanged {
        id: EventId,
        position: Arc<PositionRow>,
        from: PositionState,
    },
    /// `ledger_event.recorded`.
    LedgerRecorded { id: EventId, ledger: Arc<LedgerRow> },
}

impl RenderPayload for Rendered {
    fn render(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Self::PositionCreated { id, position } => {
                let position = position.position();
                let kind = EventType::PositionCreated;
                write(out, *id, kind, &position, position.created_at, &position)
            }
            Self::StateChanged { id, position, from } => {
                let position = &position.position();
                let change = StateChange {
                    position,
                    from_state: *from,
                    to_state: position.state,
                    reason: position.events.last().and_then(|e| e.reason.as_deref()),
                };
                let kind = EventType::PositionStateChanged;
                write(out, *id, kind, position, position.updated_at, change)
            }
            Self::LedgerRecorded { id, ledger } => {
                let ledger = ledger.event();
                let envelope = Envelope {
                    id: *id,
                    kind: EventType::LedgerEventRecorded.as_str(),
                    institution_id: ledger.institution_id.as_str(),
                    occurred_at: ledger.at,
                    data: &ledger,
                };
                serde_json::to_writer(out, &envelope)
            }
        }
    }

    /// True: see the module docs. Each payload is built by the functions below, called by
    /// the writes after [`check_created`] or [`check_transition`] accepted its free text.
    fn storable_by_construction(&self) -> bool {
        true
    }
}

/// The log's error for a payload holding the nul character (PostgreSQL's `jsonb` cannot).
fn nul_error() -> Error {
    Error::from(gridstore::Error::InvalidInput(
        "json payload must not contain the nul character".into(),
    ))
}

fn reject_nul(text: Option<&str>) -> Result<()> {
    match text {
        Some(text) if text.contains('\0') => Err(nul_error()),
        _ => Ok(()),
    }
}

/// Checks the free text the events of a new position render (its references and the
/// request id of its ledger payload) for the nul character, as the log would at append.
///
/// # Errors
/// The log's `InvalidInput` error when one holds it.
pub(super) fn check_created(position: &Position, request_id: Option<&str>) -> Result<()> {
    reject_nul(Some(&position.holder_reference))?;
    reject_nul(position.external_reference.as_deref())?;
    reject_nul(request_id)
}

/// [`check_created`] for a transition: the new lifecycle event's reason and metadata (the
/// position's earlier events were checked when they were applied).
///
/// # Errors
/// The log's `InvalidInput` error when one holds it.
pub(super) fn check_transition(event: &PositionLifecycleEvent) -> Result<()> {
    reject_nul(event.reason.as_deref())?;
    let mut pending = Vec::new();
    for (key, value) in event.metadata.iter().flatten() {
        reject_nul(Some(key))?;
        pending.push(value);
    }
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) => reject_nul(Some(text))?,
            Value::Array(items) => pending.extend(items),
            Value::Object(fields) => {
                for (key, item) in fields {
                    reject_nul(Some(key))?;
                    pending.push(item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    Ok(())
}

fn write<T: Serialize>(
    out: &mut Vec<u8>,
    id: EventId,
    kind: EventType,
    position: &Position,
    occurred_at: chrono::DateTime<chrono::Utc>,
    data: T,
) -> serde_json::Result<()> {
    let envelope = Envelope {
        id,
        kind: kind.as_str(),
        institution_id: position.institution_id.as_str(),
        occurred_at,
        data,
    };
    serde_json::to_writer(out, &envelope)
}

fn memory_event(kind: EventType, position: &PositionRow, payload: Rendered) -> MemoryEvent {
    MemoryEvent {
        stream: stream_of(position.institution_id()),
        event_type: kind.as_str().to_owned(),
        correlation_id: Some(position.id().to_string()),
        payload: MemoryPayload::Rendered(Arc::new(payload)),
    }
}

fn ledger_recorded(position: &PositionRow, ledger: &Arc<LedgerRow>) -> MemoryEvent {
    let payload = Rendered::LedgerRecorded {
        id: EventId::new(),
        ledger: Arc::clone(ledger),
    };
    memory_event(EventType::LedgerEventRecorded, position, payload)
}

/// `position.created`, then `ledger_event.recorded`, as
/// [`crate::store::outbox::position_created`], rendered on read from `position` (the new
/// position) and `ledger` (its ledger event).
#[must_use]
pub(super) fn position_created(
    position: &Arc<PositionRow>,
    ledger: &Arc<LedgerRow>,
) -> Vec<MemoryEvent> {
    let created = Rendered::PositionCreated {
        id: EventId::new(),
        position: Arc::clone(position),
    };
    vec![
        memory_event(EventType::PositionCreated, position, created),
        ledger_recorded(position, ledger),
    ]
}

/// `position.state_changed`, then `ledger_event.recorded`, as
/// [`crate::store::outbox::position_state_changed`]: `position` is the position after the
/// change (its last lifecycle event is the change), `from` the state before.
#[must_use]
pub(super) fn position_state_changed(
    position: &Arc<PositionRow>,
    from: PositionState,
    ledger: &Arc<LedgerRow>,
) -> Vec<MemoryEvent> {
    let changed = Rendered::StateChanged {
        id: EventId::new(),
        position: Arc::clone(position),
        from,
    };
    vec![
        memory_event(EventType::PositionStateChanged, position, changed),
        ledger_recorded(position, ledger),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::{AuditContext, Currency, InstitutionId, LifecycleEventId, NewPosition};
    use crate::store::{outbox, records};

    /// The payload of a rendered event, parsed.
    fn parsed(event: &MemoryEvent) -> Value {
        let MemoryPayload::Rendered(source) = &event.payload else {
            panic!("a position event is rendered");
        };
        let mut text = Vec::new();
        source.render(&mut text).expect("renders");
        serde_json::from_slice(&text).expect("renders JSON")
    }

    /// A payload without its (random) event id, which must be there.
    fn without_id(mut payload: Value) -> Value {
        let id = payload["id"].take();
        assert!(id.as_str().is_some_and(|id| id.starts_with("evt_")), "{id}");
        payload
    }

    #[test]
    fn the_free_text_of_position_events_is_checked_for_the_nul_character_as_the_log_does() {
        let at = crate::domain::now_millis();
        let position = |holder: &str, external: Option<&str>| Position {
            id: crate::domain::PositionId::new(),
            institution_id: InstitutionId::new(),
            asset_id: crate::domain::AssetId::new(),
            holder_reference: holder.into(),
            currency: Currency::USD,
            amount: "1".parse().expect("an amount"),
            state: PositionState::Created,
            external_reference: external.map(str::to_owned),
            created_at: at,
            updated_at: at,
            events: Arc::default(),
            version: 1,
        };
        let log_error = Error::from(gridstore::Error::InvalidInput(
            "json payload must not contain the nul character".into(),
        ));
        assert!(check_created(&position("h", Some("e")), Some("r")).is_ok());
        for (holder, external, request) in [
            ("h\0", None, None),
            ("h", Some("e\0"), None),
            ("h", None, Some("r\0")),
        ] {
            let err = check_created(&position(holder, external), request).expect_err("a nul");
            assert_eq!(err.to_string(), log_error.to_string());
        }
        let applied = |reason: &str, metadata: Value| {
            crate::lifecycle::apply(
                &position("h", None),
                PositionState::Funded,
                Some(reason.into()),
                metadata.as_object().cloned(),
                at,
                LifecycleEventId::new(),
            )
            .expect("allowed")
            .expect("a change")
            .event
        };
        assert!(check_transition(&applied("r", json!({"k": [{"a": "b"}]}))).is_ok());
        assert!(check_transition(&applied("r\0", json!({}))).is_err());
        assert!(check_transition(&applied("r", json!({"k\u{0}": 1}))).is_err());
        assert!(check_transition(&applied("r", json!({"k": [{"a\u{0}": 1}]}))).is_err());
        assert!(check_transition(&applied("r", json!({"k": [1, {"a": "b\u{0}"}]}))).is_err());
    }

    #[test]
    fn rendered_position_events_are_the_same_json_as_the_value_payloads() {
        let new = NewPosition {
            institution_id: InstitutionId::new(),
            asset_id: crate::domain::AssetId::new(),
            holder_reference: "holder-1".into(),
            currency: Currency::USD,
            amount: "1234.56780000".parse().expect("an amount"),
            external_reference: Some("ext \"quoted\"".into()),
        };
        let audit = AuditContext {
            request_id: Some("req-1".into()),
            ..AuditContext::default()
        };
        let at = crate::domain::now_millis();
        let (position, ledger, _) = records::position(new, &audit, at);
        let values = outbox::position_created(&position, &ledger).expect("serializes");
        let hash = ledger.hash.clone();
        let mut shared = super::super::packed::Shared::default();
        let row = Arc::new(PositionRow::new(&position, &mut shared));
        let payload = super::super::compact::Payload::created(&row, Some("req-1"));
        let ledger = Arc::new(LedgerRow::new(&ledger, payload, None, &mut shared));
        let rendered = position_created(&row, &ledger);
        assert_eq!(rendered.len(), values.len());
        for (rendered, value) in rendered.iter().zip(&values) {
            assert_eq!(rendered.stream, value.stream);
            assert_eq!(rendered.event_type, value.event_type);
            assert_eq!(rendered.correlation_id, value.correlation_id);
            assert_eq!(
                without_id(parsed(rendered)),
                without_id(value.payload.to_value())
            );
        }

        let metadata = json!({"k": [1.50, "v"]}).as_object().cloned();
        let applied = crate::lifecycle::apply(
            &position,
            PositionState::Funded,
            Some("wire received".into()),
            metadata,
            at,
            LifecycleEventId::new(),
        )
        .expect("allowed")
        .expect("a change");
        let (ledger, _) = records::transition(&applied, &audit, hash);
        let values = outbox::position_state_changed(&applied, &ledger).expect("serializes");
        let payload = super::super::compact::Payload::text(&ledger.payload);
        let ledger = Arc::new(LedgerRow::new(&ledger, payload, None, &mut shared));
        let after = Arc::new(PositionRow::new(&applied.position, &mut shared));
        let rendered = position_state_changed(&after, applied.from, &ledger);
        for (rendered, value) in rendered.iter().zip(&values) {
            assert_eq!(rendered.event_type, value.event_type);
            assert_eq!(rendered.correlation_id, value.correlation_id);
            assert_eq!(
                without_id(parsed(rendered)),
                without_id(value.payload.to_value())
            );
        }
        assert_eq!(parsed(&rendered[0])["data"]["reason"], "wire received");
        assert_eq!(
            parsed(&rendered[0])["data"]["position"]["id"],
            applied.position.id.as_str()
        );
    }
}
