//! Concurrent transitions of one position.

use std::sync::Arc;

use tokio::sync::Barrier;

use crate::domain::{
    AuditAction, LedgerEventKind, Position, PositionId, PositionState, TransitionRequest,
};
use crate::store::{AuditFilter, EscrowStore, Page, Scope};
use crate::{Error, Result};

use super::fixtures::{audit, position_setup};

use PositionState::{Cancelled, Funded, PartiallyReleased, Released};

/// How many tasks race.
const TASKS: usize = 32;

/// Starts `TASKS` transitions of one position at once (behind a barrier) and collects them.
async fn race(
    store: &Arc<dyn EscrowStore>,
    id: &PositionId,
    request: impl Fn(usize) -> TransitionRequest,
) -> Vec<Result<Position>> {
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::with_capacity(TASKS);
    for task in 0..TASKS {
        let (store, barrier, id, request) =
            (store.clone(), barrier.clone(), id.clone(), request(task));
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .transition_position(&Scope::Root, &id, request, &audit())
                .await
        }));
    }
    let mut results = Vec::with_capacity(TASKS);
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

fn versioned(to_state: PositionState, version: i64) -> TransitionRequest {
    TransitionRequest {
        expected_version: Some(version),
        ..TransitionRequest::to(to_state)
    }
}

/// Exactly one of the racers based on a version wins; every other one gets a Conflict.
fn assert_one_winner(results: &[Result<Position>], version: i64, state: PositionState) {
    let winners: Vec<&Position> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one winner expected at version {version}"
    );
    assert_eq!((winners[0].version, winners[0].state), (version + 1, state));
    for result in results {
        match result {
            Ok(_) => {}
            Err(Error::Conflict {
                expected_version,
                actual_version,
                ..
            }) => {
                assert_eq!((*expected_version, *actual_version), (version, version + 1));
            }
            Err(other) => panic!("a loser must get a conflict, got {other:?}"),
        }
    }
}

/// 32 tasks transitioning one position at once: exactly one wins per version, no update is
/// lost, and the ledger and audit hold exactly one entry per lifecycle event.
pub async fn thirty_two_concurrent_transitions_have_one_winner_per_version(
    store: Arc<dyn EscrowStore>,
) {
    let (_, _, created) = position_setup(&*store).await;
    let id = created.id.clone();

    // Every racer is based on version 1, then on version 2.
    assert_one_winner(
        &race(&store, &id, |_| versioned(Funded, 1)).await,
        1,
        Funded,
    );
    let round = race(&store, &id, |_| versioned(PartiallyReleased, 2)).await;
    assert_one_winner(&round, 2, PartiallyReleased);

    // Unversioned racers to two terminal states: one change happens; the rest are no-ops,
    // invalid transitions (out of the terminal state) or conflicts.
    let round = race(&store, &id, |task| {
        TransitionRequest::to(if task % 2 == 0 { Released } else { Cancelled })
    })
    .await;
    for result in &round {
        assert!(
            matches!(
                result,
                Ok(_) | Err(Error::InvalidTransition(_) | Error::Conflict { .. })
            ),
            "{result:?}"
        );
    }

    let last = store.get_position(&Scope::Root, &id).await.unwrap();
    assert!(matches!(last.state, Released | Cancelled));
    assert_eq!(last.events.len(), 3);
    assert_eq!(
        last.version, 4,
        "one version per applied transition, none lost"
    );
    let states: Vec<_> = last
        .events
        .iter()
        .map(|e| (e.from_state, e.to_state))
        .collect();
    assert_eq!(
        states,
        vec![
            (Some(PositionState::Created), Funded),
            (Some(Funded), PartiallyReleased),
            (Some(PartiallyReleased), last.state),
        ]
    );
    let ledger = store
        .list_ledger_events(&Scope::Root, Some(&id))
        .await
        .unwrap();
    let changes: Vec<_> = ledger
        .iter()
        .filter(|e| e.kind == LedgerEventKind::PositionStateChanged)
        .map(|e| (e.previous_state, e.new_state))
        .collect();
    assert_eq!(changes, states, "ledger events equal lifecycle events");
    let filter = AuditFilter {
        action: Some(AuditAction::PositionTransitioned),
        ..AuditFilter::default()
    };
    let audited = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(audited.total.unwrap(), 3);

    // The outbox: the winners' events are there, once each, and no loser's (on PostgreSQL a
    // loser reads the winner's version under the row lock and writes nothing).
    let filter = gridstore::EventFilter::all()
        .correlation_id(id.as_str())
        .event_type("position.state_changed");
    let changed = store.events().query(&filter, None, 1000).await.unwrap();
    let outboxed: Vec<_> = changed
        .iter()
        .map(|e| {
            (
                e.payload["data"]["fromState"].clone(),
                e.payload["data"]["toState"].clone(),
            )
        })
        .collect();
    let expected: Vec<_> = states
        .iter()
        .map(|(from, to)| (serde_json::json!(from), serde_json::json!(to)))
        .collect();
    assert_eq!(
        outboxed, expected,
        "one state_changed event per applied transition"
    );
}
