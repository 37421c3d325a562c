//! Dead-letter queue: failed work items kept with their failure details for reprocessing.
//!
//! Workers [`DeadLetterQueue::claim`] batches of items for a visibility timeout; a claimed item
//! is invisible to other claimers until its claim expires, so two workers never hold the same
//! item at once (on PostgreSQL: `for update skip locked`). The claimer then
//! [`DeadLetterQueue::settle`]s each item with a [`DlqOutcome`].
//!
//! # Semantic choices
//!
//! - Statuses: [`DlqStatus::Pending`] (claimable), [`DlqStatus::Claimed`] (under a live claim),
//!   [`DlqStatus::Resolved`] and [`DlqStatus::Ineligible`] (final, never claimed again). A claim
//!   whose visibility timeout passed reads back as `Pending` and can be claimed again; the
//!   expired claimer can still settle it as long as nobody else claimed it meanwhile.
//! - Claims take the oldest claimable items first (by id, i.e. enqueue order).
//! - [`DlqOutcome::Retried`] means "reprocessing failed again": the retry count goes up by one,
//!   the error is replaced and the item is pending again.
//! - Every claim is a delivery attempt, and one that ends without a settle counts as a failed
//!   attempt too: when an item whose claim expired is claimed again, its retry count goes up by
//!   one first (the error is kept). So a worker that crashes on an item every time still moves
//!   its count, exactly as if it had settled [`DlqOutcome::Retried`]. (An expired claim whose
//!   worker settles it before anyone reclaims it counts once, through that settle.)
//! - [`ClaimRequest::with_max_retries`] bounds the poison loop: an item picked by such a claim
//!   whose retry count (including the expired claim just counted) has reached the maximum is
//!   not handed out but parked as [`DlqStatus::Ineligible`] with the error
//!   `retry limit <max> reached; last error: <error>`; an administrator can re-open it with
//!   [`DeadLetterQueue::force_settle`]. Parked items count towards the claim's `max`, so such a
//!   claim may return fewer items than are claimable.
//! - Settling an item the worker does not hold (never claimed, claimed by another worker, or
//!   already settled) fails with [`Error::LockNotHeld`] with key
//!   `dlq:<id>`; a missing item fails with [`Error::NotFound`].
//! - `limit = Some(0)` in [`DlqFilter`] lists nothing; `None` lists everything matching.
//!   `max = 0` in a claim claims nothing.
//! - [`DeadLetterQueue::force_settle`] is the administrator's override (like
//!   [`force_release`](crate::Locks::force_release) for leases): it applies an outcome to any
//!   item in any status — also a final one, so `Retried` re-opens a resolved or ineligible
//!   item — and ends a live claim.
//! - [`DeadLetterQueue::purge_older_than`] deletes items that failed before the given instant
//!   in any status except under a live claim.
//! - Payloads and details follow the [payload rules](crate::payload); no text may contain NUL.
//! - Timestamps are stamped by the backend (the database clock on PostgreSQL), in milliseconds.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use gridstore::memory::MemoryDeadLetterQueue;
//! use gridstore::{ClaimRequest, DeadLetterQueue, DlqOutcome, DlqStatus, NewDlqItem};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> gridstore::Result<()> {
//! let dlq = MemoryDeadLetterQueue::new();
//! dlq.enqueue(NewDlqItem::new("job-1", json!({"order": 7}), "timeout calling bank")).await?;
//!
//! let claimed = dlq.claim(&ClaimRequest::new("worker-a", 10, Duration::from_secs(60))).await?;
//! for item in claimed {
//!     // ... reprocess item.payload ...
//!     let settled = dlq.settle(item.id, "worker-a", DlqOutcome::Resolved).await?;
//!     assert_eq!(settled.status, DlqStatus::Resolved);
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// A failed work item to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDlqItem {
    /// The job the item belongs to.
    pub job_id: String,
    /// The work item itself.
    pub payload: Value,
    /// The failure message.
    pub error: String,
    /// Structured failure details (stack, attempt metadata...); `Null` when none.
    pub details: Value,
    /// How many times the item was already retried before it landed here.
    pub retry_count: u32,
}

impl NewDlqItem {
    /// Builds an item with no details and no retries yet.
    pub fn new(job_id: impl Into<String>, payload: Value, error: impl Into<String>) -> Self {
        Self {
            job_id: job_id.into(),
            payload,
            error: error.into(),
            details: Value::Null,
            retry_count: 0,
        }
    }

