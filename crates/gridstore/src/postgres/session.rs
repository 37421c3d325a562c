//! PostgreSQL [`SessionStore`] on table `gs_sessions` (migration 0001).
//!
//! Every operation is one statement; `save` and `save_many` decide the version check inside
//! that statement (an `update ... where version = $expected` and an
//! `insert ... on conflict do nothing` in two CTEs), so a concurrent writer can never slip
//! between the check and the write. On a conflict, the `actual` version of the error is read
//! by one more statement, so it is the version committed by the writer that won.
//!
//! `save_many` runs its one `unnest` statement in a transaction that is rolled back when any
//! item conflicts, and is retried on deadlocks and lost connections before commit (via
//! [`crate::postgres::retry()`]). Single-statement operations are not retried: a lost
//! connection may or may not have applied them, and callers know which of theirs are safe to
//! repeat.

mod sql;

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::metrics::observe;
use crate::postgres::{PgPool, RetryPolicy, commit, retry};
use crate::session::{
    Session, SessionQuery, SessionState, SessionStats, SessionStore, SessionSummary,
    empty_by_state, validate_batch, validate_session,
};
use crate::{Error, Result};

const PRIMITIVE: &str = "session";
const BACKEND: &str = "postgres";

/// Sessions in PostgreSQL. Cheap to clone (it holds a pool handle).
#[derive(Debug, Clone)]
pub struct PgSessionStore {
    pool: PgPool,
    retry: RetryPolicy,
}

impl PgSessionStore {
    /// A store on `pool`; run [`crate::postgres::migrations::migrate`] first.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            retry: RetryPolicy::default(),
        }
    }

    /// One attempt of `save_many`: the batch statement in a transaction, committed only when
    /// no item conflicts (an early return drops the transaction, which rolls it back).
    async fn save_many_once(
        &self,
        columns: &sql::BatchColumns<'_>,
        batch: &[Session],
    ) -> Result<Vec<u64>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let statement = tx.prepare_cached(sql::SAVE_MANY).await?;
        let rows = tx.query(&statement, &columns.params()).await?;
        match batch_outcome(&rows, batch)? {
            Ok(versions) => {
                commit(tx).await?;
                Ok(versions)
            }
            // Dropping the transaction rolls it back.
            Err(conflicting) => Err(conflict(&tx, conflicting).await),
        }
    }
}

/// Columns of a session as bound to the statements, validated and truncated to the ms.
struct Params {
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
}

impl Params {
    fn of(session: &Session) -> Result<Self> {
        Ok(Self {
            version: to_db_version(session.version)?,
            created_at: session.created_at.trunc_subsecs(3),
            updated_at: session.updated_at.trunc_subsecs(3),
            expires_at: session.expires_at.map(|t| t.trunc_subsecs(3)),
        })
    }
}

fn to_db_version(version: u64) -> Result<i64> {
    i64::try_from(version)
        .map_err(|_| Error::InvalidInput(format!("session version {version} is too large")))
}

/// Versions are stored as `bigint` with `check (version > 0)`, so they are never negative.
fn from_db_version(version: i64) -> u64 {
    version.unsigned_abs()
}

