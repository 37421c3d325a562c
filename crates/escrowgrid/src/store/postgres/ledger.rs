//! The append-only ledger: inserted inside the writes' transactions (the schema rejects
//! UPDATE, DELETE and TRUNCATE), listed in write order (`seq`).

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::Result;
use crate::domain::{InstitutionId, LedgerEvent, PositionId};
use crate::store::{KeysetPage, Paginated, Scope, SortKey};

use super::db::Db;
use super::entities::seq_after;
use super::paging::{self, KeyValues, Keyset};
use super::{PgEscrowStore, rows};

pub(super) const INSERT_LEDGER: &str = "\
insert into ledger_events (id, institution_id, kind, position_id, at, previous_state,
    new_state, payload, created_at, hash, previous_hash)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// A keyset page of ledger events in write order: of one position under its position row
/// ([`Keyset::finish_under`]: an unknown or out-of-scope position is told apart from one
/// without events in a single statement; index `idx_ledger_events_position`), of one
/// institution (`ledger_events_institution_id_seq_key`) or of all (`idx_ledger_events_seq`,
/// migration 0010).
const LEDGER_KEYSET: &str = "\
select seq, id, institution_id, kind, position_id, at, previous_state, new_state, payload, hash,
    previous_hash
from ledger_events";

/// The parameters of [`INSERT_LEDGER`] for one event (its `created_at` is its `at`).
pub(super) struct LedgerParams<'a> {
    event: &'a LedgerEvent,
    id: &'a str,
    institution_id: &'a str,
    kind: &'static str,
    position_id: &'a str,
    previous_state: Option<&'static str>,
    new_state: &'static str,
}

impl<'a> LedgerParams<'a> {
    pub(super) fn new(event: &'a LedgerEvent) -> Self {
        Self {
            event,
            id: event.id.as_str(),
            institution_id: event.institution_id.as_str(),
            kind: event.kind.as_str(),
            position_id: event.position_id.as_str(),
            previous_state: event.previous_state.map(|state| state.as_str()),
            new_state: event.new_state.as_str(),
        }
    }

    /// `$1..$11` of [`INSERT_LEDGER`], in order.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        let event = self.event;
        [
            &self.id,
            &self.institution_id,
            &self.kind,
            &self.position_id,
            &event.at,
            &self.previous_state,
            &self.new_state,
            &event.payload,
            &event.at,
            &event.hash,
            &event.previous_hash,
        ]
    }
}

impl PgEscrowStore {
    pub(super) async fn ledger_page(
        &self,
        scope: &Scope,
        position_id: Option<&PositionId>,
        page: &KeysetPage,
    ) -> Result<Paginated<LedgerEvent>> {
        let own = scope.institution().map(InstitutionId::as_str);
        let position = position_id.map(PositionId::as_str);
        let key = page.key().map(KeyValues::of);
        let limit = paging::limit_plus_one(&page.page());
        let query = match &position {
            Some(position) => Keyset::new(LEDGER_KEYSET).filter("position_id", "=", Some(position)),
            None => Keyset::new(LEDGER_KEYSET).filter("institution_id", "=", own.as_ref()),
        };
        let query = seq_after(query, key.as_ref());
        let (sql, query) = match position {
            Some(_) => query.finish_under("positions", own.as_ref(), "seq", &limit),
            None => query.finish("seq", &limit),
        };
        let client = self.reads.get().await?;
        let found = Db::new(&client, &self.counter)
            .query(&sql, query.params())
            .await?;
        let with_seq = |row: &Row| -> gridstore::Result<(i64, LedgerEvent)> {
            Ok((rows::int8(row, "seq")?, rows::ledger_event(row)?))
        };
        let events = match position {
            Some(position) => {
                paging::under_parent(&found, PositionId::RESOURCE, position, with_seq)?
            }
            None => found
                .iter()
                .map(with_seq)
                .collect::<gridstore::Result<_>>()?,
        };
        let seq_of = |(seq, _): &(i64, LedgerEvent)| SortKey::Seq(u64::try_from(*seq).unwrap_or(0));
        Ok(Paginated::after_key(events, page.limit(), seq_of).map(|(_, event)| event))
    }
}
