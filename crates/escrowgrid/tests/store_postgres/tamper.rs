//! Tampering with the ledger as a superuser (the append-only trigger disabled): verification
//! finds each kind of change and names the event; an untouched ledger verifies.

use escrowgrid::domain::{LedgerEvent, LedgerEventId, PositionState, TransitionRequest};
use escrowgrid::ledger::{BreakReason, event_hash, verify};
use escrowgrid::store::{EscrowStore, Scope};
use escrowgrid::testing::fixtures;
use testkit::TestDatabase;

use super::support::migrated_store;

const DISABLE_TRIGGER: &str =
    "alter table ledger_events disable trigger ledger_events_no_update_delete";

const COLUMNS: &str = "id, institution_id, kind, position_id, at, previous_state, new_state, \
                       payload, created_at, hash, previous_hash";

/// Position A: created, funded, released; position B: created, funded. Returns the store,
/// its database and A's three events.
async fn ledger() -> (
    escrowgrid::store::postgres::PgEscrowStore,
    TestDatabase,
    Vec<LedgerEvent>,
) {
    let (store, database) = migrated_store().await;
    let (_, _, a) = fixtures::position_setup(&store).await;
    let (_, _, b) = fixtures::position_setup(&store).await;
    let audit = fixtures::audit();
    for (id, to) in [
        (&a.id, PositionState::Funded),
        (&b.id, PositionState::Funded),
        (&a.id, PositionState::Released),
    ] {
        store
            .transition_position(&Scope::Root, id, TransitionRequest::to(to), &audit)
            .await
            .unwrap();
    }
    let events = store
        .list_ledger_events(&Scope::Root, Some(&a.id))
        .await
        .unwrap();
    assert_eq!(events.len(), 3);
    (store, database, events)
}

async fn tamper(database: &TestDatabase, sql: &str) {
    let client = database.connect().await;
    client.batch_execute(DISABLE_TRIGGER).await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

async fn first_break(store: &dyn EscrowStore) -> (LedgerEventId, BreakReason) {
    let events = store.list_ledger_events(&Scope::Root, None).await.unwrap();
    let report = verify(&events, |_, _| {});
    let found = report.first_break.expect("verification reports a break");
    (found.event_id, found.reason)
}

#[tokio::test]
async fn an_untouched_ledger_verifies() {
    let (store, _database, _) = ledger().await;
    let events = store.list_ledger_events(&Scope::Root, None).await.unwrap();
    let report = verify(&events, |_, _| {});
    assert!(report.ok, "{report:?}");
    assert_eq!((report.events_checked, report.unhashed_events), (5, 0));
}

#[tokio::test]
async fn an_edited_amount_is_found_and_named() {
    let (store, database, a) = ledger().await;
    let sql = format!(
        "update ledger_events set payload = jsonb_set(payload, '{{amount}}', '999') \
         where id = '{}'",
        a[0].id
    );
    tamper(&database, &sql).await;
    assert_eq!(
        first_break(&store).await,
        (a[0].id.clone(), BreakReason::Edited)
    );
}

#[tokio::test]
async fn a_deleted_event_is_found_at_its_successor() {
    let (store, database, a) = ledger().await;
    tamper(
        &database,
        &format!("delete from ledger_events where id = '{}'", a[1].id),
    )
    .await;
    assert_eq!(
        first_break(&store).await,
        (a[2].id.clone(), BreakReason::Deleted)
    );
}

#[tokio::test]
async fn an_inserted_event_with_a_valid_hash_is_found_and_named() {
    let (store, database, a) = ledger().await;
    // A forger who knows the encoding: a well-formed event hashed onto A's creation.
    let mut forged = a[1].clone();
    forged.id = LedgerEventId::new();
    forged.payload = serde_json::json!({ "reason": "forged" });
    let hash = event_hash(&forged, a[0].hash.as_deref());
    let sql = format!(
        "insert into ledger_events ({COLUMNS}) \
         select '{}', institution_id, kind, position_id, at, previous_state, new_state, \
             '{{\"reason\": \"forged\"}}', created_at, '{hash}', previous_hash \
         from ledger_events where id = '{}'",
        forged.id, a[1].id
    );
    tamper(&database, &sql).await;
    assert_eq!(
        first_break(&store).await,
        (forged.id, BreakReason::Inserted)
    );
}

#[tokio::test]
async fn two_swapped_events_are_found_as_reordered() {
    let (store, database, a) = ledger().await;
    let sql = format!(
        "create temp table moved as select * from ledger_events where id in ('{one}', '{two}');
         delete from ledger_events where id in ('{one}', '{two}');
         insert into ledger_events ({COLUMNS}) select {COLUMNS} from moved where id = '{two}';
         insert into ledger_events ({COLUMNS}) select {COLUMNS} from moved where id = '{one}';",
        one = a[1].id,
        two = a[2].id
    );
    tamper(&database, &sql).await;
    assert_eq!(
        first_break(&store).await,
        (a[2].id.clone(), BreakReason::Reordered)
    );
}

#[tokio::test]
async fn events_written_before_hashing_started_are_counted_and_do_not_break_chains() {
    let (store, database, a) = ledger().await;
    // As migration 0007 leaves them: an old position's events without hashes, its later
    // events chained from the first hashed one.
    let sql = format!(
        "update ledger_events set hash = null, previous_hash = null where id = '{}';
         update ledger_events set previous_hash = null where id = '{}'",
        a[0].id, a[1].id
    );
    tamper(&database, &sql).await;
    // a[1]'s hash covered its old previous hash: rewrite it as the migration-era writer would.
    let mut relinked = store
        .list_ledger_events(&Scope::Root, Some(&a[0].position_id))
        .await
        .unwrap();
    let first = escrowgrid::ledger::seal(relinked.remove(1), None);
    let second = escrowgrid::ledger::seal(relinked.remove(1), first.hash.clone());
    let sql = format!(
        "update ledger_events set hash = '{}' where id = '{}';
         update ledger_events set hash = '{}', previous_hash = '{}' where id = '{}'",
        first.hash.unwrap_or_default(),
        first.id,
        second.hash.unwrap_or_default(),
        second.previous_hash.unwrap_or_default(),
        second.id
    );
    tamper(&database, &sql).await;
    let events = store.list_ledger_events(&Scope::Root, None).await.unwrap();
    let report = verify(&events, |_, _| {});
    assert!(report.ok, "{report:?}");
    assert_eq!(report.unhashed_events, 1);
}

#[tokio::test]
async fn a_deleted_latest_event_is_found_by_its_checkpoint() {
    let (store, database, a) = ledger().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let taken = store.ledger_checkpoints().await.unwrap();
        if taken.iter().map(|(c, _)| c.event_count).sum::<i64>() == 5 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint covers the ledger"
        );
        if store
            .create_ledger_checkpoint(escrowgrid::domain::now_millis())
            .await
            .unwrap()
            .is_none()
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    // The chains alone cannot see a removed head: the checkpoint's count can.
    tamper(
        &database,
        &format!("delete from ledger_events where id = '{}'", a[2].id),
    )
    .await;
    let report = escrowgrid::ledger::verify_store(&store, &Scope::Root, |_, _| {})
        .await
        .unwrap();
    assert!(report.first_break.is_none(), "{report:?}");
    assert!(!report.ok);
    let found = report.checkpoint_break.expect("a checkpoint break");
    assert_eq!(found.reason, "count", "{found:?}");
}
