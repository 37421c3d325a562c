//! The memory store's writes. Each runs under the write lock: it checks everything first,
//! then mutates, so a failed write changes nothing.

use std::sync::Arc;

use crate::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditContext, AuditEvent, Institution,
    InstitutionId, InstitutionPolicy, LedgerEvent, LifecycleEventId, NewApiKey, NewAsset,
    NewAssetTemplate, NewInstitution, Position, PositionId, PositionPolicy, Region, TemplateId,
    TransitionRequest, evaluate, now_millis, validate_template_config,
};
use crate::lifecycle;
use crate::store::{CreatedApiKey, Scope, outbox, records};
use crate::{Error, Result};

use super::compact::Payload;
use super::events as rendered;
use super::packed::Packed;
use super::position_row::PositionRow;
use super::state::State;

/// The event log the writes append to, under the store's write lock: each write appends after
/// every check that can fail and before it mutates, so a failed write (including a failed
/// append) leaves neither rows nor events, and a committed one always has its events.
pub(super) type Log = gridstore::memory::MemoryEventLog;

fn append(log: &Log, events: Result<Vec<gridstore::NewEvent>>) -> Result<()> {
    log.append_sync(events?)?;
    Ok(())
}

/// Appends events whose payloads the log renders on read from the rows they share.
fn append_rendered(log: &Log, events: Vec<gridstore::memory::MemoryEvent>) -> Result<()> {
    log.append_events_sync(events)?;
    Ok(())
}

impl State {
    pub(super) fn create_institution(
        &mut self,
        new: NewInstitution,
        audit: &AuditContext,
        log: &Log,
    ) -> Result<Institution> {
        let (institution, event) = records::institution(new, audit, now_millis());
        self.institutions
            .ensure_vacant(InstitutionId::RESOURCE, &institution.id)?;
        append(log, outbox::institution_created(&institution))?;
        self.institutions.insert(institution.clone());
        self.push_audit(event);
        Ok(institution)
    }

    pub(super) fn create_asset_template(
        &mut self,
        scope: &Scope,
        new: NewAssetTemplate,
        audit: &AuditContext,
        log: &Log,
    ) -> Result<AssetTemplate> {
        self.institution(scope, &new.institution_id)?;
        validate_template_config(new.vertical, new.code, new.region, &new.config)?;
        let (template, event) = records::asset_template(new, audit, now_millis());
        self.templates
            .ensure_vacant(TemplateId::RESOURCE, &template.id)?;
        append(log, outbox::asset_template_created(&template))?;
        self.templates.insert(template.clone());
        self.push_audit(event);
        Ok(template)
    }

    pub(super) fn create_asset(
        &mut self,
        scope: &Scope,
        new: NewAsset,
        audit: &AuditContext,
        log: &Log,
    ) -> Result<Asset> {
        self.institution(scope, &new.institution_id)?;
        self.template_of(&new.institution_id, &new.template_id)?;
        let (asset, event) = records::asset(new, audit, now_millis());
        self.assets.ensure_vacant(AssetId::RESOURCE, &asset.id)?;
        append(log, outbox::asset_created(&asset))?;
        self.assets.insert(asset.clone());
        self.push_audit(event);
        Ok(asset)
    }

    /// Stores a position made by [`records::position`] (before the lock is taken: its ids, its
    /// sealed ledger event, which starts the position's chain and so reads no shared state,
    /// and its audit row are pure) after the checks of the institution, asset, template and
    /// policy.
    pub(super) fn create_position(
        &mut self,
        scope: &Scope,
        (position, ledger, event): (Position, LedgerEvent, AuditEvent),
        audit: &AuditContext,
        log: &Log,
    ) -> Result<Position> {
        self.institution(scope, &position.institution_id)?;
        let asset = self.asset_of(&position.institution_id, &position.asset_id)?;
        let template = self.template_of(&position.institution_id, &asset.template_id)?;
        let policy = self.policy(&position.institution_id, template.region);
        evaluate(
            policy.map(|p| &p.config.position),
            template,
            position.currency,
            position.amount,
        )?;
        self.positions
            .ensure_vacant(PositionId::RESOURCE, &Packed::new(position.id.as_str()))?;
        rendered::check_created(&position, audit.request_id.as_deref())?;
        let row = Arc::new(PositionRow::new(&position, &mut self.shared));
        let payload = Payload::created(&row, audit.request_id.as_deref());
        let ledger = self.ledger_row(&ledger, payload);
        append_rendered(log, rendered::position_created(&row, &ledger))?;
        self.positions.insert(Arc::clone(&row));
        self.push_ledger(ledger);
        self.push_audit_of(event, Some(&row));
        Ok(position)
    }

