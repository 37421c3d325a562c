//! In-memory [`DeadLetterQueue`]: a map under a mutex (claims are atomic under the lock).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};

use crate::dlq::{
    ClaimRequest, DeadLetterQueue, DlqFilter, DlqItem, DlqOutcome, DlqStats, DlqStatus, NewDlqItem,
    not_held, parked_error, validate_claim, validate_item, validate_outcome, validate_outcome_text,
};
use crate::memory::clock::{Clock, SystemClock};
use crate::metrics::record;
use crate::{Error, Result};

const PRIMITIVE: &str = "dlq";
const BACKEND: &str = "memory";

/// An in-memory dead-letter queue; visibility timeouts read an injectable [`Clock`].
#[derive(Debug)]
pub struct MemoryDeadLetterQueue {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryDeadLetterQueue {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Default)]
struct State {
    items: BTreeMap<i64, DlqItem>,
    last_id: i64,
}

impl MemoryDeadLetterQueue {
    /// An empty queue on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty queue reading time from `clock` (e.g. a [`crate::memory::ManualClock`]).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(3)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The item as callers see it: an expired claim reads as pending.
fn effective(item: &DlqItem, now: DateTime<Utc>) -> DlqItem {
    let mut item = item.clone();
    if item.status == DlqStatus::Claimed && item.claimed_until.is_none_or(|t| t <= now) {
        item.status = DlqStatus::Pending;
    }
    item
}

fn matches(filter: &DlqFilter, item: &DlqItem) -> bool {
    filter.job_id.as_ref().is_none_or(|j| *j == item.job_id)
        && filter.status.is_none_or(|s| s == item.status)
        && filter.eligible.is_none_or(|e| e == item.is_eligible())
        && filter.min_retry_count.is_none_or(|n| item.retry_count >= n)
        && filter.max_retry_count.is_none_or(|n| item.retry_count <= n)
        && filter.failed_from.is_none_or(|t| item.failed_at >= t)
        && filter.failed_before.is_none_or(|t| item.failed_at < t)
}

impl MemoryDeadLetterQueue {
    fn claim_now(&self, request: &ClaimRequest) -> Result<Vec<DlqItem>> {
        validate_claim(request)?;
        let visibility = chrono::Duration::from_std(request.visibility)
            .map_err(|_| Error::InvalidInput("dlq visibility timeout is too large".into()))?;
        let now = self.now();
        let until = now + visibility;
        let mut state = self.lock();
        let mut claimed = Vec::new();
        let mut picked = 0;
        for item in state.items.values_mut() {
            if picked >= request.max {
                break;
            }
            let claimable = effective(item, now).status == DlqStatus::Pending
                && request.job_id.as_ref().is_none_or(|j| *j == item.job_id);
            if !claimable {
                continue;
            }
            picked += 1;
            if item.status == DlqStatus::Claimed {
                // The expired claim was a failed delivery attempt.
                item.retry_count = item.retry_count.saturating_add(1);
            }
            item.updated_at = now;
            if let Some(max) = request.max_retries.filter(|&max| item.retry_count >= max) {
                item.status = DlqStatus::Ineligible;
                item.error = parked_error(max, &item.error);
                item.claimed_until = None;
                continue;
            }
            item.status = DlqStatus::Claimed;
            item.claimed_by = Some(request.worker.clone());
            item.claimed_until = Some(until);
            claimed.push(item.clone());
        }
        Ok(claimed)
    }

    fn settle_now(&self, id: i64, worker: &str, outcome: DlqOutcome) -> Result<DlqItem> {
        validate_outcome(worker, &outcome)?;
        let now = self.now();
        let mut state = self.lock();
        let item = state
            .items
            .get_mut(&id)
            .ok_or_else(|| Error::not_found("dlq item", id.to_string()))?;
        if item.status != DlqStatus::Claimed || item.claimed_by.as_deref() != Some(worker) {
            return Err(not_held(id, worker));
        }
        apply(item, outcome, now);
        Ok(item.clone())
    }

