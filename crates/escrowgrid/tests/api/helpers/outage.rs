//! `OutageStore`: the memory store behind switches that make every call fail like a lost
//! database connection, or hang, to test 5xx answers, `/ready` and the request timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use escrowgrid::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditContext, AuditEvent, Institution,
    InstitutionId, InstitutionPolicy, LedgerEvent, NewApiKey, NewAsset, NewAssetTemplate,
    NewInstitution, NewPosition, Position, PositionId, PositionPolicy, Region, TemplateId,
    TransitionRequest,
};
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::store::{
    AssetFilter, AuditFilter, CreatedApiKey, EscrowStore, KeysetPage, Page, Paginated,
    PositionFilter, Scope, TemplateFilter,
};
use escrowgrid::{Error, Result};

/// A memory store that fails every call while `down` is set, and never answers while `hung`
/// is set.
#[derive(Debug, Default)]
pub struct OutageStore {
    pub inner: MemoryStore,
    pub down: AtomicBool,
    pub hung: AtomicBool,
    /// The next transition loses an (injected) optimistic-concurrency race.
    pub lose_next_race: AtomicBool,
    /// Position creations never answer while set (other calls do).
    pub hung_positions: AtomicBool,
    /// The next transition or position creation is applied, but reported as a commit whose
    /// outcome is unknown (the connection died during COMMIT after the server had committed).
    pub unknown_next_commit: AtomicBool,
}

impl OutageStore {
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn set_hung(&self, hung: bool) {
        self.hung.store(hung, Ordering::SeqCst);
    }

    /// `applied`, or, when `unknown_next_commit` was set and the write succeeded, the error of a
    /// commit whose outcome is unknown.
    fn after_commit<T>(&self, applied: Result<T>) -> Result<T> {
        if self.unknown_next_commit.swap(false, Ordering::SeqCst) {
            applied?;
            let lost: Box<dyn std::error::Error + Send + Sync> =
                "connection closed during commit (10.0.0.9:5432)".into();
            return Err(Error::from(gridstore::Error::CommitOutcomeUnknown(lost)));
        }
        applied
    }

    async fn gate(&self) -> Result<()> {
        if self.hung.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.down.load(Ordering::SeqCst) {
            let cause: Box<dyn std::error::Error + Send + Sync> =
                "connection refused (10.0.0.9:5432)".into();
            return Err(Error::from(gridstore::Error::Connection(cause)));
        }
        Ok(())
    }
}

#[async_trait]
impl EscrowStore for OutageStore {
    async fn health(&self) -> Result<()> {
        self.gate().await?;
        self.inner.health().await
    }

    fn events(&self) -> Arc<dyn gridstore::EventLog> {
        self.inner.events()
    }

    async fn create_institution(
        &self,
        new: NewInstitution,
        audit: &AuditContext,
    ) -> Result<Institution> {
        self.gate().await?;
        self.inner.create_institution(new, audit).await
    }

    async fn get_institution(&self, scope: &Scope, id: &InstitutionId) -> Result<Institution> {
        self.gate().await?;
        self.inner.get_institution(scope, id).await
    }

    async fn institutions_page(
        &self,
        scope: &Scope,
        page: KeysetPage,
    ) -> Result<Paginated<Institution>> {
        self.gate().await?;
        self.inner.institutions_page(scope, page).await
    }

    async fn create_asset_template(
        &self,
        scope: &Scope,
        new: NewAssetTemplate,
        audit: &AuditContext,
    ) -> Result<AssetTemplate> {
        self.gate().await?;
        self.inner.create_asset_template(scope, new, audit).await
    }

    async fn get_asset_template(&self, scope: &Scope, id: &TemplateId) -> Result<AssetTemplate> {
        self.gate().await?;
        self.inner.get_asset_template(scope, id).await
    }

    async fn list_asset_templates(
        &self,
        scope: &Scope,
        filter: &TemplateFilter,
        page: Page,
    ) -> Result<Paginated<AssetTemplate>> {
        self.gate().await?;
        self.inner.list_asset_templates(scope, filter, page).await
    }

    async fn create_asset(
        &self,
        scope: &Scope,
        new: NewAsset,
        audit: &AuditContext,
    ) -> Result<Asset> {
        self.gate().await?;
        self.inner.create_asset(scope, new, audit).await
    }

