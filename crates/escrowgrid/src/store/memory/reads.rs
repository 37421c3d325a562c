//! The memory store's reads: filters and pages over the ordered tables.

use crate::Result;
use crate::domain::{
    ApiKey, Asset, AssetTemplate, AuditEvent, Institution, InstitutionId, InstitutionPolicy,
    LedgerEvent, Position, PositionId,
};
use crate::store::{
    AssetFilter, AuditFilter, KeysetPage, Page, Paginated, PositionFilter, Scope, SortKey, Start,
    TemplateFilter,
};

use super::audit_row::AuditRow;
use super::position_row::PositionRow;
use super::rows::{AssetList, PositionList};
use super::state::State;
use super::table::{seq_window, sort_key};

impl State {
    /// A page of the institutions in scope: O(page + log n) for root; a tenant's list is its
    /// own row.
    pub(super) fn institutions_page(
        &self,
        scope: &Scope,
        page: &KeysetPage,
    ) -> Paginated<Institution> {
        match scope.institution() {
            None => cloned_page(self.institutions.rows(None).page(&page.page())),
            Some(own) => {
                let own = self.institutions.get(own).into_iter();
                cloned_page(page.page().apply(own, |row| sort_key(*row)))
            }
        }
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

    /// A page of an institution's active keys: O(page + log n), as only active keys are on
    /// their institution's list (a revoke moves the key off it).
    pub(super) fn api_keys_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: &KeysetPage,
    ) -> Result<Paginated<ApiKey>> {
        self.institution(scope, institution_id)?;
        let active = self.api_keys.rows(Some(institution_id));
        Ok(cloned_page(active.page(&page.page())))
    }

    /// A page of an institution's policies, O(page + log n).
    pub(super) fn policies_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: &KeysetPage,
    ) -> Result<Paginated<InstitutionPolicy>> {
        self.institution(scope, institution_id)?;
        let policies = self.policies.rows(Some(institution_id));
        Ok(cloned_page(policies.page(&page.page())))
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
        page_of_seqs.filter_map(|seq| event_at(seq).map(AuditRow::event))
    }

    /// A page of ledger events in write order (an event's seq is its index in the ledger),
    /// O(page + log n): of one position, of the scope's institution, or of every one.
    pub(super) fn ledger_events_page(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
        page: &KeysetPage,
    ) -> Result<Paginated<LedgerEvent>> {
        // A position's events by its chain (at most a few), an institution's by its index.
        let of_position;
        let indexes: Option<&[u32]> = match (position_id, scope.institution()) {
            (Some(position_id), _) => {
                self.position(scope, position_id)?;
                of_position = self.ledger_of(position_id);
                Some(&of_position)
            }
            (None, Some(own)) => Some(
                self.ledger_by_institution
                    .get(own)
                    .map_or(&[][..], Vec::as_slice),
            ),
            (None, None) => None,
        };
        let page = page.page();
        let seqs = match indexes {
            None => seq_window(self.ledger.len(), &page, |i| i as u64),
            Some(indexes) => seq_window(indexes.len(), &page, |i| u64::from(indexes[i])),
        };
        // Every seq of a page names a stored event.
        Ok(seqs.filter_map(|seq| {
            let row = usize::try_from(seq).ok().and_then(|i| self.ledger.get(i));
            row.map(|row| row.event())
        }))
    }
}

/// The one institution a list is limited to by the scope and the filter together: `Some(None)`
/// for none (root without a filter), `None` when they disagree (an empty list).
pub(super) fn institution_of<'a>(
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
