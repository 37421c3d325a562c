//! The memory store's state and its scoped lookups.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditEvent, Delivery, DeliveryId, Institution,
    InstitutionId, InstitutionPolicy, PolicyId, Position, PositionId, Region, TemplateId, Webhook,
    WebhookId,
};
use crate::ledger::checkpoint::{self, Checkpoint};
use crate::store::Scope;
use crate::{Error, Result};

use super::compact::{AuditRow, LedgerRow};
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
    pub(super) positions: Table<Arc<Position>>,
    /// Ledger events in write order (shared with their events), and their indexes per
    /// position and per institution.
    pub(super) ledger: Vec<Arc<LedgerRow>>,
    pub(super) ledger_by_position: HashMap<PositionId, Vec<usize>>,
    pub(super) ledger_by_institution: HashMap<InstitutionId, Vec<usize>>,
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
    Position => institution_id,
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
    V::Key: AsRef<str>,
{
    table
        .get(key)
        .filter(|row| scope.allows(row.owner()))
        .ok_or_else(|| Error::not_found(resource, key.as_ref()))
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

    pub(super) fn position(&self, scope: &Scope, id: &PositionId) -> Result<&Position> {
        scoped(&self.positions, scope, id, PositionId::RESOURCE).map(|p| &**p)
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
            .map(|row| checkpoint::leaf(row.header()))
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
                covered
                    .iter()
                    .map(|row| checkpoint::leaf(row.header()))
                    .collect(),
            ));
            from = to;
        }
        out
    }

    /// The hash of the position's latest ledger event (the head of its chain).
    pub(super) fn last_ledger_hash(&self, position_id: &PositionId) -> Option<String> {
        let index = *self.ledger_by_position.get(position_id)?.last()?;
        self.ledger.get(index)?.header().hash.clone()
    }

    /// Appends an audit event and indexes it under its acting institution.
    pub(super) fn push_audit(&mut self, event: AuditEvent) {
        if let Some(institution) = &event.institution_id {
            self.audit_by_institution
                .entry(institution.clone())
                .or_default()
                .push(self.audit.len());
        }
        self.audit.push(AuditRow::new(event));
    }

    pub(super) fn push_ledger(&mut self, event: Arc<LedgerRow>) {
        let header = event.header();
        self.ledger_by_position
            .entry(header.position_id.clone())
            .or_default()
            .push(self.ledger.len());
        self.ledger_by_institution
            .entry(header.institution_id.clone())
            .or_default()
            .push(self.ledger.len());
        self.ledger.push(event);
    }
}