    async fn get_asset(&self, scope: &Scope, id: &AssetId) -> Result<Asset> {
        self.gate().await?;
        self.inner.get_asset(scope, id).await
    }

    async fn list_assets(
        &self,
        scope: &Scope,
        filter: &AssetFilter,
        page: Page,
    ) -> Result<Paginated<Asset>> {
        self.gate().await?;
        self.inner.list_assets(scope, filter, page).await
    }

    async fn create_position(
        &self,
        scope: &Scope,
        new: NewPosition,
        audit: &AuditContext,
    ) -> Result<Position> {
        self.gate().await?;
        if self.hung_positions.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let applied = self.inner.create_position(scope, new, audit).await;
        self.after_commit(applied)
    }

    async fn get_position_shared(&self, scope: &Scope, id: &PositionId) -> Result<Arc<Position>> {
        self.gate().await?;
        self.inner.get_position_shared(scope, id).await
    }

    async fn list_positions(
        &self,
        scope: &Scope,
        filter: &PositionFilter,
        page: Page,
    ) -> Result<Paginated<Position>> {
        self.gate().await?;
        self.inner.list_positions(scope, filter, page).await
    }

    async fn transition_position(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: TransitionRequest,
        audit: &AuditContext,
    ) -> Result<Position> {
        self.gate().await?;
        if self.lose_next_race.swap(false, Ordering::SeqCst) {
            let current = self.inner.get_position(scope, id).await?;
            return Err(Error::Conflict {
                position_id: id.clone(),
                expected_version: current.version,
                actual_version: current.version + 1,
                expected_state: current.state,
                actual_state: request.to_state,
            });
        }
        let applied = self
            .inner
            .transition_position(scope, id, request, audit)
            .await;
        self.after_commit(applied)
    }

    async fn create_api_key(
        &self,
        scope: &Scope,
        new: NewApiKey,
        audit: &AuditContext,
    ) -> Result<CreatedApiKey> {
        self.gate().await?;
        self.inner.create_api_key(scope, new, audit).await
    }

    async fn find_api_key_by_token(&self, token: &str) -> Result<Option<ApiKey>> {
        self.gate().await?;
        self.inner.find_api_key_by_token(token).await
    }

    async fn api_keys_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: KeysetPage,
    ) -> Result<Paginated<ApiKey>> {
        self.gate().await?;
        self.inner.api_keys_page(scope, institution_id, page).await
    }

    async fn revoke_api_key(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        id: &ApiKeyId,
        audit: &AuditContext,
    ) -> Result<ApiKey> {
        self.gate().await?;
        self.inner
            .revoke_api_key(scope, institution_id, id, audit)
            .await
    }

    async fn upsert_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
        position: PositionPolicy,
        audit: &AuditContext,
    ) -> Result<InstitutionPolicy> {
        self.gate().await?;
        self.inner
            .upsert_policy(scope, institution_id, region, position, audit)
            .await
    }

    async fn get_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
    ) -> Result<InstitutionPolicy> {
        self.gate().await?;
        self.inner.get_policy(scope, institution_id, region).await
    }

    async fn policies_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: KeysetPage,
    ) -> Result<Paginated<InstitutionPolicy>> {
        self.gate().await?;
        self.inner.policies_page(scope, institution_id, page).await
    }

    async fn record_audit(&self, event: AuditEvent) -> Result<()> {
        self.gate().await?;
        self.inner.record_audit(event).await
    }

    async fn list_audit_events(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Paginated<AuditEvent>> {
        self.gate().await?;
        self.inner.list_audit_events(scope, filter, page).await
    }

    async fn ledger_events_page(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
        page: KeysetPage,
    ) -> Result<Paginated<LedgerEvent>> {
        self.gate().await?;
        self.inner
            .ledger_events_page(scope, position_id, page)
            .await
    }

    async fn create_ledger_checkpoint(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<escrowgrid::ledger::Checkpoint>> {
        self.gate().await?;
        self.inner.create_ledger_checkpoint(at).await
    }

    async fn ledger_checkpoints(
        &self,
    ) -> Result<Vec<(escrowgrid::ledger::Checkpoint, Vec<String>)>> {
        self.gate().await?;
        self.inner.ledger_checkpoints().await
    }

    async fn ledger_checkpoints_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<escrowgrid::ledger::Checkpoint>> {
        self.gate().await?;
        self.inner.ledger_checkpoints_after(after, limit).await
    }
}
