//! A transition's writes as one statement ([`WRITES`]) and its parameters: the records an
//! applied transition writes ([`Records`]) and their binding ([`WriteParams`]).

use std::sync::LazyLock;

use gridstore::NewEvent;
use gridstore::postgres::event_log::AppendRows;
use tokio_postgres::types::{Json, ToSql};

use crate::Result;
use crate::domain::{AuditContext, AuditEvent, JsonObject, LedgerEvent};
use crate::lifecycle::Applied;
use crate::store::{outbox, records};

use super::audit::AuditParams;
use super::combined::combined;
use super::ledger::LedgerParams;
use super::{audit, ledger};

/// The guarded update: only if the version is still the one read.
const UPDATE_POSITION: &str = "\
update positions
set state = $4, updated_at = $5, version = version + 1
where id = $1 and institution_id = $2 and version = $3
returning 1";

const INSERT_EVENT: &str = "\
insert into position_events (id, institution_id, position_id, from_state, to_state, reason, at,
    metadata, created_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The key of the version conflict the guard raises starts with this.
pub(super) const POSITION_GUARD_KEY: &str = "position/";

/// A transition's writes as one statement ([`combined`]): the guarded update, the lifecycle
/// event, the ledger event, the outbox events and the audit row. Its one row is the guard's
/// (`$1` of the final part: the position's id), which raises when no position was updated.
pub(super) static WRITES: LazyLock<String> = LazyLock::new(|| {
    combined(
        &[
            ("updated", UPDATE_POSITION),
            ("event", INSERT_EVENT),
            ("ledger", ledger::INSERT_LEDGER),
            ("outbox", gridstore::postgres::PgEventLog::APPEND_SQL),
            ("audit", audit::INSERT_AUDIT),
        ],
        "select escrowgrid_position_unchanged(count(*), $1) as updated from updated",
    )
});

/// The records an applied transition writes besides the position and its lifecycle event.
pub(super) struct Records {
    /// The ledger event; its hash is the chain head after the write.
    pub(super) ledger: LedgerEvent,
    audit: AuditEvent,
    outbox: Vec<NewEvent>,
}

impl Records {
    /// The ledger event linked to `chain_head`, the audit row and the outbox events.
    pub(super) fn new(
        applied: &Applied,
        audit_context: &AuditContext,
        chain_head: Option<String>,
    ) -> Result<Self> {
        let (ledger, audit) = records::transition(applied, audit_context, chain_head);
        let outbox = outbox::position_state_changed(applied, &ledger)?;
        Ok(Self {
            ledger,
            audit,
            outbox,
        })
    }
}

/// The parameters of [`WRITES`] for an applied transition and its records.
pub(super) struct WriteParams<'a> {
    applied: &'a Applied,
    id: &'a str,
    institution_id: &'a str,
    previous_version: i64,
    state: &'static str,
    event_id: &'a str,
    from_state: Option<&'static str>,
    to_state: &'static str,
    metadata: Option<Json<&'a JsonObject>>,
    ledger: LedgerParams<'a>,
    outbox: AppendRows<'a>,
    audit: AuditParams<'a>,
}

impl<'a> WriteParams<'a> {
    pub(super) fn new(applied: &'a Applied, records: &'a Records) -> Result<Self> {
        let position = &applied.position;
        let event = &applied.event;
        Ok(Self {
            applied,
            id: position.id.as_str(),
            institution_id: position.institution_id.as_str(),
            previous_version: position.version - 1,
            state: position.state.as_str(),
            event_id: event.id.as_str(),
            from_state: event.from_state.map(|state| state.as_str()),
            to_state: event.to_state.as_str(),
            metadata: event.metadata.as_ref().map(Json),
            ledger: LedgerParams::new(&records.ledger),
            outbox: AppendRows::new(&records.outbox)?,
            audit: AuditParams::new(&records.audit),
        })
    }

    /// The update's, the lifecycle event's, the ledger event's, the outbox's and the audit
    /// row's parameters, then the guard's (the position's id).
    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let position = &self.applied.position;
        let event = &self.applied.event;
        let update: [&(dyn ToSql + Sync); 5] = [
            &self.id,
            &self.institution_id,
            &self.previous_version,
            &self.state,
            &position.updated_at,
        ];
        let lifecycle_event: [&(dyn ToSql + Sync); 9] = [
            &self.event_id,
            &self.institution_id,
            &self.id,
            &self.from_state,
            &self.to_state,
            &event.reason,
            &event.at,
            &self.metadata,
            &event.at,
        ];
        update
            .into_iter()
            .chain(lifecycle_event)
            .chain(self.ledger.params())
            .chain(self.outbox.params())
            .chain(self.audit.params())
            .chain([&self.id as &(dyn ToSql + Sync)])
            .collect()
    }
}