    /// Sets structured failure details.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Where an item is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DlqStatus {
    /// Waiting to be claimed (also: a claim that expired).
    Pending,
    /// Claimed by a worker whose visibility timeout has not passed.
    Claimed,
    /// Reprocessed successfully; final.
    Resolved,
    /// Must not be reprocessed; final.
    Ineligible,
}

impl DlqStatus {
    /// The lowercase name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Claimed => "claimed",
            Self::Resolved => "resolved",
            Self::Ineligible => "ineligible",
        }
    }

    /// Parses [`DlqStatus::as_str`] output.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(Self::Pending),
            "claimed" => Ok(Self::Claimed),
            "resolved" => Ok(Self::Resolved),
            "ineligible" => Ok(Self::Ineligible),
            other => Err(Error::InvalidInput(format!("unknown dlq status {other:?}"))),
        }
    }
}

/// A stored dead-letter item.
#[derive(Clone, Debug, PartialEq)]
pub struct DlqItem {
    /// The item's id, increasing in enqueue order.
    pub id: i64,
    /// The job the item belongs to.
    pub job_id: String,
    /// The work item itself.
    pub payload: Value,
    /// The latest failure message.
    pub error: String,
    /// Structured failure details.
    pub details: Value,
    /// How many times reprocessing was attempted and failed (settled as retried, or claimed
    /// and abandoned: see the [module docs](self)).
    pub retry_count: u32,
    /// The item's status (an expired claim reads as [`DlqStatus::Pending`]).
    pub status: DlqStatus,
    /// When the item was enqueued.
    pub failed_at: DateTime<Utc>,
    /// When the item last changed.
    pub updated_at: DateTime<Utc>,
    /// The worker of the latest claim, if any.
    pub claimed_by: Option<String>,
    /// When the latest claim expires, if any.
    pub claimed_until: Option<DateTime<Utc>>,
}

impl DlqItem {
    /// Whether the item may still be reprocessed (not resolved, not ineligible).
    pub fn is_eligible(&self) -> bool {
        matches!(self.status, DlqStatus::Pending | DlqStatus::Claimed)
    }
}

/// Which items [`DeadLetterQueue::list`] returns (in id order); every set field must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlqFilter {
    /// Only this job.
    pub job_id: Option<String>,
    /// Only this status.
    pub status: Option<DlqStatus>,
    /// Only items still eligible (`true`) or final (`false`).
    pub eligible: Option<bool>,
    /// Only items retried at least this often.
    pub min_retry_count: Option<u32>,
    /// Only items retried at most this often.
    pub max_retry_count: Option<u32>,
    /// Only items that failed at or after this instant.
    pub failed_from: Option<DateTime<Utc>>,
    /// Only items that failed strictly before this instant.
    pub failed_before: Option<DateTime<Utc>>,
    /// Only items whose id is above this one (a keyset page: the last id of the previous
    /// page; served by the id order, so a deep page costs what the first costs).
    pub after_id: Option<i64>,
    /// At most this many items (`None`: all).
    pub limit: Option<usize>,
}

/// What a claim asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The claiming worker's identity.
    pub worker: String,
    /// Only items of this job.
    pub job_id: Option<String>,
    /// At most this many items.
    pub max: usize,
    /// How long the items stay invisible to other claimers.
    pub visibility: Duration,
    /// Park (mark ineligible) instead of claiming items retried at least this often
    /// (`None`: no limit). See the [module docs](self).
    pub max_retries: Option<u32>,
}

impl ClaimRequest {
    /// Claims up to `max` items of any job for `visibility`.
    pub fn new(worker: impl Into<String>, max: usize, visibility: Duration) -> Self {
        Self {
            worker: worker.into(),
            job_id: None,
            max,
            visibility,
            max_retries: None,
        }
    }

    /// Parks items that failed `max_retries` times instead of claiming them again.
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = Some(max_retries);
        self
    }

    /// Restricts the claim to one job.
    #[must_use]
    pub fn for_job(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }
}

/// How a claimed item's reprocessing ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DlqOutcome {
    /// Reprocessing failed again with this error; the item is pending again.
    Retried {
        /// The new failure message.
        error: String,
    },
    /// Reprocessing succeeded.
    Resolved,
    /// The item must never be reprocessed.
    Ineligible {
        /// Why (stored as the item's error).
        reason: String,
    },
}

