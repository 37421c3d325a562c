//! [`EscrowStore`] for [`PgEscrowStore`]: validate the input, run the operation inside
//! gridstore's `retry` (a write is one transaction per attempt, so serialization failures,
//! deadlocks and connections lost before commit are retried; a commit with an unknown
//! outcome never is), then translate storage errors into domain errors. A write that appended
//! domain events announces them once committed (gridstore's `PgEventLog::announce`: it wakes
//! event-stream and webhook subscribers here and in other instances). Each method runs in a
//! `store.<method>` tracing span, parent of its `sql` spans (see `docs/OBSERVABILITY.md`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gridstore::postgres::retry;

use crate::Result;
use crate::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditContext, AuditEvent, Institution,
    InstitutionId, InstitutionPolicy, LedgerEvent, NewApiKey, NewAsset, NewAssetTemplate,
    NewInstitution, NewPosition, Position, PositionId, PositionPolicy, Region, TemplateId,
    TransitionRequest,
};
use crate::ledger::checkpoint::Checkpoint;
use crate::store::{
    AssetFilter, AuditFilter, CreatedApiKey, EscrowStore, KeysetPage, Page, Paginated, PoolStatus,
    PositionFilter, Scope, TemplateFilter, TransitionWays,
};

use super::PgEscrowStore;
use super::error::{Subject, translate};

#[async_trait]
impl EscrowStore for PgEscrowStore {
    #[tracing::instrument(name = "store.health", skip_all)]
    async fn health(&self) -> Result<()> {
        Ok(self.pool.ping().await?)
    }

    fn events(&self) -> std::sync::Arc<dyn gridstore::EventLog> {
        self.shared_events()
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let status = self.pool.status();
        Some(PoolStatus {
            max_size: status.max_size,
            size: status.size,
            idle: status.available,
            waiting: status.waiting,
        })
    }

    fn transition_ways(&self) -> Option<TransitionWays> {
        Some(self.ways.snapshot())
    }

    #[tracing::instrument(name = "store.create_institution", skip_all)]
    async fn create_institution(
        &self,
        new: NewInstitution,
        audit: &AuditContext,
    ) -> Result<Institution> {
        new.validate()?;
        retry(&self.retry, || self.insert_institution(new.clone(), audit))
            .await
            .inspect(|_| self.events.announce())
            .map_err(|err| translate(err, &Subject::default()))
    }

    #[tracing::instrument(name = "store.get_institution", skip_all)]
    async fn get_institution(&self, scope: &Scope, id: &InstitutionId) -> Result<Institution> {
        retry(&self.retry, || self.select_institution(scope, id)).await
    }

    #[tracing::instrument(name = "store.institutions_page", skip_all)]
    async fn institutions_page(
        &self,
        scope: &Scope,
        page: KeysetPage,
    ) -> Result<Paginated<Institution>> {
        retry(&self.retry, || self.select_institutions(scope, &page)).await
    }

    #[tracing::instrument(name = "store.create_asset_template", skip_all)]
    async fn create_asset_template(
        &self,
        scope: &Scope,
        new: NewAssetTemplate,
        audit: &AuditContext,
    ) -> Result<AssetTemplate> {
        new.validate()?;
        let subject = Subject {
            institution: Some(new.institution_id.as_str()),
            ..Subject::default()
        };
        retry(&self.retry, || {
            self.insert_template(scope, new.clone(), audit)
        })
        .await
        .inspect(|_| self.events.announce())
        .map_err(|err| translate(err, &subject))
    }

    #[tracing::instrument(name = "store.get_asset_template", skip_all)]
    async fn get_asset_template(&self, scope: &Scope, id: &TemplateId) -> Result<AssetTemplate> {
        retry(&self.retry, || self.select_template(scope, id)).await
    }

    #[tracing::instrument(name = "store.list_asset_templates", skip_all)]
    async fn list_asset_templates(
        &self,
        scope: &Scope,
        filter: &TemplateFilter,
        page: Page,
    ) -> Result<Paginated<AssetTemplate>> {
        retry(&self.retry, || self.template_page(scope, filter, &page)).await
    }

    #[tracing::instrument(name = "store.create_asset", skip_all)]
    async fn create_asset(
        &self,
        scope: &Scope,
        new: NewAsset,
        audit: &AuditContext,
    ) -> Result<Asset> {
        new.validate()?;
        let subject = Subject {
            institution: Some(new.institution_id.as_str()),
            template: Some(new.template_id.as_str()),
            ..Subject::default()
        };
        retry(&self.retry, || self.insert_asset(scope, new.clone(), audit))
            .await
            .inspect(|_| self.events.announce())
            .map_err(|err| translate(err, &subject))
    }

    #[tracing::instrument(name = "store.get_asset", skip_all)]
    async fn get_asset(&self, scope: &Scope, id: &AssetId) -> Result<Asset> {
        retry(&self.retry, || self.select_asset(scope, id)).await
    }

    #[tracing::instrument(name = "store.list_assets", skip_all)]
    async fn list_assets(
        &self,
        scope: &Scope,
        filter: &AssetFilter,
        page: Page,
    ) -> Result<Paginated<Asset>> {
        retry(&self.retry, || self.asset_page(scope, filter, &page)).await
    }

    #[tracing::instrument(name = "store.create_position", skip_all)]
    async fn create_position(
        &self,
        scope: &Scope,
        new: NewPosition,
        audit: &AuditContext,
    ) -> Result<Position> {
        new.validate()?;
        let subject = Subject {
            institution: Some(new.institution_id.as_str()),
            asset: Some(new.asset_id.as_str()),
            ..Subject::default()
        };
        retry(&self.retry, || {
            self.insert_position(scope, new.clone(), audit)
        })
        .await
        .inspect(|_| self.events.announce())
        .map_err(|err| translate(err, &subject))
    }

