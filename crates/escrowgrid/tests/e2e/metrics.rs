//! `/metrics/prometheus` of a real server on PostgreSQL: the app's `taas_*` series and the
//! process-wide `gridstore_*` series in one scrape.

use std::collections::BTreeSet;
use std::path::Path;
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

    // Act: an idempotent write goes through gridstore's KV on PostgreSQL; the position's
    // transition is written on what the create kept
    let id = admin
        .send(
            Method::POST,
            "/positions",
            Some(&flows::position_body(&tenant.asset_id)),
            &[("idempotency-key", "metrics-1")],
        )
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    admin
        .post(
            &format!("/positions/{id}/transition"),
            &serde_json::json!({"toState": "FUNDED"}),
        )
        .await
        .expect(StatusCode::OK);
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
        "taas_position_transitions_total{way=\"kept\"} 1",
        "taas_position_transitions_total{way=\"read\"} 0",
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

/// Every series name (`taas_*`, `gridstore_*`, `replica_lag_seconds`) that `text` mentions.
fn series_named_in(text: &str) -> BTreeSet<String> {
    let is_name = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    let mut names = BTreeSet::new();
    for (start, _) in text.match_indices(['t', 'g', 'r']) {
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| is_name(c) || c.is_ascii_uppercase()) {
            continue;
        }
        let rest = &text[start..];
        let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
        let name = &rest[..end];
        if name.starts_with("taas_")
            || name.starts_with("gridstore_")
            || name == "replica_lag_seconds"
        {
            names.insert(name.to_owned());
        }
    }
    names
}

#[test]
fn series_names_are_found_in_rules_and_dashboards() {
    let names = series_named_in(
        "expr: rate(taas_requests_total[5m]) / gridstore_health_up{x=\"1\"} and my_taas_x",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["gridstore_health_up", "taas_requests_total"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_the_dashboard_and_the_alert_rules_name_is_in_a_live_scrape() {
    // Arrange: what docs/observability names
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/observability");
    let mut named = BTreeSet::new();
    for file in ["alerts.yml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(docs.join(file)).expect("read docs/observability");
        let found = series_named_in(&text);
        assert!(found.len() >= 5, "{file} names only {found:?}");
        named.extend(found);
    }
    // ... and a server on PostgreSQL with a live event stream client
    let db = testkit::database().await;
    let server = TestServer::postgres(db.url()).await;
    let tenant = flows::tenant(server.addr, ROOT_KEY).await;
    let mut reader = super::events::stream(server.addr, &tenant.admin_key, None).await;
    let mut admin = server.client(&tenant.admin_key).await;

    // Act: a write the stream delivers, and a store error (404)
    admin
        .send(
            Method::POST,
            "/positions",
            Some(&flows::position_body(&tenant.asset_id)),
            &[("idempotency-key", "dashboard-1")],
        )
        .await
        .expect(StatusCode::CREATED);
    reader.next_event(Duration::from_secs(20)).await;
    admin
        .get("/positions/pos_00000000-0000-4000-8000-000000000000")
        .await
        .expect(StatusCode::NOT_FOUND);
    // replica_lag_seconds only exists with read replicas (tests/e2e/replicas.rs).
    let expected: Vec<&String> = named
        .iter()
        .filter(|name| *name != "replica_lag_seconds")
        .collect();
    let text = scrape_until_all(server.addr, &expected).await;

    // Assert
    let missing: Vec<&&String> = expected
        .iter()
        .filter(|name| !has_sample(&text, name))
        .collect();
    assert!(
        missing.is_empty(),
        "named in docs/observability but not exported: {missing:?}\n{text}"
    );
    drop(reader);
    server.stop().await;
}

/// Whether the exposition `text` has a sample of series `name`.
fn has_sample(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

/// Scrapes until every series in `names` has a sample, with a 20 s deadline; returns the last
/// scrape (the caller asserts on it).
async fn scrape_until_all(addr: std::net::SocketAddr, names: &[&String]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut root = Client::connect(addr, Some(ROOT_KEY)).await;
        let reply = root.get("/metrics/prometheus").await.expect(StatusCode::OK);
        let text = reply.body.as_str().unwrap_or_default().to_owned();
        if names.iter().all(|name| has_sample(&text, name)) || Instant::now() >= deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
