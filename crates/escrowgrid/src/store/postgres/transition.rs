//! Position transitions, three ways with one outcome:
//!
//! - **On the position as this instance last wrote it**, when it is kept
//!   ([`KeptPositions`](super::kept_positions::KeptPositions): by the create or transition
//!   that wrote it here) and the lifecycle rules make a write of the request on it: one
//!   statement ([`WRITES`]) writes the position guarded by the version kept, its lifecycle
//!   event, its ledger event (linked to the chain head kept), its outbox events and its audit
//!   row, sent without `BEGIN`, so PostgreSQL commits it as a transaction of its own before
//!   it answers. One round trip, one message each way.
//! - **Without a lock or a transaction block**, when nothing usable is kept: one statement
//!   reads the position, its lifecycle events and the head of its ledger chain (one snapshot:
//!   `positions::read_for_transition`); the pure lifecycle rules decide; then [`WRITES`] as
//!   above. Two round trips, one message each way each.
//! - **Again with the row locked**, when the guard found that another transition committed
//!   since the read (or since what was kept): `BEGIN` with the position locked
//!   `for no key update` (concurrent transitions queue on it), its events and its chain head
//!   (`positions::load_for_transition`), then [`WRITES`] with `COMMIT`. Each transition of a
//!   queue reads the version the one before it committed, so it cannot lose the race again.
//!
//! **The guard** (migration `0012_position_guard.sql`): the update matches the row only while
//! its version is the one read, and the statement raises GS409 when it matched none, so
//! nothing of it stays. Every ledger event of a position after its first is written by a
//! transition, with its version bumped in the same statement, so a version unchanged at the
//! update means a chain head unchanged too: the head read is the head the new ledger event
//! links to. A concurrent transition still running holds the row; the update waits for it and
//! then checks the version it committed.
//!
//! **A kept position is a hint, never an authority**: a write decided on it commits only if
//! the version is still the one kept, and so the state and chain head too; only a write is
//! decided on it, so a refusal, a stale `expectedVersion` or a transition to the state the
//! position is in are always decided on a read.
//!
//! **Decisions on the unlocked read** (a refusal, a stale `expectedVersion`, a transition to
//! the state the position is in) are decisions on a committed state, read during the request:
//! as if the request had run just before any transition that commits after that read.
//! A stale `expectedVersion` is a [`Error::Conflict`] before anything is written.

use std::sync::atomic::{AtomicU64, Ordering};

use gridstore::postgres::{PgStatement, PgTransaction};

use crate::domain::{
    AuditContext, LifecycleEventId, Position, PositionId, TransitionRequest, now_millis,
};
use crate::lifecycle::{self, Applied};
use crate::store::{Scope, TransitionWays};
use crate::{Error, Result};

use super::db::{Db, guard_held};
use super::transition_writes::{POSITION_GUARD_KEY, Records, WRITES, WriteParams};
use super::{PgEscrowStore, positions};

impl PgEscrowStore {
    pub(super) async fn apply_transition(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: TransitionRequest,
        audit_context: &AuditContext,
    ) -> Result<Position> {
        match self
            .transition_kept(scope, id, &request, audit_context)
            .await?
        {
            Kept::Written(position) => {
                WayCounters::count(&self.ways.kept);
                return Ok(*position);
            }
            Kept::NotTried => {
                if let Some(position) = self
                    .transition_unlocked(scope, id, &request, audit_context)
                    .await?
                {
                    WayCounters::count(&self.ways.read);
                    return Ok(position);
                }
            }
            Kept::Stale => {}
        }
        tracing::debug!(
            position_id = %id,
            "another transition committed since the read; transitioning with the row locked"
        );
        let position = self
            .transition_locked(scope, id, &request, audit_context)
            .await?;
        WayCounters::count(&self.ways.locked);
        Ok(position)
    }

    /// The guarded write alone, decided on the position as this instance last wrote it
    /// ([`KeptPositions`](super::kept_positions::KeptPositions)), when it is kept, in scope,
    /// and the lifecycle rules make a write of the request on it. One round trip.
    async fn transition_kept(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: &TransitionRequest,
        audit_context: &AuditContext,
    ) -> Result<Kept> {
        let Some(kept) = self.kept.get(id) else {
            return Ok(Kept::NotTried);
        };
        if !scope.allows(&kept.position.institution_id) {
            return Ok(Kept::NotTried);
        }
        // A refusal, a stale `expectedVersion` or no change is decided on a fresh read.
        let Ok(Some(applied)) = decide(&kept.position, request, audit_context) else {
            return Ok(Kept::NotTried);
        };
        let tx = PgTransaction::new(self.pool.get().await?);
        let db = Db::new(&tx, &self.counter);
        // Free once cached on the connection.
        let writes = db.prepare(&WRITES).await?;
        let chain_head = kept.chain_head.clone();
        Ok(
            match self
                .write_alone(&db, &writes, applied, audit_context, chain_head)
                .await?
            {
                Some(position) => Kept::Written(Box::new(position)),
                None => Kept::Stale,
            },
        )
    }

