//! The transactional outbox: the domain events every write appends to the event log in the
//! same transaction (PostgreSQL) or under the same lock (memory). The contract is
//! `docs/EVENTS.md`; both backends build their events here, so they append exactly the same.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use gridstore::{NewEvent, Payload};
use serde::Serialize;

use crate::Result;
use crate::domain::time::millis;
use crate::domain::{
    ApiKey, Asset, AssetTemplate, Institution, InstitutionId, InstitutionPolicy, LedgerEvent,
    Position, PositionId, PositionState,
};
use crate::lifecycle::Applied;

/// The prefix of every stream: `inst:{institutionId}`, one stream per institution.
pub const STREAM_PREFIX: &str = "inst:";

/// The stream holding an institution's events.
#[must_use]
pub fn stream_of(institution_id: &InstitutionId) -> String {
    format!("{STREAM_PREFIX}{institution_id}")
}

/// The type of a domain event (`event_type` of the gridstore event, `type` of the payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// `institution.created`
    InstitutionCreated,
    /// `api_key.created`
    ApiKeyCreated,
    /// `api_key.revoked`
    ApiKeyRevoked,
    /// `policy.updated`
    PolicyUpdated,
    /// `asset_template.created`
    AssetTemplateCreated,
    /// `asset.created`
    AssetCreated,
    /// `position.created`
    PositionCreated,
    /// `position.state_changed`
    PositionStateChanged,
    /// `ledger_event.recorded`
    LedgerEventRecorded,
}

impl EventType {
    /// Every event type, in the order of `docs/EVENTS.md`.
    pub const ALL: [Self; 9] = [
        Self::InstitutionCreated,
        Self::ApiKeyCreated,
        Self::ApiKeyRevoked,
        Self::PolicyUpdated,
        Self::AssetTemplateCreated,
        Self::AssetCreated,
        Self::PositionCreated,
        Self::PositionStateChanged,
        Self::LedgerEventRecorded,
    ];

    /// The dotted name, e.g. `position.state_changed`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InstitutionCreated => "institution.created",
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::PolicyUpdated => "policy.updated",
            Self::AssetTemplateCreated => "asset_template.created",
            Self::AssetCreated => "asset.created",
            Self::PositionCreated => "position.created",
            Self::PositionStateChanged => "position.state_changed",
            Self::LedgerEventRecorded => "ledger_event.recorded",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown event type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// The payload of every event: `{id, type, institutionId, occurredAt, data}`. Both the
/// encoded payloads ([`NewEvent`]) and the memory log's rendered ones (`memory/events.rs`) are
/// serialized from it, so they are the same JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(in crate::store) struct Envelope<'a, T: Serialize> {
    pub(in crate::store) id: EventId,
    #[serde(rename = "type")]
    pub(in crate::store) kind: &'static str,
    pub(in crate::store) institution_id: &'a str,
    #[serde(with = "millis")]
    pub(in crate::store) occurred_at: DateTime<Utc>,
    pub(in crate::store) data: T,
}

/// An event id, `evt_` and a UUID v4.
#[derive(Debug, Clone, Copy)]
pub(in crate::store) struct EventId(uuid::Uuid);

impl EventId {
    /// A fresh random id.
    pub(in crate::store) fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("evt_{}", self.0.hyphenated()))
    }
}

/// The `data` of `position.state_changed`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(in crate::store) struct StateChange<'a> {
    pub(in crate::store) position: &'a Position,
    pub(in crate::store) from_state: PositionState,
    pub(in crate::store) to_state: PositionState,
    pub(in crate::store) reason: Option<&'a str>,
}

/// One event of `kind` with `data`, its payload encoded once as JSON text.
fn event<T: Serialize>(
    kind: EventType,
    institution_id: &InstitutionId,
    occurred_at: DateTime<Utc>,
    position_id: Option<&PositionId>,
    data: T,
) -> Result<NewEvent> {
    let payload = Envelope {
        id: EventId::new(),
        kind: kind.as_str(),
        institution_id: institution_id.as_str(),
        occurred_at,
        data,
    };
    let payload = Payload::encode(&payload)?;
    let new = NewEvent::new(stream_of(institution_id), kind.as_str(), payload);
    Ok(match position_id {
        Some(id) => new.with_correlation_id(id.as_str()),
        None => new,
    })
}

