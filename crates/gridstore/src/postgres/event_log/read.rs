//! Reads of the PostgreSQL event log: plain and scanned (fenced, reporting the fence).

use super::PgEventLog;
use super::sql::{Shape, Statement, event_from_row, parse_tx_id};
use crate::Result;
use crate::event_log::{Event, EventPosition, ScannedBatch};

impl PgEventLog {
    /// Runs a [`Shape::Rows`] read of up to `limit` events.
    pub(super) async fn select(
        &self,
        mut statement: Statement,
        limit: usize,
    ) -> Result<Vec<Event>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = statement.sql(Shape::Rows, Some(limit));
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, &sql).await?;
        let rows = prepared.query(&client, &statement.params()).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Runs a [`Shape::Scanned`] read. When it returned fewer than `limit` events, every
    /// matching event of a transaction below the fence was returned, and every transaction
    /// that can still commit has an id at or above the fence. The read reports that it looked
    /// up to the newest transaction below the fence that appended an event, `(durable,
    /// i64::MAX)`, and not up to `(fence - 1, i64::MAX)`:
    ///
    /// Transaction ids between the two may belong to transactions whose commit or abort was
    /// never flushed (a rollback, or a transaction that took an id and wrote nothing else).
    /// After a crash or a failover to a standby, the server hands those ids out again, so a
    /// position past them could skip events appended under a reused id. The newest
    /// appending transaction committed with its WAL flushed (and, with a synchronous standby,
    /// replicated) before anyone could read it, so every id handed out later is above it.
    /// This holds for appends committed with `synchronous_commit` at `on` or above.
    pub(super) async fn select_scanned(
        &self,
        mut statement: Statement,
        after: EventPosition,
        limit: usize,
    ) -> Result<ScannedBatch> {
        if limit == 0 {
            return Ok(ScannedBatch {
                events: Vec::new(),
                scanned: after,
            });
        }
        let sql = statement.sql(Shape::Scanned, Some(limit));
        let client = self.pool.get().await?;
        let prepared = self.pool.prepare(&client, &sql).await?;
        let rows = prepared.query(&client, &statement.params()).await?;
        let mut durable = None;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            durable = row
                .try_get::<_, Option<String>>(8)?
                .as_deref()
                .map(parse_tx_id)
                .transpose()?;
            if row.try_get::<_, Option<i64>>(0)?.is_some() {
                events.push(event_from_row(row)?);
            }
        }
        events.sort_unstable_by_key(|e: &Event| e.position);
        let last = events.last().map_or(after, |e| e.position);
        let scanned = match durable {
            Some(durable) if events.len() < limit => {
                EventPosition::new(durable, i64::MAX).max(last)
            }
            _ => last,
        };
        Ok(ScannedBatch {
            events,
            scanned: scanned.max(after),
        })
    }
}
