//! A transition decided on an unlocked read, or on the position as this instance last wrote
//! it (`store/postgres/transition.rs`), is written only while the position is at the version
//! it read or kept: a transition another instance commits in between sends it the locked way,
//! to decide again on what that one committed. What the kept position would refuse is
//! decided on a read.

use std::time::{Duration, Instant};

use escrowgrid::domain::{AuditContext, Position, PositionId, PositionState, TransitionRequest};
use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, Scope};
use escrowgrid::testing::fixtures;
use testkit::TestDatabase;

use super::support::{another_instance, assert_one_unbroken_chain, migrated_store};

/// The advisory lock the test holds to keep a transition audited at `/slow` from committing.
const HOLD: i64 = 4242;

/// A transition audited at `/slow` waits for [`HOLD`] at the end of its write statement,
/// after its update: it holds the position's row, updated and not committed.
const HOLD_SLOW_TRANSITIONS: &str = "
create function hold_slow() returns trigger language plpgsql as $$
begin
    if new.path = '/slow' then
        perform pg_advisory_xact_lock(4242);
    end if;
    return null;
end;
$$;
create trigger hold_slow after insert on audit_events
    for each row execute function hold_slow();";

/// Polls `sql` (one boolean) until it is true, failing after 30 s.
async fn wait_until(client: &tokio_postgres::Client, sql: &str, what: &str) {
    let started = Instant::now();
    loop {
        let done: bool = client.query_one(sql, &[]).await.expect(what).get(0);
        if done {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_transition_committed_between_the_read_and_the_write_sends_the_write_the_locked_way() {
    // Arrange: a position in CREATED, written by another instance (so that nothing of it is
    // kept here) whose transition to FUNDED will hold the row until the test lets it commit.
    let (store, database) = migrated_store().await;
    let other = another_instance(&database).await;
    let (_, _, position) = fixtures::position_setup(&other).await;
    let observer = database.connect().await;
    observer.batch_execute(HOLD_SLOW_TRANSITIONS).await.unwrap();
    observer
        .execute("select pg_advisory_lock($1)", &[&HOLD])
        .await
        .unwrap();
    let slow = AuditContext {
        path: "/slow".into(),
        ..fixtures::audit()
    };
    let funded =
        other.transition_position(&Scope::Root, &position.id, to(PositionState::Funded), &slow);

    // Act: CANCELLED, read while FUNDED is not yet committed (allowed from CREATED), written
    // behind it (its update waits for the row), once FUNDED has committed.
    let audit = fixtures::audit();
    let before = store.statement_count();
    let cancelled = async {
        wait_until(
            &observer,
            "select count(*) = 1 from pg_stat_activity where wait_event = 'advisory'",
            "the transition to FUNDED holds the row",
        )
        .await;
        let cancel = store.transition_position(
            &Scope::Root,
            &position.id,
            to(PositionState::Cancelled),
            &audit,
        );
        let release = async {
            wait_until(
                &observer,
                "select count(*) = 1 from pg_stat_activity \
                 where wait_event in ('transactionid', 'tuple')",
                "the transition to CANCELLED waits for the row",
            )
            .await;
            observer
                .execute("select pg_advisory_unlock($1)", &[&HOLD])
                .await
                .unwrap();
        };
        tokio::join!(cancel, release).0
    };
    let (funded, cancelled) = tokio::join!(funded, cancelled);

    // Assert: both committed, CANCELLED after FUNDED, and one unbroken ledger chain.
    let funded = funded.unwrap();
    let cancelled = cancelled.unwrap();
    assert_eq!((funded.state, funded.version), (PositionState::Funded, 2));
    assert_cancelled_after_funded(&cancelled);
    assert_eq!(
        store.statement_count() - before,
        5,
        "the unlocked read and write, then the locked read (two statements) and the write"
    );
    let stored = store
        .get_position(&Scope::Root, &position.id)
        .await
        .unwrap();
    assert_eq!((stored.version, stored.events.len()), (3, 2));
    assert_one_unbroken_chain(&store, &position.id, 3).await;
}

/// A position created by a store (which keeps it at version 1, CREATED) and then funded by
/// another instance (version 2); the store, the position, the database.
async fn kept_here_funded_elsewhere() -> (PgEscrowStore, Position, TestDatabase) {
    let (store, database) = migrated_store().await;
    let other = another_instance(&database).await;
    let (_, _, position) = fixtures::position_setup(&store).await;
    transition(&other, &position.id, to(PositionState::Funded))
        .await
        .unwrap();
    (store, position, database)
}

/// Asserts that `cancelled` was cancelled from FUNDED, funded from CREATED.
fn assert_cancelled_after_funded(cancelled: &Position) {
    assert_eq!(
        (cancelled.state, cancelled.version),
        (PositionState::Cancelled, 3)
    );
    let from: Vec<_> = cancelled.events.iter().map(|e| e.from_state).collect();
    assert_eq!(
        from,
        [Some(PositionState::Created), Some(PositionState::Funded)]
    );
}

/// `request` on position `id` as root.
async fn transition(
    store: &PgEscrowStore,
    id: &PositionId,
    request: TransitionRequest,
) -> escrowgrid::Result<Position> {
    store
        .transition_position(&Scope::Root, id, request, &fixtures::audit())
        .await
}

fn to(state: PositionState) -> TransitionRequest {
    TransitionRequest::to(state)
}

#[tokio::test]
async fn a_transition_on_a_kept_position_another_instance_moved_is_decided_again_on_the_locked_row()
{
    // Arrange: this instance created the position (kept at version 1, CREATED); another one
    // funds it.
    let (store, position, _database) = kept_here_funded_elsewhere().await;

    // Act: CANCELLED is allowed from the kept CREATED, so it is written guarded by version 1.
    let before = store.statement_count();
    let cancelled = transition(&store, &position.id, to(PositionState::Cancelled))
        .await
        .unwrap();

    // Assert: the guard refused the stale write; the locked way cancelled FUNDED.
    assert_cancelled_after_funded(&cancelled);
    assert_eq!(
        store.statement_count() - before,
        4,
        "the write on what was kept, then the locked read (two statements) and the write"
    );
    let ways = store.transition_ways().unwrap();
    assert_eq!((ways.kept, ways.read, ways.locked), (0, 0, 1));
    assert_one_unbroken_chain(&store, &position.id, 3).await;
}

#[tokio::test]
async fn what_the_kept_position_would_refuse_is_decided_on_what_the_database_holds() {
    // Arrange: kept here at version 1, CREATED; funded by another instance (version 2).
    let (store, position, _database) = kept_here_funded_elsewhere().await;

    // Act: RELEASED is refused from CREATED but allowed from FUNDED; `expectedVersion` 2 does
    // not match the kept version but matches the stored one.
    let expecting_two = TransitionRequest {
        expected_version: Some(2),
        ..to(PositionState::Released)
    };
    let released = transition(&store, &position.id, expecting_two).await;
    let again = transition(&store, &position.id, to(PositionState::Released)).await;

    // Assert: released from FUNDED; the second request changes nothing.
    let released = released.unwrap();
    assert_eq!(
        (released.state, released.version),
        (PositionState::Released, 3)
    );
    let again = again.unwrap();
    assert_eq!((again.state, again.version), (PositionState::Released, 3));
    assert_one_unbroken_chain(&store, &position.id, 3).await;
}
