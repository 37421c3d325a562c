//! Audit rows as the memory store keeps them: ids packed, the request's institution, API key,
//! method, path and client address shared with every other row that has them (see
//! [`super::packed`]), the payload as JSON text or, for a created position, as the position
//! it is made from. The store keeps one for every write.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKeyId, AuditAction, AuditError, AuditEvent, AuditOutcome, InstitutionId, ResourceType,
};
use crate::store::{AuditFilter, records};

use super::compact::{parse, text};
use super::packed::{Packed, Shared};
use super::position_row::PositionRow;

/// An audit row's payload as kept.
#[derive(Debug)]
enum Payload {
    /// Its JSON text.
    Text(Box<str>),
    /// [`records::created_audit_payload`] of the position as created.
    Created(Arc<PositionRow>),
}

/// An audit event, compact.
#[derive(Debug)]
pub(super) struct AuditRow {
    id: Packed,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    request_id: Option<Packed>,
    api_key_id: Option<Arc<ApiKeyId>>,
    institution_id: Option<Arc<InstitutionId>>,
    method: Arc<str>,
    path: Arc<str>,
    client_ip: Option<Arc<str>>,
    action: AuditAction,
    outcome: AuditOutcome,
    resource_type: Option<ResourceType>,
    status_code: Option<u16>,
    resource_id: Option<Packed>,
    payload: Option<Payload>,
    error: Option<Box<AuditError>>,
}

impl AuditRow {
    /// The row of `event`; `created` is the position whose creation it records, if it does
    /// (its payload is then made again from the position when read).
    pub(super) fn new(
        event: AuditEvent,
        created: Option<&Arc<PositionRow>>,
        shared: &mut Shared,
    ) -> Self {
        let payload = match (created, &event.payload) {
            (Some(position), Some(_)) => Some(Payload::Created(Arc::clone(position))),
            (_, payload) => payload.as_ref().map(|value| Payload::Text(text(value))),
        };
        let row = Self {
            id: Packed::new(event.id.as_str()),
            occurred_at: event.occurred_at,
            created_at: event.created_at,
            request_id: event.request_id.as_deref().map(Packed::new),
            api_key_id: event
                .api_key_id
                .as_ref()
                .map(|id| shared.api_keys.value(id)),
            institution_id: event
                .institution_id
                .as_ref()
                .map(|id| shared.institutions.value(id)),
            method: shared.text.text(&event.method),
            path: shared.text.text(&event.path),
            client_ip: event.client_ip.as_deref().map(|ip| shared.text.text(ip)),
            action: event.action,
            outcome: event.outcome,
            resource_type: event.resource_type,
            status_code: event.status_code,
            resource_id: event.resource_id.as_deref().map(Packed::new),
            payload,
            error: event.error.map(Box::new),
        };
        debug_assert_eq!(row.payload(), event.payload, "payload kept as made");
        row
    }

    fn payload(&self) -> Option<serde_json::Value> {
        self.payload.as_ref().map(|payload| match payload {
            Payload::Text(text) => parse(text),
            Payload::Created(position) => records::created_audit_payload(&position.position()),
        })
    }

    /// The acting institution.
    pub(super) fn institution_id(&self) -> Option<&InstitutionId> {
        self.institution_id.as_deref()
    }

    /// [`AuditFilter::accepts`] for this row, without building the event.
    pub(super) fn accepted_by(&self, filter: &AuditFilter) -> bool {
        filter
            .institution_id
            .as_ref()
            .is_none_or(|id| self.institution_id() == Some(id))
            && filter
                .api_key_id
                .as_ref()
                .is_none_or(|id| self.api_key_id.as_deref() == Some(id))
            && filter.action.is_none_or(|action| action == self.action)
            && filter.outcome.is_none_or(|outcome| outcome == self.outcome)
            && filter
                .resource_type
                .is_none_or(|kind| self.resource_type == Some(kind))
            && filter
                .resource_id
                .as_ref()
                .is_none_or(|id| self.resource_id.as_ref().is_some_and(|own| own.is(id)))
            && filter
                .occurred_from
                .is_none_or(|from| self.occurred_at >= from)
            && filter.occurred_to.is_none_or(|to| self.occurred_at <= to)
    }

