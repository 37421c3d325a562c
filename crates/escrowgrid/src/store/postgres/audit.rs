//! Audit rows: written inside each write's transaction, recorded alone for failures, listed
//! in write order (`seq`) with filters and a page.

use gridstore::NewEvent;
use gridstore::postgres::event_log::AppendRows;
use gridstore::postgres::{PgConnection, PgEventLog, PgStatement, PgTransaction};
use tokio_postgres::types::{Json, ToSql};

use crate::Result;
use crate::domain::{AuditError, AuditEvent};
use crate::store::{AuditFilter, Page, Paginated, Scope, SortKey, Start};

use super::PgEscrowStore;
use super::combined::combined;
use super::db::{Db, Params};
use super::paging::{KeyValues, Keyset};
use super::{paging, rows};

/// A row without a tenant (root's actions, failed authentication) stores `''` as its
/// institution (the column is the distribution key, so not null; `migrations/0008`), read
/// back as none by [`LIST_AUDIT`].
pub(super) const INSERT_AUDIT: &str = "\
insert into audit_events (id, occurred_at, created_at, request_id, api_key_id, institution_id,
    method, path, action, outcome, resource_type, resource_id, payload, error, status_code,
    client_ip)
values ($1, $2, $3, $4, $5, coalesce($6::text, ''), $7, $8, $9, $10, $11, $12, $13, $14, $15,
    $16)";

/// Scope (`$1`, null for root) and filters (`$2`..`$9`, null for any; the time bounds are
/// inclusive) are all parameters, so this is one prepared statement; the window count gives the
/// total alongside the page. Indexes: `migrations/0001` (institution, api key) and `0003`
/// (resource id, occurred_at).
const LIST_AUDIT: &str = "\
select seq, id, occurred_at, created_at, request_id, api_key_id,
    nullif(institution_id, '') as institution_id, method, path, action, outcome, resource_type,
    resource_id, payload, error, status_code, client_ip,
    count(*) over () as total
from audit_events
where ($1::text is null or institution_id = $1)
  and ($2::text is null or institution_id = $2)
  and ($3::text is null or api_key_id = $3)
  and ($4::text is null or action = $4)
  and ($5::text is null or outcome = $5)
  and ($6::text is null or resource_type = $6)
  and ($7::text is null or resource_id = $7)
  and ($8::timestamptz is null or occurred_at >= $8)
  and ($9::timestamptz is null or occurred_at <= $9)
order by seq
limit $10 offset $11";

/// A keyset page of audit events in write order: [`Keyset`] adds the filters that are set,
/// `seq > key` and the order (indexes: the tenant's `(institution_id, seq)` key from 0008,
/// `idx_audit_events_resource`, `idx_audit_events_api_key_seq` from migration 0009, the `seq`
/// key).
const AUDIT_KEYSET: &str = "\
select seq, id, occurred_at, created_at, request_id, api_key_id,
    nullif(institution_id, '') as institution_id, method, path, action, outcome, resource_type,
    resource_id, payload, error, status_code, client_ip
from audit_events";

/// The total alone, for a page past the end (where the window count has no row to ride on).
const COUNT_AUDIT: &str = "\
select count(*) as total
from audit_events
where ($1::text is null or institution_id = $1)
  and ($2::text is null or institution_id = $2)
  and ($3::text is null or api_key_id = $3)
  and ($4::text is null or action = $4)
  and ($5::text is null or outcome = $5)
  and ($6::text is null or resource_type = $6)
  and ($7::text is null or resource_id = $7)
  and ($8::timestamptz is null or occurred_at >= $8)
  and ($9::timestamptz is null or occurred_at <= $9)";

/// Inserts an entity row (`sql`, one `insert`, with `params`), its domain events (the outbox)
/// and its audit row as one statement ([`combined`]) sent without `BEGIN`: PostgreSQL commits
/// it as a transaction of its own before it answers, one message each way once the statement
/// is cached on the connection (see `PgTransaction::run_alone`). Used by every create that
/// writes no ledger event.
pub(super) async fn insert_entity_with_audit(
    db: &Db<'_, PgTransaction>,
    sql: &str,
    params: &Params<'_>,
    event: &AuditEvent,
    events: &[NewEvent],
) -> gridstore::Result<()> {
    let writes = combined(
        &[("entity", sql), ("outbox", PgEventLog::APPEND_SQL)],
        INSERT_AUDIT,
    );
    let writes = db.prepare(&writes).await?;
    let outbox = AppendRows::new(events)?;
    let audit = AuditParams::new(event);
    let params: Vec<_> = params
        .iter()
        .copied()
        .chain(outbox.params())
        .chain(audit.params())
        .collect();
    db.run_alone(Box::pin(db.execute_prepared(&writes, &params)))
        .await?;
    Ok(())
}

/// The parameters of [`INSERT_AUDIT`] for one audit row.
pub(super) struct AuditParams<'a> {
    event: &'a AuditEvent,
    id: &'a str,
    api_key_id: Option<&'a str>,
    institution_id: Option<&'a str>,
    action: &'static str,
    outcome: &'static str,
    resource_type: Option<&'static str>,
    error: Option<Json<&'a AuditError>>,
    status_code: Option<i32>,
}

