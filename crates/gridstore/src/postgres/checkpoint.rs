//! PostgreSQL [`CheckpointStore`] on tables `gs_checkpoint_heads` and `gs_checkpoints`
//! (migration 0003).
//!
//! A save is one statement: it increments the workflow's counter row (`insert ... on
//! conflict do update ... returning`), whose row lock serializes concurrent saves of one
//! workflow, and inserts the checkpoint under the returned version. So no save ever hits the
//! `(workflow, version)` key and nothing needs retrying; versions are never reused because
//! the counter outlives deletes. `created_at` is `clock_timestamp()` taken after the counter
//! lock, so it grows with the version. A fenced save is the same statement whose upsert only
//! moves the counter when its token is at least the row's `fencing_token` (migration 0009),
//! checked under that row lock. Statements are not retried.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Row;

use crate::Result;
use crate::checkpoint::{Checkpoint, CheckpointInfo, CheckpointStore, fenced, validate_save};
use crate::metrics::observe;
use crate::postgres::PgPool;

const PRIMITIVE: &str = "checkpoint";
const BACKEND: &str = "postgres";

const SAVE: &str = "
with head as (
    insert into gs_checkpoint_heads (workflow, last_version) values ($1, 1)
        on conflict (workflow) do update
       set last_version = gs_checkpoint_heads.last_version + 1
 returning last_version
)
insert into gs_checkpoints (workflow, version, data, created_at)
select $1, last_version, $2, date_trunc('milliseconds', clock_timestamp())
  from head
returning version, created_at";

/// [`SAVE`] with the fence: the counter row moves (and the checkpoint is inserted) only when
/// `$3` is at least the workflow's stored token; otherwise no row comes back.
const SAVE_FENCED: &str = "
with head as (
    insert into gs_checkpoint_heads (workflow, last_version, fencing_token) values ($1, 1, $3)
        on conflict (workflow) do update
       set last_version = gs_checkpoint_heads.last_version + 1,
           fencing_token = excluded.fencing_token
     where gs_checkpoint_heads.fencing_token is null
        or gs_checkpoint_heads.fencing_token <= excluded.fencing_token
 returning last_version
)
insert into gs_checkpoints (workflow, version, data, created_at)
select $1, last_version, $2, date_trunc('milliseconds', clock_timestamp())
  from head
returning version, created_at";

/// The token that fenced a refused save off.
const FENCING_TOKEN: &str = "select fencing_token from gs_checkpoint_heads where workflow = $1";

const LOAD_LATEST: &str = "
select version, data, created_at
  from gs_checkpoints
 where workflow = $1
 order by version desc
 limit 1";

const LOAD: &str = "
select version, data, created_at
  from gs_checkpoints
 where workflow = $1 and version = $2";

const LIST: &str = "
select version, created_at
  from gs_checkpoints
 where workflow = $1
 order by version desc";

const DELETE_ONE: &str = "delete from gs_checkpoints where workflow = $1 and version = $2";

const DELETE_ALL: &str = "delete from gs_checkpoints where workflow = $1";

/// Deletes every version at or below the `$2 + 1`-th highest (none when there are fewer).
const KEEP_LAST: &str = "
delete from gs_checkpoints
 where workflow = $1
   and version <= (select version
                     from gs_checkpoints
                    where workflow = $1
                    order by version desc
                   offset $2
                    limit 1)";

/// Checkpoints in PostgreSQL. Cheap to clone (it holds a pool handle).
#[derive(Debug, Clone)]
pub struct PgCheckpointStore {
    pool: PgPool,
}

impl PgCheckpointStore {
    /// A store on `pool`; run [`crate::postgres::migrations::migrate`] first.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn checkpoint_from_row(workflow: &str, row: &Row) -> Result<Checkpoint> {
    Ok(Checkpoint {
        workflow: workflow.to_owned(),
        version: row.try_get("version")?,
        data: row.try_get("data")?,
        created_at: row.try_get("created_at")?,
    })
}

fn info_from_row(workflow: &str, row: &Row) -> Result<CheckpointInfo> {
    Ok(CheckpointInfo {
        workflow: workflow.to_owned(),
        version: row.try_get("version")?,
        created_at: row.try_get::<_, DateTime<Utc>>("created_at")?,
    })
}

#[async_trait::async_trait]
impl CheckpointStore for PgCheckpointStore {
    async fn save(&self, workflow: &str, data: Value) -> Result<CheckpointInfo> {
        observe(PRIMITIVE, "save", BACKEND, async {
            validate_save(workflow, &data)?;
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, SAVE).await?;
            let row = statement.query_one(&client, &[&workflow, &data]).await?;
            info_from_row(workflow, &row)
        })
        .await
    }

    async fn save_fenced(
        &self,
        workflow: &str,
        fencing_token: u64,
        data: Value,
    ) -> Result<CheckpointInfo> {
        observe(PRIMITIVE, "save_fenced", BACKEND, async {
            validate_save(workflow, &data)?;
            let token = i64::try_from(fencing_token).map_err(|_| {
                crate::Error::InvalidInput("fencing token must fit a signed 64-bit integer".into())
            })?;
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, SAVE_FENCED).await?;
            if let Some(row) = statement
                .query_opt(&client, &[&workflow, &data, &token])
                .await?
            {
                return info_from_row(workflow, &row);
            }
            let statement = self.pool.prepare(&client, FENCING_TOKEN).await?;
            let current: Option<i64> = statement
                .query_one(&client, &[&workflow])
                .await?
                .try_get(0)?;
            let current = current
                .and_then(|c| u64::try_from(c).ok())
                .unwrap_or_default();
            Err(fenced(workflow, fencing_token, current))
        })
        .await
    }

    async fn load_latest(&self, workflow: &str) -> Result<Option<Checkpoint>> {
        observe(PRIMITIVE, "load_latest", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, LOAD_LATEST).await?;
            let row = statement.query_opt(&client, &[&workflow]).await?;
            row.map(|r| checkpoint_from_row(workflow, &r)).transpose()
        })
        .await
    }

    async fn load(&self, workflow: &str, version: i64) -> Result<Option<Checkpoint>> {
        observe(PRIMITIVE, "load", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, LOAD).await?;
            let row = statement.query_opt(&client, &[&workflow, &version]).await?;
            row.map(|r| checkpoint_from_row(workflow, &r)).transpose()
        })
        .await
    }

    async fn list(&self, workflow: &str) -> Result<Vec<CheckpointInfo>> {
        observe(PRIMITIVE, "list", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, LIST).await?;
            let rows = statement.query(&client, &[&workflow]).await?;
            rows.iter().map(|r| info_from_row(workflow, r)).collect()
        })
        .await
    }

    async fn delete(&self, workflow: &str, version: Option<i64>) -> Result<u64> {
        observe(PRIMITIVE, "delete", BACKEND, async {
            let client = self.pool.get().await?;
            Ok(match version {
                Some(version) => {
                    let statement = self.pool.prepare(&client, DELETE_ONE).await?;
                    statement.execute(&client, &[&workflow, &version]).await?
                }
                None => {
                    let statement = self.pool.prepare(&client, DELETE_ALL).await?;
                    statement.execute(&client, &[&workflow]).await?
                }
            })
        })
        .await
    }

    async fn keep_last(&self, workflow: &str, keep: usize) -> Result<u64> {
        observe(PRIMITIVE, "keep_last", BACKEND, async {
            let keep = i64::try_from(keep).unwrap_or(i64::MAX);
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, KEEP_LAST).await?;
            Ok(statement.execute(&client, &[&workflow, &keep]).await?)
        })
        .await
    }
}
