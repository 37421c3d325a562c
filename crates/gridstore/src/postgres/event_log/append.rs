//! Appends: one `insert … select * from unnest(…)` statement per batch, in the caller's
//! transaction ([`PgEventLog::append_in`], the transactional outbox) or in one of its own that
//! creates this month's partition when it is missing.

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::sql::{APPEND, parse_tx_id};
use super::{DEFAULT_MONTHS_AHEAD, PgEventLog, ensure_in_transaction};
use crate::event_log::{EventPosition, NewEvent, validate_batch};
use crate::payload::Json;
use crate::postgres::{PgConnection, PgStatement};
use crate::{Error, Payload, Result};

/// The parameter types of [`APPEND`].
const APPEND_TYPES: [Type; 4] = [
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::JSONB_ARRAY,
];

impl PgEventLog {
    /// Appends a batch inside the caller's transaction (or on any client): the events commit
    /// or roll back with the caller's other writes. After the commit, call
    /// [`PgEventLog::announce`] to wake subscribers at once; without it they see the events at
    /// their next poll.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty stream or type, or a payload the
    /// [payload rules](crate::payload) refuse; classified database errors.
    pub async fn append_in(
        client: &impl PgConnection,
        events: &[NewEvent],
    ) -> Result<Vec<EventPosition>> {
        // Typed, so that it needs no prepare and works on any connection, also behind a
        // transaction pooler.
        Self::append_prepared(client, &PgStatement::unnamed(APPEND, &APPEND_TYPES), events).await
    }

    /// The statement of an append, for [`PgEventLog::append_prepared`]: prepare it with
    /// [`PgPool::prepare`](crate::postgres::PgPool::prepare).
    pub const APPEND_SQL: &'static str = APPEND;

    /// [`PgEventLog::append_in`] with [`PgEventLog::APPEND_SQL`] prepared by the caller: a
    /// statement cached on the connection is parsed and planned once, where the unnamed one of
    /// `append_in` is parsed and planned at every append. Like `append_in`, the request goes
    /// out when the future is first polled, so it can be pipelined behind the caller's other
    /// writes.
    ///
    /// # Errors
    /// As [`PgEventLog::append_in`].
    pub async fn append_prepared(
        client: &impl PgConnection,
        statement: &PgStatement,
        events: &[NewEvent],
    ) -> Result<Vec<EventPosition>> {
        let batch = AppendRows::new(events)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rows = statement.query(client, &batch.params()).await?;
        let mut positions = rows
            .iter()
            .map(|row| {
                let tx: String = row.try_get(1)?;
                Ok(EventPosition::new(parse_tx_id(&tx)?, row.try_get(0)?))
            })
            .collect::<Result<Vec<_>>>()?;
        // seq follows the batch order; sort in case `returning` did not.
        positions.sort_unstable();
        Ok(positions)
    }

    /// Appends on a pooled connection with [`APPEND`] prepared through the pool (cached per
    /// connection unless the statement cache is off).
    async fn append_once(&self, events: &[NewEvent]) -> Result<Vec<EventPosition>> {
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, APPEND).await?;
        Self::append_prepared(&client, &statement, events).await
    }

    pub(super) async fn append_creating_partitions(
        &self,
        events: &[NewEvent],
    ) -> Result<Vec<EventPosition>> {
        let mut client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, APPEND).await?;
        match Self::append_in_raw(&client, &statement, events).await {
            Err(AppendError::NoPartition) => {
                tracing::warn!("no event log partition for this month; creating it now");
                ensure_in_transaction(&mut client, DEFAULT_MONTHS_AHEAD, None).await?;
                drop(client);
                self.append_once(events).await
            }
            Err(AppendError::Other(err)) => Err(err),
            Ok(positions) => Ok(positions),
        }
    }

    /// [`PgEventLog::append_prepared`], telling a missing partition apart from other failures.
    async fn append_in_raw(
        client: &impl PgConnection,
        statement: &PgStatement,
        events: &[NewEvent],
    ) -> Result<Vec<EventPosition>, AppendError> {
        // PostgreSQL reports "no partition of relation ... found for row" as check_violation
        // (23514) without a constraint name; named check constraints always carry theirs.
        Self::append_prepared(client, statement, events)
            .await
            .map_err(|err| match &err {
                Error::CheckViolation { constraint } if constraint.is_empty() => {
                    AppendError::NoPartition
                }
                _ => AppendError::Other(err),
            })
    }
}

/// The parameters of an append ([`PgEventLog::APPEND_SQL`]) for a batch: for a caller that
/// folds the append into a statement of its own, as a data-modifying `WITH` part, so that its
/// rows and its events are one statement (one message each way; on a connection outside a
/// transaction, one transaction that PostgreSQL commits before it answers).
///
/// ```
/// use gridstore::NewEvent;
/// use gridstore::postgres::PgEventLog;
/// use gridstore::postgres::event_log::AppendRows;
///
/// let events = [NewEvent::new("orders", "OrderPlaced", serde_json::json!({"id": "o-1"}))];
/// let rows = AppendRows::new(&events)?;
/// // Its parameters follow those of the statement's other parts (here none).
/// let sql = format!("with appended as ({}) select count(*) from appended", PgEventLog::APPEND_SQL);
/// # let _ = sql;
/// assert_eq!(rows.params().len(), 4);
/// # Ok::<(), gridstore::Error>(())
/// ```
#[derive(Debug)]
pub struct AppendRows<'a> {
    streams: Vec<&'a str>,
    types: Vec<&'a str>,
    correlations: Vec<Option<&'a str>>,
    payloads: Vec<Jsonb<'a>>,
}

impl<'a> AppendRows<'a> {
    /// The parameters of `events`, in batch order (an empty batch appends nothing).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty stream or type, or a payload the
    /// [payload rules](crate::payload) refuse.
    pub fn new(events: &'a [NewEvent]) -> Result<Self> {
        validate_batch(events)?;
        Ok(Self {
            streams: events.iter().map(|e| e.stream.as_str()).collect(),
            types: events.iter().map(|e| e.event_type.as_str()).collect(),
            correlations: events.iter().map(|e| e.correlation_id.as_deref()).collect(),
            payloads: events.iter().map(|e| Jsonb(&e.payload)).collect(),
        })
    }

    /// `$1..$4` of [`PgEventLog::APPEND_SQL`], in order.
    pub fn params(&self) -> [&(dyn ToSql + Sync); 4] {
        [
            &self.streams,
            &self.types,
            &self.correlations,
            &self.payloads,
        ]
    }
}

/// Why an append failed, keeping "no partition for this row" apart.
enum AppendError {
    NoPartition,
    Other(Error),
}

/// A payload bound as `jsonb` in binary format: the format version (1), then the JSON text,
/// written once (encoded payloads as they are, values serialized straight into the buffer).
#[derive(Debug)]
struct Jsonb<'a>(&'a Payload);

impl ToSql for Jsonb<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_u8(1);
        match self.0.as_json() {
            Json::Text(text) => out.put_slice(text.as_bytes()),
            Json::Value(value) => serde_json::to_writer(out.writer(), value)?,
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}
