//! PostgreSQL [`DeadLetterQueue`]: `gs_dlq` (migration 0005).
//!
//! Claims are one statement: a `select … for update skip locked limit $n` picks claimable
//! rows in id order and the surrounding `update` stamps `claimed_by` and
//! `claimed_until = now() + visibility`, so concurrent workers skip each other's rows instead
//! of blocking, and never get the same row. The visibility timeout is judged by the database
//! clock. A claimed row whose claim had expired gets `retry_count + 1` (the abandoned claim was
//! a failed attempt); with a retry limit, rows that reached it are parked (`ineligible`) by the
//! same `update` and filtered out of the result. Settling is an
//! `update … where status = 'claimed' and claimed_by = $worker`; force-settling (the
//! administrator's override) the same `update` without that condition.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::dlq::{
    ClaimRequest, DeadLetterQueue, DlqFilter, DlqItem, DlqOutcome, DlqStats, DlqStatus, NewDlqItem,
    not_held, validate_claim, validate_item, validate_outcome, validate_outcome_text,
};
use crate::metrics::observe;
use crate::postgres::PgPool;
use crate::{Error, Result};

const PRIMITIVE: &str = "dlq";
const BACKEND: &str = "postgres";

/// The effective status: a claim past its visibility timeout reads as pending.
const STATUS: &str = "case when status = 'claimed' and claimed_until <= now() then 'pending' \
                      else status end";

const ENQUEUE: &str = "insert into gs_dlq (job_id, payload, error, details, retry_count)
values ($1, $2, $3, $4, $5)
returning id, job_id, payload, error, details, retry_count, status, failed_at, updated_at,
    claimed_by, claimed_until";

const CLAIM: &str = "with picked as (
    select id,
        -- an expired claim was a failed delivery attempt
        retry_count + case when status = 'claimed' then 1 else 0 end as attempts
    from gs_dlq
    where (status = 'pending' or (status = 'claimed' and claimed_until <= now()))
      and ($2::text is null or job_id = $2)
    order by id
    limit $3
    for update skip locked
), decided as (
    select id, attempts, ($5::integer is not null and attempts >= $5) as parked from picked
)
update gs_dlq d
set retry_count = decided.attempts,
    status = case when decided.parked then 'ineligible' else 'claimed' end,
    error = case when decided.parked
        then format('retry limit %s reached; last error: %s', $5::integer, d.error)
        else d.error end,
    claimed_by = case when decided.parked then d.claimed_by else $1 end,
    claimed_until = case when decided.parked then null
        else date_trunc('milliseconds', now() + $4::bigint * interval '1 millisecond') end,
    updated_at = date_trunc('milliseconds', now())
from decided
where d.id = decided.id
returning d.id, d.job_id, d.payload, d.error, d.details, d.retry_count, d.status, d.failed_at,
    d.updated_at, d.claimed_by, d.claimed_until";

const SETTLE: &str = "update gs_dlq
set status = $3,
    retry_count = retry_count + $4,
    error = coalesce($5, error),
    claimed_until = null,
    updated_at = date_trunc('milliseconds', now())
where id = $1 and status = 'claimed' and claimed_by = $2
returning id, job_id, payload, error, details, retry_count, status, failed_at, updated_at,
    claimed_by, claimed_until";

/// [`SETTLE`] without the claim check: the administrator's override.
const FORCE_SETTLE: &str = "update gs_dlq
set status = $2,
    retry_count = retry_count + $3,
    error = coalesce($4, error),
    claimed_until = null,
    updated_at = date_trunc('milliseconds', now())
where id = $1
returning id, job_id, payload, error, details, retry_count, status, failed_at, updated_at,
    claimed_by, claimed_until";

const EXISTS: &str = "select 1 from gs_dlq where id = $1";

const PURGE: &str = "delete from gs_dlq
where failed_at < $1 and not (status = 'claimed' and claimed_until > now())";

/// The PostgreSQL dead-letter queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PgDeadLetterQueue {
    pool: PgPool,
}