    /// The whole event.
    pub(super) fn event(&self) -> AuditEvent {
        AuditEvent {
            id: self.id.to_id(),
            occurred_at: self.occurred_at,
            created_at: self.created_at,
            request_id: self.request_id.as_ref().map(ToString::to_string),
            api_key_id: self.api_key_id.as_deref().cloned(),
            institution_id: self.institution_id().cloned(),
            method: self.method.to_string(),
            path: self.path.to_string(),
            action: self.action,
            outcome: self.outcome,
            resource_type: self.resource_type,
            resource_id: self.resource_id.as_ref().map(ToString::to_string),
            payload: self.payload(),
            error: self.error.as_deref().cloned(),
            status_code: self.status_code,
            client_ip: self.client_ip.as_deref().map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::json;

    use super::*;
    use crate::domain::{AuditContext, PositionId};

    fn events() -> Vec<AuditEvent> {
        let at = crate::domain::now_millis();
        let context = AuditContext {
            request_id: Some("req-1".into()),
            api_key_id: Some(ApiKeyId::new()),
            institution_id: Some(InstitutionId::new()),
            method: "POST".into(),
            path: "/positions".into(),
            client_ip: Some("127.0.0.1".into()),
            id_seed: None,
        };
        let position = PositionId::new().into_string();
        let payload = json!({"amount": 1.50, "big": 12345678901234567890.12345678, "s": "é\""});
        let created = context.event(
            AuditAction::PositionCreated,
            AuditOutcome::Success,
            Some((ResourceType::Position, position)),
            Some(payload),
            at,
        );
        let failed = AuditEvent {
            request_id: Some(uuid::Uuid::new_v4().to_string()),
            error: Some(AuditError {
                code: Some("conflict".into()),
                message: "version conflict".into(),
                details: Some(json!({"expected": 1})),
            }),
            status_code: Some(409),
            outcome: AuditOutcome::Failure,
            occurred_at: at + TimeDelta::milliseconds(5),
            ..created.clone()
        };
        let anonymous = AuditContext::default().event(
            AuditAction::InstitutionCreated,
            AuditOutcome::Success,
            Some((ResourceType::Institution, "odd id".into())),
            None,
            at,
        );
        vec![created, failed, anonymous]
    }

    #[test]
    fn an_audit_row_gives_back_its_event_exactly_and_shares_repeated_values() {
        let mut shared = Shared::default();
        let events = events();
        let rows: Vec<_> = events
            .iter()
            .map(|event| AuditRow::new(event.clone(), None, &mut shared))
            .collect();
        for (row, event) in rows.iter().zip(&events) {
            assert_eq!(row.event(), *event);
        }
        assert!(Arc::ptr_eq(&rows[0].path, &rows[1].path));
        let institution = |row: &AuditRow| row.institution_id.clone().unwrap();
        assert!(Arc::ptr_eq(&institution(&rows[0]), &institution(&rows[1])));
    }

    #[test]
    fn a_created_positions_audit_payload_is_made_again_from_the_position() {
        let mut shared = Shared::default();
        let new = crate::domain::NewPosition {
            institution_id: InstitutionId::new(),
            asset_id: crate::domain::AssetId::new(),
            holder_reference: "holder \"1\"".into(),
            currency: crate::domain::Currency::USD,
            amount: "1234.56780000".parse().unwrap(),
            external_reference: None,
        };
        let at = crate::domain::now_millis();
        let (position, _, event) = records::position(new, &AuditContext::default(), at);
        let position = Arc::new(PositionRow::new(&position, &mut shared));
        let row = AuditRow::new(event.clone(), Some(&position), &mut shared);
        assert!(matches!(row.payload, Some(Payload::Created(_))));
        assert_eq!(row.event(), event);
    }

    #[test]
    fn a_row_passes_a_filter_exactly_when_its_event_does() {
        let mut shared = Shared::default();
        let events = events();
        let first = &events[0];
        let mut filters = vec![
            AuditFilter::default(),
            AuditFilter {
                institution_id: first.institution_id.clone(),
                ..AuditFilter::default()
            },
            AuditFilter {
                institution_id: Some(InstitutionId::new()),
                ..AuditFilter::default()
            },
            AuditFilter {
                api_key_id: first.api_key_id.clone(),
                outcome: Some(AuditOutcome::Failure),
                ..AuditFilter::default()
            },
            AuditFilter {
                occurred_from: Some(first.occurred_at + TimeDelta::milliseconds(1)),
                ..AuditFilter::default()
            },
            AuditFilter {
                occurred_to: Some(first.occurred_at),
                action: Some(AuditAction::PositionCreated),
                ..AuditFilter::default()
            },
        ];
        for resource in [first.resource_id.clone(), Some("odd id".into())] {
            filters.push(AuditFilter {
                resource_type: first.resource_type,
                resource_id: resource,
                ..AuditFilter::default()
            });
        }
        for event in &events {
            let row = AuditRow::new(event.clone(), None, &mut shared);
            for filter in &filters {
                assert_eq!(row.accepted_by(filter), filter.accepts(event), "{filter:?}");
            }
        }
    }
}
