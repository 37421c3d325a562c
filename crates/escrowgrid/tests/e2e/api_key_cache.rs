//! The API-key cache across instances: two servers on one database, both having
//! authenticated a key (so both have it cached); a revoke on one is refused by the other
//! within one second, although a cached key is otherwise trusted for 10 s.

use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::json;

use super::server::{TestServer, postgres_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_on_one_instance_is_refused_by_another_within_one_second() {
    // Arrange
    let db = testkit::database().await;
    let first = TestServer::start(postgres_settings(db.url())).await;
    first.wait_ready().await;
    let second = TestServer::start(postgres_settings(db.url())).await;
    second.wait_ready().await;
    let mut root = first.root().await;
    let institution = root
        .post(
            "/institutions",
            &json!({"name": "Acme", "regions": ["US"], "verticals": ["CONSTRUCTION"]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    let key = root
        .post(
            &format!("/institutions/{institution}/api-keys"),
            &json!({"label": "ops", "role": "admin"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let (key_id, token) = (key.str("id"), key.str("apiKey"));
    let mut on_first = first.client(&token).await;
    let mut on_second = second.client(&token).await;
    let me = format!("/institutions/{institution}");
    on_first.get(&me).await.expect(StatusCode::OK);
    on_second.get(&me).await.expect(StatusCode::OK);

    // Act
    root.post(
        &format!("/institutions/{institution}/api-keys/{key_id}/revoke"),
        &json!({}),
    )
    .await
    .expect(StatusCode::OK);

    // Assert
    on_first.get(&me).await.expect(StatusCode::UNAUTHORIZED);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let reply = on_second.get(&me).await;
        if reply.status == StatusCode::UNAUTHORIZED {
            assert_eq!(reply.body, json!({ "error": "Invalid API key" }));
            break;
        }
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(
            Instant::now() < deadline,
            "the second instance still accepts the revoked key after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.stop().await;
    second.stop().await;
}
