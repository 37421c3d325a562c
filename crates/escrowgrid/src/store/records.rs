//! The rows a store write commits, built purely so that every backend writes exactly the same
//! entity, ledger and audit rows (payloads included). Backends call these, then persist.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditAction, AuditContext, AuditEvent,
    AuditOutcome, Institution, InstitutionId, InstitutionPolicy, LedgerEvent, LedgerEventId,
    LedgerEventKind, NewApiKey, NewAsset, NewAssetTemplate, NewInstitution, NewPosition,
    PolicyConfig, PolicyId, Position, PositionId, PositionPolicy, PositionState, Region,
    ResourceType, TemplateId, generate_token, hash_token,
};
use crate::ledger;
use crate::lifecycle::Applied;

fn success(
    audit: &AuditContext,
    action: AuditAction,
    resource: (ResourceType, String),
    payload: Value,
    at: DateTime<Utc>,
) -> AuditEvent {
    audit.event(
        action,
        AuditOutcome::Success,
        Some(resource),
        Some(payload),
        at,
    )
}

/// A new institution and its `INSTITUTION_CREATED` audit row (payload `{name, regions,
/// verticals}`).
#[must_use]
pub fn institution(
    new: NewInstitution,
    audit: &AuditContext,
    at: DateTime<Utc>,
) -> (Institution, AuditEvent) {
    let institution = Institution {
        id: InstitutionId::seeded(audit.id_seed.as_ref()),
        name: new.name,
        regions: new.regions,
        verticals: new.verticals,
        created_at: at,
        updated_at: at,
    };
    let payload = json!({
        "name": institution.name,
        "regions": institution.regions,
        "verticals": institution.verticals,
    });
    let resource = (ResourceType::Institution, institution.id.to_string());
    let event = success(
        audit,
        AuditAction::InstitutionCreated,
        resource,
        payload,
        at,
    );
    (institution, event)
}

/// A new template and its `ASSET_TEMPLATE_CREATED` audit row.
#[must_use]
pub fn asset_template(
    new: NewAssetTemplate,
    audit: &AuditContext,
    at: DateTime<Utc>,
) -> (AssetTemplate, AuditEvent) {
    let template = AssetTemplate {
        id: TemplateId::seeded(audit.id_seed.as_ref()),
        institution_id: new.institution_id,
        code: new.code,
        name: new.name,
        vertical: new.vertical,
        region: new.region,
        config: new.config,
        created_at: at,
        updated_at: at,
    };
    let payload = json!({
        "institutionId": template.institution_id,
        "code": template.code,
        "name": template.name,
        "vertical": template.vertical,
        "region": template.region,
    });
    let resource = (ResourceType::AssetTemplate, template.id.to_string());
    let event = success(
        audit,
        AuditAction::AssetTemplateCreated,
        resource,
        payload,
        at,
    );
    (template, event)
}

/// A new asset and its `ASSET_CREATED` audit row (payload `{institutionId, templateId,
/// label}`).
#[must_use]
pub fn asset(new: NewAsset, audit: &AuditContext, at: DateTime<Utc>) -> (Asset, AuditEvent) {
    let asset = Asset {
        id: AssetId::seeded(audit.id_seed.as_ref()),
        institution_id: new.institution_id,
        template_id: new.template_id,
        label: new.label,
        metadata: new.metadata,
        created_at: at,
        updated_at: at,
    };
    let payload = json!({
        "institutionId": asset.institution_id,
        "templateId": asset.template_id,
        "label": asset.label,
    });
    let resource = (ResourceType::Asset, asset.id.to_string());
    let event = success(audit, AuditAction::AssetCreated, resource, payload, at);
    (asset, event)
}

/// A new position (state `CREATED`, version 1, no events), its `POSITION_CREATED` ledger
/// event (payload `{institutionId, assetId, currency, amount, externalReference?,
/// requestId?}`) and its audit row (payload `{institutionId, assetId, holderReference,
/// currency, amount}`).
#[must_use]
pub fn position(
    new: NewPosition,
    audit: &AuditContext,
    at: DateTime<Utc>,
) -> (Position, LedgerEvent, AuditEvent) {
    let position = Position {
        id: PositionId::seeded(audit.id_seed.as_ref()),
        institution_id: new.institution_id,
        asset_id: new.asset_id,
        holder_reference: new.holder_reference,
        currency: new.currency,
        amount: new.amount,
        state: PositionState::Created,
        external_reference: new.external_reference,
        created_at: at,
        updated_at: at,
        events: std::sync::Arc::default(),
        version: 1,
    };
    let ledger = LedgerEvent {
        id: LedgerEventId::new(),
        kind: LedgerEventKind::PositionCreated,
        position_id: position.id.clone(),
        institution_id: position.institution_id.clone(),
        at,
        previous_state: None,
        new_state: PositionState::Created,
        payload: created_ledger_payload(&position, audit.request_id.as_deref()),
        hash: None,
        previous_hash: None,
    };
    let ledger = ledger::seal(ledger, None);
    let audit_payload = created_audit_payload(&position);
    let resource = (ResourceType::Position, position.id.to_string());
    let event = success(
        audit,
        AuditAction::PositionCreated,
        resource,
        audit_payload,
        at,
    );
    (position, ledger, event)
}

