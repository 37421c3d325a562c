//! Issue 13: bodies and queries PostgreSQL could not store or that are ambiguous are refused
//! alike on every backend, every error the server itself produces is JSON, and an unknown
//! commit outcome has its own documented answer. (The same NUL cases run on PostgreSQL in
//! `tests/e2e/hardening.rs`.)

use axum::http::Method;
use serde_json::{Value, json};

use super::helpers::outage::OutageStore;
use super::helpers::{ROOT, TestApp, number, position_body};

const NUL: &str = "Invalid input: text must not contain NUL (\\u0000) characters";
const DUPLICATE: &str = "Invalid input: duplicate key in JSON object";

#[track_caller]
fn assert_field_error(reply: &super::helpers::Reply, field: &str, message: &str) {
    let body = reply.expect_error(400, "Validation failed");
    assert_eq!(
        body["details"],
        json!([{ "field": field, "message": message }]),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn a_nul_character_in_any_stored_text_or_json_is_a_400_naming_the_field() {
    // Issue 13 item 1: `{"name":"a\u0000b"}` answered 500 on PostgreSQL and 201 on memory.
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let admin = &world.tenant.admin;
    let institution = &world.tenant.id;
    let cases: Vec<(String, Value, &str)> = vec![
        (
            "/institutions".into(),
            json!({ "name": "a\u{0}b", "regions": ["US"] }),
            "name",
        ),
        (
            format!("/institutions/{institution}/api-keys"),
            json!({ "label": "k\u{0}", "role": "admin" }),
            "label",
        ),
        (
            "/asset-templates".into(),
            json!({ "code": "CONSTR_ESCROW", "name": "T", "vertical": "CONSTRUCTION", "region": "US",
                    "config": { "currency": "USD", "notes": ["ok", "\u{0}"] } }),
            "config.notes.1",
        ),
        (
            "/assets".into(),
            json!({ "templateId": world.template, "label": "A", "metadata": { "k\u{0}": 1 } }),
            "metadata.k\\u0000",
        ),
        (
            "/positions".into(),
            json!({ "assetId": world.asset, "holderReference": "h\u{0}", "currency": "USD", "amount": 1 }),
            "holderReference",
        ),
        (
            "/positions".into(),
            json!({ "assetId": world.asset, "holderReference": "h", "currency": "USD", "amount": 1,
                    "externalReference": "\u{0}" }),
            "externalReference",
        ),
        (
            format!("/positions/{}/transition", world.position),
            json!({ "toState": "FUNDED", "reason": "r\u{0}" }),
            "reason",
        ),
        (
            format!("/positions/{}/transition", world.position),
            json!({ "toState": "FUNDED", "metadata": { "a": { "b": "\u{0}" } } }),
            "metadata.a.b",
        ),
    ];
    for (path, body, field) in cases {
        let key = if path == "/institutions" || path.contains("api-keys") {
            ROOT
        } else {
            admin.as_str()
        };
        let reply = app.post(&path).key(key).json(&body).send().await;
        assert_field_error(&reply, field, NUL);
    }
    // Nothing was written: the position is still CREATED.
    let position = app.get_position(admin, &world.position).await;
    assert_eq!(position.expect(200)["state"], "CREATED");
}

#[tokio::test]
async fn a_nul_character_in_a_text_query_filter_is_a_400_naming_the_parameter() {
    // Issue 13 item 1: `GET /positions?holderReference=%00` answered 500 on PostgreSQL.
    let app = TestApp::new();
    let reply = app.list_positions(ROOT, "?holderReference=%00").await;
    assert_field_error(&reply, "holderReference", NUL);
    let reply = app.list_assets(ROOT, "?label=a%00b").await;
    assert_field_error(&reply, "label", NUL);
}

#[tokio::test]
async fn a_duplicate_key_anywhere_in_a_body_is_a_400_and_creates_nothing() {
    // Issue 13 item 2: `"amount":1,"amount":1000000` created a position of 1,000,000.
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let admin = &world.tenant.admin;
    let body = format!(
        r#"{{"assetId":"{}","holderReference":"h","currency":"USD","amount":1,"amount":1000000}}"#,
        world.asset
    );
    let reply = app
        .post("/positions")
        .key(admin)
        .raw(body, Some("application/json"))
        .send()
        .await;
    assert_field_error(&reply, "amount", DUPLICATE);
    let nested = r#"{"position":{"minAmount":1,"maxAmount":5,"maxAmount":500}}"#;
    let reply = app
        .put(&format!("/institutions/{}/policies/US", world.tenant.id))
        .key(admin)
        .raw(nested, Some("application/json"))
        .send()
        .await;
    assert_field_error(&reply, "position.maxAmount", DUPLICATE);
    let listed = app.list_positions(admin, "").await;
    assert_eq!(listed.expect(200)["data"].as_array().map(Vec::len), Some(1));
    // An exact amount still arrives exactly.
    let exact = app
        .create_position(
            admin,
            position_body(&world.asset, number("12345678901234.12345678")),
        )
        .await;
    assert_eq!(
        exact.expect(201)["amount"].to_string(),
        "12345678901234.12345678"
    );
}

#[tokio::test]
async fn every_error_the_server_itself_produces_is_json() {
    // Issue 13 item 5: `GET /positions/%FF` answered 400 text/plain.
    let app = TestApp::with(|s| s.body_limit_bytes = 64);
    let big = format!(r#"{{"name":"{}","regions":["US"]}}"#, "x".repeat(100));
    let cases: Vec<(super::helpers::Reply, u16)> = vec![
        (app.get("/positions/%FF").key(ROOT).send().await, 400),
        (
            app.get("/institutions/%FF/policies/US")
                .key(ROOT)
                .send()
                .await,
            400,
        ),
        (app.get("/no-such-route").key(ROOT).send().await, 404),
        (
            app.call(Method::PATCH, "/positions").key(ROOT).send().await,
            405,
        ),
        (
            app.post("/institutions")
                .key(ROOT)
                .raw(big, Some("application/json"))
                .send()
                .await,
            413,
        ),
        (
            app.post("/institutions")
                .key(ROOT)
                .raw("{}", Some("text/plain"))
                .send()
                .await,
            415,
        ),
        (
            app.post("/institutions")
                .key(ROOT)
                .raw("{", Some("application/json"))
                .send()
                .await,
            400,
        ),
    ];
    for (reply, status) in cases {
        assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{status}: {}",
            reply.text
        );
        assert!(reply.json["error"].is_string(), "{status}: {}", reply.text);
    }
}

#[tokio::test]
async fn an_unknown_commit_outcome_is_a_503_and_the_retry_with_the_same_key_answers_correctly() {
    // Issue 13 item 4: it was a bare 500. Here the commit did apply; the retry under the same
    // Idempotency-Key runs again (the 503 is not stored) and, the position already being
    // FUNDED, the same-state transition is a no-op answering 200 with the position.
    let store = OutageStore::shared();
    let app = TestApp::on_store(store.clone(), |_| {});
    let world = app.world("Acme").await;
    let admin = &world.tenant.admin;
    store
        .unknown_next_commit
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let path = format!("/positions/{}/transition", world.position);
    let body = json!({ "toState": "FUNDED" });
    let first = app
        .post(&path)
        .key(admin)
        .header("idempotency-key", "fund-1")
        .json(&body)
        .send()
        .await;
    let error = first.expect_error(503, "Commit outcome unknown");
    assert!(
        error["details"]
            .as_str()
            .unwrap_or_default()
            .contains("same Idempotency-Key")
    );
    assert_eq!(first.header("retry-after"), Some("1"));
    assert!(!first.text.contains("10.0.0.9"));

    let retry = app
        .post(&path)
        .key(admin)
        .header("idempotency-key", "fund-1")
        .json(&body)
        .send()
        .await;
    let position = retry.expect(200);
    assert_eq!(position["state"], "FUNDED");
    assert_eq!(retry.header("idempotency-replayed"), None);
    let ledger = app
        .ledger_events(admin, &format!("?positionId={}", world.position))
        .await;
    let funded = ledger
        .expect(200)
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| e["kind"] == "POSITION_STATE_CHANGED")
                .count()
        })
        .unwrap_or_default();
    assert_eq!(funded, 1, "{}", ledger.text);
}

