//! SQL for the PostgreSQL event log: statements, the filter builder and row mapping.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::event_log::{Event, EventFilter, EventPosition};
use crate::{Error, Result};

/// Appends a batch in one statement and one round trip. `tx_id`, `seq` and `recorded_at` come
/// from the column defaults; `nextval` runs in array order, so `seq` keeps the batch order.
pub(super) const APPEND: &str =
    "insert into gs_events (stream, event_type, correlation_id, payload)
select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
returning seq, tx_id::text";

/// The columns every event read selects, in the order [`event_from_row`] expects.
///
/// The text form of `tx_id` must not be named `tx_id`: `order by tx_id` would then sort by
/// the output column, as text ("10000000" < "9999999"), so a limited read could return a
/// later transaction first and move a cursor past an earlier one (and no index could serve
/// the order).
const COLUMNS: &str =
    "seq, tx_id::text as tx_id_text, recorded_at, stream, event_type, correlation_id, payload";

/// The commit fence: only transactions older than the oldest one still running.
const FENCE: &str = "tx_id < pg_snapshot_xmin(pg_current_snapshot())";

/// The commit fence of [`Shape::Scanned`]: the `fence` column of its outer query, so the rows
/// and the reported fence come from the same value.
const FENCE_OUTER: &str = "tx_id < f.fence";

/// What a built statement returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// Event rows in position order.
    Rows,
    /// One `count(*)`.
    Count,
    /// `(stream, event_type, count, min(recorded_at), max(recorded_at))` per group.
    Aggregate,
    /// Fenced event rows (columns as [`Shape::Rows`]) plus the fence as column 7 and, as
    /// column 8, the newest transaction below the fence that appended any event (null when
    /// none); a single row of nulls, the fence and that transaction when no event matched.
    /// Build with [`Statement::fenced_outer`].
    Scanned,
}

/// A statement with its parameters, built from an [`EventFilter`].
#[derive(Debug, Default)]
pub(super) struct Statement {
    conditions: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Statement {
    /// Builds the `where` conditions of `filter`.
    pub(super) fn filtered(filter: &EventFilter) -> Self {
        let mut s = Self::default();
        if let Some(stream) = &filter.stream {
            s.condition("stream = ", stream.clone(), "");
        }
        if let Some(event_type) = &filter.event_type {
            s.condition("event_type = ", event_type.clone(), "");
        }
        if let Some(correlation_id) = &filter.correlation_id {
            s.condition("correlation_id = ", correlation_id.clone(), "");
        }
        if let Some(from) = filter.recorded_from {
            s.condition("recorded_at >= ", from, "");
        }
        if let Some(before) = filter.recorded_before {
            s.condition("recorded_at < ", before, "");
        }
        if let Some(contains) = &filter.contains {
            s.condition("payload @> ", contains.clone(), "::jsonb");
        }
        if let Some(text) = &filter.text {
            s.condition(
                "to_tsvector('simple', payload) @@ plainto_tsquery('simple', ",
                text.clone(),
                "::text)",
            );
        }
        s
    }

    /// Only events after `position`.
    pub(super) fn after(&mut self, position: EventPosition) {
        let tx = self.param(position.tx_id().to_string());
        let seq = self.param(position.seq());
        self.conditions
            .push(format!("(tx_id, seq) > ({tx}::text::xid8, {seq}::bigint)"));
    }

    /// Only events behind the commit fence.
    pub(super) fn fenced(&mut self) {
        self.conditions.push(FENCE.to_owned());
    }

    /// Only events behind the commit fence computed once per statement by [`Shape::Scanned`].
    pub(super) fn fenced_outer(&mut self) {
        self.conditions.push(FENCE_OUTER.to_owned());
    }

    /// The SQL text for `shape`, with `limit` for [`Shape::Rows`] and [`Shape::Scanned`].
    pub(super) fn sql(&mut self, shape: Shape, limit: Option<usize>) -> String {
        let filter = if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" where {}", self.conditions.join(" and "))
        };
        match shape {
            Shape::Rows => {
                let limit = limit.map_or(String::new(), |n| {
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    format!(" limit {}", self.param(n))
                });
                format!("select {COLUMNS} from gs_events{filter} order by tx_id, seq{limit}")
            }
            Shape::Scanned => {
                let rows = self.sql(Shape::Rows, limit);
                format!(
                    "select e.*, f.fence::text, \
                     (select tx_id from gs_events where tx_id < f.fence \
                      order by tx_id desc limit 1)::text as durable \
                     from (select pg_snapshot_xmin(pg_current_snapshot()) as fence) f \
                     left join lateral ({rows}) e on true"
                )
            }
            Shape::Count => format!("select count(*) from gs_events{filter}"),
            Shape::Aggregate => format!(
                "select stream, event_type, count(*), min(recorded_at), max(recorded_at) \
                 from gs_events{filter} group by stream, event_type order by stream, event_type"
            ),
        }
    }

    /// The parameters, borrowed as the driver wants them.
    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }

    fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn condition(&mut self, prefix: &str, value: impl ToSql + Sync + Send + 'static, suffix: &str) {
        let placeholder = self.param(value);
        self.conditions
            .push(format!("{prefix}{placeholder}{suffix}"));
    }
}

