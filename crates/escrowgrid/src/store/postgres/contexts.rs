//! The creation contexts a PostgreSQL store has read: per (institution, asset), the asset's
//! template and the institution's policy for the template's region, as last read.
//!
//! A hint, never an authority: a create checked against a cached context writes with a guard
//! (migration `0011_policy_guard.sql`) that rolls it back when the policy changed since (on
//! any instance), and a create the cached context would refuse reads the database first.
//! Templates and assets never change once created, so a cached one is never wrong; an asset
//! that does not exist is never cached. At most [`CAPACITY`] contexts are kept in each of two
//! [`Generations`]: the assets created on most recently; one aged out costs its next create
//! one read.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::domain::{AssetId, AssetTemplate, InstitutionId, PolicyConfig, PositionPolicy};

use super::generations::Generations;

/// Contexts kept at most per generation.
pub(super) const CAPACITY: usize = 4_096;

/// A context's key: the institution and the asset.
type Key = (InstitutionId, AssetId);

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
#[derive(Debug)]
pub(super) struct ContextCache {
    contexts: Mutex<Generations<Key, Arc<CreateContext>>>,
}

impl Default for ContextCache {
    fn default() -> Self {
        Self {
            contexts: Mutex::new(Generations::new(CAPACITY)),
        }
    }
}

impl ContextCache {
    /// The context last read for `asset` of `institution`, if kept.
    pub(super) fn get(
        &self,
        institution: &InstitutionId,
        asset: &AssetId,
    ) -> Option<Arc<CreateContext>> {
        self.lock().get(&(institution.clone(), asset.clone()))
    }

    /// Keeps `context` for `asset` of `institution`.
    pub(super) fn put(&self, institution: &InstitutionId, asset: &AssetId, context: CreateContext) {
        self.lock()
            .insert((institution.clone(), asset.clone()), Arc::new(context));
    }

    /// Drops what is kept of `institution` (its policy changed on this instance).
    pub(super) fn forget_institution(&self, institution: &InstitutionId) {
        self.lock().retain(|(kept, _)| kept != institution);
    }

    /// Drops the context of `asset` of `institution` (its guard failed: it is stale).
    pub(super) fn forget(&self, institution: &InstitutionId, asset: &AssetId) {
        self.lock().remove(&(institution.clone(), asset.clone()));
    }

    /// How many contexts are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Generations<Key, Arc<CreateContext>>> {
        // A panic while holding the lock cannot leave a map half updated in a way that
        // matters: every entry is a complete context.
        self.contexts
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
    fn at_most_two_generations_of_contexts_are_kept() {
        let cache = ContextCache::default();
        let institution = InstitutionId::new();
        let first = AssetId::new();
        cache.put(&institution, &first, context(&institution));
        let mut last = first.clone();
        for _ in 0..3 * CAPACITY {
            last = AssetId::new();
            cache.put(&institution, &last, context(&institution));
            assert!(cache.len() <= 2 * CAPACITY);
        }
        assert!(cache.get(&institution, &first).is_none(), "aged out");
        assert!(cache.get(&institution, &last).is_some());
    }
}