#[tokio::test]
async fn the_openapi_document_is_as_strict_as_the_server() {
    // Issue 13 item 7.
    let app = TestApp::new();
    let doc = app.openapi(ROOT).await.expect(200).clone();
    let paths = &doc["paths"];
    let param = |path: &str, method: &str, name: &str| -> Value {
        paths[path][method]["parameters"]
            .as_array()
            .and_then(|list| list.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no parameter {name} on {method} {path}"))
    };
    let region = param("/institutions/{id}/policies/{region}", "get", "region");
    assert!(
        region["schema"]["enum"]
            .as_array()
            .is_some_and(|e| e.contains(&json!("US")))
    );
    let id = param("/positions/{id}", "get", "id");
    assert!(
        id["schema"]["pattern"]
            .as_str()
            .is_some_and(|p| p.starts_with("^pos_"))
    );
    let limit = param("/positions", "get", "limit");
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 1000);
    assert_eq!(
        param("/positions", "get", "offset")["schema"]["anyOf"][0]["minimum"],
        0
    );
    let key = &doc["components"]["parameters"]["IdempotencyKey"]["schema"];
    assert_eq!(key["minLength"], 1);
    assert_eq!(key["maxLength"], 255);
    let currency = doc["components"]["schemas"]["NewPosition"]["properties"]["currency"]["pattern"]
        .as_str()
        .expect("currency pattern")
        .to_owned();
    assert!(currency.contains("[Uu][Ss][Dd]"), "{currency}");
    let revoke = &paths["/institutions/{id}/api-keys/{keyId}/revoke"]["post"];
    assert!(
        revoke["responses"]["400"].is_object(),
        "no 400 on key revocation"
    );
    assert!(
        param(
            "/institutions/{id}/api-keys/{keyId}/revoke",
            "post",
            "keyId"
        )["schema"]["pattern"]
            .as_str()
            .is_some_and(|p| p.starts_with("^ak_"))
    );
    // A NUL character in any query parameter is a 400, so every operation reading a query
    // documents it (Schemathesis found it missing on these two).
    for path in ["/ledger/verify", "/webhooks", "/positions"] {
        assert!(
            paths[path]["get"]["responses"]["400"].is_object(),
            "no 400 on GET {path}"
        );
    }
    assert_eq!(paths["/health"]["get"]["responses"].get("400"), None);
    // Behind a key by default; public with PUBLIC_DOCS_ENABLED.
    assert_eq!(paths["/openapi.json"]["get"].get("security"), None);
    let public = TestApp::with(|s| s.public_docs_enabled = true);
    let doc = public.get("/openapi.json").send().await.expect(200).clone();
    assert_eq!(doc["paths"]["/openapi.json"]["get"]["security"], json!([]));
    assert_eq!(doc["paths"]["/docs"]["get"]["security"], json!([]));
}

#[tokio::test]
async fn options_on_an_unknown_path_is_a_json_404_but_a_preflight_on_a_route_still_works() {
    // Issue 13 item 7: `OPTIONS` on any path, unknown ones included, answered 200.
    let app = TestApp::new();
    let unknown = app
        .call(Method::OPTIONS, "/no-such-route")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "GET")
        .send()
        .await;
    unknown.expect_error(404, "Not found");
    assert_eq!(unknown.header("content-type"), Some("application/json"));
    let preflight = app
        .call(Method::OPTIONS, "/positions")
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.text);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
}
