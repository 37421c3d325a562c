//! Positions: get and list with their lifecycle events (create: `create.rs`, transition:
//! `transition.rs`).
//!
//! No N+1: a page is one statement (rows and total), then one statement fetches the events of
//! every position of the page (`position_id = any($1)`), assembled here.

use std::collections::HashMap;
use std::sync::Arc;

use gridstore::postgres::{PgConnection, PgTransaction};

use crate::domain::{AssetId, Position, PositionId, PositionLifecycleEvent};
use crate::store::{Page, Paginated, PositionFilter, Scope, SortKey, Start};
use crate::{Error, Result};

use super::db::{Db, Params};
use super::entities::{created_after, list_institution};
use super::paging::{KeyValues, Keyset};
use super::{PgEscrowStore, paging, rows};

/// The columns of a position row, as `rows::position` reads them.
macro_rules! position_columns {
    () => {
        "select id, institution_id, asset_id, holder_reference, currency, amount, state,
    external_reference, version, created_at, updated_at
from positions
"
    };
}

/// A position by id, for root. Each scope has statements of its own, without an
/// `$2 is null or ...` filter: with one, the scoped lookup's plan for the parameters given
/// (the primary key) looks cheaper than any generic plan, so PostgreSQL planned the statement
/// anew at every execution (~90 µs of its CPU per transition).
const GET_POSITION: &str = concat!(position_columns!(), "where id = $1");

/// A position by id within one institution (`$2`): the primary key `(institution_id, id)`.
const GET_POSITION_IN: &str = concat!(position_columns!(), "where institution_id = $2 and id = $1");

/// [`GET_POSITION`], locking the row with the lock its update takes (`for no key update`: it
/// does not block the foreign-key checks of rows that refer to the position): a concurrent
/// transition waits for this transaction and then reads the version it committed.
const GET_POSITION_FOR_UPDATE: &str =
    concat!(position_columns!(), "where id = $1\nfor no key update");

/// [`GET_POSITION_IN`], locked as [`GET_POSITION_FOR_UPDATE`] is.
const GET_POSITION_IN_FOR_UPDATE: &str = concat!(
    position_columns!(),
    "where institution_id = $2 and id = $1\nfor no key update"
);

const LIST_POSITIONS: &str = "\
select id, institution_id, asset_id, holder_reference, currency, amount, state,
    external_reference, version, created_at, updated_at, count(*) over () as total
from positions
where ($1::text is null or institution_id = $1)
  and ($2::text is null or asset_id = $2)
  and ($3::text is null or holder_reference = $3)
order by created_at, id
limit $4 offset $5";

/// A keyset page of positions: [`Keyset`] adds the filters that are set, the key and the order
/// (indexes: `idx_positions_institution`, `idx_positions_asset_created` and
/// `idx_positions_holder_created` from migration 0009, `idx_positions_created`).
const POSITION_KEYSET: &str = "\
select id, institution_id, asset_id, holder_reference, currency, amount, state,
    external_reference, version, created_at, updated_at
from positions";

const COUNT_POSITIONS: &str = "\
select count(*) as total
from positions
where ($1::text is null or institution_id = $1)
  and ($2::text is null or asset_id = $2)
  and ($3::text is null or holder_reference = $3)";

/// The columns of a lifecycle event, as `rows::lifecycle_event` reads them.
macro_rules! event_columns {
    () => {
        "select id, position_id, from_state, to_state, reason, at, metadata
from position_events
"
    };
}

/// The lifecycle events of several positions, in write order.
const EVENTS_OF: &str = concat!(
    event_columns!(),
    "where position_id = any($1)\norder by seq"
);

/// The lifecycle events of one position, in write order: [`EVENTS_OF`] for one id, written
/// without an array so that PostgreSQL keeps one generic plan for the prepared statement
/// (`= any($1)` over an array of unknown length looks costlier in general than for the one
/// id given, so its plan was made anew at every execution, ~60 µs of the server's CPU).
const EVENTS_OF_ONE: &str = concat!(event_columns!(), "where position_id = $1\norder by seq");

impl PgEscrowStore {
    pub(super) async fn select_position(&self, scope: &Scope, id: &PositionId) -> Result<Position> {
        let client = self.pool.get().await?;
        let db = Db::new(&client, &self.counter);
        load(&db, scope, id).await
    }

