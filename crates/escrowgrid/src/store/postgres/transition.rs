//! Position transitions in one transaction of two round trips: `BEGIN` with the reads (the
//! position, locked `for no key update`, its events and the head of its ledger chain), the pure
//! lifecycle rules, then the writes (one statement: the position guarded by its `version`, its
//! lifecycle event, its ledger event and its audit row; then the outbox append) with `COMMIT`.
//! The events and the chain head are one statement apart from the locking read: pipelined
//! behind it, it runs after the lock is granted and so sees what the version read committed
//! (in the locking statement itself it would read the snapshot taken before the wait). The
//! version-guarded update makes that head the head at commit.
//!
//! Concurrent transitions of one position queue on the row lock: each reads the version the
//! previous one committed, so a stale `expectedVersion` is a [`Error::Conflict`] before
//! anything is written. The guarded update is a defence on top: when it matches no row, the
//! statement raises (division by zero on a count of zero, 22012), which aborts the transaction,
//! so the `COMMIT` pipelined behind it rolls everything back; the store then reports a storage
//! error (it cannot happen while the lock is held).

use std::sync::LazyLock;

use gridstore::postgres::{PgEventLog, PgStatement, PgTransaction};
use tokio_postgres::types::Json;

use crate::domain::{
    AuditContext, LifecycleEventId, Position, PositionId, TransitionRequest, now_millis,
};
use crate::lifecycle::{self, Applied};
use crate::store::{Scope, outbox, records};
use crate::{Error, Result};

use super::audit::AuditParams;
use super::combined::combined;
use super::db::{Db, Params};
use super::ledger::LedgerParams;
use super::{PgEscrowStore, audit, ledger, positions};

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

/// A transition's writes as one statement ([`combined`]): the guarded update, the lifecycle
/// event, the ledger event and the audit row. Its one row divides by the number of positions
/// updated, so a lost version raises (see the module docs) and nothing of the statement stays.
static WRITES: LazyLock<String> = LazyLock::new(|| {
    combined(
        &[
            ("updated", UPDATE_POSITION),
            ("event", INSERT_EVENT),
            ("ledger", ledger::INSERT_LEDGER),
            ("audit", audit::INSERT_AUDIT),
        ],
        "select 1 / count(*) as updated from updated",
    )
});

/// The statements of a transition's writes, prepared in its first round trip.
struct Prepared {
    writes: PgStatement,
    append: PgStatement,
}

impl PgEscrowStore {
    pub(super) async fn apply_transition(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: TransitionRequest,
        audit_context: &AuditContext,
    ) -> Result<Position> {
        let tx = PgTransaction::new(self.pool.get().await?);
        let db = Db::new(&tx, &self.counter);
        // Round trip 1: `BEGIN`, the locked reads and the prepares (free once cached).
        // Boxed: the joined reads and prepares make a large future.
        let ((current, previous_hash), prepared) = db
            .begin_with(Box::pin(async {
                tokio::try_join!(positions::load_for_transition(&db, scope, id), prepare(&db),)
            }))
            .await?;
        // Every early return drops the transaction, which rolls it back.
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
            // Same state: a no-op that writes nothing.
            return Ok(current);
        };
        write(&db, &prepared, &applied, audit_context, previous_hash).await?;
        Ok(applied.position)
    }
}

/// Prepares the statements of the writes (cached per connection: usually no round trip).
async fn prepare(db: &Db<'_, PgTransaction>) -> Result<Prepared> {
    let (writes, append) =
        tokio::try_join!(db.prepare(&WRITES), db.prepare(PgEventLog::APPEND_SQL),)?;
    Ok(Prepared { writes, append })
}

/// Round trip 2: writes an applied transition and commits.
async fn write(
    db: &Db<'_, PgTransaction>,
    prepared: &Prepared,
    applied: &Applied,
    audit_context: &AuditContext,
    previous_hash: Option<String>,
) -> Result<()> {
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
    let ledger_params = LedgerParams::new(&ledger_event);
    let audit_params = AuditParams::new(&audit_event);
    let params: Vec<_> = update_params
        .iter()
        .chain(event_params)
        .copied()
        .chain(ledger_params.params())
        .chain(audit_params.params())
        .collect();
    db.commit_with(vec![
        Box::pin(db.execute_prepared(&prepared.writes, &params)),
        Box::pin(db.append_prepared(&prepared.append, &events)),
    ])
    .await?;
    Ok(())
}
