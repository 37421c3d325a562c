//! Scopes, filters and other values exchanged with an [`super::EscrowStore`].

use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, ApiKeyId, AssetId, AuditAction, AuditEvent, AuditOutcome, InstitutionId, ResourceType,
    TemplateId,
};

/// Whose rows a call may see and touch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The root key: every institution.
    Root,
    /// An API key of one institution: only that institution's rows.
    Institution(InstitutionId),
}

impl Scope {
    /// Whether rows of `institution_id` are visible in this scope.
    #[must_use]
    pub fn allows(&self, institution_id: &InstitutionId) -> bool {
        match self {
            Self::Root => true,
            Self::Institution(own) => own == institution_id,
        }
    }

    /// The institution this scope is limited to (`None` for root).
    #[must_use]
    pub fn institution(&self) -> Option<&InstitutionId> {
        match self {
            Self::Root => None,
            Self::Institution(own) => Some(own),
        }
    }

    /// Whether a row of `institution_id` is both in scope and accepted by an optional
    /// institution filter.
    #[must_use]
    pub fn matches(&self, filter: Option<&InstitutionId>, institution_id: &InstitutionId) -> bool {
        self.allows(institution_id) && filter.is_none_or(|wanted| wanted == institution_id)
    }
}

/// Filter for template lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFilter {
    /// Only this institution's templates.
    pub institution_id: Option<InstitutionId>,
}

/// Filter for asset lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFilter {
    /// Only this institution's assets.
    pub institution_id: Option<InstitutionId>,
    /// Only assets of this template.
    pub template_id: Option<TemplateId>,
}

/// Filter for position lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PositionFilter {
    /// Only this institution's positions.
    pub institution_id: Option<InstitutionId>,
    /// Only positions on this asset.
    pub asset_id: Option<AssetId>,
    /// Only positions of this holder (exact match).
    pub holder_reference: Option<String>,
}

/// Filter for audit lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events whose acting institution is this one.
    pub institution_id: Option<InstitutionId>,
    /// Only events made with this API key.
    pub api_key_id: Option<ApiKeyId>,
    /// Only events with this action.
    pub action: Option<AuditAction>,
    /// Only events with this outcome.
    pub outcome: Option<AuditOutcome>,
    /// Only events about this kind of resource.
    pub resource_type: Option<ResourceType>,
    /// Only events about this resource (exact id).
    pub resource_id: Option<String>,
    /// Only events that occurred at or after this instant (inclusive).
    pub occurred_from: Option<DateTime<Utc>>,
    /// Only events that occurred at or before this instant (inclusive).
    pub occurred_to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Whether `event` passes every field of the filter (the scope is checked separately).
    /// The reference semantics both backends implement.
    #[must_use]
    pub fn accepts(&self, event: &AuditEvent) -> bool {
        self.institution_id
            .as_ref()
            .is_none_or(|id| event.institution_id.as_ref() == Some(id))
            && self
                .api_key_id
                .as_ref()
                .is_none_or(|id| event.api_key_id.as_ref() == Some(id))
            && self.action.is_none_or(|action| action == event.action)
            && self.outcome.is_none_or(|outcome| outcome == event.outcome)
            && self
                .resource_type
                .is_none_or(|kind| event.resource_type == Some(kind))
            && self
                .resource_id
                .as_ref()
                .is_none_or(|id| event.resource_id.as_ref() == Some(id))
            && self
                .occurred_from
                .is_none_or(|from| event.occurred_at >= from)
            && self.occurred_to.is_none_or(|to| event.occurred_at <= to)
    }
}

/// A created API key and its plaintext token (shown once, never stored).
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedApiKey {
    /// The stored record.
    pub api_key: ApiKey,
    /// The secret token, `ak_` + 48 lowercase hex characters.
    pub token: String,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("api_key", &self.api_key)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_scope_sees_only_its_institution() {
        let own = InstitutionId::new();
        let other = InstitutionId::new();
        let scope = Scope::Institution(own.clone());
        assert!(scope.allows(&own));
        assert!(!scope.allows(&other));
        assert!(!scope.matches(Some(&other), &own));
        assert!(Scope::Root.matches(None, &other));
    }
}
