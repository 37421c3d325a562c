//! `/metrics`, `/metrics/prometheus`, `/openapi.json` and `/docs`.

use escrowgrid::api::routes::route_list;
use serde_json::json;

use super::helpers::{ROOT, TestApp};

#[tokio::test]
async fn metrics_are_root_only() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    for path in ["/metrics", "/metrics/prometheus"] {
        let reply = app.get(path).key(&tenant.admin).send().await;
        assert_eq!(
            reply.expect(403),
            &json!({ "error": "Forbidden: metrics are root-only" })
        );
    }
}

#[tokio::test]
async fn the_json_metrics_count_requests_by_status_and_method() {
    let app = TestApp::new();
    app.health().await.expect(200);
    app.get("/institutions").send().await.expect(401);
    let reply = app.metrics(ROOT).await;
    let body = reply.expect(200);
    assert_eq!(body["totalRequests"], 2);
    assert_eq!(body["totalErrors"], 0);
    assert_eq!(body["requestsByStatus"], json!({ "200": 1, "401": 1 }));
    assert_eq!(body["requestsByMethod"], json!({ "GET": 2 }));
    assert!(body["averageDurationMs"].is_number());
}

#[tokio::test]
async fn the_prometheus_text_has_the_taas_series_and_route_histograms() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    app.get_position(
        &world.tenant.admin,
        "pos_00000000-0000-4000-8000-000000000000",
    )
    .await
    .expect(404);
    let reply = app.metrics_prometheus(ROOT).await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for series in [
        "taas_requests_total ",
        "taas_requests_errors_total 0",
        "taas_requests_status_total{status=\"201\"}",
        "taas_requests_method_total{method=\"POST\"}",
        "taas_requests_duration_average_ms ",
        "taas_http_request_duration_seconds_bucket{method=\"POST\",route=\"/positions\",le=\"+Inf\"} 1",
        "taas_http_request_duration_seconds_count{method=\"GET\",route=\"/positions/{id}\"} 1",
        "taas_store_errors_total{kind=\"not_found\"} 1",
    ] {
        assert!(
            reply.text.contains(series),
            "missing {series:?} in\n{}",
            reply.text
        );
    }
    assert!(!reply.text.contains("taas_db_pool"), "no pool on memory");
}

#[tokio::test]
async fn disabled_metrics_answer_404_before_the_role_check() {
    let app = TestApp::with(|s| s.metrics_enabled = false);
    let tenant = app.tenant("Acme").await;
    let json_reply = app.metrics(&tenant.read_only).await;
    assert_eq!(
        json_reply.expect(404),
        &json!({ "error": "Metrics disabled by configuration" })
    );
    let text = app.metrics_prometheus(ROOT).await;
    assert_eq!(text.status.as_u16(), 404);
    assert_eq!(text.text, "# metrics disabled\n");
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_covers_every_route() {
    let app = TestApp::new();
    let reply = app.openapi(ROOT).await;
    let doc = reply.expect(200);
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = route_list();
    assert!(routes.len() >= 24, "only {} routes", routes.len());
    for (method, path) in routes {
        let operation = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} is missing from the OpenAPI document"
        );
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
    }
    for path in [
        "/institutions/{id}/api-keys/{keyId}/revoke",
        "/audit-events",
        "/ready",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["Position"]["properties"]["amount"].is_object());
}

#[tokio::test]
async fn every_documented_route_is_served_by_the_router() {
    let app = TestApp::new();
    for (method, path) in route_list() {
        let concrete = path
            .replace("{id}", "x1")
            .replace("{keyId}", "x2")
            .replace("{region}", "US");
        let reply = app
            .call(method.clone(), &concrete)
            .key(ROOT)
            .json(&json!({}))
            .send()
            .await;
        let unmatched = reply.status.as_u16() == 405 || reply.json["error"] == "Not found";
        assert!(
            !unmatched,
            "{method} {path} is not routed: {} {}",
            reply.status, reply.text
        );
    }
}

