//! 50 parallel transitions of one position: exactly one state change, the others 409 or an
//! idempotent 200, never 5xx, and the ledger matches the lifecycle.

use serde_json::json;

use super::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_transitions_change_the_state_exactly_once() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        let (key, id) = (world.tenant.admin.clone(), world.position.clone());
        tasks.push(tokio::spawn(async move {
            app.transition(&key, &id, json!({ "toState": "FUNDED" }))
                .await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task").status.as_u16());
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200));
    let position = app.get_position(&world.tenant.admin, &world.position).await;
    let body = position.expect(200);
    assert_eq!(body["state"], "FUNDED");
    assert_eq!(body["events"].as_array().expect("events").len(), 1);
    let ledger = app
        .ledger_events(
            &world.tenant.admin,
            &format!("?positionId={}", world.position),
        )
        .await;
    let entries = ledger.expect(200).as_array().expect("ledger").clone();
    let changes: Vec<_> = entries
        .iter()
        .filter(|e| e["kind"] == "POSITION_STATE_CHANGED")
        .collect();
    assert_eq!(changes.len(), 1, "{entries:?}");
    assert_eq!(changes[0]["newState"], "FUNDED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_transitions_to_different_states_never_lose_an_update() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let mut tasks = Vec::new();
    for index in 0..50 {
        let app = app.clone();
        let (key, id) = (world.tenant.admin.clone(), world.position.clone());
        let target = ["FUNDED", "CANCELLED", "EXPIRED"][index % 3];
        tasks.push(tokio::spawn(async move {
            app.transition(&key, &id, json!({ "toState": target }))
                .await
                .status
                .as_u16()
        }));
    }
    for task in tasks {
        let status = task.await.expect("task");
        assert!(matches!(status, 200 | 400 | 409), "status {status}");
    }
    let body = app
        .get_position(&world.tenant.admin, &world.position)
        .await
        .expect(200)
        .clone();
    let events = body["events"].as_array().expect("events");
    let ledger = app
        .ledger_events(
            &world.tenant.admin,
            &format!("?positionId={}", world.position),
        )
        .await;
    let changes = ledger
        .json
        .as_array()
        .expect("ledger")
        .iter()
        .filter(|e| e["kind"] == "POSITION_STATE_CHANGED")
        .count();
    assert_eq!(changes, events.len());
    let mut state = json!("CREATED");
    for event in events {
        assert_eq!(event["fromState"], state, "events chain");
        state = event["toState"].clone();
    }
    assert_eq!(body["state"], state);
}
