//! The memory store's reads: filters and pages over the ordered tables.

use crate::Result;
use crate::domain::{
    ApiKey, Asset, AssetTemplate, AuditEvent, Institution, InstitutionId, InstitutionPolicy,
    LedgerEvent, Position, PositionId, hash_token,
};
use crate::store::{
    AssetFilter, AuditFilter, Page, Paginated, PositionFilter, Scope, TemplateFilter,
};

use super::state::State;

impl State {
    pub(super) fn list_institutions(&self, scope: &Scope) -> Vec<Institution> {
        self.institutions
            .iter()
            .filter(|institution| scope.allows(&institution.id))
            .cloned()
            .collect()
    }

    pub(super) fn list_asset_templates(
        &self,
        scope: &Scope,
        filter: &TemplateFilter,
        page: Page,
    ) -> Paginated<AssetTemplate> {
        let wanted = filter.institution_id.as_ref();
        page.apply(
            self.templates
                .iter()
                .filter(|t| scope.matches(wanted, &t.institution_id))
                .cloned(),
        )
    }

    pub(super) fn list_assets(
        &self,
        scope: &Scope,
        filter: &AssetFilter,
        page: Page,
    ) -> Paginated<Asset> {
        let wanted = filter.institution_id.as_ref();
        page.apply(
            self.assets
                .iter()
                .filter(|a| scope.matches(wanted, &a.institution_id))
                .filter(|a| {
                    filter
                        .template_id
                        .as_ref()
                        .is_none_or(|t| *t == a.template_id)
                })
                .cloned(),
        )
    }

    pub(super) fn list_positions(
        &self,
        scope: &Scope,
        filter: &PositionFilter,
        page: Page,
    ) -> Paginated<Position> {
        let wanted = filter.institution_id.as_ref();
        page.apply(
            self.positions
                .iter()
                .filter(|p| scope.matches(wanted, &p.institution_id))
                .filter(|p| filter.asset_id.as_ref().is_none_or(|a| *a == p.asset_id))
                .filter(|p| {
                    filter
                        .holder_reference
                        .as_ref()
                        .is_none_or(|h| *h == p.holder_reference)
                })
                .cloned(),
        )
    }

    pub(super) fn find_api_key_by_token(&self, token: &str) -> Option<ApiKey> {
        self.key_by_hash
            .get(&hash_token(token))
            .and_then(|id| self.api_keys.get(id))
            .filter(|key| key.revoked_at.is_none())
            .cloned()
    }

    pub(super) fn list_api_keys(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
    ) -> Result<Vec<ApiKey>> {
        self.institution(scope, institution_id)?;
        Ok(self
            .api_keys
            .iter()
            .filter(|key| key.institution_id == *institution_id && key.revoked_at.is_none())
            .cloned()
            .collect())
    }

    pub(super) fn list_policies(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
    ) -> Result<Vec<InstitutionPolicy>> {
        self.institution(scope, institution_id)?;
        Ok(self
            .policies
            .iter()
            .filter(|policy| policy.institution_id == *institution_id)
            .cloned()
            .collect())
    }

    pub(super) fn list_audit_events(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: Page,
    ) -> Paginated<AuditEvent> {
        page.apply(
            self.audit
                .iter()
                .filter(|e| match scope.institution() {
                    None => true,
                    Some(own) => e.institution_id.as_ref() == Some(own),
                })
                .filter(|e| {
                    filter
                        .institution_id
                        .as_ref()
                        .is_none_or(|i| e.institution_id.as_ref() == Some(i))
                })
                .filter(|e| {
                    filter
                        .api_key_id
                        .as_ref()
                        .is_none_or(|k| e.api_key_id.as_ref() == Some(k))
                })
                .filter(|e| filter.action.is_none_or(|a| a == e.action))
                .filter(|e| filter.outcome.is_none_or(|o| o == e.outcome))
                .cloned(),
        )
    }

    pub(super) fn list_ledger_events(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
    ) -> Result<Vec<LedgerEvent>> {
        let Some(position_id) = position_id else {
            return Ok(self
                .ledger
                .iter()
                .filter(|e| scope.allows(&e.institution_id))
                .cloned()
                .collect());
        };
        self.position(scope, position_id)?;
        Ok(self
            .ledger_by_position
            .get(position_id)
            .into_iter()
            .flatten()
            .filter_map(|index| self.ledger.get(*index))
            .cloned()
            .collect())
    }
}
