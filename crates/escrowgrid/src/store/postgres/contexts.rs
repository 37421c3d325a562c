//! The creation contexts a PostgreSQL store has read: per (institution, asset), the asset's
//! template and the institution's policy for the template's region, as last read.
//!
//! A hint, never an authority: a create checked against a cached context writes with a guard
//! (migration `0011_policy_guard.sql`) that rolls it back when the policy changed since (on
//! any instance), and a create the cached context would refuse reads the database first.
//! Templates and assets never change once created, so a cached one is never wrong; an asset
//! that does not exist is never cached. At most [`CAPACITY`] contexts are kept: a fill beyond
//! it starts over from empty, which costs the next create of each asset one read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::domain::{AssetId, AssetTemplate, InstitutionId, PolicyConfig, PositionPolicy};

/// Contexts kept at most.
pub(super) const CAPACITY: usize = 4_096;

/// What a create of a position of one asset is checked against.
#[derive(Debug)]
pub(super) struct CreateContext {
    /// The asset's template (its region and amount limits).
    pub(super) template: AssetTemplate,
    /// The institution's policy for the template's region, parsed.
    pub(super) policy: Option<PolicyConfig>,
    /// The same policy as stored, for the guard's comparison.
    pub(super) policy_json: Option<Value>,
}

impl CreateContext {
    /// The position rules of the policy, if there is one.
    pub(super) fn position_policy(&self) -> Option<&PositionPolicy> {
        self.policy.as_ref().map(|config| &config.position)
    }
}

/// The cache; shared by every clone of the store.
#[derive(Debug, Default)]
pub(super) struct ContextCache {
    /// By institution, then asset.
    by_institution: Mutex<HashMap<String, HashMap<String, Arc<CreateContext>>>>,
}

impl ContextCache {
    /// The context last read for `asset` of `institution`, if kept.
    pub(super) fn get(
        &self,
        institution: &InstitutionId,
        asset: &AssetId,
    ) -> Option<Arc<CreateContext>> {
        self.lock()
            .get(institution.as_str())?
            .get(asset.as_str())
            .cloned()
    }

    /// Keeps `context` for `asset` of `institution`.
    pub(super) fn put(&self, institution: &InstitutionId, asset: &AssetId, context: CreateContext) {
        let mut by_institution = self.lock();
        let kept: usize = by_institution.values().map(HashMap::len).sum();
        if kept >= CAPACITY {
            by_institution.clear();
        }
        by_institution
            .entry(institution.as_str().to_owned())
            .or_default()
            .insert(asset.as_str().to_owned(), Arc::new(context));
    }

    /// Drops what is kept of `institution` (its policy changed on this instance).
    pub(super) fn forget_institution(&self, institution: &InstitutionId) {
        self.lock().remove(institution.as_str());
    }

    /// Drops the context of `asset` of `institution` (its guard failed: it is stale).
    pub(super) fn forget(&self, institution: &InstitutionId, asset: &AssetId) {
        if let Some(assets) = self.lock().get_mut(institution.as_str()) {
            assets.remove(asset.as_str());
        }
    }

    /// How many contexts are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, Arc<CreateContext>>>> {
        // A panic while holding the lock cannot leave a map half updated in a way that
        // matters: every entry is a complete context.
        self.by_institution
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JsonObject, Region, TemplateCode, TemplateId, Vertical, now_millis};

    fn context(institution: &InstitutionId) -> CreateContext {
        CreateContext {
            template: AssetTemplate {
                id: TemplateId::new(),
                institution_id: institution.clone(),
                code: TemplateCode::ConstrEscrow,
                name: "t".into(),
                vertical: Vertical::Construction,
                region: Region::Us,
                config: JsonObject::new(),
                created_at: now_millis(),
                updated_at: now_millis(),
            },
            policy: None,
            policy_json: None,
        }
    }

    #[test]
    fn a_kept_context_is_found_under_its_institution_and_asset_only() {
        let cache = ContextCache::default();
        let (institution, other) = (InstitutionId::new(), InstitutionId::new());
        let asset = AssetId::new();
        cache.put(&institution, &asset, context(&institution));

        assert!(cache.get(&institution, &asset).is_some());
        assert!(cache.get(&other, &asset).is_none());
        assert!(cache.get(&institution, &AssetId::new()).is_none());
    }

    #[test]
    fn forgetting_drops_the_asset_or_the_whole_institution() {
        let cache = ContextCache::default();
        let institution = InstitutionId::new();
        let (first, second) = (AssetId::new(), AssetId::new());
        cache.put(&institution, &first, context(&institution));
        cache.put(&institution, &second, context(&institution));

        cache.forget(&institution, &first);
        assert!(cache.get(&institution, &first).is_none());
        assert!(cache.get(&institution, &second).is_some());
        cache.forget_institution(&institution);
        assert!(cache.get(&institution, &second).is_none());
    }

    #[test]
    fn a_fill_beyond_the_capacity_starts_over_so_the_cache_stays_bounded() {
        let cache = ContextCache::default();
        let institution = InstitutionId::new();
        for _ in 0..CAPACITY {
            cache.put(&institution, &AssetId::new(), context(&institution));
        }
        assert_eq!(cache.len(), CAPACITY);

        let last = AssetId::new();
        cache.put(&institution, &last, context(&institution));
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&institution, &last).is_some());
    }
}
