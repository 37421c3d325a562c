//! The memory store's state and its scoped lookups.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditEvent, Delivery, DeliveryId, Institution,
    InstitutionId, InstitutionPolicy, LedgerEvent, PolicyId, PositionId, Region, TemplateId,
    Webhook, WebhookId,
};
use crate::ledger::checkpoint::{self, Checkpoint};
use crate::store::Scope;
use crate::{Error, Result, lifecycle};

use super::audit_row::AuditRow;
use super::compact::{LedgerRow, Payload};
use super::packed::{Packed, Shared};
use super::position_row::PositionRow;
use super::rows::Key as _;
use super::table::{Row, Table};

/// Everything the memory store holds. One `RwLock` guards it all, so a write holding the
/// write lock is a transaction: it validates first and only then mutates, so it never leaves
/// a half-applied change.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) institutions: Table<Institution>,
    pub(super) templates: Table<AssetTemplate>,
    pub(super) assets: Table<Asset>,
    /// Positions, each shared with the events that render it (see `events.rs`).
    pub(super) positions: Table<Arc<PositionRow>>,
    /// Ledger events in write order (shared with their events); the index of each position's
    /// latest one (each row links to the one before it, see [`State::ledger_of`]) and the
    /// indexes of each institution's, in write order.
    pub(super) ledger: Vec<Arc<LedgerRow>>,
    pub(super) ledger_heads: HashMap<Packed, u32>,
    pub(super) ledger_by_institution: HashMap<InstitutionId, Vec<u32>>,
    /// Ledger checkpoints; a checkpoint's fence is the ledger length it covers up to.
    pub(super) checkpoints: Vec<Checkpoint>,
    pub(super) api_keys: Table<ApiKey>,
    /// Key id by token hash: the O(1) token lookup.
    pub(super) key_by_hash: HashMap<String, ApiKeyId>,
    pub(super) policies: Table<InstitutionPolicy>,
    pub(super) policy_by_region: HashMap<(InstitutionId, Region), PolicyId>,
    /// Audit events in write order, and their indexes per acting institution.
    pub(super) audit: Vec<AuditRow>,
    pub(super) audit_by_institution: HashMap<InstitutionId, Vec<usize>>,
    /// Webhook endpoints with their sealed secrets, and their deliveries.
    pub(super) webhooks: Table<StoredWebhook>,
    pub(super) deliveries: HashMap<DeliveryId, Delivery>,
    /// Each endpoint's deliveries in list order (newest first, ties by id): a page seeks its
    /// key in O(log n).
    pub(super) deliveries_by_webhook: HashMap<WebhookId, BTreeMap<DeliveryKey, DeliveryId>>,
    /// The values rows share (institution ids, request paths, ...).
    pub(super) shared: Shared,
}

/// A delivery's place in its endpoint's list: `created_at` descending, then id ascending.
pub(super) type DeliveryKey = (Reverse<DateTime<Utc>>, String);

/// A webhook endpoint and its sealed secret.
#[derive(Debug, Clone)]
pub(super) struct StoredWebhook {
    pub(super) webhook: Webhook,
    pub(super) sealed_secret: String,
}

impl Owned for StoredWebhook {
    fn owner(&self) -> &InstitutionId {
        &self.webhook.institution_id
    }
}

/// Rows that belong to one institution.
pub(super) trait Owned {
    fn owner(&self) -> &InstitutionId;
}

impl Owned for PositionRow {
    fn owner(&self) -> &InstitutionId {
        self.institution_id()
    }
}

impl<T: Owned> Owned for Arc<T> {
    fn owner(&self) -> &InstitutionId {
        (**self).owner()
    }
}

macro_rules! owned {
    ($($ty:ty => $field:ident),+ $(,)?) => {
        $(impl Owned for $ty {
            fn owner(&self) -> &InstitutionId {
                &self.$field
            }
        })+
    };
}

owned!(
    Institution => id,
    AssetTemplate => institution_id,
    Asset => institution_id,
    ApiKey => institution_id,
    InstitutionPolicy => institution_id,
);

/// Looks a row up by key, reporting another tenant's row exactly like a missing one.
pub(super) fn scoped<'a, V>(
    table: &'a Table<V>,
    scope: &Scope,
    key: &V::Key,
    resource: &'static str,
) -> Result<&'a V>
where
    V: Owned + Row,
{
    table
        .get(key)
        .filter(|row| scope.allows(row.owner()))
        .ok_or_else(|| key.with_text(|key| Error::not_found(resource, key)))
}

impl State {
    pub(super) fn institution(&self, scope: &Scope, id: &InstitutionId) -> Result<&Institution> {
        scoped(&self.institutions, scope, id, InstitutionId::RESOURCE)
    }

    pub(super) fn template(&self, scope: &Scope, id: &TemplateId) -> Result<&AssetTemplate> {
        scoped(&self.templates, scope, id, TemplateId::RESOURCE)
    }

    pub(super) fn asset(&self, scope: &Scope, id: &AssetId) -> Result<&Asset> {
        scoped(&self.assets, scope, id, AssetId::RESOURCE)
    }

