//! What each memory table is keyed, ordered and listed by ([`Row`] for every stored row).

use std::hash::Hash;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, Institution, InstitutionId, InstitutionPolicy,
    PolicyId, TemplateId, WebhookId,
};

use super::packed::Packed;
use super::position_row::PositionRow;

use super::state::StoredWebhook;
use super::table::Row;

/// A row's primary key: it orders as its text does, which it lends without allocating when
/// it can.
pub(super) trait Key: Clone + Eq + Hash + Ord {
    /// Calls `f` with the key's text.
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R;
}

impl<T: Clone + Eq + Hash + Ord + AsRef<str>> Key for T {
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(self.as_ref())
    }
}

impl Key for Packed {
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        Packed::with_text(self, f)
    }
}

/// The ordered lists positions are on: one per filter a position list accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum PositionList {
    /// The positions of one institution.
    Institution(InstitutionId),
    /// The positions on one asset (an asset belongs to one institution).
    Asset(AssetId),
    /// The positions of one holder reference, across institutions.
    Holder(String),
}

/// The ordered lists assets are on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum AssetList {
    /// The assets of one institution.
    Institution(InstitutionId),
    /// The assets of one template (a template belongs to one institution).
    Template(TemplateId),
}

impl<T: Row> Row for Arc<T> {
    type Key = T::Key;
    type List = T::List;
    fn key(&self) -> &T::Key {
        (**self).key()
    }
    fn created_at(&self) -> DateTime<Utc> {
        (**self).created_at()
    }
    fn lists(&self) -> Vec<T::List> {
        (**self).lists()
    }
}

/// Implements [`Row`] for rows listed per owning institution.
macro_rules! per_institution {
    ($($ty:ty => $key:ty, $($owner:ident).+);+ $(;)?) => {
        $(impl Row for $ty {
            type Key = $key;
            type List = InstitutionId;
            fn key(&self) -> &$key {
                &self.id
            }
            fn created_at(&self) -> DateTime<Utc> {
                self.created_at
            }
            fn lists(&self) -> Vec<InstitutionId> {
                vec![self.$($owner).+.clone()]
            }
        })+
    };
}

per_institution!(
    AssetTemplate => TemplateId, institution_id;
    InstitutionPolicy => PolicyId, institution_id;
);

/// Only active keys are on their institution's list (the list of active keys); a revoke
/// re-inserts the key, which takes it off.
impl Row for ApiKey {
    type Key = ApiKeyId;
    type List = InstitutionId;
    fn key(&self) -> &ApiKeyId {
        &self.id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn lists(&self) -> Vec<InstitutionId> {
        if self.revoked_at.is_some() {
            return Vec::new();
        }
        vec![self.institution_id.clone()]
    }
}

impl Row for Institution {
    type Key = InstitutionId;
    type List = InstitutionId;
    fn key(&self) -> &InstitutionId {
        &self.id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn lists(&self) -> Vec<InstitutionId> {
        Vec::new()
    }
}

impl Row for Asset {
    type Key = AssetId;
    type List = AssetList;
    fn key(&self) -> &AssetId {
        &self.id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn lists(&self) -> Vec<AssetList> {
        vec![
            AssetList::Institution(self.institution_id.clone()),
            AssetList::Template(self.template_id.clone()),
        ]
    }
}

impl Row for PositionRow {
    type Key = Packed;
    type List = PositionList;
    fn key(&self) -> &Packed {
        self.id()
    }
    fn created_at(&self) -> DateTime<Utc> {
        PositionRow::created_at(self)
    }
    fn lists(&self) -> Vec<PositionList> {
        vec![
            PositionList::Institution(self.institution_id().clone()),
            PositionList::Asset(self.asset_id().clone()),
            PositionList::Holder(self.holder_reference().to_owned()),
        ]
    }
}

impl Row for StoredWebhook {
    type Key = WebhookId;
    type List = InstitutionId;
    fn key(&self) -> &WebhookId {
        &self.webhook.id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.webhook.created_at
    }
    fn lists(&self) -> Vec<InstitutionId> {
        vec![self.webhook.institution_id.clone()]
    }
}
