use std::sync::Arc;

use hyper::StatusCode;
use serde_json::json;
use tokio::sync::Barrier;

use super::client::Client;
use super::flows::{position_body, tenant};
use super::lifecycle::ledger_items;
use super::server::{ROOT_KEY, TestServer};

const RACERS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_transitions_over_http_change_the_state_exactly_once() {
    // Arrange
    let db = testkit::database().await;
    let server = TestServer::postgres(db.url()).await;
    let tenant = tenant(server.addr, ROOT_KEY).await;
    let mut admin = server.client(&tenant.admin_key).await;
    let id = admin
        .post("/positions", &position_body(&tenant.asset_id))
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    let path = format!("/positions/{id}/transition");
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut racers = Vec::new();
    for _ in 0..RACERS {
        let mut client = Client::connect(server.addr, Some(&tenant.admin_key)).await;
        let (barrier, path) = (Arc::clone(&barrier), path.clone());
        racers.push(tokio::spawn(async move {
            barrier.wait().await;
            client.post(&path, &json!({"toState": "FUNDED"})).await
        }));
    }

    // Act
    let mut replies = Vec::new();
    for racer in racers {
        replies.push(racer.await.expect("racer"));
    }

    // Assert
    for reply in &replies {
        assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::CONFLICT,
            "unexpected {}: {}",
            reply.status,
            reply.body
        );
        if reply.status == StatusCode::OK {
            assert_eq!(reply.body["state"], "FUNDED");
        }
    }
    assert!(replies.iter().any(|r| r.status == StatusCode::OK));
    let position = admin
        .get(&format!("/positions/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(position.body["state"], "FUNDED");
    assert_eq!(position.body["events"].as_array().map(Vec::len), Some(1));
    let ledger = admin
        .get(&format!("/ledger-events?positionId={id}"))
        .await
        .expect(StatusCode::OK);
    let changes = ledger_items(&ledger.body)
        .iter()
        .filter(|e| e["kind"] == "POSITION_STATE_CHANGED")
        .count();
    assert_eq!(changes, 1, "ledger events must equal lifecycle events");
    let sql = db.connect().await;
    let lifecycle_rows: i64 = sql
        .query_one(
            "select count(*) from position_events where position_id = $1",
            &[&id],
        )
        .await
        .expect("count lifecycle events")
        .get(0);
    let ledger_rows: i64 = sql
        .query_one(
            "select count(*) from ledger_events where position_id = $1 and kind = 'POSITION_STATE_CHANGED'",
            &[&id],
        )
        .await
        .expect("count ledger events")
        .get(0);
    assert_eq!((lifecycle_rows, ledger_rows), (1, 1));
    server.stop().await;
}