    pub(super) fn position(&self, scope: &Scope, id: &PositionId) -> Result<&Arc<PositionRow>> {
        scoped(
            &self.positions,
            scope,
            &Packed::new(id.as_str()),
            PositionId::RESOURCE,
        )
    }

    /// The template `id` if it belongs to `institution_id` (else NotFound, even for root).
    pub(super) fn template_of(
        &self,
        institution_id: &InstitutionId,
        id: &TemplateId,
    ) -> Result<&AssetTemplate> {
        self.template(&Scope::Institution(institution_id.clone()), id)
    }

    /// The asset `id` if it belongs to `institution_id` (else NotFound, even for root).
    pub(super) fn asset_of(&self, institution_id: &InstitutionId, id: &AssetId) -> Result<&Asset> {
        self.asset(&Scope::Institution(institution_id.clone()), id)
    }

    pub(super) fn policy(
        &self,
        institution_id: &InstitutionId,
        region: Region,
    ) -> Option<&InstitutionPolicy> {
        self.policy_by_region
            .get(&(institution_id.clone(), region))
            .and_then(|id| self.policies.get(id))
    }

    /// The next checkpoint over the events pushed since the last one (commit order is push
    /// order: a write holds the lock for its whole transaction).
    pub(super) fn create_ledger_checkpoint(&mut self, at: DateTime<Utc>) -> Option<Checkpoint> {
        let previous = self.checkpoints.last();
        let from = previous.map_or(0, |p| usize::try_from(p.fence).unwrap_or(usize::MAX));
        let leaves: Vec<String> = self
            .ledger
            .get(from..)?
            .iter()
            .map(|row| row.leaf())
            .collect();
        if leaves.is_empty() {
            return None;
        }
        let fence = i64::try_from(self.ledger.len()).unwrap_or(i64::MAX);
        let created = checkpoint::next(previous, fence, &leaves, at);
        self.checkpoints.push(created.clone());
        Some(created)
    }

    pub(super) fn ledger_checkpoints(&self) -> Vec<(Checkpoint, Vec<String>)> {
        let mut from = 0;
        let mut out = Vec::with_capacity(self.checkpoints.len());
        for taken in &self.checkpoints {
            let to = usize::try_from(taken.fence).unwrap_or(usize::MAX);
            let covered = self.ledger.get(from..to).unwrap_or_default();
            out.push((
                taken.clone(),
                covered.iter().map(|row| row.leaf()).collect(),
            ));
            from = to;
        }
        out
    }

    /// The hash of the position's latest ledger event (the head of its chain).
    pub(super) fn last_ledger_hash(&self, position_id: &PositionId) -> Option<String> {
        let index = *self.ledger_heads.get(&Packed::new(position_id.as_str()))?;
        self.ledger.get(index as usize)?.hash()
    }

    /// The ledger indexes of a position's events, oldest first, by walking its chain back
    /// from the head: O(1), as a position has at most [`lifecycle::MAX_LEDGER_EVENTS`] (its
    /// creation and the longest run of state changes the lifecycle allows).
    pub(super) fn ledger_of(&self, position_id: &PositionId) -> Vec<u32> {
        let head = self.ledger_heads.get(&Packed::new(position_id.as_str()));
        let mut indexes: Vec<u32> = std::iter::successors(head.copied(), |index| {
            self.ledger.get(*index as usize)?.previous()
        })
        .collect();
        debug_assert!(indexes.len() <= lifecycle::MAX_LEDGER_EVENTS);
        indexes.reverse();
        indexes
    }

    /// Appends an audit event and indexes it under its acting institution.
    pub(super) fn push_audit(&mut self, event: AuditEvent) {
        self.push_audit_of(event, None);
    }

    /// [`State::push_audit`] for an event that may record the creation of `created`.
    pub(super) fn push_audit_of(&mut self, event: AuditEvent, created: Option<&Arc<PositionRow>>) {
        let row = AuditRow::new(event, created, &mut self.shared);
        if let Some(institution) = row.institution_id() {
            self.audit_by_institution
                .entry(institution.clone())
                .or_default()
                .push(self.audit.len());
        }
        self.audit.push(row);
    }

    /// The row of a ledger event to be pushed next (linked to its position's latest one),
    /// its payload kept as `payload`.
    pub(super) fn ledger_row(&mut self, event: &LedgerEvent, payload: Payload) -> Arc<LedgerRow> {
        let previous = self
            .ledger_heads
            .get(&Packed::new(event.position_id.as_str()))
            .copied();
        Arc::new(LedgerRow::new(event, payload, previous, &mut self.shared))
    }

    /// Appends a row made by [`State::ledger_row`] as its position's latest event, and on
    /// its institution's list.
    pub(super) fn push_ledger(&mut self, row: Arc<LedgerRow>) {
        let index = u32::try_from(self.ledger.len()).expect("fewer than 2^32 ledger events");
        self.ledger_heads.insert(row.position_id().clone(), index);
        self.ledger_by_institution
            .entry(row.institution_id().clone())
            .or_default()
            .push(index);
        self.ledger.push(row);
    }
}
