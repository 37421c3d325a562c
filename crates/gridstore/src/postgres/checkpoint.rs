//! PostgreSQL [`CheckpointStore`] on tables `gs_checkpoint_heads` and `gs_checkpoints`
//! (migration 0003).
//!
//! A save is one statement: it increments the workflow's counter row (`insert ... on
//! conflict do update ... returning`), whose row lock serializes concurrent saves of one
//! workflow, and inserts the checkpoint under the returned version. So no save ever hits the
//! `(workflow, version)` key and nothing needs retrying; versions are never reused because
//! the counter outlives deletes. `created_at` is `clock_timestamp()` taken after the counter
//! lock, so it grows with the version. Statements are not retried.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Row;

use crate::Result;
use crate::checkpoint::{Checkpoint, CheckpointInfo, CheckpointStore, validate_save};
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