impl PgDeadLetterQueue {
    /// A queue on `pool` (migrated with [`crate::postgres::migrations::migrate`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn list_items(&self, filter: &DlqFilter) -> Result<Vec<DlqItem>> {
        if filter.limit == Some(0) {
            return Ok(Vec::new());
        }
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut push = |condition: &str, value: Box<dyn ToSql + Sync + Send>| {
            params.push(value);
            conditions.push(condition.replace('?', &format!("${}", params.len())));
        };
        if let Some(job) = &filter.job_id {
            push("job_id = ?", Box::new(job.clone()));
        }
        if let Some(status) = filter.status {
            push("status = ?", Box::new(status.as_str()));
        }
        if let Some(eligible) = filter.eligible {
            push("(status in ('pending', 'claimed')) = ?", Box::new(eligible));
        }
        if let Some(n) = filter.min_retry_count {
            push(
                "retry_count >= ?",
                Box::new(i32::try_from(n).unwrap_or(i32::MAX)),
            );
        }
        if let Some(n) = filter.max_retry_count {
            push(
                "retry_count <= ?",
                Box::new(i32::try_from(n).unwrap_or(i32::MAX)),
            );
        }
        if let Some(t) = filter.failed_from {
            push("failed_at >= ?", Box::new(t));
        }
        if let Some(t) = filter.failed_before {
            push("failed_at < ?", Box::new(t));
        }
        if let Some(after) = filter.after_id {
            push("id > ?", Box::new(after));
        }
        if let Some(n) = filter.limit {
            params.push(Box::new(i64::try_from(n).unwrap_or(i64::MAX)));
        }
        let mut sql = format!(
            "select id, job_id, payload, error, details, retry_count, {STATUS} as status, \
             failed_at, updated_at, claimed_by, claimed_until from gs_dlq"
        );
        if !conditions.is_empty() {
            // Conditions on `status` must see the effective status: filter in an outer query.
            sql = format!("select * from ({sql}) d where {}", conditions.join(" and "));
        }
        sql.push_str(" order by id");
        if filter.limit.is_some() {
            sql.push_str(&format!(" limit ${}", params.len()));
        }
        let params: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, &sql).await?;
        let rows = statement.query(&client, &params).await?;
        rows.iter().map(item_from_row).collect()
    }

    async fn claim_items(&self, request: &ClaimRequest) -> Result<Vec<DlqItem>> {
        validate_claim(request)?;
        if request.max == 0 {
            return Ok(Vec::new());
        }
        let max = i64::try_from(request.max).unwrap_or(i64::MAX);
        let visibility = millis(request.visibility)?;
        let max_retries = request
            .max_retries
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, CLAIM).await?;
        let rows = statement
            .query(
                &client,
                &[
                    &request.worker,
                    &request.job_id,
                    &max,
                    &visibility,
                    &max_retries,
                ],
            )
            .await?;
        let mut items = rows.iter().map(item_from_row).collect::<Result<Vec<_>>>()?;
        // Parked items come back from the update too: they are not claimed.
        items.retain(|i| i.status == DlqStatus::Claimed);
        items.sort_unstable_by_key(|i| i.id);
        Ok(items)
    }

    async fn settle_item(&self, id: i64, worker: &str, outcome: DlqOutcome) -> Result<DlqItem> {
        validate_outcome(worker, &outcome)?;
        let (status, retries, error) = columns(outcome);
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, SETTLE).await?;
        let row = statement
            .query_opt(&client, &[&id, &worker, &status.as_str(), &retries, &error])
            .await?;
        match row {
            Some(row) => item_from_row(&row),
            None if self
                .pool
                .prepare(&client, EXISTS)
                .await?
                .query_opt(&client, &[&id])
                .await?
                .is_some() =>
            {
                Err(not_held(id, worker))
            }
            None => Err(Error::not_found("dlq item", id.to_string())),
        }
    }

    async fn force_settle_item(&self, id: i64, outcome: DlqOutcome) -> Result<DlqItem> {
        validate_outcome_text(&outcome)?;
        let (status, retries, error) = columns(outcome);
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, FORCE_SETTLE).await?;
        let row = statement
            .query_opt(&client, &[&id, &status.as_str(), &retries, &error])
            .await?;
        match row {
            Some(row) => item_from_row(&row),
            None => Err(Error::not_found("dlq item", id.to_string())),
        }
    }

    async fn stats_of(&self, job_id: Option<&str>) -> Result<DlqStats> {
        let sql = format!(
            "select {STATUS} as status, retry_count, count(*), min(failed_at), max(failed_at) \
             from gs_dlq where ($1::text is null or job_id = $1) group by 1, 2"
        );
        let client = self.pool.get().await?;
        let rows = self
            .pool
            .prepare(&client, &sql)
            .await?
            .query(&client, &[&job_id])
            .await?;
        let mut stats = DlqStats::default();
        for row in rows {
            let status = DlqStatus::parse(row.try_get(0)?)?;
            let retries = u32::try_from(row.try_get::<_, i32>(1)?).unwrap_or_default();
            let count = u64::try_from(row.try_get::<_, i64>(2)?).unwrap_or_default();
            let oldest: DateTime<Utc> = row.try_get(3)?;
            let newest: DateTime<Utc> = row.try_get(4)?;
            stats.total += count;
            *stats.by_status.entry(status).or_default() += count;
            *stats.by_retry_count.entry(retries).or_default() += count;
            stats.oldest_failed_at = Some(stats.oldest_failed_at.map_or(oldest, |t| t.min(oldest)));
            stats.newest_failed_at = Some(stats.newest_failed_at.map_or(newest, |t| t.max(newest)));
        }
        Ok(stats)
    }
}

