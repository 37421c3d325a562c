use hyper::StatusCode;
use serde_json::{Value, json};

use super::flows::{EXACT_AMOUNT, position_body, tenant};
use super::server::{ROOT_KEY, TestServer};

/// The ledger list, whether the API returns a bare array or a `{data}` envelope.
pub fn ledger_items(body: &Value) -> Vec<Value> {
    body.as_array()
        .or_else(|| body["data"].as_array())
        .cloned()
        .unwrap_or_else(|| panic!("not a list: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_goes_from_institution_to_funded_over_a_socket() {
    // Arrange
    let db = testkit::database().await;
    let server = TestServer::postgres(db.url()).await;
    let tenant = tenant(server.addr, ROOT_KEY).await;
    let mut admin = server.client(&tenant.admin_key).await;

    // Act
    let created = admin
        .post("/positions", &position_body(&tenant.asset_id))
        .await
        .expect(StatusCode::CREATED);
    let id = created.str("id");
    let funded = admin
        .post(
            &format!("/positions/{id}/transition"),
            &json!({"toState": "FUNDED", "reason": "wire received"}),
        )
        .await
        .expect(StatusCode::OK);

    // Assert
    assert!(id.starts_with("pos_"), "{id}");
    assert_eq!(created.body["state"], "CREATED");
    assert_eq!(created.body["amount"].to_string(), EXACT_AMOUNT);
    assert!(created.headers.contains_key("x-request-id"));
    assert_eq!(funded.body["state"], "FUNDED");
    let fetched = admin
        .get(&format!("/positions/{id}"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(fetched.body["state"], "FUNDED");
    assert_eq!(fetched.body["amount"].to_string(), EXACT_AMOUNT);
    assert_eq!(
        fetched.body["institutionId"],
        tenant.institution_id.as_str()
    );
    let events = fetched.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["fromState"], "CREATED");
    assert_eq!(events[0]["toState"], "FUNDED");
    let ledger = admin
        .get(&format!("/ledger-events?positionId={id}"))
        .await
        .expect(StatusCode::OK);
    let kinds: Vec<Value> = ledger_items(&ledger.body)
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [json!("POSITION_CREATED"), json!("POSITION_STATE_CHANGED")]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_over_the_socket_are_json_with_a_request_id() {
    // Arrange
    let db = testkit::database().await;
    let server = TestServer::postgres(db.url()).await;
    let mut anonymous = super::client::Client::connect(server.addr, None).await;

    // Act
    let missing_key = anonymous.get("/positions").await;
    let mut root = server.root().await;
    let unknown = root.get("/no-such-route").await;

    // Assert
    assert_eq!(missing_key.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing_key.body, json!({"error": "Missing API key"}));
    assert!(missing_key.headers.contains_key("x-request-id"));
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body["error"].is_string(), "{}", unknown.body);
    server.stop().await;
}