    pub(super) fn transition_position(
        &mut self,
        scope: &Scope,
        id: &PositionId,
        request: TransitionRequest,
        audit: &AuditContext,
        log: &Log,
    ) -> Result<Position> {
        let current = self.position(scope, id)?.position();
        if let Some(expected) = request.expected_version.filter(|v| *v != current.version) {
            tracing::debug!(
                position.id = %id,
                expected_version = expected,
                actual_version = current.version,
                "position transition lost a version race"
            );
            return Err(Error::Conflict {
                position_id: id.clone(),
                expected_version: expected,
                actual_version: current.version,
                expected_state: current.state_at_version(expected).unwrap_or(current.state),
                actual_state: current.state,
            });
        }
        let at = now_millis();
        let applied = lifecycle::apply(
            &current,
            request.to_state,
            request.reason,
            request.metadata,
            at,
            LifecycleEventId::seeded(audit.id_seed.as_ref()),
        )?;
        let Some(applied) = applied else {
            return Ok(current);
        };
        rendered::check_transition(&applied.event)?;
        let (ledger, event) = records::transition(&applied, audit, self.last_ledger_hash(id));
        let ledger = self.ledger_row(&ledger, Payload::text(&ledger.payload));
        let row = Arc::new(PositionRow::new(&applied.position, &mut self.shared));
        append_rendered(
            log,
            rendered::position_state_changed(&row, applied.from, &ledger),
        )?;
        tracing::debug!(
            position.id = %id,
            from = %applied.from,
            to = %applied.event.to_state,
            version = applied.position.version,
            "position transitioned"
        );
        if let Some(stored) = self.positions.get_mut(row.id()) {
            *stored = Arc::clone(&row);
        }
        self.push_ledger(ledger);
        self.push_audit(event);
        Ok(applied.position)
    }

    pub(super) fn create_api_key(
        &mut self,
        scope: &Scope,
        new: NewApiKey,
        audit: &AuditContext,
        log: &Log,
    ) -> Result<CreatedApiKey> {
        self.institution(scope, &new.institution_id)?;
        let (api_key, token, event) = records::api_key(new, audit, now_millis());
        self.api_keys
            .ensure_vacant(ApiKeyId::RESOURCE, &api_key.id)?;
        if self.key_by_hash.contains_key(&api_key.key_hash) {
            return Err(Error::Duplicate {
                resource: "api key",
                key: api_key.id.into_string(),
            });
        }
        append(log, outbox::api_key_created(&api_key))?;
        self.key_by_hash
            .insert(api_key.key_hash.clone(), api_key.id.clone());
        self.api_keys.insert(api_key.clone());
        self.push_audit(event);
        Ok(CreatedApiKey { api_key, token })
    }

    pub(super) fn revoke_api_key(
        &mut self,
        scope: &Scope,
        institution_id: &InstitutionId,
        id: &ApiKeyId,
        audit: &AuditContext,
        log: &Log,
    ) -> Result<ApiKey> {
        self.institution(scope, institution_id)?;
        let active = self
            .api_keys
            .get(id)
            .filter(|key| key.institution_id == *institution_id && key.revoked_at.is_none())
            .ok_or_else(|| Error::not_found(ApiKeyId::RESOURCE, id.as_str()))?;
        let (revoked, event) = records::revoked_api_key(active, audit, now_millis());
        append(log, outbox::api_key_revoked(&revoked))?;
        // Re-inserted, not updated in place: the key leaves the list of active keys.
        self.api_keys.insert(revoked.clone());
        self.push_audit(event);
        Ok(revoked)
    }

    pub(super) fn upsert_policy(
        &mut self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
        position: PositionPolicy,
        audit: &AuditContext,
        log: &Log,
    ) -> Result<InstitutionPolicy> {
        self.institution(scope, institution_id)?;
        let existing = self.policy(institution_id, region);
        let is_new = existing.is_none();
        let (policy, event) = records::policy(
            existing,
            institution_id,
            region,
            position,
            audit,
            now_millis(),
        );
        append(log, outbox::policy_updated(&policy))?;
        if is_new {
            self.policy_by_region
                .insert((institution_id.clone(), region), policy.id.clone());
            self.policies.insert(policy.clone());
        } else if let Some(stored) = self.policies.get_mut(&policy.id) {
            *stored = policy.clone();
        }
        self.push_audit(event);
        Ok(policy)
    }
}