impl<'a> AuditParams<'a> {
    pub(super) fn new(event: &'a AuditEvent) -> Self {
        Self {
            event,
            id: event.id.as_str(),
            api_key_id: event.api_key_id.as_ref().map(|id| id.as_str()),
            institution_id: event.institution_id.as_ref().map(|id| id.as_str()),
            action: event.action.as_str(),
            outcome: event.outcome.as_str(),
            resource_type: event.resource_type.map(|kind| kind.as_str()),
            error: event.error.as_ref().map(Json),
            status_code: event.status_code.map(i32::from),
        }
    }

    /// `$1..$16` of [`INSERT_AUDIT`], in order.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 16] {
        let event = self.event;
        [
            &self.id,
            &event.occurred_at,
            &event.created_at,
            &event.request_id,
            &self.api_key_id,
            &self.institution_id,
            &event.method,
            &event.path,
            &self.action,
            &self.outcome,
            &self.resource_type,
            &event.resource_id,
            &event.payload,
            &self.error,
            &self.status_code,
            &event.client_ip,
        ]
    }
}

/// Inserts one audit row with `statement`, prepared from [`INSERT_AUDIT`]; the request goes
/// out on the first poll. Returns the rows inserted.
pub(super) async fn insert<C: PgConnection>(
    db: &Db<'_, C>,
    statement: &PgStatement,
    event: &AuditEvent,
) -> gridstore::Result<u64> {
    db.execute_prepared(statement, &AuditParams::new(event).params())
        .await
}

impl PgEscrowStore {
    pub(super) async fn record_audit_event(&self, event: &AuditEvent) -> Result<()> {
        let client = self.pool.get().await?;
        let db = Db::new(&client, &self.counter);
        let statement = db.prepare(INSERT_AUDIT).await?;
        insert(&db, &statement, event).await?;
        Ok(())
    }

    pub(super) async fn audit_page(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: &Page,
    ) -> Result<Paginated<AuditEvent>> {
        let own = scope.institution().map(|id| id.as_str());
        let institution = filter.institution_id.as_ref().map(|id| id.as_str());
        let api_key = filter.api_key_id.as_ref().map(|id| id.as_str());
        let action = filter.action.map(|action| action.as_str());
        let outcome = filter.outcome.map(|outcome| outcome.as_str());
        let resource_type = filter.resource_type.map(|kind| kind.as_str());
        let resource_id = filter.resource_id.as_deref();
        let client = self.reads.get().await?;
        let db = Db::new(&client, &self.counter);
        let seq_of = |(seq, _): &(i64, AuditEvent)| SortKey::Seq(u64::try_from(*seq).unwrap_or(0));
        if let Start::After(after) = page.start() {
            let key = after.as_ref().map(KeyValues::of);
            let limit = paging::limit_plus_one(page);
            let query = Keyset::new(AUDIT_KEYSET)
                .filter("institution_id", "=", own.as_ref())
                .filter("institution_id", "=", institution.as_ref())
                .filter("api_key_id", "=", api_key.as_ref())
                .filter("action", "=", action.as_ref())
                .filter("outcome", "=", outcome.as_ref())
                .filter("resource_type", "=", resource_type.as_ref())
                .filter("resource_id", "=", resource_id.as_ref())
                .filter("occurred_at", ">=", filter.occurred_from.as_ref())
                .filter("occurred_at", "<=", filter.occurred_to.as_ref());
            let query = match key.as_ref() {
                Some(KeyValues::Seq(seq)) => query.after_seq(seq),
                // An entity key never names an audit event: nothing follows it.
                Some(KeyValues::Created(..)) => return Ok(Paginated::empty(page)),
                None => query,
            };
            let (sql, query) = query.finish("seq", &limit);
            let found = db.query(&sql, query.params()).await?;
            let rows = with_seq(&found)?;
            return Ok(Paginated::after_key(rows, page.limit(), seq_of).map(|(_, event)| event));
        }
        let (limit, offset) = paging::limits(page);
        let filters: &Params<'_> = &[
            &own,
            &institution,
            &api_key,
            &action,
            &outcome,
            &resource_type,
            &resource_id,
            &filter.occurred_from,
            &filter.occurred_to,
        ];
        let mut params = filters.to_vec();
        params.extend_from_slice(&[&limit, &offset]);
        let rows = db.query(LIST_AUDIT, &params).await?;
        let total = paging::total(&db, &rows, offset, COUNT_AUDIT, filters).await?;
        let items = with_seq(&rows)?;
        let offset = page.offset().unwrap_or_default();
        Ok(Paginated::counted(items, total, offset, seq_of).map(|(_, event)| event))
    }
}

/// Audit rows with their `seq` (write order, the key of keyset pages).
fn with_seq(found: &[tokio_postgres::Row]) -> gridstore::Result<Vec<(i64, AuditEvent)>> {
    found
        .iter()
        .map(|row| Ok((rows::int8(row, "seq")?, rows::audit_event(row)?)))
        .collect()
}