    #[tracing::instrument(name = "store.get_position", skip_all)]
    async fn get_position_shared(
        &self,
        scope: &Scope,
        id: &PositionId,
    ) -> Result<std::sync::Arc<Position>> {
        let position = retry(&self.retry, || self.select_position(scope, id)).await?;
        Ok(std::sync::Arc::new(position))
    }

    #[tracing::instrument(name = "store.list_positions", skip_all)]
    async fn list_positions(
        &self,
        scope: &Scope,
        filter: &PositionFilter,
        page: Page,
    ) -> Result<Paginated<Position>> {
        retry(&self.retry, || self.position_page(scope, filter, &page)).await
    }

    #[tracing::instrument(name = "store.transition_position", skip_all)]
    async fn transition_position(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: TransitionRequest,
        audit: &AuditContext,
    ) -> Result<Position> {
        request.validate()?;
        let subject = Subject {
            position: Some(id.as_str()),
            ..Subject::default()
        };
        retry(&self.retry, || {
            self.apply_transition(scope, id, request.clone(), audit)
        })
        .await
        .inspect(|_| self.events.announce())
        .map_err(|err| translate(err, &subject))
    }

    #[tracing::instrument(name = "store.create_api_key", skip_all)]
    async fn create_api_key(
        &self,
        scope: &Scope,
        new: NewApiKey,
        audit: &AuditContext,
    ) -> Result<CreatedApiKey> {
        new.validate()?;
        let subject = Subject {
            institution: Some(new.institution_id.as_str()),
            ..Subject::default()
        };
        retry(&self.retry, || {
            self.insert_api_key(scope, new.clone(), audit)
        })
        .await
        .inspect(|_| self.events.announce())
        .map_err(|err| translate(err, &subject))
    }

    #[tracing::instrument(name = "store.find_api_key_by_token", skip_all)]
    async fn find_api_key_by_token(&self, token: &str) -> Result<Option<ApiKey>> {
        self.find_api_key_at(token, std::time::Instant::now()).await
    }

    #[tracing::instrument(name = "store.api_keys_page", skip_all)]
    async fn api_keys_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: KeysetPage,
    ) -> Result<Paginated<ApiKey>> {
        retry(&self.retry, || {
            self.active_api_keys(scope, institution_id, &page)
        })
        .await
    }

    #[tracing::instrument(name = "store.revoke_api_key", skip_all)]
    async fn revoke_api_key(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        id: &ApiKeyId,
        audit: &AuditContext,
    ) -> Result<ApiKey> {
        retry(&self.retry, || {
            self.revoke(scope, institution_id, id, audit)
        })
        .await
        .inspect(|_| self.events.announce())
    }

    #[tracing::instrument(name = "store.upsert_policy", skip_all)]
    async fn upsert_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
        position: PositionPolicy,
        audit: &AuditContext,
    ) -> Result<InstitutionPolicy> {
        position.validate()?;
        let subject = Subject {
            institution: Some(institution_id.as_str()),
            ..Subject::default()
        };
        retry(&self.retry, || {
            self.write_policy(scope, institution_id, region, position.clone(), audit)
        })
        .await
        .inspect(|_| self.events.announce())
        .map_err(|err| translate(err, &subject))
    }

    #[tracing::instrument(name = "store.get_policy", skip_all)]
    async fn get_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
    ) -> Result<InstitutionPolicy> {
        retry(&self.retry, || {
            self.select_policy(scope, institution_id, region)
        })
        .await
    }

    #[tracing::instrument(name = "store.policies_page", skip_all)]
    async fn policies_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: KeysetPage,
    ) -> Result<Paginated<InstitutionPolicy>> {
        retry(&self.retry, || {
            self.select_policies(scope, institution_id, &page)
        })
        .await
    }

    #[tracing::instrument(name = "store.record_audit", skip_all)]
    async fn record_audit(&self, event: AuditEvent) -> Result<()> {
        retry(&self.retry, || self.record_audit_event(&event))
            .await
            .map_err(|err| translate(err, &Subject::default()))
    }

    #[tracing::instrument(name = "store.list_audit_events", skip_all)]
    async fn list_audit_events(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Paginated<AuditEvent>> {
        retry(&self.retry, || self.audit_page(scope, filter, &page)).await
    }

    #[tracing::instrument(name = "store.ledger_events_page", skip_all)]
    async fn ledger_events_page(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
        page: KeysetPage,
    ) -> Result<Paginated<LedgerEvent>> {
        retry(&self.retry, || self.ledger_page(scope, position_id, &page)).await
    }

    #[tracing::instrument(name = "store.create_ledger_checkpoint", skip_all)]
    async fn create_ledger_checkpoint(&self, at: DateTime<Utc>) -> Result<Option<Checkpoint>> {
        retry(&self.retry, || self.checkpoint(at)).await
    }

    #[tracing::instrument(name = "store.ledger_checkpoints", skip_all)]
    async fn ledger_checkpoints(&self) -> Result<Vec<(Checkpoint, Vec<String>)>> {
        retry(&self.retry, || self.checkpoints()).await
    }

    #[tracing::instrument(name = "store.ledger_checkpoints_after", skip_all)]
    async fn ledger_checkpoints_after(&self, after: i64, limit: usize) -> Result<Vec<Checkpoint>> {
        retry(&self.retry, || self.checkpoints_after(after, limit)).await
    }
}
