//! The append-only ledger: inserted inside the writes' transactions (the schema rejects
//! UPDATE, DELETE and TRUNCATE), listed in write order (`seq`).

use gridstore::postgres::PgConnection;
use gridstore::postgres::PgStatement;

use crate::domain::{InstitutionId, LedgerEvent, PositionId};
use crate::store::Scope;
use crate::{Error, Result};

use super::db::Db;
use super::{PgEscrowStore, rows};

pub(super) const INSERT_LEDGER: &str = "\
insert into ledger_events (id, institution_id, kind, position_id, at, previous_state,
    new_state, payload, created_at, hash, previous_hash)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// The head of a position's chain: the hash of its latest ledger event. Read in the
/// transition's transaction; the version-guarded update makes it the head at commit (a
/// concurrent transition of the same position makes this one lose with a conflict).
pub(super) const LAST_HASH: &str = "\
select hash
from ledger_events
where position_id = $1
order by seq desc
limit 1";

/// One position's events; the position row is always returned (when in scope) so that an
/// unknown position is told apart from one without events in a single statement.
const LEDGER_OF_POSITION: &str = "\
select p.id as position_found, l.id, l.institution_id, l.kind, l.position_id, l.at,
    l.previous_state, l.new_state, l.payload, l.hash, l.previous_hash
from positions p
left join ledger_events l on l.position_id = p.id
where p.id = $1 and ($2::text is null or p.institution_id = $2)
order by l.seq";

const LEDGER_IN_SCOPE: &str = "\
select id, institution_id, kind, position_id, at, previous_state, new_state, payload, hash,
    previous_hash
from ledger_events
where ($1::text is null or institution_id = $1)
order by seq";

/// Inserts one ledger event (its `created_at` is its `at`) with `statement`, prepared from
/// [`INSERT_LEDGER`]; the request goes out on the first poll. Returns the rows inserted.
pub(super) async fn insert<C: PgConnection>(
    db: &Db<'_, C>,
    statement: &PgStatement,
    event: &LedgerEvent,
) -> gridstore::Result<u64> {
    db.execute_prepared(
        statement,
        &[
            &event.id.as_str(),
            &event.institution_id.as_str(),
            &event.kind.as_str(),
            &event.position_id.as_str(),
            &event.at,
            &event.previous_state.map(|state| state.as_str()),
            &event.new_state.as_str(),
            &event.payload,
            &event.at,
            &event.hash,
            &event.previous_hash,
        ],
    )
    .await
}

impl PgEscrowStore {
    pub(super) async fn ledger(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
    ) -> Result<Vec<LedgerEvent>> {
        let own = scope.institution().map(InstitutionId::as_str);
        let client = self.reads.get().await?;
        let db = Db::new(&client, &self.counter);
        let Some(position_id) = position_id else {
            let found = db.query(LEDGER_IN_SCOPE, &[&own]).await?;
            return Ok(found
                .iter()
                .map(rows::ledger_event)
                .collect::<gridstore::Result<_>>()?);
        };
        let found = db
            .query(LEDGER_OF_POSITION, &[&position_id.as_str(), &own])
            .await?;
        if found.is_empty() {
            return Err(Error::not_found(PositionId::RESOURCE, position_id.as_str()));
        }
        let mut events = Vec::with_capacity(found.len());
        for row in &found {
            if rows::present(row, "id")? {
                events.push(rows::ledger_event(row)?);
            }
        }
        Ok(events)
    }
}
