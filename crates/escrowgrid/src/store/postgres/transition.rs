//! Position transitions: load, apply the pure lifecycle rules, then write the position
//! (guarded by its `version`), its lifecycle event, its ledger event and its audit row in one
//! transaction, the four statements pipelined.
//!
//! A lost race shows as an update of zero rows (another writer bumped the version first); the
//! position is then read again to report [`Error::Conflict`] with the stored version and state.

use gridstore::postgres::PgConnection;
use gridstore::postgres::commit;
use tokio_postgres::types::Json;

use crate::domain::{
    AuditContext, InstitutionId, LifecycleEventId, Position, PositionId, TransitionRequest,
    now_millis,
};
use crate::lifecycle::{self, Applied};
use crate::store::{Scope, outbox, records};
use crate::{Error, Result};

use super::db::{Db, Params, begin};
use super::{PgEscrowStore, audit, ledger, positions, rows};

/// The optimistic write: only if the version is still the one read.
const UPDATE_POSITION: &str = "\
update positions
set state = $4, updated_at = $5, version = version + 1
where id = $1 and institution_id = $2 and version = $3";

const INSERT_EVENT: &str = "\
insert into position_events (id, institution_id, position_id, from_state, to_state, reason, at,
    metadata, created_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The stored version and state, after a lost race.
const CURRENT_VERSION: &str = "\
select version, state
from positions
where id = $1 and ($2::text is null or institution_id = $2)";

impl PgEscrowStore {
    pub(super) async fn apply_transition(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: TransitionRequest,
        audit_context: &AuditContext,
    ) -> Result<Position> {
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let (current, previous_hash) = tokio::try_join!(positions::load(&db, scope, id), async {
            let row = db.query_opt(ledger::LAST_HASH, &[&id.as_str()]).await?;
            let hash = row
                .map(|row| rows::get::<Option<String>>(&row, "hash"))
                .transpose()?;
            Ok::<_, Error>(hash.flatten())
        },)?;
        if let Some(expected) = request.expected_version.filter(|v| *v != current.version) {
            return Err(Error::Conflict {
                position_id: id.clone(),
                expected_version: expected,
                actual_version: current.version,
                expected_state: current.state_at_version(expected).unwrap_or(current.state),
                actual_state: current.state,
            });
        }
        let applied = lifecycle::apply(
            &current,
            request.to_state,
            request.reason,
            request.metadata,
            now_millis(),
            LifecycleEventId::seeded(audit_context.id_seed.as_ref()),
        )?;
        let Some(applied) = applied else {
            // Same state: a no-op that writes nothing (the transaction is rolled back).
            return Ok(current);
        };
        if write(&db, &applied, audit_context, previous_hash).await? == 0 {
            return Err(conflict(&db, scope, &current).await);
        }
        commit(tx).await?;
        Ok(applied.position)
    }
}

/// Writes an applied transition; returns how many position rows the guarded update changed.
async fn write<C: PgConnection>(
    db: &Db<'_, C>,
    applied: &Applied,
    audit_context: &AuditContext,
    previous_hash: Option<String>,
) -> Result<u64> {
    let (ledger_event, audit_event) = records::transition(applied, audit_context, previous_hash);
    let events = outbox::position_state_changed(applied, &ledger_event)?;
    let position = &applied.position;
    let event = &applied.event;
    let previous_version = position.version - 1;
    let update_params: &Params<'_> = &[
        &position.id.as_str(),
        &position.institution_id.as_str(),
        &previous_version,
        &position.state.as_str(),
        &position.updated_at,
    ];
    let from_state = event.from_state.map(|state| state.as_str());
    let metadata = event.metadata.as_ref().map(Json);
    let event_params: &Params<'_> = &[
        &event.id.as_str(),
        &position.institution_id.as_str(),
        &event.position_id.as_str(),
        &from_state,
        &event.to_state.as_str(),
        &event.reason,
        &event.at,
        &metadata,
        &event.at,
    ];
    let (update, insert_event, insert_ledger, insert_audit) = tokio::try_join!(
        db.prepare(UPDATE_POSITION),
        db.prepare(INSERT_EVENT),
        db.prepare(ledger::INSERT_LEDGER),
        db.prepare(audit::INSERT_AUDIT),
    )?;
    // The events go last: a lost race (no row updated) rolls them back with everything else.
    let (updated, evented, ledgered, audited, appended) = tokio::join!(
        biased;
        db.execute_prepared(&update, update_params),
        db.execute_prepared(&insert_event, event_params),
        ledger::insert(db, &insert_ledger, &ledger_event),
        audit::insert(db, &insert_audit, &audit_event),
        db.append_events(&events),
    );
    let updated = updated?;
    evented?;
    ledgered?;
    audited?;
    appended?;
    Ok(updated)
}

/// The conflict a lost race reports: what was read against what is stored now.
async fn conflict<C: PgConnection>(db: &Db<'_, C>, scope: &Scope, read: &Position) -> Error {
    let own = scope.institution().map(InstitutionId::as_str);
    let row = match db
        .query_opt(CURRENT_VERSION, &[&read.id.as_str(), &own])
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return Error::not_found(PositionId::RESOURCE, read.id.as_str()),
        Err(err) => return err.into(),
    };
    let stored =
        rows::int8(&row, "version").and_then(|version| Ok((version, rows::state(&row, "state")?)));
    match stored {
        Ok((actual_version, actual_state)) => Error::Conflict {
            position_id: read.id.clone(),
            expected_version: read.version,
            actual_version,
            expected_state: read.state,
            actual_state,
        },
        Err(err) => err.into(),
    }
}