/// The stored status, retry-count increment and new error of an outcome.
fn columns(outcome: DlqOutcome) -> (DlqStatus, i32, Option<String>) {
    match outcome {
        DlqOutcome::Retried { error } => (DlqStatus::Pending, 1, Some(error)),
        DlqOutcome::Resolved => (DlqStatus::Resolved, 0, None),
        DlqOutcome::Ineligible { reason } => (DlqStatus::Ineligible, 0, Some(reason)),
    }
}

/// A duration in whole milliseconds, as the SQL above expects.
fn millis(duration: Duration) -> Result<i64> {
    i64::try_from(duration.as_millis())
        .map_err(|_| Error::InvalidInput("dlq visibility timeout is too large".into()))
}

/// Maps a row in the column order of the statements above.
fn item_from_row(row: &Row) -> Result<DlqItem> {
    let payload: Value = row.try_get(2)?;
    let details: Value = row.try_get(4)?;
    let retry_count: i32 = row.try_get(5)?;
    Ok(DlqItem {
        id: row.try_get(0)?,
        job_id: row.try_get(1)?,
        payload,
        error: row.try_get(3)?,
        details,
        retry_count: u32::try_from(retry_count).unwrap_or_default(),
        status: DlqStatus::parse(row.try_get(6)?)?,
        failed_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
        claimed_by: row.try_get(9)?,
        claimed_until: row.try_get(10)?,
    })
}

#[async_trait]
impl DeadLetterQueue for PgDeadLetterQueue {
    async fn enqueue(&self, item: NewDlqItem) -> Result<DlqItem> {
        observe(PRIMITIVE, "enqueue", BACKEND, async {
            validate_item(&item)?;
            let retries = i32::try_from(item.retry_count)
                .map_err(|_| Error::InvalidInput("dlq retry count is too large".into()))?;
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, ENQUEUE).await?;
            let row = statement
                .query_one(
                    &client,
                    &[
                        &item.job_id,
                        &item.payload,
                        &item.error,
                        &item.details,
                        &retries,
                    ],
                )
                .await?;
            item_from_row(&row)
        })
        .await
    }

    async fn get(&self, id: i64) -> Result<Option<DlqItem>> {
        observe(PRIMITIVE, "get", BACKEND, async {
            let sql = format!(
                "select id, job_id, payload, error, details, retry_count, {STATUS}, failed_at, \
                 updated_at, claimed_by, claimed_until from gs_dlq where id = $1"
            );
            let client = self.pool.get().await?;
            let row = self
                .pool
                .prepare(&client, &sql)
                .await?
                .query_opt(&client, &[&id])
                .await?;
            row.as_ref().map(item_from_row).transpose()
        })
        .await
    }

    async fn list(&self, filter: &DlqFilter) -> Result<Vec<DlqItem>> {
        observe(PRIMITIVE, "list", BACKEND, self.list_items(filter)).await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<DlqItem>> {
        observe(PRIMITIVE, "claim", BACKEND, self.claim_items(request)).await
    }

    async fn settle(&self, id: i64, worker: &str, outcome: DlqOutcome) -> Result<DlqItem> {
        observe(
            PRIMITIVE,
            "settle",
            BACKEND,
            self.settle_item(id, worker, outcome),
        )
        .await
    }

    async fn force_settle(&self, id: i64, outcome: DlqOutcome) -> Result<DlqItem> {
        observe(
            PRIMITIVE,
            "force_settle",
            BACKEND,
            self.force_settle_item(id, outcome),
        )
        .await
    }

    async fn purge_older_than(&self, before: DateTime<Utc>) -> Result<u64> {
        observe(PRIMITIVE, "purge_older_than", BACKEND, async {
            let client = self.pool.get().await?;
            Ok(self
                .pool
                .prepare(&client, PURGE)
                .await?
                .execute(&client, &[&before])
                .await?)
        })
        .await
    }

    async fn stats(&self, job_id: Option<&str>) -> Result<DlqStats> {
        observe(PRIMITIVE, "stats", BACKEND, self.stats_of(job_id)).await
    }
}
