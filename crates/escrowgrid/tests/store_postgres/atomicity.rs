//! One transaction per write: when any of its rows cannot be written, none is.

use escrowgrid::domain::{AuditContext, NewInstitution, PositionState, Region, TransitionRequest};
use escrowgrid::store::{AuditFilter, EscrowStore, Page, Scope};
use escrowgrid::testing::fixtures;

use super::support::migrated_store;

/// Makes every audit insert with path `/boom` fail, standing in for any failure after the
/// entity row was written.
const FAIL_AUDIT_ON_BOOM: &str = "
create function fail_boom() returns trigger language plpgsql as $$
begin
    if new.path = '/boom' then
        raise exception 'audit write failed';
    end if;
    return new;
end;
$$;
create trigger fail_boom before insert on audit_events
    for each row execute function fail_boom();";

/// Runs `sql` (a trigger and its function) on the test's database.
async fn install(database: &testkit::TestDatabase, sql: &str) {
    database.connect().await.batch_execute(sql).await.unwrap();
}

fn boom() -> AuditContext {
    AuditContext {
        path: "/boom".into(),
        ..fixtures::audit()
    }
}

#[tokio::test]
async fn a_failed_audit_write_rolls_back_the_created_entity() {
    let (store, database) = migrated_store().await;
    install(&database, FAIL_AUDIT_ON_BOOM).await;

    let new = NewInstitution::new("Doomed".into(), vec![Region::Us], None);
    let result = store.create_institution(new, &boom()).await;

    assert!(
        matches!(result, Err(escrowgrid::Error::Storage(_))),
        "{result:?}"
    );
    assert!(
        store
            .list_institutions(&Scope::Root)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_failed_audit_write_rolls_back_the_whole_transition() {
    let (store, database) = migrated_store().await;
    let (_, _, position) = fixtures::position_setup(&store).await;
    install(&database, FAIL_AUDIT_ON_BOOM).await;

    let request = TransitionRequest::to(PositionState::Funded);
    let result = store
        .transition_position(&Scope::Root, &position.id, request, &boom())
        .await;

    assert!(result.is_err());
    let stored = store
        .get_position(&Scope::Root, &position.id)
        .await
        .unwrap();
    assert_eq!((stored.state, stored.version), (PositionState::Created, 1));
    assert!(stored.events.is_empty());
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&position.id))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1, "only the creation event");
    let audit = store
        .list_audit_events(&Scope::Root, &AuditFilter::default(), Page::default())
        .await
        .unwrap();
    assert!(audit.items.iter().all(|e| e.path != "/boom"));
}

/// Makes the commit of any transaction that wrote an audit row with path `/late-boom` fail:
/// a deferred constraint trigger runs at commit, after every statement of the write,
/// including the outbox append.
const FAIL_AT_COMMIT_ON_LATE_BOOM: &str = "
create function fail_late_boom() returns trigger language plpgsql as $$
begin
    if new.path = '/late-boom' then
        raise exception 'commit refused';
    end if;
    return new;
end;
$$;
create constraint trigger fail_late_boom after insert on audit_events
    deferrable initially deferred
    for each row execute function fail_late_boom();";

#[tokio::test]
async fn a_write_that_fails_at_commit_after_its_events_were_appended_leaves_no_event() {
    let (store, database) = migrated_store().await;
    let (_, _, position) = fixtures::position_setup(&store).await;
    let events_before = escrowgrid::testing::outbox::all_events(&store).await;
    install(&database, FAIL_AT_COMMIT_ON_LATE_BOOM).await;
    let late_boom = AuditContext {
        path: "/late-boom".into(),
        ..fixtures::audit()
    };

    let new = NewInstitution::new("Doomed".into(), vec![Region::Us], None);
    let created = store.create_institution(new, &late_boom).await;
    let request = TransitionRequest::to(PositionState::Funded);
    let transitioned = store
        .transition_position(&Scope::Root, &position.id, request, &late_boom)
        .await;

    assert!(created.is_err(), "{created:?}");
    assert!(transitioned.is_err(), "{transitioned:?}");
    let events_after = escrowgrid::testing::outbox::all_events(&store).await;
    assert_eq!(events_after, events_before, "no event of a failed write");
    let stored = store
        .get_position(&Scope::Root, &position.id)
        .await
        .unwrap();
    assert_eq!(stored.state, PositionState::Created);
    // The same writes commit, with their events, once the commit is allowed.
    let new = NewInstitution::new("Fine".into(), vec![Region::Us], None);
    let fine = store
        .create_institution(new, &fixtures::audit())
        .await
        .unwrap();
    let events = escrowgrid::testing::outbox::all_events(&store).await;
    assert_eq!(events.len(), events_before.len() + 1);
    assert_eq!(
        events.last().unwrap().payload["data"]["id"],
        fine.id.as_str()
    );
}

/// Makes every update of a position change nothing (a trigger returning null skips the row),
/// standing in for a version-guarded update that matches no row.
const SKIP_POSITION_UPDATES: &str = "
create function skip_position_update() returns trigger language plpgsql as $$
begin
    return null;
end;
$$;
create trigger skip_position_update before update on positions
    for each row execute function skip_position_update();";

#[tokio::test]
async fn a_transition_whose_guarded_update_changes_no_row_commits_none_of_its_rows() {
    let (store, database) = migrated_store().await;
    let (_, _, position) = fixtures::position_setup(&store).await;
    let events_before = escrowgrid::testing::outbox::all_events(&store).await;
    install(&database, SKIP_POSITION_UPDATES).await;

    let request = TransitionRequest::to(PositionState::Funded);
    let result = store
        .transition_position(&Scope::Root, &position.id, request, &fixtures::audit())
        .await;

    // The guard raises on the update's count of zero, both without a transaction block and
    // then with the row locked, so nothing of either statement stays.
    assert!(
        matches!(result, Err(escrowgrid::Error::Storage(_))),
        "{result:?}"
    );
    let stored = store
        .get_position(&Scope::Root, &position.id)
        .await
        .unwrap();
    assert_eq!((stored.state, stored.version), (PositionState::Created, 1));
    assert!(stored.events.is_empty(), "no lifecycle event");
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&position.id))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1, "only the creation event");
    let filter = AuditFilter {
        action: Some(escrowgrid::domain::AuditAction::PositionTransitioned),
        ..AuditFilter::default()
    };
    let audited = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(audited.total.unwrap(), 0, "no audit row");
    let events_after = escrowgrid::testing::outbox::all_events(&store).await;
    assert_eq!(events_after, events_before, "no outbox event");
}
