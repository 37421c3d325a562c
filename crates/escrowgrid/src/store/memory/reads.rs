//! The memory store's reads: filters and pages over the ordered tables.

use crate::Result;
use crate::domain::{
    ApiKey, Asset, AssetTemplate, AuditEvent, Institution, InstitutionId, InstitutionPolicy,
    LedgerEvent, Position, PositionId, hash_token,
};
use crate::store::{
    AssetFilter, AuditFilter, Page, Paginated, PositionFilter, Scope, SortKey, Start,
    TemplateFilter,
};

use super::audit_row::AuditRow;
use super::compact::LedgerRow;
use super::position_row::PositionRow;
use super::rows::{AssetList, PositionList};
use super::state::State;
use super::table::seq_window;

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
        page: &Page,
    ) -> Paginated<AssetTemplate> {
        let Some(institution) = institution_of(scope, filter.institution_id.as_ref()) else {
            return Paginated::empty(page);
        };
        let lists: Vec<_> = institution.into_iter().cloned().collect();
        cloned_page(self.templates.page_of(&lists, |_| true, page))
    }

    pub(super) fn list_assets(
        &self,
        scope: &Scope,
        filter: &AssetFilter,
        page: &Page,
    ) -> Paginated<Asset> {
        let Some(institution) = institution_of(scope, filter.institution_id.as_ref()) else {
            return Paginated::empty(page);
        };
        let list = match (&filter.template_id, institution) {
            // A template belongs to one institution: its list is the answer, or nothing.
            (Some(template), Some(institution)) => {
                match self.templates.get(template) {
                    Some(t) if t.institution_id == *institution => {}
                    _ => return Paginated::empty(page),
                }
                Some(AssetList::Template(template.clone()))
            }
            (Some(template), None) => Some(AssetList::Template(template.clone())),
            (None, institution) => institution.cloned().map(AssetList::Institution),
        };
        cloned_page(self.assets.page_of(list.as_slice(), |_| true, page))
    }

    /// A page of positions in O(page + log n) for every filter combination but one: a holder
    /// reference together with an institution or asset scans the shorter of the two lists.
    pub(super) fn list_positions(
        &self,
        scope: &Scope,
        filter: &PositionFilter,
        page: &Page,
    ) -> Paginated<Position> {
        let Some(institution) = institution_of(scope, filter.institution_id.as_ref()) else {
            return Paginated::empty(page);
        };
        let mut lists = Vec::with_capacity(2);
        match (&filter.asset_id, institution) {
            // An asset belongs to one institution: its list needs no institution check.
            (Some(asset), Some(institution)) => {
                match self.assets.get(asset) {
                    Some(a) if a.institution_id == *institution => {}
                    _ => return Paginated::empty(page),
                }
                lists.push(PositionList::Asset(asset.clone()));
            }
            (Some(asset), None) => lists.push(PositionList::Asset(asset.clone())),
            (None, Some(institution)) => {
                lists.push(PositionList::Institution(institution.clone()));
            }
            (None, None) => {}
        }
        if let Some(holder) = &filter.holder_reference {
            lists.push(PositionList::Holder(holder.clone()));
        }
        let keep = |p: &std::sync::Arc<PositionRow>| {
            scope.matches(filter.institution_id.as_ref(), p.institution_id())
                && filter.asset_id.as_ref().is_none_or(|a| a == p.asset_id())
                && filter
                    .holder_reference
                    .as_ref()
                    .is_none_or(|h| h == p.holder_reference())
        };
        self.positions
            .page_of(&lists, keep, page)
            .map(|p| p.position())
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

    /// A page of audit events: O(page) over one institution's events (or all of them) when
    /// no other filter is set, else a scan of that institution's events (or all of them).
    pub(super) fn list_audit_events(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: &Page,
    ) -> Paginated<AuditEvent> {
        let Some(institution) = institution_of(scope, filter.institution_id.as_ref()) else {
            return Paginated::empty(page);
        };
        let only_institution = *filter
            == AuditFilter {
                institution_id: filter.institution_id.clone(),
                ..AuditFilter::default()
            };
        let indexes = institution.map(|id| {
            self.audit_by_institution
                .get(id)
                .map_or(&[][..], Vec::as_slice)
        });
        let event_at = |seq: u64| usize::try_from(seq).ok().and_then(|i| self.audit.get(i));
        let after = match page.start() {
            Start::Offset(_) | Start::After(None) => None,
            Start::After(Some(SortKey::Seq(after))) => Some(*after),
            // An entity key never comes from this list: nothing follows it here.
            Start::After(Some(SortKey::Created { .. })) => return Paginated::empty(page),
        };
        let page_of_seqs = match (indexes, only_institution) {
            (None, true) => seq_window(self.audit.len(), page, |i| i as u64),
            (Some(indexes), true) => seq_window(indexes.len(), page, |i| indexes[i] as u64),
            (None, false) => {
                let from = after.map_or(0, |after| after.saturating_add(1));
                let seqs = from..self.audit.len() as u64;
                let accepted =
                    seqs.filter(|seq| event_at(*seq).is_some_and(|e| e.accepted_by(filter)));
                page.apply(accepted, |seq| SortKey::Seq(*seq))
            }
            (Some(indexes), false) => {
                let from = after.map_or(0, |after| indexes.partition_point(|i| *i as u64 <= after));
                let accepted = indexes[from..]
                    .iter()
                    .map(|i| *i as u64)
                    .filter(|seq| event_at(*seq).is_some_and(|e| e.accepted_by(filter)));
                page.apply(accepted, |seq| SortKey::Seq(*seq))
            }
        };
        // Every seq of a page names a stored event.
        let Paginated { items, total, next } = page_of_seqs;
        Paginated {
            items: items
                .into_iter()
                .filter_map(event_at)
                .map(AuditRow::event)
                .collect(),
            total,
            next,
        }
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
                .filter(|e| scope.allows(e.institution_id()))
                .map(|e| e.event())
                .collect());
        };
        self.position(scope, position_id)?;
        Ok(self
            .ledger_of(position_id)
            .into_iter()
            .map(LedgerRow::event)
            .collect())
    }
}

/// The one institution a list is limited to by the scope and the filter together: `Some(None)`
/// for none (root without a filter), `None` when they disagree (an empty list).
fn institution_of<'a>(
    scope: &'a Scope,
    filter: Option<&'a InstitutionId>,
) -> Option<Option<&'a InstitutionId>> {
    match (scope.institution(), filter) {
        (Some(own), Some(wanted)) if own != wanted => None,
        (own, wanted) => Some(own.or(wanted)),
    }
}

/// Clones only the rows of the page (a list may match far more rows than it returns).
fn cloned_page<T: Clone>(page: Paginated<&T>) -> Paginated<T> {
    page.map(Clone::clone)
}
