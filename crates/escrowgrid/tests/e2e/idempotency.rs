use hyper::{Method, StatusCode};

use super::flows::{position_body, tenant};
use super::server::{ROOT_KEY, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_first_response_after_a_server_restart() {
    // Arrange
    let db = testkit::database().await;
    let first = TestServer::postgres(db.url()).await;
    let tenant = tenant(first.addr, ROOT_KEY).await;
    let body = position_body(&tenant.asset_id);
    let key = [("idempotency-key", "e2e-create-1")];
    let original = first
        .client(&tenant.admin_key)
        .await
        .send(Method::POST, "/positions", Some(&body), &key)
        .await
        .expect(StatusCode::CREATED);
    first.stop().await;

    // Act
    let second = TestServer::postgres(db.url()).await;
    let mut admin = second.client(&tenant.admin_key).await;
    let replay = admin
        .send(Method::POST, "/positions", Some(&body), &key)
        .await;
    let mut other_body = body.clone();
    other_body["holderReference"] = "someone-else".into();
    let mismatch = admin
        .send(Method::POST, "/positions", Some(&other_body), &key)
        .await;

    // Assert
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
    assert_eq!(replay.body, original.body, "the first response is replayed");
    assert_eq!(
        mismatch.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        mismatch.body
    );
    assert!(mismatch.body["error"].is_string());
    let list = admin.get("/positions").await.expect(StatusCode::OK);
    assert_eq!(list.body["pagination"]["total"], 1, "{}", list.body);
    second.stop().await;
}