    fn force_settle_now(&self, id: i64, outcome: DlqOutcome) -> Result<DlqItem> {
        validate_outcome_text(&outcome)?;
        let now = self.now();
        let mut state = self.lock();
        let item = state
            .items
            .get_mut(&id)
            .ok_or_else(|| Error::not_found("dlq item", id.to_string()))?;
        apply(item, outcome, now);
        Ok(item.clone())
    }
}

/// Records `outcome` on `item` and ends its claim.
fn apply(item: &mut DlqItem, outcome: DlqOutcome, now: DateTime<Utc>) {
    match outcome {
        DlqOutcome::Retried { error } => {
            item.status = DlqStatus::Pending;
            item.retry_count = item.retry_count.saturating_add(1);
            item.error = error;
        }
        DlqOutcome::Resolved => item.status = DlqStatus::Resolved,
        DlqOutcome::Ineligible { reason } => {
            item.status = DlqStatus::Ineligible;
            item.error = reason;
        }
    }
    item.claimed_until = None;
    item.updated_at = now;
}

#[async_trait]
impl DeadLetterQueue for MemoryDeadLetterQueue {
    async fn enqueue(&self, item: NewDlqItem) -> Result<DlqItem> {
        let started = Instant::now();
        let result = validate_item(&item).map(|()| {
            let now = self.now();
            let mut state = self.lock();
            state.last_id += 1;
            let stored = DlqItem {
                id: state.last_id,
                job_id: item.job_id,
                payload: item.payload,
                error: item.error,
                details: item.details,
                retry_count: item.retry_count,
                status: DlqStatus::Pending,
                failed_at: now,
                updated_at: now,
                claimed_by: None,
                claimed_until: None,
            };
            state.items.insert(stored.id, stored.clone());
            stored
        });
        record(PRIMITIVE, "enqueue", BACKEND, started, &result);
        result
    }

    async fn get(&self, id: i64) -> Result<Option<DlqItem>> {
        let started = Instant::now();
        let now = self.now();
        let result = Ok(self.lock().items.get(&id).map(|i| effective(i, now)));
        record(PRIMITIVE, "get", BACKEND, started, &result);
        result
    }

    async fn list(&self, filter: &DlqFilter) -> Result<Vec<DlqItem>> {
        let started = Instant::now();
        let now = self.now();
        let from = filter
            .after_id
            .map_or(i64::MIN, |after| after.saturating_add(1));
        let result = Ok(self
            .lock()
            .items
            .range(from..)
            .map(|(_, i)| effective(i, now))
            .filter(|i| matches(filter, i))
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect());
        record(PRIMITIVE, "list", BACKEND, started, &result);
        result
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<DlqItem>> {
        let started = Instant::now();
        let result = self.claim_now(request);
        record(PRIMITIVE, "claim", BACKEND, started, &result);
        result
    }

    async fn settle(&self, id: i64, worker: &str, outcome: DlqOutcome) -> Result<DlqItem> {
        let started = Instant::now();
        let result = self.settle_now(id, worker, outcome);
        record(PRIMITIVE, "settle", BACKEND, started, &result);
        result
    }

    async fn force_settle(&self, id: i64, outcome: DlqOutcome) -> Result<DlqItem> {
        let started = Instant::now();
        let result = self.force_settle_now(id, outcome);
        record(PRIMITIVE, "force_settle", BACKEND, started, &result);
        result
    }

    async fn purge_older_than(&self, before: DateTime<Utc>) -> Result<u64> {
        let started = Instant::now();
        let now = self.now();
        let mut state = self.lock();
        let len = state.items.len();
        state
            .items
            .retain(|_, i| i.failed_at >= before || effective(i, now).status == DlqStatus::Claimed);
        let result = Ok((len - state.items.len()) as u64);
        record(PRIMITIVE, "purge_older_than", BACKEND, started, &result);
        result
    }

    async fn stats(&self, job_id: Option<&str>) -> Result<DlqStats> {
        let started = Instant::now();
        let result = Ok(self.stats_now(job_id));
        record(PRIMITIVE, "stats", BACKEND, started, &result);
        result
    }
}

impl MemoryDeadLetterQueue {
    fn stats_now(&self, job_id: Option<&str>) -> DlqStats {
        let now = self.now();
        let mut stats = DlqStats::default();
        for item in self.lock().items.values() {
            if job_id.is_some_and(|j| j != item.job_id) {
                continue;
            }
            let item = effective(item, now);
            stats.total += 1;
            *stats.by_status.entry(item.status).or_default() += 1;
            *stats.by_retry_count.entry(item.retry_count).or_default() += 1;
            stats.oldest_failed_at = Some(
                stats
                    .oldest_failed_at
                    .map_or(item.failed_at, |t| t.min(item.failed_at)),
            );
            stats.newest_failed_at = Some(
                stats
                    .newest_failed_at
                    .map_or(item.failed_at, |t| t.max(item.failed_at)),
            );
        }
        stats
    }
}
