//! The entities, with the exact JSON shape of the original API (camelCase, optional fields
//! omitted when absent, timestamps with milliseconds, amounts as exact numbers).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::{millis, millis_option};
use super::{
    Amount, ApiKeyId, ApiKeyRole, AssetId, Currency, InstitutionId, JsonObject, LedgerEventId,
    LedgerEventKind, LifecycleEventId, PolicyId, PositionId, PositionState, Region, TemplateCode,
    TemplateId, Vertical,
};

/// A tenant of the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Institution {
    /// Its id.
    pub id: InstitutionId,
    /// Display name.
    pub name: String,
    /// Regions it operates in (duplicates are kept as given).
    pub regions: Vec<Region>,
    /// Verticals it operates in.
    pub verticals: Vec<Vertical>,
    /// Creation time.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// Last update time.
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
}

/// A product definition assets are created from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetTemplate {
    /// Its id.
    pub id: TemplateId,
    /// The owning institution.
    pub institution_id: InstitutionId,
    /// The template code, which belongs to `vertical`.
    pub code: TemplateCode,
    /// Display name.
    pub name: String,
    /// The business line.
    pub vertical: Vertical,
    /// The region; policies are looked up by it.
    pub region: Region,
    /// Code-specific configuration (see [`super::validate_template_config`]).
    pub config: JsonObject,
    /// Creation time.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// Last update time.
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
}

/// An asset created from a template; positions are opened on assets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    /// Its id.
    pub id: AssetId,
    /// The owning institution.
    pub institution_id: InstitutionId,
    /// The template it was created from (same institution).
    pub template_id: TemplateId,
    /// Display label.
    pub label: String,
    /// Free-form metadata (`{}` by default).
    pub metadata: JsonObject,
    /// Creation time.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// Last update time.
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
}

/// An escrow position: an amount held for a holder on an asset, with a lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// Its id.
    pub id: PositionId,
    /// The owning institution.
    pub institution_id: InstitutionId,
    /// The asset (same institution).
    pub asset_id: AssetId,
    /// The holder's reference.
    pub holder_reference: String,
    /// The currency.
    pub currency: Currency,
    /// The amount; it never changes.
    pub amount: Amount,
    /// The current state.
    pub state: PositionState,
    /// An optional external reference (omitted from JSON when absent; may be empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    /// Creation time.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// Last update time (bumped by every transition that changes the state).
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
    /// Lifecycle events, oldest first (empty on creation). Shared: a clone of the position
    /// (a get from the memory store, a page of rows) shares them; a transition makes a new
    /// slice. Serialized as a JSON array, as a `Vec` is.
    pub events: Arc<[PositionLifecycleEvent]>,
    /// Optimistic-locking version: 1 on creation, +1 per applied transition. Internal, not
    /// part of the JSON contract.
    #[serde(skip)]
    pub version: i64,
}

impl Position {
    /// The state the position had at `version` (1 is `CREATED`; each applied transition adds
    /// one version and one event), or `None` for a version it never had. Used to report the
    /// state a stale writer based its change on.
    #[must_use]
    pub fn state_at_version(&self, version: i64) -> Option<PositionState> {
        match version {
            1 => Some(PositionState::Created),
            v if v == self.version => Some(self.state),
            v => usize::try_from(v - 2)
                .ok()
                .and_then(|index| self.events.get(index))
                .filter(|_| v < self.version)
                .map(|event| event.to_state),
        }
    }
}

/// One applied state change of a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionLifecycleEvent {
    /// Its id.
    pub id: LifecycleEventId,
    /// The position.
    pub position_id: PositionId,
    /// The previous state (`null` only in data from elsewhere; this service always sets it).
    pub from_state: Option<PositionState>,
    /// The new state.
    pub to_state: PositionState,
    /// Why (omitted when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was applied.
    #[serde(with = "millis")]
    pub at: DateTime<Utc>,
    /// Free-form metadata (omitted when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonObject>,
}

/// An immutable ledger entry, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEvent {
    /// Its id.
    pub id: LedgerEventId,
    /// What happened.
    pub kind: LedgerEventKind,
    /// The position.
    pub position_id: PositionId,
    /// The position's institution (an addition to the original shape, used for scoping).
    pub institution_id: InstitutionId,
    /// When the ledger entry was written.
    #[serde(with = "millis")]
    pub at: DateTime<Utc>,
    /// The state before (only on `POSITION_STATE_CHANGED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<PositionState>,
    /// The state after.
    pub new_state: PositionState,
    /// Kind-specific payload (see [`crate::store::records`]).
    pub payload: Value,
    /// SHA-256 (lowercase hex) of this event chained to the previous event of its position
    /// (see [`crate::ledger`]); `None` for events written before hashing started.
    #[serde(default)]
    pub hash: Option<String>,
    /// The hash of the previous event of the same position; `None` for a position's first
    /// (hashed) event.
    #[serde(default)]
    pub previous_hash: Option<String>,
}

