//! The [`EscrowStore`] trait, its query types, and its backends.
//!
//! # Contract (both backends)
//!
//! - **One transaction per write.** A create writes the entity, its ledger event (positions)
//!   and its audit row together or not at all; a transition writes the position update, its
//!   lifecycle event, its ledger event and its audit row together.
//! - **Tenant scoping.** Every read and write takes a [`Scope`]. A row of another institution
//!   is reported exactly like a missing one ([`Error::NotFound`]); lists are intersected with
//!   the scope.
//! - **Validation.** Stores call the inputs' `validate()` and the domain rules
//!   ([`crate::domain::validate_template_config`], [`crate::domain::evaluate`],
//!   [`crate::lifecycle::apply`]) and persist the rows built by [`records`]; they hold no
//!   business logic of their own. Invalid input is a typed error, never a panic or a
//!   half-written change.
//! - **Ordering.** Entity lists (institutions, templates, assets, positions, API keys,
//!   policies) are ordered by `created_at` ascending, ties by id (byte order; PostgreSQL must
//!   compare ids with `collate "C"`). Append-only rows (lifecycle events, ledger events, audit
//!   events) are ordered by write order (a sequence column in PostgreSQL).
//! - **Pages.** A paginated list takes a [`Page`]: an offset page returns its window and the
//!   total of the filtered list; a keyset page ([`Page::after`]) returns the rows after a
//!   [`SortKey`] in list order, uncounted, at a cost that does not grow with the depth. Both
//!   return the key of their last row when more follow ([`Paginated::next`]); walking a list by
//!   those keys yields the offset walk, and rows created meanwhile appear once or not at all.
//!   The lists without offset pages (institutions, API keys, policies, ledger events,
//!   webhooks) take a [`KeysetPage`] in their `*_page` method; their `list_*` method is the
//!   whole list ([`KeysetPage::all`]).
//! - **Optimistic concurrency.** A transition is written only if the position's `version` is
//!   still the one read (or the request's `expected_version`); otherwise
//!   [`Error::Conflict`]. A same-state request is a no-op that writes nothing.
//! - **Outbox.** Every write appends its domain events ([`outbox`]) to [`EscrowStore::events`]
//!   in the same transaction: a failed write leaves no event, a committed one always has its
//!   events.
//! - **Timestamps** are truncated to milliseconds ([`crate::domain::now_millis`]).
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//!
//! use escrowgrid::domain::{AuditContext, NewInstitution, Region};
//! use escrowgrid::store::{EscrowStore, Scope, memory::MemoryStore};
//!
//! let store: Arc<dyn EscrowStore> = Arc::new(MemoryStore::new());
//! let audit = AuditContext {
//!     method: "POST".into(),
//!     path: "/institutions".into(),
//!     ..AuditContext::default()
//! };
//! let new = NewInstitution::new("Acme".into(), vec![Region::Us], None);
//! let acme = store.create_institution(new, &audit).await?;
//!
//! let tenant = Scope::Institution(acme.id.clone());
//! assert_eq!(store.get_institution(&tenant, &acme.id).await?, acme);
//! # Ok::<(), escrowgrid::Error>(())
//! # }).unwrap();
//! ```
//!
//! [`Error::NotFound`]: crate::Error::NotFound
//! [`Error::Conflict`]: crate::Error::Conflict

pub mod memory;
pub mod outbox;
mod page;
mod pool;
pub mod postgres;
mod query;
pub mod records;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::domain::{
    ApiKey, ApiKeyId, Asset, AssetId, AssetTemplate, AuditContext, AuditEvent, Institution,
    InstitutionId, InstitutionPolicy, LedgerEvent, NewApiKey, NewAsset, NewAssetTemplate,
    NewInstitution, NewPosition, Position, PositionId, PositionPolicy, Region, TemplateId,
    TransitionRequest,
};
use crate::ledger::checkpoint::Checkpoint;

pub use page::{DEFAULT_LIMIT, KeysetPage, MAX_LIMIT, Page, Paginated, SortKey, Start};
pub use pool::{PoolStatus, TransitionWays};
pub use query::{AssetFilter, AuditFilter, CreatedApiKey, PositionFilter, Scope, TemplateFilter};
pub use webhooks::{WebhookStore, WebhookTarget};

