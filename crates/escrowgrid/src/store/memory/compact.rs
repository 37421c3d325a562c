//! Rows kept with their JSON payload as text: a parsed `serde_json::Value` object costs about
//! ten times its text in heap blocks (a B-tree node, and one block per key, string and number
//! with `arbitrary_precision`), and the store keeps a ledger event and an audit row for every
//! write. The payload is parsed again when the row is read; the text round trip is exact.

use serde_json::Value;

use crate::domain::{AuditEvent, LedgerEvent};

/// A ledger event with its payload as JSON text.
#[derive(Debug)]
pub(super) struct LedgerRow {
    /// The event, its payload `null`.
    header: LedgerEvent,
    payload: Box<str>,
}

impl LedgerRow {
    pub(super) fn new(mut event: LedgerEvent) -> Self {
        let payload = text(&std::mem::take(&mut event.payload));
        Self {
            header: event,
            payload,
        }
    }

    /// Every field but the payload (which reads `null` here).
    pub(super) fn header(&self) -> &LedgerEvent {
        &self.header
    }

    /// The whole event.
    pub(super) fn event(&self) -> LedgerEvent {
        LedgerEvent {
            payload: parse(&self.payload),
            ..self.header.clone()
        }
    }
}

/// An audit row with its payload as JSON text.
#[derive(Debug)]
pub(super) struct AuditRow {
    /// The row, its payload `None`.
    header: AuditEvent,
    payload: Option<Box<str>>,
}

impl AuditRow {
    pub(super) fn new(mut event: AuditEvent) -> Self {
        let payload = event.payload.take().map(|payload| text(&payload));
        Self {
            header: event,
            payload,
        }
    }

    /// Every field but the payload (which reads `None` here).
    pub(super) fn header(&self) -> &AuditEvent {
        &self.header
    }

    /// The whole row.
    pub(super) fn event(&self) -> AuditEvent {
        AuditEvent {
            payload: self.payload.as_deref().map(parse),
            ..self.header.clone()
        }
    }
}

fn text(value: &Value) -> Box<str> {
    value.to_string().into_boxed_str()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("a stored payload is the JSON text of a value")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{
        AuditAction, AuditContext, AuditOutcome, LedgerEventId, LedgerEventKind, PositionState,
    };

    #[test]
    fn rows_give_back_their_payloads_exactly() {
        let payload =
            json!({"amount": 1.50, "big": 12345678901234567890.12345678, "s": "é\"", "n": null});
        let ledger = LedgerEvent {
            id: LedgerEventId::new(),
            kind: LedgerEventKind::PositionCreated,
            position_id: crate::domain::PositionId::new(),
            institution_id: crate::domain::InstitutionId::new(),
            at: crate::domain::now_millis(),
            previous_state: None,
            new_state: PositionState::Created,
            payload: payload.clone(),
            hash: Some("ab".repeat(32)),
            previous_hash: None,
        };
        let row = LedgerRow::new(ledger.clone());
        assert_eq!(row.header().payload, Value::Null);
        assert_eq!(row.event(), ledger);
        assert_eq!(row.event().payload.to_string(), payload.to_string());

        let audit = AuditContext::default().event(
            AuditAction::PositionCreated,
            AuditOutcome::Success,
            None,
            Some(payload),
            crate::domain::now_millis(),
        );
        let row = AuditRow::new(audit.clone());
        assert_eq!(row.header().payload, None);
        assert_eq!(row.event(), audit);
        let without = AuditRow::new(AuditEvent {
            payload: None,
            ..audit
        });
        assert_eq!(without.event().payload, None);
    }
}
