//! Pages: `limit`/`offset` parameters and the total of a filtered list.
//!
//! A page statement selects `count(*) over () as total` next to its rows, so a page and its
//! total cost one statement. Only a page past the end (no rows to carry the count) costs a
//! second, counting statement.

use gridstore::postgres::PgConnection;
use tokio_postgres::Row;

use crate::store::Page;

use super::db::{Db, Params};
use super::rows;

/// A page's `limit` and `offset` as SQL `bigint`s.
pub(super) fn limits(page: Page) -> (i64, i64) {
    (
        i64::from(page.limit()),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

/// The total of the list whose page is `rows`: read from the first row's `total` column, or
/// counted by `count_sql` (with `params`) when a page past the start came back empty.
pub(super) async fn total<C: PgConnection>(
    db: &Db<'_, C>,
    rows: &[Row],
    offset: i64,
    count_sql: &str,
    params: &Params<'_>,
) -> gridstore::Result<u64> {
    let total = match rows.first() {
        Some(row) => rows::int8(row, "total")?,
        None if offset == 0 => 0,
        None => match db.query_opt(count_sql, params).await? {
            Some(row) => rows::int8(&row, "total")?,
            None => 0,
        },
    };
    Ok(u64::try_from(total).unwrap_or_default())
}