    /// The read, then the guarded write alone; `None` when the guard found the version moved
    /// (nothing was written).
    async fn transition_unlocked(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: &TransitionRequest,
        audit_context: &AuditContext,
    ) -> Result<Option<Position>> {
        let tx = PgTransaction::new(self.pool.get().await?);
        let db = Db::new(&tx, &self.counter);
        // The prepare is free once cached on the connection.
        let ((current, chain_head), writes) =
            tokio::try_join!(positions::read_for_transition(&db, scope, id), async {
                Ok(db.prepare(&WRITES).await?)
            },)?;
        let Some(applied) = decide(&current, request, audit_context)? else {
            return Ok(Some(current));
        };
        self.write_alone(&db, &writes, applied, audit_context, chain_head)
            .await
    }

    /// [`WRITES`] for `applied`, linked to `chain_head`, sent alone (PostgreSQL commits it
    /// before it answers); `None` when the guard found the version moved (nothing was
    /// written). The position written is kept; one whose write failed or was not made is
    /// forgotten.
    async fn write_alone(
        &self,
        db: &Db<'_, PgTransaction>,
        writes: &PgStatement,
        applied: Applied,
        audit_context: &AuditContext,
        chain_head: Option<String>,
    ) -> Result<Option<Position>> {
        let records = Records::new(&applied, audit_context, chain_head)?;
        let written = WriteParams::new(&applied, &records)?;
        let params = written.params();
        let written = db
            .run_alone(Box::pin(db.execute_prepared(writes, &params)))
            .await;
        let held = guard_held(written, POSITION_GUARD_KEY);
        if matches!(held, Ok(true)) {
            self.kept
                .keep(applied.position.clone(), records.ledger.hash.clone());
            Ok(Some(applied.position))
        } else {
            self.kept.forget(&applied.position.id);
            held?;
            Ok(None)
        }
    }

    /// `BEGIN` with the locked reads, then the writes with `COMMIT`.
    async fn transition_locked(
        &self,
        scope: &Scope,
        id: &PositionId,
        request: &TransitionRequest,
        audit_context: &AuditContext,
    ) -> Result<Position> {
        let tx = PgTransaction::new(self.pool.get().await?);
        let db = Db::new(&tx, &self.counter);
        // Round trip 1: `BEGIN`, the locked reads and the prepare (free once cached).
        // Boxed: the joined reads and prepare make a large future.
        let ((current, chain_head), writes) = db
            .begin_with(Box::pin(async {
                tokio::try_join!(positions::load_for_transition(&db, scope, id), async {
                    Ok(db.prepare(&WRITES).await?)
                },)
            }))
            .await?;
        // Every early return drops the transaction, which rolls it back.
        let Some(applied) = decide(&current, request, audit_context)? else {
            return Ok(current);
        };
        let records = Records::new(&applied, audit_context, chain_head)?;
        let written = WriteParams::new(&applied, &records)?;
        let params = written.params();
        // Round trip 2: the writes (one statement) and `COMMIT`.
        let committed = db
            .commit_with(vec![Box::pin(db.execute_prepared(&writes, &params))])
            .await;
        if let Err(err) = committed {
            self.kept.forget(id);
            return Err(err.into());
        }
        self.kept
            .keep(applied.position.clone(), records.ledger.hash.clone());
        Ok(applied.position)
    }
}

/// How many transitions were answered each way (see [`TransitionWays`]).
#[derive(Debug, Default)]
pub(super) struct WayCounters {
    kept: AtomicU64,
    read: AtomicU64,
    locked: AtomicU64,
}

impl WayCounters {
    fn count(way: &AtomicU64) {
        way.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub(super) fn snapshot(&self) -> TransitionWays {
        TransitionWays {
            kept: self.kept.load(Ordering::Relaxed),
            read: self.read.load(Ordering::Relaxed),
            locked: self.locked.load(Ordering::Relaxed),
        }
    }
}

/// How a transition decided on a kept position went.
enum Kept {
    /// Written and committed.
    Written(Box<Position>),
    /// Not kept, out of scope, or not a write on what is kept: nothing was sent.
    NotTried,
    /// The guard found that the position changed since it was kept: nothing was written.
    Stale,
}

/// The lifecycle rules for `request` on `current`: the applied transition, `None` for the
/// state the position is already in, or why not (a stale `expectedVersion`, a refused
/// transition).
fn decide(
    current: &Position,
    request: &TransitionRequest,
    audit_context: &AuditContext,
) -> Result<Option<Applied>> {
    if let Some(expected) = request.expected_version.filter(|v| *v != current.version) {
        return Err(Error::Conflict {
            position_id: current.id.clone(),
            expected_version: expected,
            actual_version: current.version,
            expected_state: current.state_at_version(expected).unwrap_or(current.state),
            actual_state: current.state,
        });
    }
    Ok(lifecycle::apply(
        current,
        request.to_state,
        request.reason.clone(),
        request.metadata.clone(),
        now_millis(),
        LifecycleEventId::seeded(audit_context.id_seed.as_ref()),
    )?)
}
