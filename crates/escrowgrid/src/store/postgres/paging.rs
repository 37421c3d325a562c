//! Pages: `limit`/`offset` parameters and the total of a filtered list, and keyset pages.
//!
//! An offset page statement selects `count(*) over () as total` next to its rows, so a page and
//! its total cost one statement. Only a page past the end (no rows to carry the count) costs a
//! second, counting statement.
//!
//! A keyset page ([`Keyset`]) is `where <filters> and <after the key> order by <list order>
//! limit <page + 1>`: it reads the page and one row more (which only tells whether more
//! follow) and counts nothing. Its text holds only the filters that are set (one statement
//! text per filter combination, each with concrete predicates), so every plan, cached and
//! generic included, can seek the index that leads with those filters and ends with the list
//! order (`migrations/0009_keyset_indexes.sql`): the cost does not grow with the depth.

use chrono::{DateTime, Utc};
use gridstore::postgres::PgConnection;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::store::{Page, SortKey};

use super::db::{Db, Params};
use super::rows;

/// A page's `limit` and `offset` as SQL `bigint`s (an offset page).
pub(super) fn limits(page: &Page) -> (i64, i64) {
    (
        i64::from(page.limit()),
        page.offset()
            .map_or(0, |offset| i64::try_from(offset).unwrap_or(i64::MAX)),
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

/// The bind values of a key: PostgreSQL's `timestamptz` and `text`, or a `seq` (`bigint`).
#[derive(Debug)]
pub(super) enum KeyValues {
    /// `created_at` and `id`.
    Created(DateTime<Utc>, String),
    /// `seq`.
    Seq(i64),
}

impl KeyValues {
    /// The values of `key`.
    pub(super) fn of(key: &SortKey) -> Self {
        match key {
            SortKey::Created { at, id } => Self::Created(*at, id.clone()),
            SortKey::Seq(seq) => Self::Seq(i64::try_from(*seq).unwrap_or(i64::MAX)),
        }
    }
}

/// A keyset page statement under construction: `select … from … where` the filters that are
/// set, then the key predicate, the order and `limit`; see the [module docs](self).
pub(super) struct Keyset<'a> {
    sql: String,
    params: Vec<&'a (dyn ToSql + Sync)>,
    conditions: usize,
}

impl<'a> Keyset<'a> {
    /// Starts with `select_from` (`select <columns> from <table>`).
    pub(super) fn new(select_from: &str) -> Self {
        Self {
            sql: select_from.to_owned(),
            params: Vec::new(),
            conditions: 0,
        }
    }

    /// Adds `<column> <op> $n` when `value` is set (`op` is `=`, `>=` or `<=`).
    pub(super) fn filter<T: ToSql + Sync>(
        mut self,
        column: &str,
        op: &str,
        value: Option<&'a T>,
    ) -> Self {
        if let Some(value) = value {
            let n = self.bind(value);
            self.condition(&format!("{column} {op} ${n}"));
        }
        self
    }

    /// Adds a condition without parameters (say `revoked_at is null`).
    pub(super) fn constant(mut self, condition: &str) -> Self {
        self.condition(condition);
        self
    }

    /// Adds `(created_at, id) > (key)` (entity lists, ascending).
    pub(super) fn after_created(mut self, at: &'a DateTime<Utc>, id: &'a String) -> Self {
        let (a, b) = (self.bind(at), self.bind(id));
        self.condition(&format!("(created_at, id) > (${a}, ${b})"));
        self
    }

    /// Adds "after the key" of a newest-first list (`created_at` descending, ties by id
    /// ascending): the range bound `created_at <= key` serves the index, the rest breaks ties.
    pub(super) fn after_created_newest_first(
        mut self,
        at: &'a DateTime<Utc>,
        id: &'a String,
    ) -> Self {
        let (a, b) = (self.bind(at), self.bind(id));
        self.condition(&format!(
            "created_at <= ${a} and (created_at < ${a} or id > ${b})"
        ));
        self
    }

    /// Adds `seq > key` (append-only lists in write order).
    pub(super) fn after_seq(mut self, seq: &'a i64) -> Self {
        let n = self.bind(seq);
        self.condition(&format!("seq > ${n}"));
        self
    }

    /// Ends with `order by <order> limit $n`; `limit_plus_one` is the page size + 1.
    pub(super) fn finish(mut self, order: &str, limit_plus_one: &'a i64) -> (String, Self) {
        let n = self.bind(limit_plus_one);
        let sql = format!("{} order by {order} limit ${n}", self.sql);
        (sql, self)
    }

    /// Ends as the page of one parent's rows, joined to the parent row so that the parent
    /// comes back (with null row columns) even when the page is empty:
    /// `select p.id as parent_found, k.* from <parent> p left join lateral (<page>) k on true
    /// where p.id = $1 [and p.institution_id = <tenant>] order by k.<order>`. The first filter
    /// must bind the parent's id (`$1`). An unknown parent, or one outside `tenant`, returns
    /// no row at all (see [`under_parent`]).
    pub(super) fn finish_under<T: ToSql + Sync>(
        self,
        parent: &str,
        tenant: Option<&'a T>,
        order: &str,
        limit_plus_one: &'a i64,
    ) -> (String, Self) {
        let (page, mut query) = self.finish(order, limit_plus_one);
        let tenant = tenant.map_or_else(String::new, |tenant| {
            format!(" and p.institution_id = ${}", query.bind(tenant))
        });
        let order: Vec<String> = order
            .split(", ")
            .map(|column| format!("k.{column}"))
            .collect();
        let sql = format!(
            "select p.id as parent_found, k.* from {parent} p left join lateral ({page}) k on \
             true where p.id = $1{tenant} order by {}",
            order.join(", ")
        );
        (sql, query)
    }

    /// The bind values, in `$n` order.
    pub(super) fn params(&self) -> &[&'a (dyn ToSql + Sync)] {
        &self.params
    }

    fn bind(&mut self, value: &'a (dyn ToSql + Sync)) -> usize {
        self.params.push(value);
        self.params.len()
    }

    fn condition(&mut self, condition: &str) {
        let joiner = if self.conditions == 0 {
            " where "
        } else {
            " and "
        };
        self.sql.push_str(joiner);
        self.sql.push_str(condition);
        self.conditions += 1;
    }
}

/// The rows of a [`Keyset::finish_under`] statement, mapped by `map`: NotFound `resource`
/// (`parent_id`) when the parent row did not come back.
pub(super) fn under_parent<T>(
    found: &[Row],
    resource: &'static str,
    parent_id: &str,
    map: impl Fn(&Row) -> gridstore::Result<T>,
) -> crate::Result<Vec<T>> {
    if found.is_empty() {
        return Err(crate::Error::not_found(resource, parent_id));
    }
    let mut items = Vec::with_capacity(found.len());
    for row in found {
        if rows::present(row, "id")? {
            items.push(map(row)?);
        }
    }
    Ok(items)
}

/// A keyset page's `limit` + 1 as SQL `bigint`.
pub(super) fn limit_plus_one(page: &Page) -> i64 {
    i64::from(page.limit()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyset_statement_holds_only_the_filters_that_are_set() {
        let (institution, holder): (Option<&str>, Option<&str>) = (Some("inst_a"), None);
        let at = DateTime::from_timestamp_millis(5).unwrap();
        let id = "pos_a".to_owned();
        let limit = 11_i64;
        let (sql, query) = Keyset::new("select id from positions")
            .filter("institution_id", "=", institution.as_ref())
            .filter("holder_reference", "=", holder.as_ref())
            .after_created(&at, &id)
            .finish("created_at, id", &limit);
        assert_eq!(
            sql,
            "select id from positions where institution_id = $1 \
             and (created_at, id) > ($2, $3) order by created_at, id limit $4"
        );
        assert_eq!(query.params().len(), 4);
    }

    #[test]
    fn a_page_under_a_parent_joins_it_so_that_an_empty_page_still_finds_the_parent() {
        let (position, tenant, seq, limit) = ("pos_a", "inst_a", 7_i64, 3_i64);
        let (sql, query) = Keyset::new("select seq, id from ledger_events")
            .filter("position_id", "=", Some(&position))
            .after_seq(&seq)
            .finish_under("positions", Some(&tenant), "seq", &limit);
        assert_eq!(
            sql,
            "select p.id as parent_found, k.* from positions p left join lateral \
             (select seq, id from ledger_events where position_id = $1 and seq > $2 \
             order by seq limit $3) k on true where p.id = $1 and p.institution_id = $4 \
             order by k.seq"
        );
        assert_eq!(query.params().len(), 4);
    }
}
