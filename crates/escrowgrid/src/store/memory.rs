//! In-memory backend of [`EscrowStore`]: the embedded default, and the reference the contract
//! suite is checked against.
//!
//! All state sits behind one `RwLock`: readers share it, and every write holds the write lock
//! for its whole "transaction" (check, then mutate), so writes are atomic and serialized. No
//! lock is held across an `.await`. Data lives only as long as the process.
//!
//! The one exception is the lookup every request makes, its API key by token: the active keys
//! also sit in a small map of their own ([`ActiveKeys`]), written under the state's write lock
//! by the writes that create and revoke keys (state first, then the map, always in that
//! order), so that authenticating a request never waits for a concurrent write of positions.

mod audit_row;
mod compact;
mod events;
#[cfg(test)]
mod footprint;
mod packed;
mod position_row;
mod reads;
mod rows;
mod state;
mod table;
mod webhooks;
mod writes;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gridstore::EventLog;
use gridstore::memory::MemoryEventLog;

use crate::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditContext, AuditEvent, Institution,
    InstitutionId, InstitutionPolicy, LedgerEvent, NewApiKey, NewAsset, NewAssetTemplate,
    NewInstitution, NewPosition, PolicyId, Position, PositionId, PositionPolicy, Region,
    TemplateId, TransitionRequest, hash_token, now_millis,
};
use crate::ledger::checkpoint::Checkpoint;
use crate::store::{
    AssetFilter, AuditFilter, CreatedApiKey, EscrowStore, KeysetPage, Page, Paginated,
    PositionFilter, Scope, TemplateFilter, records,
};
use crate::{Error, Result};

use state::State;

/// The in-memory [`EscrowStore`]. Cheap to create; share it as `Arc<dyn EscrowStore>`.
///
/// Its domain events go to its own [`MemoryEventLog`] (see [`EscrowStore::events`]), appended
/// under the store's write lock by the write that causes them.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
    active_keys: ActiveKeys,
    events: Arc<MemoryEventLog>,
}

/// Active API keys by the hash of their token (see the module docs): a key is added when it
/// is created and removed when it is revoked, both under the state's write lock.
#[derive(Debug, Default)]
struct ActiveKeys(RwLock<HashMap<String, ApiKey>>);

impl ActiveKeys {
    fn find(&self, key_hash: &str) -> Option<ApiKey> {
        let keys = self.0.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(key_hash).cloned()
    }

    fn insert(&self, key: &ApiKey) {
        let mut keys = self.0.write().unwrap_or_else(PoisonError::into_inner);
        keys.insert(key.key_hash.clone(), key.clone());
    }

