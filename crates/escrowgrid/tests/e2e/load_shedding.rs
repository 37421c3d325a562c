//! Issue 10 item 5: over `HTTP_MAX_IN_FLIGHT_REQUESTS`, a request is answered at once with 503
//! JSON and `Retry-After` instead of queueing; probes are never shed; admitted requests finish
//! normally. Two requests are held in flight by a table lock a side connection takes.

use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::json;

use super::client::Client;
use super::server::{ROOT_KEY, TestServer, postgres_settings};

const DEADLINE: Duration = Duration::from_secs(30);
/// "At once": far below the request timeout and any pool wait.
const SHED_WITHIN: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_cap_are_shed_at_once_with_503_and_retry_after() {
    // Arrange: a cap of two, both taken by list requests blocked on a locked table.
    let db = testkit::database().await;
    let mut settings = postgres_settings(db.url());
    settings.http.max_in_flight_requests = 2;
    let server = TestServer::start(settings).await;
    server.wait_ready().await;
    let locker = db.connect().await;
    locker
        .batch_execute("begin; lock table institutions in access exclusive mode")
        .await
        .expect("lock institutions");
    let held: Vec<_> = (0..2)
        .map(|_| {
            let addr = server.addr;
            tokio::spawn(async move {
                let mut client = Client::connect(addr, Some(ROOT_KEY)).await;
                client.get("/institutions").await
            })
        })
        .collect();
    let observer = db.connect().await;
    let started = Instant::now();
    loop {
        let waiting: i64 = observer
            .query_one(
                "select count(*) from pg_stat_activity \
                 where datname = current_database() and wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if waiting >= 2 {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the two requests never blocked"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Act
    let mut client = Client::connect(server.addr, Some(ROOT_KEY)).await;
    let asked = Instant::now();
    let shed = client.get("/institutions").await;
    let shed_after = asked.elapsed();
    let health = client.get("/health").await;
    locker.batch_execute("rollback").await.expect("unlock");
    let mut admitted = Vec::new();
    for request in held {
        admitted.push(request.await.expect("join").status);
    }
    let after = client.get("/institutions").await;

    // Assert
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.body, json!({ "error": "Server overloaded" }));
    assert_eq!(shed.headers["retry-after"], "1");
    assert!(
        shed.headers.contains_key("x-request-id"),
        "shed answers are framed like any other"
    );
    assert!(shed_after < SHED_WITHIN, "shed only after {shed_after:?}");
    assert_eq!(health.status, StatusCode::OK, "probes are never shed");
    assert_eq!(admitted, [StatusCode::OK, StatusCode::OK]);
    assert_eq!(after.status, StatusCode::OK, "slots free again");
    server.stop().await;
}
