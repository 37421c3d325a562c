//! Ledger events as the memory store keeps them: ids and hashes packed ([`super::packed`]),
//! the institution shared, and the payload as JSON text (a parsed `serde_json::Value` object
//! costs about ten times its text in heap blocks: a B-tree node, and one block per key,
//! string and number with `arbitrary_precision`), or, for a created position, as the position
//! it is made from ([`Payload::Created`]). The payload is made again when the event is read;
//! every round trip is exact.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{InstitutionId, LedgerEvent, LedgerEventKind, PositionState};
use crate::store::records;

use super::packed::{Digest, Packed, Shared};
use super::position_row::PositionRow;

/// A ledger event's payload as kept.
#[derive(Debug)]
pub(super) enum Payload {
    /// Its JSON text.
    Text(Box<str>),
    /// [`records::created_ledger_payload`] of the position as created, under the request
    /// `request_id`: the payload of its `POSITION_CREATED` event, made again when read.
    Created {
        position: Arc<PositionRow>,
        request_id: Option<Packed>,
    },
}

impl Payload {
    /// The payload `value`, kept as text.
    pub(super) fn text(value: &Value) -> Self {
        Self::Text(text(value))
    }

    /// The payload of `position`'s `POSITION_CREATED` event under the request `request_id`
    /// (as [`records::position`] makes it).
    pub(super) fn created(position: &Arc<PositionRow>, request_id: Option<&str>) -> Self {
        Self::Created {
            position: Arc::clone(position),
            request_id: request_id.map(Packed::new),
        }
    }

    fn value(&self) -> Value {
        match self {
            Self::Text(text) => parse(text),
            Self::Created {
                position,
                request_id,
            } => {
                let request_id = request_id.as_ref().map(ToString::to_string);
                records::created_ledger_payload(&position.position(), request_id.as_deref())
            }
        }
    }
}

/// A ledger event, compact.
#[derive(Debug)]
pub(super) struct LedgerRow {
    id: Packed,
    position_id: Packed,
    institution_id: Arc<InstitutionId>,
    at: DateTime<Utc>,
    kind: LedgerEventKind,
    previous_state: Option<PositionState>,
    new_state: PositionState,
    /// The index of the previous ledger event of the same position, if any.
    previous: Option<u32>,
    payload: Payload,
    hash: Option<Digest>,
    previous_hash: Option<Digest>,
}

impl LedgerRow {
    /// The row of `event` with its payload kept as `payload`, the event of a position whose
    /// previous event is the `previous`-th of the ledger.
    pub(super) fn new(
        event: &LedgerEvent,
        payload: Payload,
        previous: Option<u32>,
        shared: &mut Shared,
    ) -> Self {
        let row = Self {
            id: Packed::new(event.id.as_str()),
            position_id: Packed::new(event.position_id.as_str()),
            institution_id: shared.institutions.value(&event.institution_id),
            at: event.at,
            kind: event.kind,
            previous_state: event.previous_state,
            new_state: event.new_state,
            previous,
            payload,
            hash: event.hash.as_deref().map(Digest::new),
            previous_hash: event.previous_hash.as_deref().map(Digest::new),
        };
        debug_assert_eq!(row.payload.value(), event.payload, "payload kept as made");
        row
    }

    /// The position's id.
    pub(super) fn position_id(&self) -> &Packed {
        &self.position_id
    }

    /// The position's institution.
    pub(super) fn institution_id(&self) -> &InstitutionId {
        &self.institution_id
    }

    /// The index of the previous ledger event of the same position.
    pub(super) fn previous(&self) -> Option<u32> {
        self.previous
    }

    /// The event's hash.
    pub(super) fn hash(&self) -> Option<String> {
        self.hash.as_ref().map(ToString::to_string)
    }

    /// The event's checkpoint leaf, as [`crate::ledger::checkpoint::leaf`] makes it: its hash,
    /// or `id:` and its id when it has none.
    pub(super) fn leaf(&self) -> String {
        self.hash().unwrap_or_else(|| format!("id:{}", self.id))
    }

    /// The whole event.
    pub(super) fn event(&self) -> LedgerEvent {
        LedgerEvent {
            id: self.id.to_id(),
            kind: self.kind,
            position_id: self.position_id.to_id(),
            institution_id: InstitutionId::clone(&self.institution_id),
            at: self.at,
            previous_state: self.previous_state,
            new_state: self.new_state,
            payload: self.payload.value(),
            hash: self.hash(),
            previous_hash: self.previous_hash.as_ref().map(ToString::to_string),
        }
    }
}

/// A payload's JSON text.
pub(super) fn text(value: &Value) -> Box<str> {
    value.to_string().into_boxed_str()
}

/// A payload from its JSON text.
pub(super) fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("a stored payload is the JSON text of a value")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{LedgerEventId, PositionId};
    use crate::ledger::checkpoint;

    #[test]
    fn a_ledger_row_gives_back_its_event_exactly() {
        let payload =
            json!({"amount": 1.50, "big": 12345678901234567890.12345678, "s": "é\"", "n": null});
        let mut shared = Shared::default();
        let mut ledger = LedgerEvent {
            id: LedgerEventId::new(),
            kind: LedgerEventKind::PositionCreated,
            position_id: PositionId::new(),
            institution_id: InstitutionId::new(),
            at: crate::domain::now_millis(),
            previous_state: Some(PositionState::Created),
            new_state: PositionState::Funded,
            payload: payload.clone(),
            hash: Some("ab".repeat(32)),
            previous_hash: Some("cd".repeat(32)),
        };
        let row = LedgerRow::new(
            &ledger,
            Payload::text(&ledger.payload),
            Some(7),
            &mut shared,
        );
        assert_eq!(row.event(), ledger);
        assert_eq!(row.event().payload.to_string(), payload.to_string());
        assert_eq!(row.previous(), Some(7));
        assert_eq!(row.leaf(), checkpoint::leaf(&ledger));
        assert!(row.position_id().is(ledger.position_id.as_str()));

        // Text in no packed shape (data from elsewhere) comes back as it was.
        ledger.id = serde_json::from_value(json!("led_1")).unwrap();
        ledger.hash = None;
        ledger.previous_hash = Some("not hex".into());
        let odd = LedgerRow::new(&ledger, Payload::text(&ledger.payload), None, &mut shared);
        assert_eq!(odd.event(), ledger);
        assert_eq!(odd.leaf(), checkpoint::leaf(&ledger));
        assert!(Arc::ptr_eq(&odd.institution_id, &row.institution_id));
    }

    #[test]
    fn a_created_positions_ledger_payload_is_made_again_from_the_position() {
        let mut shared = Shared::default();
        for (request_id, external_reference) in [(Some("req-1"), None), (None, Some("ext \"q\""))] {
            let new = crate::domain::NewPosition {
                institution_id: InstitutionId::new(),
                asset_id: crate::domain::AssetId::new(),
                holder_reference: "holder-1".into(),
                currency: crate::domain::Currency::USD,
                amount: "1234.56780000".parse().unwrap(),
                external_reference: external_reference.map(str::to_owned),
            };
            let audit = crate::domain::AuditContext {
                request_id: request_id.map(str::to_owned),
                ..crate::domain::AuditContext::default()
            };
            let (position, ledger, _) = records::position(new, &audit, crate::domain::now_millis());
            let position = Arc::new(PositionRow::new(&position, &mut shared));
            let payload = Payload::created(&position, request_id);
            let row = LedgerRow::new(&ledger, payload, None, &mut shared);
            assert_eq!(row.event(), ledger);
            assert_eq!(row.event().payload.to_string(), ledger.payload.to_string());
        }
    }
}
