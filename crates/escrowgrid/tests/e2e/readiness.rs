use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::client::Client;
use super::server::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_answers_503_json_while_the_database_is_down_and_recovers() {
    // Arrange
    let mut postgres = tokio::task::spawn_blocking(testkit::TestPostgres::start)
        .await
        .expect("join")
        .expect("start postgres");
    let db = postgres.create_database().await;
    let server = TestServer::postgres(db.url()).await;
    let mut client = Client::connect(server.addr, None).await;
    let up = client.get("/ready").await.expect(StatusCode::OK);
    assert_eq!(up.body["ok"], true);

    // Act
    let mut postgres = tokio::task::spawn_blocking(move || {
        postgres.stop();
        postgres
    })
    .await
    .expect("join");
    let down = client.get("/ready").await;
    let health = client.get("/health").await;

    // Assert
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert_eq!(down.body["ok"], false);
    assert_eq!(down.body["db"]["ok"], false);
    assert_eq!(down.body["storeBackend"], "postgres");
    assert!(
        down.headers["content-type"]
            .to_str()
            .is_ok_and(|v| v.starts_with("application/json"))
    );
    assert_eq!(
        health.status,
        StatusCode::OK,
        "liveness does not depend on the database"
    );

    let mut postgres = tokio::task::spawn_blocking(move || {
        postgres.restart();
        postgres
    })
    .await
    .expect("join");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get("/ready").await.status != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the pool did not recover within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
    drop(db);
    tokio::task::spawn_blocking(move || postgres.stop())
        .await
        .expect("join");
}
