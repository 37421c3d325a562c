use hyper::StatusCode;
use serde_json::json;

use super::client::Client;
use super::flows::{EXACT_AMOUNT, position_body, tenant};
use super::server::BinaryServer;

async fn spawn_binary(url: &str) -> BinaryServer {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || BinaryServer::spawn(&url))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_process_keeps_its_data_and_never_logs_the_root_key() {
    // Arrange: the binary, no ROOT_API_KEY, so it generates one and prints it to stderr
    let db = testkit::database().await;
    let first = spawn_binary(db.url()).await;
    let root_key = first
        .generated_root_key
        .clone()
        .unwrap_or_else(|| panic!("no generated key on stderr: {}", first.stderr()));
    assert!(first.stderr().contains("WARNING"), "{}", first.stderr());
    let tenant = tenant(first.addr, &root_key).await;
    let mut admin = Client::connect(first.addr, Some(&tenant.admin_key)).await;
    let id = admin
        .post("/positions", &position_body(&tenant.asset_id))
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    admin
        .post(
            &format!("/positions/{id}/transition"),
            &json!({"toState": "FUNDED"}),
        )
        .await
        .expect(StatusCode::OK);
    drop(admin);

    // Act: SIGTERM, then a new process on the same database
    let (status, logs) = tokio::task::spawn_blocking(move || first.terminate())
        .await
        .expect("join");
    let second = spawn_binary(db.url()).await;
    let mut admin = Client::connect(second.addr, Some(&tenant.admin_key)).await;
    let position = admin.get(&format!("/positions/{id}")).await;
    let mut old_root = Client::connect(second.addr, Some(&root_key)).await;
    let old_root_reply = old_root.get("/institutions").await;

    // Assert
    assert!(status.success(), "exit status {status}");
    assert!(logs.contains("server stopped"), "{logs}");
    assert!(
        !logs.contains(&root_key),
        "the root key leaked into the logs"
    );
    assert!(
        !logs.contains(&tenant.admin_key),
        "an api key leaked into the logs"
    );
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
    }
    let position = position.expect(StatusCode::OK);
    assert_eq!(position.body["state"], "FUNDED");
    assert_eq!(position.body["amount"].to_string(), EXACT_AMOUNT);
    assert_eq!(
        old_root_reply.status,
        StatusCode::UNAUTHORIZED,
        "a generated root key lives only as long as its process"
    );
    assert_ne!(
        second.generated_root_key.as_deref(),
        Some(root_key.as_str())
    );
}