/// An API key record. The secret token is never stored, only its SHA-256 (`key_hash`, which
/// is never serialized).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The institution it acts for.
    pub institution_id: InstitutionId,
    /// Lowercase hex SHA-256 of the token. Internal.
    #[serde(skip)]
    pub key_hash: String,
    /// Display label.
    pub label: String,
    /// Its role.
    pub role: ApiKeyRole,
    /// Creation time.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// Revocation time (omitted when active).
    #[serde(
        default,
        with = "millis_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The position rules of a policy; every field is optional, `{}` allows everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionPolicy {
    /// Smallest allowed amount (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<Amount>,
    /// Largest allowed amount (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<Amount>,
    /// Allowed currencies; an empty list rejects every currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_currencies: Option<Vec<Currency>>,
}

/// A policy's configuration: the region (again) and the position rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyConfig {
    /// The region, equal to the policy's.
    pub region: Region,
    /// Rules for position creation.
    pub position: PositionPolicy,
}

/// An institution's rules for one region, applied when positions are created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstitutionPolicy {
    /// Its id (kept across upserts).
    pub id: PolicyId,
    /// The institution.
    pub institution_id: InstitutionId,
    /// The region; unique per institution.
    pub region: Region,
    /// The configuration.
    pub config: PolicyConfig,
    /// Creation time (kept across upserts).
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// Last upsert time.
    #[serde(with = "millis")]
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::now_millis;
    use serde_json::json;

    fn position() -> Position {
        let at = DateTime::parse_from_rfc3339("2026-11-21T19:04:02.147Z")
            .unwrap()
            .with_timezone(&Utc);
        Position {
            id: PositionId::parse("pos_550e8400-e29b-41d4-a716-446655440000").unwrap(),
            institution_id: InstitutionId::parse("inst_550e8400-e29b-41d4-a716-446655440001")
                .unwrap(),
            asset_id: AssetId::parse("ast_550e8400-e29b-41d4-a716-446655440002").unwrap(),
            holder_reference: "holder-1".into(),
            currency: Currency::USD,
            amount: "12345678901234.12345678".parse().unwrap(),
            state: PositionState::Created,
            external_reference: None,
            created_at: at,
            updated_at: at,
            events: Arc::default(),
            version: 1,
        }
    }

    #[test]
    fn a_position_serializes_with_the_original_field_names() {
        let value = serde_json::to_value(position()).unwrap();
        let expected: Value = serde_json::from_str(
            r#"{
                "id": "pos_550e8400-e29b-41d4-a716-446655440000",
                "institutionId": "inst_550e8400-e29b-41d4-a716-446655440001",
                "assetId": "ast_550e8400-e29b-41d4-a716-446655440002",
                "holderReference": "holder-1",
                "currency": "USD",
                "amount": 12345678901234.12345678,
                "state": "CREATED",
                "createdAt": "2026-11-21T19:04:02.147Z",
                "updatedAt": "2026-11-21T19:04:02.147Z",
                "events": []
            }"#,
        )
        .unwrap();
        assert_eq!(value, expected);
        let text = serde_json::to_string(&position()).unwrap();
        assert!(text.contains("\"amount\":12345678901234.12345678,"));
    }

    #[test]
    fn an_empty_external_reference_is_kept() {
        let mut with_reference = position();
        with_reference.external_reference = Some(String::new());
        let value = serde_json::to_value(&with_reference).unwrap();
        assert_eq!(value["externalReference"], json!(""));
        let back: Position = serde_json::from_value(value).unwrap();
        assert_eq!(back.external_reference, Some(String::new()));
    }

    #[test]
    fn an_api_key_never_serializes_its_hash() {
        let key = ApiKey {
            id: ApiKeyId::new(),
            institution_id: InstitutionId::new(),
            key_hash: "secret-hash".into(),
            label: "ops".into(),
            role: ApiKeyRole::ReadOnly,
            created_at: now_millis(),
            revoked_at: None,
        };
        let value = serde_json::to_value(&key).unwrap();
        assert!(value.get("keyHash").is_none());
        assert!(value.get("revokedAt").is_none());
        assert_eq!(value["role"], json!("read_only"));
    }

    #[test]
    fn an_empty_position_policy_serializes_as_an_empty_object() {
        let config = PolicyConfig {
            region: Region::Us,
            position: PositionPolicy::default(),
        };
        assert_eq!(
            serde_json::to_value(config).unwrap(),
            json!({"region":"US","position":{}})
        );
    }

    #[test]
    fn the_state_at_each_past_version_is_read_from_the_events() {
        use PositionState::{Created, Funded, PartiallyReleased};
        let mut current = position();
        for to in [Funded, PartiallyReleased] {
            current = crate::lifecycle::apply(
                &current,
                to,
                None,
                None,
                now_millis(),
                LifecycleEventId::new(),
            )
            .unwrap()
            .unwrap()
            .position;
        }
        let states: Vec<_> = (0..=4).map(|v| current.state_at_version(v)).collect();
        assert_eq!(
            states,
            vec![
                None,
                Some(Created),
                Some(Funded),
                Some(PartiallyReleased),
                None
            ]
        );
    }
}
