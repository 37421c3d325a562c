//! `/metrics/prometheus` of a real server on PostgreSQL: the app's `taas_*` series and the
//! process-wide `gridstore_*` series in one scrape.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};

use super::client::Client;
use super::flows;
use super::server::{ROOT_KEY, TestServer};

/// Scrapes `/metrics/prometheus` until every line starting with one of `wanted` is present,
/// with a 20 s deadline; returns the last scrape.
pub async fn scrape_until(addr: std::net::SocketAddr, wanted: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut root = Client::connect(addr, Some(ROOT_KEY)).await;
        let reply = root.get("/metrics/prometheus").await.expect(StatusCode::OK);
        let text = reply.body.as_str().unwrap_or_default().to_owned();
        let missing: Vec<&&str> = wanted
            .iter()
            .filter(|prefix| !text.lines().any(|line| line.starts_with(**prefix)))
            .collect();
        if missing.is_empty() {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "series {missing:?} missing from\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_scrape_on_postgresql_shows_the_gridstore_series() {
    // Arrange
    let db = testkit::database().await;
    let server = TestServer::postgres(db.url()).await;
    let tenant = flows::tenant(server.addr, ROOT_KEY).await;
    let mut admin = server.client(&tenant.admin_key).await;

    // Act: an idempotent write goes through gridstore's KV on PostgreSQL
    admin
        .send(
            Method::POST,
            "/positions",
            Some(&flows::position_body(&tenant.asset_id)),
            &[("idempotency-key", "metrics-1")],
        )
        .await
        .expect(StatusCode::CREATED);
    let text = scrape_until(
        server.addr,
        &[
            "gridstore_operations_total{primitive=\"kv\"",
            "gridstore_operation_seconds_bucket{primitive=\"kv\"",
            "gridstore_health_up 1",
            "gridstore_pool_connections{state=\"in_use\"}",
            "gridstore_lock_waits ",
            "gridstore_event_partitions_missing 0",
        ],
    )
    .await;

    // Assert
    for line in [
        "taas_requests_status_total{status=\"201\"} ",
        "taas_db_pool_max_size 8",
        "taas_db_pool_in_use ",
        "taas_http_request_duration_seconds_bucket{method=\"POST\",route=\"/positions\",le=\"+Inf\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("gridstore_operations_total")
                && l.contains("backend=\"postgres\"")),
        "{text}"
    );
    server.stop().await;
}