/// Persistence of every EscrowGrid entity. Object-safe: use it as `Arc<dyn EscrowStore>`.
///
/// Errors common to every method: the storage variants of [`crate::Error`]
/// (`Unavailable`, `Timeout`, `Contention`, `CommitOutcomeUnknown`, `Storage`) for backend
/// failures, classified by the store so that callers never see a backend type. Writes also
/// return [`crate::Error::Validation`] for invalid input and [`crate::Error::NotFound`] for a
/// missing or out-of-scope institution / parent.
#[async_trait]
pub trait EscrowStore: Send + Sync + std::fmt::Debug + 'static {
    /// Checks that the backend can serve requests (readiness).
    async fn health(&self) -> Result<()>;

    /// The event log every write appends its domain events to, in the same transaction (the
    /// transactional outbox; events and streams in [`outbox`] and `docs/EVENTS.md`). Readers
    /// follow it with a `gridstore::Subscription`.
    fn events(&self) -> Arc<dyn gridstore::EventLog>;

    /// The connection pool's gauges, for backends that have a pool (`None` otherwise).
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// How position transitions were decided, for backends that decide them more than one
    /// way (`None` otherwise).
    fn transition_ways(&self) -> Option<TransitionWays> {
        None
    }

    // ---- institutions ----

    /// Creates an institution and its `INSTITUTION_CREATED` audit row.
    async fn create_institution(
        &self,
        new: NewInstitution,
        audit: &AuditContext,
    ) -> Result<Institution>;

    /// Loads an institution in scope.
    async fn get_institution(&self, scope: &Scope, id: &InstitutionId) -> Result<Institution>;

    /// Lists the institutions in scope (root: all; tenant: its own, if it exists).
    async fn list_institutions(&self, scope: &Scope) -> Result<Vec<Institution>> {
        Ok(self
            .institutions_page(scope, KeysetPage::all())
            .await?
            .items)
    }

    /// One keyset page of [`EscrowStore::list_institutions`] (see "Pages" above).
    async fn institutions_page(
        &self,
        scope: &Scope,
        page: KeysetPage,
    ) -> Result<Paginated<Institution>>;

    // ---- asset templates ----

    /// Creates a template (after checking the institution, then the config rules) and its
    /// audit row. A config rule violation is [`crate::Error::TemplateConfig`].
    async fn create_asset_template(
        &self,
        scope: &Scope,
        new: NewAssetTemplate,
        audit: &AuditContext,
    ) -> Result<AssetTemplate>;

    /// Loads a template in scope.
    async fn get_asset_template(&self, scope: &Scope, id: &TemplateId) -> Result<AssetTemplate>;

    /// Lists templates in scope matching the filter, one page of them
    /// (see "Pages" above).
    async fn list_asset_templates(
        &self,
        scope: &Scope,
        filter: &TemplateFilter,
        page: Page,
    ) -> Result<Paginated<AssetTemplate>>;

    // ---- assets ----

    /// Creates an asset on a template of the same institution (else NotFound
    /// `"asset template"`) and its audit row.
    async fn create_asset(
        &self,
        scope: &Scope,
        new: NewAsset,
        audit: &AuditContext,
    ) -> Result<Asset>;

    /// Loads an asset in scope.
    async fn get_asset(&self, scope: &Scope, id: &AssetId) -> Result<Asset>;

    /// Lists assets in scope matching the filter, one page of them
    /// (see "Pages" above).
    async fn list_assets(
        &self,
        scope: &Scope,
        filter: &AssetFilter,
        page: Page,
    ) -> Result<Paginated<Asset>>;

    // ---- positions ----

    /// Creates a position in state `CREATED` (version 1, no events) on an asset of the same
    /// institution (else NotFound `"asset"`; a missing template is NotFound
    /// `"asset template"`), after evaluating the institution's policy for the template's
    /// region and the template's limits ([`crate::Error::PolicyViolation`]). Writes the
    /// `POSITION_CREATED` ledger event and audit row in the same transaction.
    async fn create_position(
        &self,
        scope: &Scope,
        new: NewPosition,
        audit: &AuditContext,
    ) -> Result<Position>;

    /// Loads a position in scope, with its events.
    async fn get_position(&self, scope: &Scope, id: &PositionId) -> Result<Position> {
        Ok(Arc::unwrap_or_clone(
            self.get_position_shared(scope, id).await?,
        ))
    }

    /// [`EscrowStore::get_position`] as a shared value: PostgreSQL hands out the one it read;
    /// the memory backend builds it from its compact row (the ids unpacked, the lifecycle
    /// events shared with the row, not copied). What a read that only serializes the position
    /// wants.
    async fn get_position_shared(&self, scope: &Scope, id: &PositionId) -> Result<Arc<Position>>;

    /// Lists positions in scope matching the filter, one page of them (with their events)
    /// (see "Pages" above).
    async fn list_positions(
        &self,
        scope: &Scope,
        filter: &PositionFilter,
        page: Page,
    ) -> Result<Paginated<Position>>;

    /// Applies a lifecycle transition. Same-state: returns the position unchanged and writes
    /// nothing. Otherwise writes the position (state, `updated_at`, version + 1) guarded by
    /// the version check, the lifecycle event, the `POSITION_STATE_CHANGED` ledger event and
    /// the `POSITION_TRANSITIONED` audit row in one transaction.
    ///
    /// Errors: [`crate::Error::InvalidTransition`], [`crate::Error::Conflict`] when the version
    /// is not the expected one (the change was not written).
    async fn transition_position(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: TransitionRequest,
        audit: &AuditContext,
    ) -> Result<Position>;

    // ---- API keys ----

    /// Creates an API key and its audit row; returns the record and the plaintext token (the
    /// only time it is available: only its SHA-256 is stored).
    async fn create_api_key(
        &self,
        scope: &Scope,
        new: NewApiKey,
        audit: &AuditContext,
    ) -> Result<CreatedApiKey>;

    /// Finds the active (not revoked) key whose token this is. Unscoped: used by auth.
    async fn find_api_key_by_token(&self, token: &str) -> Result<Option<ApiKey>>;

    /// Lists an institution's active keys (revoked ones are excluded).
    async fn list_api_keys(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
    ) -> Result<Vec<ApiKey>> {
        let page = self.api_keys_page(scope, institution_id, KeysetPage::all());
        Ok(page.await?.items)
    }

    /// One keyset page of [`EscrowStore::list_api_keys`] (see "Pages" above).
    async fn api_keys_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: KeysetPage,
    ) -> Result<Paginated<ApiKey>>;

    /// Revokes an active key of the institution and writes its audit row. Unknown, another
    /// institution's and already revoked keys are all NotFound `"api key"`.
    async fn revoke_api_key(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        id: &ApiKeyId,
        audit: &AuditContext,
    ) -> Result<ApiKey>;

    // ---- policies ----

    /// Creates or replaces (whole config; id and `created_at` kept) the institution's policy
    /// for a region, audited as `POLICY_UPDATED` in the same transaction.
    async fn upsert_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
        position: PositionPolicy,
        audit: &AuditContext,
    ) -> Result<InstitutionPolicy>;

    /// Loads the institution's policy for a region (NotFound `"policy"` when none).
    async fn get_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
    ) -> Result<InstitutionPolicy>;

    /// Lists the institution's policies.
    async fn list_policies(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
    ) -> Result<Vec<InstitutionPolicy>> {
        let page = self.policies_page(scope, institution_id, KeysetPage::all());
        Ok(page.await?.items)
    }

    /// One keyset page of [`EscrowStore::list_policies`] (see "Pages" above).
    async fn policies_page(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: KeysetPage,
    ) -> Result<Paginated<InstitutionPolicy>>;

    // ---- audit ----

    /// Records a standalone audit event (failures such as `AUTH_FAILED`, `RATE_LIMITED`,
    /// `CONCURRENCY_CONFLICT`).
    async fn record_audit(&self, event: AuditEvent) -> Result<()>;

    /// Lists audit events in scope (tenant: those whose `institution_id` is its own) matching
    /// the filter, in write order, one page of them
    /// (see "Pages" above).
    async fn list_audit_events(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<Paginated<AuditEvent>>;

    // ---- ledger ----

    /// Lists ledger events in write order: of one position (NotFound `"position"` when it is
    /// not in scope), or of every position in scope.
    async fn list_ledger_events(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
    ) -> Result<Vec<LedgerEvent>> {
        let page = self.ledger_events_page(scope, position_id, KeysetPage::all());
        Ok(page.await?.items)
    }

    /// One keyset page of [`EscrowStore::list_ledger_events`], keyed by write order
    /// ([`SortKey::Seq`]; see "Pages" above).
    async fn ledger_events_page(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
        page: KeysetPage,
    ) -> Result<Paginated<LedgerEvent>>;

    /// Takes the next ledger checkpoint at `at`: every event committed since the previous
    /// checkpoint, in commit order (PostgreSQL: below the oldest running transaction, so a late
    /// committer is never passed over). `None` (and nothing written) when there is none.
    async fn create_ledger_checkpoint(&self, at: DateTime<Utc>) -> Result<Option<Checkpoint>>;

    /// Every checkpoint in number order, each with the leaves of the events it covers as
    /// stored now (for verification; see [`crate::ledger::checkpoint`]).
    async fn ledger_checkpoints(&self) -> Result<Vec<(Checkpoint, Vec<String>)>>;

    /// At most `limit` checkpoints numbered above `after`, in number order, without their
    /// events (what the on-chain sender anchors).
    async fn ledger_checkpoints_after(&self, after: i64, limit: usize) -> Result<Vec<Checkpoint>>;
}
