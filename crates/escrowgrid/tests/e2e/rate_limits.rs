//! Rate limits are counted in PostgreSQL (gridstore KV): instances on one database share one
//! budget.

use hyper::StatusCode;
use serde_json::json;

use super::flows::tenant;
use super::server::{ROOT_KEY, TestServer, postgres_settings};

const MAX_REQUESTS: u32 = 6;

/// Two instances on one database, limited to `MAX_REQUESTS` per key and minute.
async fn two_instances(database_url: &str) -> (TestServer, TestServer) {
    let mut settings = postgres_settings(database_url);
    settings.rate_limit.enabled = true;
    settings.rate_limit.max_requests = MAX_REQUESTS;
    settings.rate_limit.window_ms = 60_000;
    let first = TestServer::start(settings.clone()).await;
    first.wait_ready().await;
    let second = TestServer::start(settings).await;
    second.wait_ready().await;
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_grant_the_general_budget_once_in_total() {
    let db = testkit::database().await;
    let (first, second) = two_instances(db.url()).await;
    let acme = tenant(first.addr, ROOT_KEY).await;
    let mut clients = [
        first.client(&acme.admin_key).await,
        second.client(&acme.admin_key).await,
    ];

    let mut granted = 0;
    let mut limited = Vec::new();
    for attempt in 0..MAX_REQUESTS * 2 {
        let reply = clients[attempt as usize % 2].get("/institutions").await;
        match reply.status {
            StatusCode::OK => granted += 1,
            StatusCode::TOO_MANY_REQUESTS => limited.push(reply),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }

    // The tenant fixture itself made requests with the admin key (template, asset): they
    // spent part of the same budget.
    assert!(granted > 0, "no request was granted");
    assert_eq!(
        granted + limited.len() as u32,
        MAX_REQUESTS * 2,
        "every request was answered"
    );
    let fixture_requests = 2;
    assert_eq!(
        granted,
        MAX_REQUESTS - fixture_requests,
        "the instances granted their budgets separately"
    );
    assert_eq!(
        limited[0].body,
        json!({ "error": "Rate limit exceeded", "details": { "windowMs": 60000, "maxRequests": MAX_REQUESTS } })
    );
    let retry_after: u64 = limited[0].headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    first.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_share_the_institution_creation_budget() {
    let db = testkit::database().await;
    let (first, second) = two_instances(db.url()).await;
    let mut roots = [first.root().await, second.root().await];

    let mut statuses = Vec::new();
    for attempt in 0..12_usize {
        let body = json!({ "name": format!("I{attempt}"), "regions": ["US"] });
        let reply = roots[attempt % 2].post("/institutions", &body).await;
        statuses.push(reply.status.as_u16());
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(
                reply.body["error"],
                "Rate limit exceeded for institution creation"
            );
            assert_eq!(reply.body["details"]["maxInstitutions"], 10);
        }
    }

    let mut expected = vec![201; 10];
    expected.extend([429, 429]);
    assert_eq!(statuses, expected);
    first.stop().await;
    second.stop().await;
}
