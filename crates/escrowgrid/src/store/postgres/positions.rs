//! Positions: get and list with their lifecycle events (create: `create.rs`, transition:
//! `transition.rs`).
//!
//! No N+1: a page is one statement (rows and total), then one statement fetches the events of
//! every position of the page (`position_id = any($1)`), assembled here.

use std::collections::HashMap;
use std::sync::Arc;

use gridstore::postgres::{PgConnection, PgTransaction};
use tokio_postgres::Row;

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

/// A transition's reads behind its locked read: the position's lifecycle events in write order
/// and the head of its ledger chain, in one statement (one row per event with the head on each;
/// without events, one row with the head alone). Pipelined behind the lock, it starts after
/// the lock is granted, so it sees the events and the chain head of the version it locked.
const EVENTS_AND_CHAIN_HEAD: &str = "\
select h.chain_head, e.id as event_id, e.position_id, e.from_state, e.to_state, e.reason, e.at, e.metadata
from (
    select (select hash from ledger_events where position_id = $1 order by seq desc limit 1)
        as chain_head
) h
left join position_events e on e.position_id = $1
order by e.seq";

/// A transition's reads without a lock, in one statement and so on one snapshot: the position
/// with its lifecycle events (one row per event, the position's columns on each; one row
/// without events) and the head of its ledger chain. `$1` the id; the scoped variant adds
/// `$2`, the institution (see [`GET_POSITION`] for why each scope has its own statement).
macro_rules! position_events_and_chain_head {
    ($where:literal) => {
        concat!(
            "select p.id, p.institution_id, p.asset_id, p.holder_reference, p.currency, p.amount,
    p.state, p.external_reference, p.version, p.created_at, p.updated_at, h.chain_head,
    e.id as event_id, e.position_id, e.from_state, e.to_state, e.reason, e.at, e.metadata
from positions p
left join lateral (
    select l.hash as chain_head from ledger_events l
    where l.position_id = p.id
    order by l.seq desc
    limit 1
) h on true
left join position_events e on e.position_id = p.id
",
            $where,
            "\norder by e.seq"
        )
    };
}

const POSITION_EVENTS_AND_CHAIN_HEAD: &str = position_events_and_chain_head!("where p.id = $1");

const POSITION_EVENTS_AND_CHAIN_HEAD_IN: &str =
    position_events_and_chain_head!("where p.institution_id = $2 and p.id = $1");

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
    let queries = ([GET_POSITION, GET_POSITION_IN], EVENTS_OF_ONE);
    let (row, events) = position_rows(db, queries, scope, id).await?;
    let mut position = rows::position(&row)?;
    position.events = events
        .iter()
        .map(rows::lifecycle_event)
        .collect::<gridstore::Result<_>>()?;
    Ok(position)
}

/// Loads a position for a transition: its row locked (`for no key update`, so concurrent
/// transitions queue on it), then in the same flight its events and the head of its ledger
/// chain ([`EVENTS_AND_CHAIN_HEAD`]).
pub(super) async fn load_for_transition(
    db: &Db<'_, PgTransaction>,
    scope: &Scope,
    id: &PositionId,
) -> Result<(Position, Option<String>)> {
    let queries = (
        [GET_POSITION_FOR_UPDATE, GET_POSITION_IN_FOR_UPDATE],
        EVENTS_AND_CHAIN_HEAD,
    );
    let (row, events) = position_rows(db, queries, scope, id).await?;
    let mut position = rows::position(&row)?;
    let chain_head = events_and_chain_head(&mut position, &events)?;
    Ok((position, chain_head))
}

/// Reads a position for a transition without locking it, in one statement
/// ([`POSITION_EVENTS_AND_CHAIN_HEAD`]): its row, its lifecycle events and the head of its
/// ledger chain, all of one snapshot. A write decided on them must be guarded by the version
/// read (migration `0012_position_guard.sql`).
pub(super) async fn read_for_transition<C: PgConnection>(
    db: &Db<'_, C>,
    scope: &Scope,
    id: &PositionId,
) -> Result<(Position, Option<String>)> {
    let id_text = id.as_str();
    let found = match scope.institution() {
        None => {
            db.query(POSITION_EVENTS_AND_CHAIN_HEAD, &[&id_text])
                .await?
        }
        Some(own) => {
            let params: &Params<'_> = &[&id_text, &own.as_str()];
            db.query(POSITION_EVENTS_AND_CHAIN_HEAD_IN, params).await?
        }
    };
    let first = found
        .first()
        .ok_or_else(|| Error::not_found(PositionId::RESOURCE, id.as_str()))?;
    let mut position = rows::position(first)?;
    let chain_head = events_and_chain_head(&mut position, &found)?;
    Ok((position, chain_head))
}

/// Sets `position`'s lifecycle events from rows with the chain head on each and an event
/// (`event_id` and its columns) on those that have one; returns the head (none without rows,
/// or before the position's first ledger event).
fn events_and_chain_head(position: &mut Position, found: &[Row]) -> Result<Option<String>> {
    let chain_head = match found.first() {
        Some(first) => rows::get::<Option<String>>(first, "chain_head")?,
        None => None,
    };
    let mut lifecycle = Vec::with_capacity(found.len());
    for row in found {
        if rows::present(row, "event_id")? {
            lifecycle.push(rows::lifecycle_event_with_id(row, "event_id")?);
        }
    }
    position.events = lifecycle.into();
    Ok(chain_head)
}

/// The position's row (`[root, scoped]`: by id for root, by the primary key in an
/// institution's scope) and the rows of `events` (its one parameter: the position's id), in one
/// flight; NotFound when the position is not in scope.
async fn position_rows<C: PgConnection>(
    db: &Db<'_, C>,
    ([root, scoped], events): ([&str; 2], &str),
    scope: &Scope,
    id: &PositionId,
) -> Result<(Row, Vec<Row>)> {
    let id_text = id.as_str();
    let (position_sql, position_params): (&str, &Params<'_>) = match scope.institution() {
        None => (root, &[&id_text]),
        Some(own) => (scoped, &[&id_text, &own.as_str()]),
    };
    let event_params: &Params<'_> = &[&id_text];
    let (row, events) = tokio::try_join!(
        db.query_opt(position_sql, position_params),
        db.query(events, event_params),
    )?;
    let row = row.ok_or_else(|| Error::not_found(PositionId::RESOURCE, id.as_str()))?;
    Ok((row, events))
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