/// The payload of a created position's ledger event (`POSITION_CREATED`), made under the
/// request `request_id`.
#[must_use]
pub fn created_ledger_payload(position: &Position, request_id: Option<&str>) -> Value {
    let mut payload = Map::new();
    payload.insert("institutionId".into(), json!(position.institution_id));
    payload.insert("assetId".into(), json!(position.asset_id));
    payload.insert("currency".into(), json!(position.currency));
    payload.insert("amount".into(), json!(position.amount));
    if let Some(reference) = &position.external_reference {
        payload.insert("externalReference".into(), json!(reference));
    }
    if let Some(request_id) = request_id {
        payload.insert("requestId".into(), json!(request_id));
    }
    Value::Object(payload)
}

/// The payload of a created position's audit row.
#[must_use]
pub fn created_audit_payload(position: &Position) -> Value {
    json!({
        "institutionId": position.institution_id,
        "assetId": position.asset_id,
        "holderReference": position.holder_reference,
        "currency": position.currency,
        "amount": position.amount,
    })
}

/// The `POSITION_STATE_CHANGED` ledger event (payload `{reason?, metadata?}`, chained to
/// `previous_hash`, the hash of the position's latest ledger event) and the
/// `POSITION_TRANSITIONED` audit row (payload `{fromState, toState, reason?}`, an absent
/// reason omitted as in the original) of an applied transition.
#[must_use]
pub fn transition(
    applied: &Applied,
    audit: &AuditContext,
    previous_hash: Option<String>,
) -> (LedgerEvent, AuditEvent) {
    let event = &applied.event;
    let at = event.at;
    let mut payload = Map::new();
    if let Some(reason) = &event.reason {
        payload.insert("reason".into(), json!(reason));
    }
    if let Some(metadata) = &event.metadata {
        payload.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    let ledger = LedgerEvent {
        id: LedgerEventId::new(),
        kind: LedgerEventKind::PositionStateChanged,
        position_id: applied.position.id.clone(),
        institution_id: applied.position.institution_id.clone(),
        at,
        previous_state: Some(applied.from),
        new_state: event.to_state,
        payload: Value::Object(payload),
        hash: None,
        previous_hash: None,
    };
    let ledger = ledger::seal(ledger, previous_hash);
    let mut audit_payload = json!({ "fromState": applied.from, "toState": event.to_state });
    if let (Some(reason), Value::Object(fields)) = (&event.reason, &mut audit_payload) {
        fields.insert("reason".into(), json!(reason));
    }
    let resource = (ResourceType::Position, applied.position.id.to_string());
    let audit_event = success(
        audit,
        AuditAction::PositionTransitioned,
        resource,
        audit_payload,
        at,
    );
    (ledger, audit_event)
}

/// A new API key, its plaintext token and its `API_KEY_CREATED` audit row (payload
/// `{institutionId, label, role}`).
#[must_use]
pub fn api_key(
    new: NewApiKey,
    audit: &AuditContext,
    at: DateTime<Utc>,
) -> (ApiKey, String, AuditEvent) {
    let token = generate_token();
    let key = ApiKey {
        id: ApiKeyId::seeded(audit.id_seed.as_ref()),
        institution_id: new.institution_id,
        key_hash: hash_token(&token),
        label: new.label,
        role: new.role,
        created_at: at,
        revoked_at: None,
    };
    let payload = json!({
        "institutionId": key.institution_id,
        "label": key.label,
        "role": key.role,
    });
    let resource = (ResourceType::ApiKey, key.id.to_string());
    let event = success(audit, AuditAction::ApiKeyCreated, resource, payload, at);
    (key, token, event)
}

/// The revoked form of a key and its `API_KEY_REVOKED` audit row (payload `{institutionId,
/// label, role}`).
#[must_use]
pub fn revoked_api_key(
    key: &ApiKey,
    audit: &AuditContext,
    at: DateTime<Utc>,
) -> (ApiKey, AuditEvent) {
    let mut revoked = key.clone();
    revoked.revoked_at = Some(at);
    let payload = json!({
        "institutionId": key.institution_id,
        "label": key.label,
        "role": key.role,
    });
    let resource = (ResourceType::ApiKey, key.id.to_string());
    let event = success(audit, AuditAction::ApiKeyRevoked, resource, payload, at);
    (revoked, event)
}

/// The upserted policy (keeping the existing id and `created_at`, replacing the whole config)
/// and its `POLICY_UPDATED` audit row (payload `{region, position}`).
#[must_use]
pub fn policy(
    existing: Option<&InstitutionPolicy>,
    institution_id: &InstitutionId,
    region: Region,
    position: PositionPolicy,
    audit: &AuditContext,
    at: DateTime<Utc>,
) -> (InstitutionPolicy, AuditEvent) {
    let policy = InstitutionPolicy {
        id: existing.map_or_else(PolicyId::new, |p| p.id.clone()),
        institution_id: institution_id.clone(),
        region,
        config: PolicyConfig { region, position },
        created_at: existing.map_or(at, |p| p.created_at),
        updated_at: at,
    };
    let payload = json!({ "institutionId": institution_id, "region": region, "position": policy.config.position });
    let resource = (ResourceType::Policy, policy.id.to_string());
    let event = success(audit, AuditAction::PolicyUpdated, resource, payload, at);
    (policy, event)
}