/// Parses the text form of an `xid8`.
pub(super) fn parse_tx_id(text: &str) -> Result<u64> {
    text.parse()
        .map_err(|_| Error::InvalidInput(format!("unexpected xid8 value {text:?}")))
}

/// Maps a row selected with [`COLUMNS`].
pub(super) fn event_from_row(row: &Row) -> Result<Event> {
    let tx_id: String = row.try_get(1)?;
    let recorded_at: DateTime<Utc> = row.try_get(2)?;
    let payload: Value = row.try_get(6)?;
    Ok(Event {
        position: EventPosition::new(parse_tx_id(&tx_id)?, row.try_get(0)?),
        recorded_at,
        stream: row.try_get(3)?,
        event_type: row.try_get(4)?,
        correlation_id: row.try_get(5)?,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_filter_reads_everything_in_position_order() {
        let mut s = Statement::filtered(&EventFilter::all());
        assert_eq!(
            s.sql(Shape::Rows, None),
            format!("select {COLUMNS} from gs_events order by tx_id, seq")
        );
        assert!(s.params().is_empty());
    }

    #[test]
    fn filters_become_numbered_conditions() {
        let filter = EventFilter::all()
            .stream("s")
            .contains(serde_json::json!({"a": 1}))
            .text("hello");
        let mut s = Statement::filtered(&filter);
        s.after(EventPosition::new(9, 3));
        s.fenced();
        let sql = s.sql(Shape::Rows, Some(10));
        assert!(sql.contains("where stream = $1 and payload @> $2::jsonb and "));
        assert!(sql.contains("plainto_tsquery('simple', $3::text)"));
        assert!(sql.contains("(tx_id, seq) > ($4::text::xid8, $5::bigint)"));
        assert!(sql.contains(FENCE));
        assert!(sql.ends_with("order by tx_id, seq limit $6"));
        assert_eq!(s.params().len(), 6);
    }

    #[test]
    fn a_scanned_read_returns_the_fence_it_filtered_with() {
        let mut s = Statement::filtered(&EventFilter::all().stream("s"));
        s.after(EventPosition::new(9, 3));
        s.fenced_outer();
        let sql = s.sql(Shape::Scanned, Some(10));
        assert!(sql.starts_with(
            "select e.*, f.fence::text, (select tx_id from gs_events where tx_id < f.fence"
        ));
        assert!(sql.contains("from (select pg_snapshot_xmin(pg_current_snapshot()) as fence) f"));
        assert!(sql.contains("and tx_id < f.fence order by tx_id, seq limit $4) e on true"));
        assert!(!sql.contains(FENCE));
    }
}