#[tokio::test]
async fn the_docs_page_lists_operations_without_external_scripts() {
    let app = TestApp::new();
    let page = app.docs(ROOT).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("/positions/{id}/transition"));
    assert!(!page.text.contains("<script"));
}

/// Checks that `value` has every required property of `schema` and no undocumented one.
fn check_shape(
    doc: &serde_json::Value,
    name: &str,
    value: &serde_json::Value,
    problems: &mut Vec<String>,
) {
    let schema = &doc["components"]["schemas"][name];
    let parts: Vec<&serde_json::Value> = match schema["allOf"].as_array() {
        Some(parts) => parts
            .iter()
            .map(|part| match part["$ref"].as_str() {
                Some(reference) => {
                    &doc["components"]["schemas"]
                        [reference.trim_start_matches("#/components/schemas/")]
                }
                None => part,
            })
            .collect(),
        None => vec![schema],
    };
    let mut properties = std::collections::HashSet::new();
    let mut required = Vec::new();
    for part in parts {
        properties.extend(
            part["properties"]
                .as_object()
                .expect("properties")
                .keys()
                .cloned(),
        );
        required.extend(
            part["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_owned)),
        );
    }
    let object = value.as_object().expect("an object");
    for key in object.keys() {
        if !properties.contains(key) {
            problems.push(format!("{name}: property {key} is not documented"));
        }
    }
    for key in required {
        if !object.contains_key(&key) {
            problems.push(format!("{name}: required property {key} is missing"));
        }
    }
}

#[tokio::test]
async fn the_documented_schemas_match_the_real_responses() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = &world.tenant.admin;
    app.transition(
        key,
        &world.position,
        json!({ "toState": "FUNDED", "reason": "r", "metadata": {} }),
    )
    .await
    .expect(200);
    app.put_policy(
        key,
        &world.tenant.id,
        "US",
        json!({ "position": { "minAmount": 1, "allowedCurrencies": ["USD"] } }),
    )
    .await
    .expect(200);
    let created_key = app
        .create_api_key(
            key,
            &world.tenant.id,
            json!({ "label": "l", "role": "admin" }),
        )
        .await;
    let doc = app.openapi(ROOT).await.json;
    let position = app.get_position(key, &world.position).await.json;
    let ledger = app
        .ledger_events(key, &format!("?positionId={}", world.position))
        .await
        .json;
    let audit = app.audit_events(ROOT, "").await.json;
    let samples = vec![
        (
            "Institution",
            app.get_institution(key, &world.tenant.id).await.json,
        ),
        (
            "AssetTemplate",
            app.get_template(key, &world.template).await.json,
        ),
        ("Asset", app.get_asset(key, &world.asset).await.json),
        ("PositionLifecycleEvent", position["events"][0].clone()),
        ("Position", position),
        ("LedgerEvent", ledger[0].clone()),
        ("LedgerEvent", ledger[1].clone()),
        (
            "InstitutionPolicy",
            app.get_policy(key, &world.tenant.id, "US").await.json,
        ),
        ("CreatedApiKey", created_key.json.clone()),
        (
            "ApiKey",
            app.list_api_keys(key, &world.tenant.id).await.json[0].clone(),
        ),
        ("AuditEvent", audit["data"][0].clone()),
        ("Health", app.health().await.json),
        ("Ready", app.ready().await.json),
        ("Metrics", app.metrics(ROOT).await.json),
        ("Error", app.get("/nope").key(ROOT).send().await.json),
    ];
    let mut problems = Vec::new();
    for (name, value) in &samples {
        check_shape(&doc, name, value, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn unusual_methods_share_one_metrics_label() {
    let app = TestApp::new();
    for method in ["FOO", "BAR"] {
        let method = axum::http::Method::from_bytes(method.as_bytes()).expect("method");
        app.call(method, "/institutions")
            .key(ROOT)
            .send()
            .await
            .expect(405);
    }
    let body = app.metrics(ROOT).await.json;
    assert_eq!(body["requestsByMethod"], json!({ "OTHER": 2 }));
}
