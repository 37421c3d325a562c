//! An instance's API calls as root (or any key), and polling its deliveries.

use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use gridstore::NewEvent;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Instance, ROOT};

impl Instance {
    /// Calls `path` with `key` and an optional JSON body: the status and the JSON answer
    /// (`null` when the answer is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", key);
        let body = match body {
            Some(body) => {
                builder = builder.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&body).expect("json"))
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(builder.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// The Prometheus text of `/metrics/prometheus` (root).
    pub async fn prometheus(&self) -> String {
        let request = Request::builder()
            .uri("/metrics/prometheus")
            .header("x-api-key", ROOT)
            .body(Body::empty())
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A new institution (root) and an admin and a read-only key: `(id, admin, read_only)`.
    pub async fn tenant(&self, name: &str) -> (String, String, String) {
        let (status, institution) = self
            .call(
                Method::POST,
                "/institutions",
                ROOT,
                Some(json!({"name": name, "regions": ["US"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{institution}");
        let id = institution["id"].as_str().expect("id").to_owned();
        let mut keys = Vec::new();
        for role in ["admin", "read_only"] {
            let (status, key) = self
                .call(
                    Method::POST,
                    &format!("/institutions/{id}/api-keys"),
                    ROOT,
                    Some(json!({"label": role, "role": role})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{key}");
            keys.push(key["apiKey"].as_str().expect("token").to_owned());
        }
        let read_only = keys.pop().expect("read-only key");
        let admin = keys.pop().expect("admin key");
        (id, admin, read_only)
    }

    /// Registers an endpoint as root: `(webhook id, secret)`.
    pub async fn webhook(&self, institution: &str, url: &str, types: &[&str]) -> (String, String) {
        let (status, body) = self
            .call(
                Method::POST,
                "/webhooks",
                ROOT,
                Some(json!({"institutionId": institution, "url": url, "eventTypes": types})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["id"].as_str().expect("id").to_owned(),
            body["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Appends contract events (`(type, position)`) to the institution's stream, one append
    /// each (one transaction each, like the outbox); returns their event ids in order.
    pub async fn emit(&self, institution: &str, events: &[(&str, Option<&str>)]) -> Vec<String> {
        let mut ids = Vec::new();
        for (event_type, position) in events {
            let id = format!("evt_{}", uuid::Uuid::new_v4());
            let data = match position {
                Some(position) => json!({"id": position, "n": ids.len()}),
                None => json!({"n": ids.len()}),
            };
            let payload = json!({
                "id": id, "type": event_type, "institutionId": institution,
                "occurredAt": "2026-11-30T01:02:03.456Z", "data": data,
            });
            let mut event = NewEvent::new(format!("inst:{institution}"), *event_type, payload);
            if let Some(position) = position {
                event = event.with_correlation_id(*position);
            }
            self.ports.events.append(vec![event]).await.expect("append");
            ids.push(id);
        }
        ids
    }
}

/// Polls the endpoint's deliveries until one satisfies `wanted`; returns it.
pub async fn wait_for_delivery(
    instance: &Instance,
    webhook: &str,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let (status, page) = instance
            .call(
                Method::GET,
                &format!("/webhooks/{webhook}/deliveries"),
                ROOT,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        if let Some(found) = page["data"]
            .as_array()
            .and_then(|items| items.iter().find(|d| wanted(d)))
        {
            return found.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
