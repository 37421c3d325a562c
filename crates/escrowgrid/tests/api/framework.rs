//! Health, readiness, request ids, security headers, CORS and the JSON shape of framework
//! errors (404, 405, 413, 415, malformed JSON).

use axum::http::Method;
use serde_json::json;

use super::helpers::{ROOT, TestApp};

#[tokio::test]
async fn health_is_public_and_echoes_the_store_backend() {
    let app = TestApp::with(|s| s.store_backend = "memory".into());
    let reply = app.health().await;
    assert_eq!(
        reply.expect(200),
        &json!({ "status": "ok", "service": "taas-platform", "storeBackend": "memory" })
    );
}

#[tokio::test]
async fn ready_on_memory_is_ok_without_a_db_block() {
    let app = TestApp::new();
    assert_eq!(
        app.ready().await.expect(200),
        &json!({ "ok": true, "storeBackend": "memory" })
    );
}

#[tokio::test]
async fn an_incoming_request_id_is_trimmed_and_echoed_on_success_and_errors() {
    let app = TestApp::new();
    for call in [
        app.get("/health"),
        app.get("/institutions"),
        app.get("/nope").key(ROOT),
        app.call(Method::DELETE, "/institutions").key(ROOT),
    ] {
        let reply = call.header("x-request-id", "  req-42 ").send().await;
        assert_eq!(
            reply.header("x-request-id"),
            Some("req-42"),
            "status {}",
            reply.status
        );
    }
}

#[tokio::test]
async fn a_correlation_id_is_used_when_no_request_id_is_sent() {
    let app = TestApp::new();
    let reply = app
        .get("/health")
        .header("x-correlation-id", "corr-1")
        .send()
        .await;
    assert_eq!(reply.header("x-request-id"), Some("corr-1"));
}

#[tokio::test]
async fn a_request_id_is_generated_when_none_is_sent() {
    let app = TestApp::new();
    let reply = app.get("/institutions").send().await;
    let id = reply.header("x-request-id").expect("generated id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id} is not a uuid");
}

#[tokio::test]
async fn security_headers_are_set_on_every_response() {
    let app = TestApp::new();
    for reply in [app.health().await, app.get("/institutions").send().await] {
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(reply.header("x-xss-protection"), Some("0"));
        assert_eq!(
            reply.header("cross-origin-opener-policy"),
            Some("same-origin")
        );
        assert_eq!(
            reply.header("cross-origin-resource-policy"),
            Some("same-origin")
        );
    }
}

#[tokio::test]
async fn an_unknown_route_is_404_json_for_authenticated_callers() {
    let app = TestApp::new();
    app.get("/nope")
        .key(ROOT)
        .send()
        .await
        .expect_error(404, "Not found");
}

#[tokio::test]
async fn an_unknown_route_without_a_key_is_401_as_in_the_original() {
    let app = TestApp::new();
    app.get("/nope")
        .send()
        .await
        .expect_error(401, "Missing API key");
}

#[tokio::test]
async fn a_wrong_method_is_405_json_with_an_allow_header() {
    let app = TestApp::new();
    let reply = app
        .call(Method::DELETE, "/institutions")
        .key(ROOT)
        .send()
        .await;
    reply.expect_error(405, "Method not allowed");
    let allow = reply.header("allow").expect("allow header");
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "allow: {allow}"
    );
}

#[tokio::test]
async fn malformed_json_is_400_json() {
    let app = TestApp::new();
    let reply = app
        .post("/institutions")
        .key(ROOT)
        .raw("{\"name\": ", Some("application/json"))
        .send()
        .await;
    let body = reply.expect_error(400, "Invalid JSON body");
    assert!(body["details"].is_string());
}

#[tokio::test]
async fn a_json_body_that_is_not_an_object_fails_validation() {
    let app = TestApp::new();
    let reply = app
        .post("/institutions")
        .key(ROOT)
        .raw("[1,2]", Some("application/json"))
        .send()
        .await;
    reply.expect_error(400, "Validation failed");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_json() {
    let app = TestApp::new();
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let reply = app
        .post("/institutions")
        .key(ROOT)
        .raw(big, Some("application/json"))
        .send()
        .await;
    reply.expect_error(413, "Request body too large");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_json_on_an_idempotent_request_too() {
    let app = TestApp::new();
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let reply = app
        .post("/institutions")
        .key(ROOT)
        .header("idempotency-key", "big-1")
        .raw(big, Some("application/json"))
        .send()
        .await;
    reply.expect_error(413, "Request body too large");
}

#[tokio::test]
async fn a_non_json_content_type_is_415_json() {
    let app = TestApp::new();
    let reply = app
        .post("/institutions")
        .key(ROOT)
        .raw("name=x", Some("text/plain"))
        .send()
        .await;
    reply.expect_error(415, "Content-Type must be application/json");
}

#[tokio::test]
async fn an_empty_body_is_read_as_an_empty_object_and_lists_every_missing_field() {
    let app = TestApp::new();
    let reply = app.post("/institutions").key(ROOT).send().await;
    reply.expect_error(400, "Validation failed");
    assert_eq!(reply.detail_fields(), vec!["name", "regions"]);
}

#[tokio::test]
async fn cors_allows_the_development_origins_outside_production() {
    let app = TestApp::new();
    let reply = app
        .call(Method::OPTIONS, "/institutions")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await;
    assert!(
        reply.status.is_success(),
        "preflight status {}",
        reply.status
    );
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(reply.header("x-request-id").is_some());
}

#[tokio::test]
async fn cors_rejects_origins_outside_the_configured_list() {
    let app =
        TestApp::with(|s| s.cors_allowed_origins = Some(vec!["https://admin.example".into()]));
    let allowed = app
        .get("/health")
        .header("origin", "https://admin.example")
        .send()
        .await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://admin.example")
    );
    let other = app
        .get("/health")
        .header("origin", "http://localhost:5173")
        .send()
        .await;
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn production_without_configured_origins_sends_no_cors_headers() {
    let app = TestApp::with(|s| s.production = true);
    let reply = app
        .get("/health")
        .header("origin", "http://localhost:5173")
        .send()
        .await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
}
