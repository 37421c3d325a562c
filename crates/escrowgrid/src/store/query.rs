//! Scopes, filters, pages and other values exchanged with an [`super::EscrowStore`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKey, ApiKeyId, AssetId, AuditAction, AuditOutcome, FieldError, InstitutionId, TemplateId,
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

/// The default page size.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest page size.
pub const MAX_LIMIT: u32 = 1000;

/// A validated page request: `1 <= limit <= 1000`, `offset >= 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    limit: u32,
    offset: u64,
}

impl Default for Page {
    /// `limit = 100`, `offset = 0`.
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl Page {
    /// Validates a page request.
    ///
    /// # Errors
    /// `Limit must be at least 1`, `Limit must not exceed 1000`, `Offset must be non-negative`.
    pub fn new(limit: i64, offset: i64) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if limit < 1 {
            errors.push(FieldError::new("limit", "Limit must be at least 1"));
        }
        if limit > i64::from(MAX_LIMIT) {
            errors.push(FieldError::new("limit", "Limit must not exceed 1000"));
        }
        if offset < 0 {
            errors.push(FieldError::new("offset", "Offset must be non-negative"));
        }
        match (u32::try_from(limit), u64::try_from(offset)) {
            (Ok(limit), Ok(offset)) if errors.is_empty() => Ok(Self { limit, offset }),
            _ => Err(errors),
        }
    }

    /// The page size.
    #[must_use]
    pub const fn limit(self) -> u32 {
        self.limit
    }

    /// How many items to skip.
    #[must_use]
    pub const fn offset(self) -> u64 {
        self.offset
    }

    /// Applies the page to an already ordered and filtered sequence, counting the total.
    pub fn apply<T>(self, items: impl Iterator<Item = T>) -> Paginated<T> {
        let mut total = 0_u64;
        let mut page = Vec::new();
        for item in items {
            if total >= self.offset && page.len() < self.limit as usize {
                page.push(item);
            }
            total += 1;
        }
        Paginated { items: page, total }
    }
}

/// One page of a list and the number of items in the whole list.
#[derive(Debug, Clone, PartialEq)]
pub struct Paginated<T> {
    /// The items of the page, in list order.
    pub items: Vec<T>,
    /// How many items the whole (filtered) list has.
    pub total: u64,
}

impl<T> Paginated<T> {
    /// Whether items follow this page.
    #[must_use]
    pub fn has_more(&self, page: Page) -> bool {
        page.offset() + (self.items.len() as u64) < self.total
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

/// How long a stored idempotent response is replayed: 24 hours.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A response remembered for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Hash of the request it answered (a replay with another body is a client error).
    pub request_hash: String,
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
    /// When it was stored; it expires [`IDEMPOTENCY_TTL`] later.
    pub created_at: DateTime<Utc>,
}

impl StoredResponse {
    /// Whether it is still replayable at `now`.
    #[must_use]
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        chrono::Duration::from_std(IDEMPOTENCY_TTL).is_ok_and(|ttl| self.created_at + ttl > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_bounds_are_validated() {
        assert!(Page::new(1, 0).is_ok());
        assert!(Page::new(1000, 5).is_ok());
        assert_eq!(
            Page::new(0, -1).unwrap_err(),
            vec![
                FieldError::new("limit", "Limit must be at least 1"),
                FieldError::new("offset", "Offset must be non-negative"),
            ]
        );
        assert_eq!(
            Page::new(1001, 0).unwrap_err(),
            vec![FieldError::new("limit", "Limit must not exceed 1000")]
        );
    }

    #[test]
    fn applying_a_page_counts_everything_and_keeps_the_window() {
        let page = Page::new(2, 3).unwrap();
        let result = page.apply(0..10);
        assert_eq!(result.items, vec![3, 4]);
        assert_eq!(result.total, 10);
        assert!(result.has_more(page));
        let last = Page::new(5, 8).unwrap();
        assert!(!last.apply(0..10).has_more(last));
    }

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