fn session_from_row(row: &Row) -> Result<Session> {
    Ok(Session {
        id: row.try_get("id")?,
        state: row.try_get::<_, &str>("state")?.parse()?,
        data: row.try_get("data")?,
        version: from_db_version(row.try_get("version")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn summary_from_row(row: &Row) -> Result<SessionSummary> {
    Ok(SessionSummary {
        id: row.try_get("id")?,
        state: row.try_get::<_, &str>("state")?.parse()?,
        version: from_db_version(row.try_get("version")?),
        updated_at: row.try_get("updated_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// The conflict error for `session`, naming the version committed now: read by a new
/// statement, so with a fresh snapshot that sees the writer that won.
async fn conflict<C: GenericClient>(client: &C, session: &Session) -> Error {
    let actual = match client.query_opt(sql::VERSION, &[&session.id]).await {
        Ok(row) => row.map(|r| r.try_get::<_, i64>(0)).transpose(),
        Err(err) => return err.into(),
    };
    let actual = match actual {
        Ok(version) => version.map(from_db_version),
        Err(err) => return err.into(),
    };
    tracing::debug!(
        session.id = %session.id,
        expected = session.version,
        actual,
        "session version conflict"
    );
    Error::VersionConflict {
        key: session.id.clone(),
        expected: session.version,
        actual,
    }
}

/// The new versions from the batch statement in input order, or the first conflicting item.
fn batch_outcome<'s>(rows: &[Row], batch: &'s [Session]) -> Result<Result<Vec<u64>, &'s Session>> {
    let mut versions = Vec::with_capacity(batch.len());
    for (row, session) in rows.iter().zip(batch) {
        match row.try_get::<_, Option<i64>>("new_version")? {
            Some(version) => versions.push(from_db_version(version)),
            None => return Ok(Err(session)),
        }
    }
    Ok(Ok(versions))
}

#[async_trait::async_trait]
impl SessionStore for PgSessionStore {
    async fn save(&self, session: &Session) -> Result<u64> {
        observe(PRIMITIVE, "save", BACKEND, async {
            validate_session(session)?;
            let p = Params::of(session)?;
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(sql::SAVE).await?;
            let row = client
                .query_one(
                    &statement,
                    &[
                        &session.id,
                        &session.state.as_str(),
                        &session.data,
                        &p.version,
                        &p.created_at,
                        &p.updated_at,
                        &p.expires_at,
                    ],
                )
                .await?;
            match row.try_get::<_, Option<i64>>("written")? {
                Some(version) => Ok(from_db_version(version)),
                None => Err(conflict(&client, session).await),
            }
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<Session>> {
        observe(PRIMITIVE, "get", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(sql::GET).await?;
            let row = client.query_opt(&statement, &[&id]).await?;
            row.as_ref().map(session_from_row).transpose()
        })
        .await
    }

    async fn has(&self, id: &str) -> Result<bool> {
        observe(PRIMITIVE, "has", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(sql::HAS).await?;
            Ok(client.query_one(&statement, &[&id]).await?.try_get(0)?)
        })
        .await
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        observe(PRIMITIVE, "delete", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(sql::DELETE).await?;
            Ok(client.execute(&statement, &[&id]).await? > 0)
        })
        .await
    }

    async fn list(&self, query: &SessionQuery) -> Result<Vec<SessionSummary>> {
        observe(PRIMITIVE, "list", BACKEND, async {
            // `limit null` is no limit in PostgreSQL; sizes beyond i64 are no limit either.
            let limit: Option<i64> = query.limit.and_then(|l| i64::try_from(l).ok());
            let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
            let client = self.pool.get().await?;
            let rows = match query.state {
                Some(state) => {
                    let statement = client.prepare_cached(sql::LIST_BY_STATE).await?;
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                        [&limit, &offset, &state.as_str()];
                    client.query(&statement, &params).await?
                }
                None => {
                    let statement = client.prepare_cached(sql::LIST_ALL).await?;
                    client.query(&statement, &[&limit, &offset]).await?
                }
            };
            rows.iter().map(summary_from_row).collect()
        })
        .await
    }

    async fn save_many(&self, batch: &[Session]) -> Result<Vec<u64>> {
        observe(PRIMITIVE, "save_many", BACKEND, async {
            validate_batch(batch)?;
            if batch.is_empty() {
                return Ok(Vec::new());
            }
            let columns = sql::BatchColumns::of(batch)?;
            retry(&self.retry, || self.save_many_once(&columns, batch)).await
        })
        .await
    }

    async fn get_many(&self, ids: &[String]) -> Result<HashMap<String, Session>> {
        observe(PRIMITIVE, "get_many", BACKEND, async {
            if ids.is_empty() {
                return Ok(HashMap::new());
            }
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(sql::GET_MANY).await?;
            let rows = client.query(&statement, &[&ids]).await?;
            rows.iter()
                .map(|row| session_from_row(row).map(|s| (s.id.clone(), s)))
                .collect()
        })
        .await
    }

    async fn delete_many(&self, ids: &[String]) -> Result<u64> {
        observe(PRIMITIVE, "delete_many", BACKEND, async {
            if ids.is_empty() {
                return Ok(0);
            }
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(sql::DELETE_MANY).await?;
            Ok(client.execute(&statement, &[&ids]).await?)
        })
        .await
    }

    async fn update_state(&self, id: &str, state: SessionState) -> Result<u64> {
        observe(PRIMITIVE, "update_state", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(sql::UPDATE_STATE).await?;
            let row = client
                .query_opt(&statement, &[&id, &state.as_str()])
                .await?
                .ok_or_else(|| Error::not_found("session", id))?;
            Ok(from_db_version(row.try_get(0)?))
        })
        .await
    }

    async fn clear(&self, older_than: Option<DateTime<Utc>>) -> Result<u64> {
        observe(PRIMITIVE, "clear", BACKEND, async {
            let client = self.pool.get().await?;
            Ok(match older_than {
                Some(cutoff) => {
                    let statement = client.prepare_cached(sql::CLEAR_OLDER_THAN).await?;
                    client.execute(&statement, &[&cutoff]).await?
                }
                None => client.execute(sql::CLEAR_ALL, &[]).await?,
            })
        })
        .await
    }

    async fn stats(&self) -> Result<SessionStats> {
        observe(PRIMITIVE, "stats", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = client.prepare_cached(sql::STATS).await?;
            let mut stats = SessionStats {
                by_state: empty_by_state(),
                ..SessionStats::default()
            };
            for row in client.query(&statement, &[]).await? {
                let state: SessionState = row.try_get::<_, &str>(0)?.parse()?;
                let count = row.try_get::<_, i64>(1)?.unsigned_abs();
                stats.by_state.insert(state, count);
                stats.total += count;
                stats.bytes += row.try_get::<_, i64>(2)?.unsigned_abs();
            }
            Ok(stats)
        })
        .await
    }
}