/// `institution.created`.
///
/// # Errors
/// [`crate::Error`] from gridstore's `InvalidInput` if the entity cannot be encoded: it does
/// not serialize, holds the NUL character or nests too deep (never for validated entities).
pub fn institution_created(institution: &Institution) -> Result<Vec<NewEvent>> {
    let kind = EventType::InstitutionCreated;
    let at = institution.created_at;
    Ok(vec![event(kind, &institution.id, at, None, institution)?])
}

/// `asset_template.created`.
///
/// # Errors
/// See [`institution_created`].
pub fn asset_template_created(template: &AssetTemplate) -> Result<Vec<NewEvent>> {
    let kind = EventType::AssetTemplateCreated;
    let (owner, at) = (&template.institution_id, template.created_at);
    Ok(vec![event(kind, owner, at, None, template)?])
}

/// `asset.created`.
///
/// # Errors
/// See [`institution_created`].
pub fn asset_created(asset: &Asset) -> Result<Vec<NewEvent>> {
    let kind = EventType::AssetCreated;
    let (owner, at) = (&asset.institution_id, asset.created_at);
    Ok(vec![event(kind, owner, at, None, asset)?])
}

/// `position.created`, then `ledger_event.recorded` for its ledger entry.
///
/// # Errors
/// See [`institution_created`].
pub fn position_created(position: &Position, ledger: &LedgerEvent) -> Result<Vec<NewEvent>> {
    if cfg!(feature = "bench-without-outbox") {
        return Ok(Vec::new());
    }
    let (owner, at, id) = (&position.institution_id, position.created_at, &position.id);
    Ok(vec![
        event(EventType::PositionCreated, owner, at, Some(id), position)?,
        ledger_recorded(ledger)?,
    ])
}

/// `position.state_changed` (`{position, fromState, toState, reason}`), then
/// `ledger_event.recorded` for its ledger entry.
///
/// # Errors
/// See [`institution_created`].
pub fn position_state_changed(applied: &Applied, ledger: &LedgerEvent) -> Result<Vec<NewEvent>> {
    if cfg!(feature = "bench-without-outbox") {
        return Ok(Vec::new());
    }
    let position = &applied.position;
    let change = StateChange {
        position,
        from_state: applied.from,
        to_state: applied.event.to_state,
        reason: applied.event.reason.as_deref(),
    };
    let (owner, at, id) = (&position.institution_id, position.updated_at, &position.id);
    Ok(vec![
        event(EventType::PositionStateChanged, owner, at, Some(id), change)?,
        ledger_recorded(ledger)?,
    ])
}

fn ledger_recorded(ledger: &LedgerEvent) -> Result<NewEvent> {
    let kind = EventType::LedgerEventRecorded;
    let (owner, at) = (&ledger.institution_id, ledger.at);
    event(kind, owner, at, Some(&ledger.position_id), ledger)
}

/// `api_key.created`: the record only (the token is never part of an event, nor its hash).
///
/// # Errors
/// See [`institution_created`].
pub fn api_key_created(key: &ApiKey) -> Result<Vec<NewEvent>> {
    let kind = EventType::ApiKeyCreated;
    let (owner, at) = (&key.institution_id, key.created_at);
    Ok(vec![event(kind, owner, at, None, key)?])
}

/// `api_key.revoked`: the revoked record.
///
/// # Errors
/// See [`institution_created`].
pub fn api_key_revoked(key: &ApiKey) -> Result<Vec<NewEvent>> {
    let kind = EventType::ApiKeyRevoked;
    let at = key.revoked_at.unwrap_or(key.created_at);
    Ok(vec![event(kind, &key.institution_id, at, None, key)?])
}

/// `policy.updated` (creation or replacement).
///
/// # Errors
/// See [`institution_created`].
pub fn policy_updated(policy: &InstitutionPolicy) -> Result<Vec<NewEvent>> {
    let kind = EventType::PolicyUpdated;
    let (owner, at) = (&policy.institution_id, policy.updated_at);
    Ok(vec![event(kind, owner, at, None, policy)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_round_trips_through_its_name() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
        }
        assert!("position.deleted".parse::<EventType>().is_err());
    }
}