    pub(super) async fn position_page(
        &self,
        scope: &Scope,
        filter: &PositionFilter,
        page: &Page,
    ) -> Result<Paginated<Position>> {
        let Some(institution) = list_institution(scope, filter.institution_id.as_ref()) else {
            return Ok(Paginated::empty(page));
        };
        let asset = filter.asset_id.as_ref().map(AssetId::as_str);
        let holder = filter.holder_reference.as_deref();
        let client = self.reads.get().await?;
        let db = Db::new(&client, &self.counter);
        let key_of = |p: &Position| SortKey::created(p.created_at, &p.id);
        let mut result = if let Start::After(after) = page.start() {
            let key = after.as_ref().map(KeyValues::of);
            let limit = paging::limit_plus_one(page);
            let query = Keyset::new(POSITION_KEYSET)
                .filter("institution_id", "=", institution.as_ref())
                .filter("asset_id", "=", asset.as_ref())
                .filter("holder_reference", "=", holder.as_ref());
            let (sql, query) = created_after(query, key.as_ref()).finish("created_at, id", &limit);
            let found = db.query(&sql, query.params()).await?;
            let rows = found
                .iter()
                .map(rows::position)
                .collect::<gridstore::Result<Vec<_>>>()?;
            Paginated::after_key(rows, page.limit(), key_of)
        } else {
            let (limit, offset) = paging::limits(page);
            let found = db
                .query(
                    LIST_POSITIONS,
                    &[&institution, &asset, &holder, &limit, &offset],
                )
                .await?;
            let filters: &Params<'_> = &[&institution, &asset, &holder];
            let total = paging::total(&db, &found, offset, COUNT_POSITIONS, filters).await?;
            let items = found
                .iter()
                .map(rows::position)
                .collect::<gridstore::Result<Vec<_>>>()?;
            Paginated::counted(items, total, page.offset().unwrap_or_default(), key_of)
        };
        attach_events(&db, &mut result.items).await?;
        Ok(result)
    }
}

/// Loads a position in scope with its events (two pipelined statements).
pub(super) async fn load<C: PgConnection>(
    db: &Db<'_, C>,
    scope: &Scope,
    id: &PositionId,
) -> Result<Position> {
    load_with(db, [GET_POSITION, GET_POSITION_IN], scope, id).await
}

/// [`load`], locking the position's row until the transaction ends: the reads
/// of a transition, so that its version-guarded update cannot lose a race. The events are
/// read after the lock is granted, so they are those of the version read.
pub(super) async fn load_for_update(
    db: &Db<'_, PgTransaction>,
    scope: &Scope,
    id: &PositionId,
) -> Result<Position> {
    load_with(
        db,
        [GET_POSITION_FOR_UPDATE, GET_POSITION_IN_FOR_UPDATE],
        scope,
        id,
    )
    .await
}

/// Loads a position and its events with `[root, scoped]`: [`GET_POSITION`] and
/// [`GET_POSITION_IN`], or their locking variants.
async fn load_with<C: PgConnection>(
    db: &Db<'_, C>,
    [root, scoped]: [&str; 2],
    scope: &Scope,
    id: &PositionId,
) -> Result<Position> {
    let id_text = id.as_str();
    let (position_sql, position_params): (&str, &Params<'_>) = match scope.institution() {
        None => (root, &[&id_text]),
        Some(own) => (scoped, &[&id_text, &own.as_str()]),
    };
    let event_params: &Params<'_> = &[&id_text];
    let (row, events) = tokio::try_join!(
        db.query_opt(position_sql, position_params),
        db.query(EVENTS_OF_ONE, event_params),
    )?;
    let row = row.ok_or_else(|| Error::not_found(PositionId::RESOURCE, id.as_str()))?;
    let mut position = rows::position(&row)?;
    position.events = events
        .iter()
        .map(rows::lifecycle_event)
        .collect::<gridstore::Result<_>>()?;
    Ok(position)
}

/// Fetches the events of every position in `positions` in one statement and attaches them.
async fn attach_events<C: PgConnection>(
    db: &Db<'_, C>,
    positions: &mut [Position],
) -> gridstore::Result<()> {
    if positions.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = positions.iter().map(|p| p.id.as_str()).collect();
    let found = db.query(EVENTS_OF, &[&ids]).await?;
    let mut by_position: HashMap<PositionId, Vec<PositionLifecycleEvent>> = HashMap::new();
    for row in &found {
        let event = rows::lifecycle_event(row)?;
        by_position
            .entry(event.position_id.clone())
            .or_default()
            .push(event);
    }
    for position in positions {
        position.events = by_position
            .remove(&position.id)
            .map(Arc::from)
            .unwrap_or_default();
    }
    Ok(())
}
