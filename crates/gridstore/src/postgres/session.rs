//! PostgreSQL [`SessionStore`] on table `gs_sessions` (migration 0001).
//!
//! Every operation is one statement; `save` and `save_many` decide the version check inside
//! that statement (an `update ... where version = $expected` and an
//! `insert ... on conflict do nothing` in two CTEs), so a concurrent writer can never slip
//! between the check and the write. On a conflict of `save`, the `actual` version of the error
//! is read by one more statement, so it is the version committed by the writer that won.
//!
//! `save_many` is one round trip whatever the batch size: one autocommit call of
//! `gs_sessions_save_many` (migration 0007), sent with its parameter types so that no prepare
//! is needed. The function locks the stored rows of the batch in id order (so overlapping
//! batches queue rather than deadlock), upserts every item with its version check, and raises
//! `GS409` naming the first conflicting item in input order when any item conflicts; the raise
//! rolls the whole statement back, so the batch is atomic, and `actual` is read by a later
//! statement of the function, so it is the version committed by the writer that won.
//!
//! Retries: `save_many` runs again after a deadlock or a serialization failure (the statement
//! was rolled back) and after a failure to check a connection out (nothing was sent). Like
//! the other single-statement operations it is not retried once the statement may have
//! reached the server and the connection is lost: it may or may not have been applied, and
//! callers know which of theirs are safe to repeat (a repeated batch whose first attempt was
//! applied fails its version check).

mod sql;

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::Type;

use crate::metrics::observe;
use crate::postgres::{PgConnection, PgPool, PgStatement, RetryPolicy, retry};
use crate::session::{
    Session, SessionQuery, SessionState, SessionStats, SessionStore, SessionSummary,
    empty_by_state, validate_batch, validate_session,
};
use crate::{Error, Result, Retryable};

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

    /// One attempt of `save_many`: one call of the batch function on a checked-out
    /// connection.
    async fn save_many_once(
        &self,
        columns: &sql::BatchColumns<'_>,
    ) -> Result<Vec<u64>, BatchAttempt> {
        let client = self.pool.get().await.map_err(BatchAttempt::Unsent)?;
        let row = client
            .query_typed_one(sql::SAVE_MANY, &columns.params())
            .await
            .map_err(|err| BatchAttempt::Sent(err.into()))?;
        let versions: Vec<i64> = row
            .try_get(0)
            .map_err(|err| BatchAttempt::Sent(err.into()))?;
        Ok(versions.into_iter().map(from_db_version).collect())
    }
}

/// A failed attempt of `save_many`, by whether the statement may have reached the server.
#[derive(Debug)]
enum BatchAttempt {
    /// No connection could be checked out: nothing was sent.
    Unsent(Error),
    /// The statement was sent: only a failure that rolled it back is safe to run again.
    Sent(Error),
}

impl BatchAttempt {
    fn into_error(self) -> Error {
        match self {
            Self::Unsent(err) | Self::Sent(err) => err,
        }
    }
}

impl Retryable for BatchAttempt {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Unsent(err) => err.is_retryable(),
            Self::Sent(err) => matches!(err, Error::Deadlock | Error::SerializationFailure),
        }
    }
}

impl fmt::Display for BatchAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsent(err) | Self::Sent(err) => err.fmt(f),
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
async fn conflict<C: PgConnection>(client: &C, session: &Session) -> Error {
    let version = PgStatement::unnamed(sql::VERSION, &[Type::TEXT]);
    let actual = match version.query_opt(client, &[&session.id]).await {
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

#[async_trait::async_trait]
impl SessionStore for PgSessionStore {
    async fn save(&self, session: &Session) -> Result<u64> {
        observe(PRIMITIVE, "save", BACKEND, async {
            validate_session(session)?;
            let p = Params::of(session)?;
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, sql::SAVE).await?;
            let row = statement
                .query_one(
                    &client,
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
            let statement = self.pool.prepare(&client, sql::GET).await?;
            let row = statement.query_opt(&client, &[&id]).await?;
            row.as_ref().map(session_from_row).transpose()
        })
        .await
    }

    async fn has(&self, id: &str) -> Result<bool> {
        observe(PRIMITIVE, "has", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, sql::HAS).await?;
            Ok(statement.query_one(&client, &[&id]).await?.try_get(0)?)
        })
        .await
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        observe(PRIMITIVE, "delete", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, sql::DELETE).await?;
            Ok(statement.execute(&client, &[&id]).await? > 0)
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
                    let statement = self.pool.prepare(&client, sql::LIST_BY_STATE).await?;
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                        [&limit, &offset, &state.as_str()];
                    statement.query(&client, &params).await?
                }
                None => {
                    let statement = self.pool.prepare(&client, sql::LIST_ALL).await?;
                    statement.query(&client, &[&limit, &offset]).await?
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
            retry(&self.retry, || self.save_many_once(&columns))
                .await
                .map_err(BatchAttempt::into_error)
        })
        .await
    }

    async fn get_many(&self, ids: &[String]) -> Result<HashMap<String, Session>> {
        observe(PRIMITIVE, "get_many", BACKEND, async {
            if ids.is_empty() {
                return Ok(HashMap::new());
            }
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, sql::GET_MANY).await?;
            let rows = statement.query(&client, &[&ids]).await?;
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
            let statement = self.pool.prepare(&client, sql::DELETE_MANY).await?;
            Ok(statement.execute(&client, &[&ids]).await?)
        })
        .await
    }

    async fn update_state(&self, id: &str, state: SessionState) -> Result<u64> {
        observe(PRIMITIVE, "update_state", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, sql::UPDATE_STATE).await?;
            let row = statement
                .query_opt(&client, &[&id, &state.as_str()])
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
                    let statement = self.pool.prepare(&client, sql::CLEAR_OLDER_THAN).await?;
                    statement.execute(&client, &[&cutoff]).await?
                }
                None => {
                    PgStatement::unnamed(sql::CLEAR_ALL, &[])
                        .execute(&client, &[])
                        .await?
                }
            })
        })
        .await
    }

    async fn stats(&self) -> Result<SessionStats> {
        observe(PRIMITIVE, "stats", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, sql::STATS).await?;
            let mut stats = SessionStats {
                by_state: empty_by_state(),
                ..SessionStats::default()
            };
            for row in statement.query(&client, &[]).await? {
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