/// Counts over the queue (or one job of it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlqStats {
    /// All items.
    pub total: u64,
    /// Items per (effective) status.
    pub by_status: BTreeMap<DlqStatus, u64>,
    /// Items per retry count.
    pub by_retry_count: BTreeMap<u32, u64>,
    /// When the oldest item failed.
    pub oldest_failed_at: Option<DateTime<Utc>>,
    /// When the newest item failed.
    pub newest_failed_at: Option<DateTime<Utc>>,
}

/// A dead-letter queue. See the [module docs](self) for the semantics.
#[async_trait]
pub trait DeadLetterQueue: Send + Sync + fmt::Debug + 'static {
    /// Stores a failed item and returns it as stored.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the job id is empty.
    async fn enqueue(&self, item: NewDlqItem) -> Result<DlqItem>;

    /// Returns one item, or `None` when it does not exist.
    async fn get(&self, id: i64) -> Result<Option<DlqItem>>;

    /// Lists the items matching `filter` in id order.
    async fn list(&self, filter: &DlqFilter) -> Result<Vec<DlqItem>>;

    /// Claims up to `request.max` claimable items, oldest first, for the visibility timeout.
    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<DlqItem>>;

    /// Records how reprocessing of a claimed item ended and returns the updated item.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id, [`Error::LockNotHeld`] when `worker` does not
    /// hold the item's claim.
    async fn settle(&self, id: i64, worker: &str, outcome: DlqOutcome) -> Result<DlqItem>;

    /// The administrator's override: records `outcome` for an item whatever its status and
    /// whoever holds its claim, without claiming it, and returns the updated item. A live claim
    /// ends: its worker's later [`DeadLetterQueue::settle`] fails with [`Error::LockNotHeld`].
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id.
    async fn force_settle(&self, id: i64, outcome: DlqOutcome) -> Result<DlqItem>;

    /// Deletes items that failed before `before` (except those under a live claim); returns how
    /// many were deleted.
    async fn purge_older_than(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Counts items, for one job or (with `None`) the whole queue.
    async fn stats(&self, job_id: Option<&str>) -> Result<DlqStats>;
}

/// Validates an item before any backend touches it.
pub(crate) fn validate_item(item: &NewDlqItem) -> Result<()> {
    if item.job_id.is_empty() {
        return Err(Error::InvalidInput("dlq job id must not be empty".into()));
    }
    reject_nul(&item.job_id)?;
    reject_nul(&item.error)?;
    crate::payload::check_storable(&item.payload)?;
    crate::payload::check_storable(&item.details)
}

/// Validates the texts a settle stores.
pub(crate) fn validate_outcome(worker: &str, outcome: &DlqOutcome) -> Result<()> {
    reject_nul(worker)?;
    validate_outcome_text(outcome)
}

/// Validates the text an outcome stores.
pub(crate) fn validate_outcome_text(outcome: &DlqOutcome) -> Result<()> {
    match outcome {
        DlqOutcome::Retried { error: text } | DlqOutcome::Ineligible { reason: text } => {
            reject_nul(text)
        }
        DlqOutcome::Resolved => Ok(()),
    }
}

/// PostgreSQL text cannot hold NUL: reject it in every backend alike.
fn reject_nul(text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::InvalidInput(
            "dlq text fields must not contain the nul character".into(),
        ));
    }
    Ok(())
}

/// Validates a claim request.
pub(crate) fn validate_claim(request: &ClaimRequest) -> Result<()> {
    if request.worker.is_empty() {
        return Err(Error::InvalidInput("dlq worker must not be empty".into()));
    }
    reject_nul(&request.worker)?;
    if let Some(job) = &request.job_id {
        reject_nul(job)?;
    }
    if request.visibility.is_zero() {
        return Err(Error::InvalidInput(
            "dlq visibility timeout must be positive".into(),
        ));
    }
    Ok(())
}

/// The error stored on an item parked by [`ClaimRequest::max_retries`].
pub(crate) fn parked_error(max_retries: u32, last_error: &str) -> String {
    format!("retry limit {max_retries} reached; last error: {last_error}")
}

/// The error for settling an item the worker does not hold.
pub(crate) fn not_held(id: i64, worker: &str) -> Error {
    Error::LockNotHeld {
        key: format!("dlq:{id}"),
        holder: worker.to_owned(),
    }
}