    fn remove(&self, key_hash: &str) {
        let mut keys = self.0.write().unwrap_or_else(PoisonError::into_inner);
        keys.remove(key_hash);
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave a half-applied write (writes check
    // everything before mutating), so a poisoned lock is still consistent.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl EscrowStore for MemoryStore {
    async fn health(&self) -> Result<()> {
        drop(self.read());
        Ok(())
    }

    fn events(&self) -> Arc<dyn EventLog> {
        self.events.clone()
    }

    async fn create_institution(
        &self,
        new: NewInstitution,
        audit: &AuditContext,
    ) -> Result<Institution> {
        new.validate()?;
        self.write().create_institution(new, audit, &self.events)
    }

    async fn get_institution(&self, scope: &Scope, id: &InstitutionId) -> Result<Institution> {
        self.read().institution(scope, id).cloned()
    }

    async fn institutions_page(
        &self,
        scope: &Scope,
        page: KeysetPage,
    ) -> Result<Paginated<Institution>> {
        Ok(self.read().institutions_page(scope, &page))
    }

    async fn create_asset_template(
        &self,
        scope: &Scope,
        new: NewAssetTemplate,
        audit: &AuditContext,
    ) -> Result<AssetTemplate> {
        new.validate()?;
        self.write()
            .create_asset_template(scope, new, audit, &self.events)
    }

    async fn get_asset_template(&self, scope: &Scope, id: &TemplateId) -> Result<AssetTemplate> {
        self.read().template(scope, id).cloned()
    }

    async fn list_asset_templates(
        &self,
        scope: &Scope,
        filter: &TemplateFilter,
        page: Page,
    ) -> Result<Paginated<AssetTemplate>> {
        Ok(self.read().list_asset_templates(scope, filter, &page))
    }

    async fn create_asset(
        &self,
        scope: &Scope,
        new: NewAsset,
        audit: &AuditContext,
    ) -> Result<Asset> {
        new.validate()?;
        self.write().create_asset(scope, new, audit, &self.events)
    }

    async fn get_asset(&self, scope: &Scope, id: &AssetId) -> Result<Asset> {
        self.read().asset(scope, id).cloned()
    }

    async fn list_assets(
        &self,
        scope: &Scope,
        filter: &AssetFilter,
        page: Page,
    ) -> Result<Paginated<Asset>> {
        Ok(self.read().list_assets(scope, filter, &page))
    }

    async fn create_position(
        &self,
        scope: &Scope,
        new: NewPosition,
        audit: &AuditContext,
    ) -> Result<Position> {
        new.validate()?;
        // The records are pure (see `State::create_position`): made before the write lock, so
        // that concurrent writes wait less.
        let records = records::position(new, audit, now_millis());
        self.write()
            .create_position(scope, records, audit, &self.events)
    }

    /// Builds the position from its compact row (see `position_row.rs`), outside the lock (the
    /// row is shared, then read): the ids are unpacked, the lifecycle events shared with the
    /// row (a reference count, no copy of their metadata).
    async fn get_position_shared(&self, scope: &Scope, id: &PositionId) -> Result<Arc<Position>> {
        let row = Arc::clone(self.read().position(scope, id)?);
        Ok(Arc::new(row.position()))
    }

    async fn list_positions(
        &self,
        scope: &Scope,
        filter: &PositionFilter,
        page: Page,
    ) -> Result<Paginated<Position>> {
        Ok(self.read().list_positions(scope, filter, &page))
    }

    async fn transition_position(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: TransitionRequest,
        audit: &AuditContext,
    ) -> Result<Position> {
        request.validate()?;
        self.write()
            .transition_position(scope, id, request, audit, &self.events)
    }

    async fn create_api_key(
        &self,
        scope: &Scope,
        new: NewApiKey,
        audit: &AuditContext,
    ) -> Result<CreatedApiKey> {
        new.validate()?;
        let mut state = self.write();
        let created = state.create_api_key(scope, new, audit, &self.events)?;
        self.active_keys.insert(&created.api_key);
        drop(state);
        Ok(created)
    }

    async fn find_api_key_by_token(&self, token: &str) -> Result<Option<ApiKey>> {
        Ok(self.active_keys.find(&hash_token(token)))
    }

    async fn api_keys_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: KeysetPage,
    ) -> Result<Paginated<ApiKey>> {
        self.read().api_keys_page(scope, institution_id, &page)
    }

    async fn revoke_api_key(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        id: &ApiKeyId,
        audit: &AuditContext,
    ) -> Result<ApiKey> {
        let mut state = self.write();
        let revoked = state.revoke_api_key(scope, institution_id, id, audit, &self.events)?;
        self.active_keys.remove(&revoked.key_hash);
        drop(state);
        Ok(revoked)
    }

    async fn upsert_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
        position: PositionPolicy,
        audit: &AuditContext,
    ) -> Result<InstitutionPolicy> {
        position.validate()?;
        self.write()
            .upsert_policy(scope, institution_id, region, position, audit, &self.events)
    }

    async fn get_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
    ) -> Result<InstitutionPolicy> {
        let state = self.read();
        state.institution(scope, institution_id)?;
        state
            .policy(institution_id, region)
            .cloned()
            .ok_or_else(|| Error::not_found(PolicyId::RESOURCE, region.as_str()))
    }

    async fn policies_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: KeysetPage,
    ) -> Result<Paginated<InstitutionPolicy>> {
        self.read().policies_page(scope, institution_id, &page)
    }

    async fn record_audit(&self, event: AuditEvent) -> Result<()> {
        self.write().push_audit(event);
        Ok(())
    }

    async fn list_audit_events(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Paginated<AuditEvent>> {
        Ok(self.read().list_audit_events(scope, filter, &page))
    }

    async fn ledger_events_page(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
        page: KeysetPage,
    ) -> Result<Paginated<LedgerEvent>> {
        self.read().ledger_events_page(scope, position_id, &page)
    }

    async fn create_ledger_checkpoint(&self, at: DateTime<Utc>) -> Result<Option<Checkpoint>> {
        Ok(self.write().create_ledger_checkpoint(at))
    }

    async fn ledger_checkpoints(&self) -> Result<Vec<(Checkpoint, Vec<String>)>> {
        Ok(self.read().ledger_checkpoints())
    }

    async fn ledger_checkpoints_after(&self, after: i64, limit: usize) -> Result<Vec<Checkpoint>> {
        Ok(self
            .read()
            .checkpoints
            .iter()
            .filter(|taken| taken.number > after)
            .take(limit)
            .cloned()
            .collect())
    }
}
