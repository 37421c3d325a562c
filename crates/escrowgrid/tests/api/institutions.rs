//! `/institutions`.

use escrowgrid::domain::AuditAction;
use escrowgrid::store::{AuditFilter, Page, Scope};
use serde_json::json;

use super::helpers::{ROOT, TestApp};

#[tokio::test]
async fn root_creates_an_institution_with_default_verticals() {
    let app = TestApp::new();
    let reply = app
        .create_institution(ROOT, json!({ "name": "Acme", "regions": ["US"] }))
        .await;
    let body = reply.expect(201);
    assert!(body["id"].as_str().expect("id").starts_with("inst_"));
    assert_eq!(body["name"], "Acme");
    assert_eq!(body["regions"], json!(["US"]));
    assert_eq!(body["verticals"], json!(["CONSTRUCTION", "TRADE_FINANCE"]));
    let created_at = body["createdAt"].as_str().expect("createdAt");
    assert!(
        created_at.ends_with('Z') && created_at.len() == 24,
        "{created_at}"
    );
    assert_eq!(body["createdAt"], body["updatedAt"]);
}

#[tokio::test]
async fn institution_creation_is_audited_with_the_request_id() {
    let app = TestApp::new();
    app.post("/institutions")
        .key(ROOT)
        .header("x-request-id", "req-inst-1")
        .json(&json!({ "name": "Acme", "regions": ["US"] }))
        .send()
        .await
        .expect(201);
    let filter = AuditFilter {
        action: Some(AuditAction::InstitutionCreated),
        ..AuditFilter::default()
    };
    let rows = app
        .store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .expect("audit");
    assert_eq!(rows.items.len(), 1);
    assert_eq!(rows.items[0].request_id.as_deref(), Some("req-inst-1"));
    assert_eq!(rows.items[0].path, "/institutions");
    assert_eq!(rows.items[0].method, "POST");
}

#[tokio::test]
async fn only_root_creates_institutions() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    for key in [&tenant.admin, &tenant.read_only] {
        let reply = app
            .create_institution(key, json!({ "name": "X", "regions": ["US"] }))
            .await;
        assert_eq!(
            reply.expect(403),
            &json!({ "error": "Forbidden", "details": "Only root can create institutions" })
        );
    }
}

#[tokio::test]
async fn every_bad_institution_field_is_listed() {
    let app = TestApp::new();
    let reply = app
        .create_institution(
            ROOT,
            json!({ "name": "", "regions": ["US", "MARS"], "verticals": "all" }),
        )
        .await;
    reply.expect_error(400, "Validation failed");
    let details = &reply.json["details"];
    assert!(
        details
            .as_array()
            .expect("details")
            .contains(&json!({ "field": "name", "message": "Name is required" }))
    );
    assert!(details.as_array().expect("details").contains(&json!({
        "field": "regions.1",
        "message": "Invalid option: expected one of \"US\"|\"EU_UK\"|\"SG\"|\"UAE\""
    })));
    assert!(reply.detail_fields().contains(&"verticals".to_owned()));
}

#[tokio::test]
async fn missing_and_mistyped_fields_say_what_was_expected() {
    let app = TestApp::new();
    let reply = app
        .create_institution(ROOT, json!({ "name": 7, "regions": [] }))
        .await;
    reply.expect_error(400, "Validation failed");
    assert_eq!(
        reply.json["details"],
        json!([
            { "field": "name", "message": "Invalid input: expected string, received number" },
            { "field": "regions", "message": "At least one region is required" },
        ])
    );
}

#[tokio::test]
async fn root_lists_every_institution_by_creation_time_then_id() {
    let app = TestApp::new();
    for name in ["A", "B", "C"] {
        app.create_institution(ROOT, json!({ "name": name, "regions": ["SG"] }))
            .await
            .expect(201);
    }
    let listed = app.list_institutions(ROOT).await;
    let items = listed.expect(200).as_array().expect("list");
    let keys: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["createdAt"].as_str().expect("at").to_owned(),
                i["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let mut names: Vec<_> = items
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["A", "B", "C"]);
}

#[tokio::test]
async fn a_key_lists_only_its_own_institution() {
    let app = TestApp::new();
    let acme = app.tenant("Acme").await;
    app.tenant("Other").await;
    let list = app.list_institutions(&acme.read_only).await;
    let items = list.expect(200).as_array().expect("list");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], acme.id.as_str());
}

#[tokio::test]
async fn an_institution_is_fetched_by_id_and_unknown_or_malformed_ids_are_404() {
    let app = TestApp::new();
    let acme = app.tenant("Acme").await;
    app.get_institution(&acme.admin, &acme.id).await.expect(200);
    app.get_institution(ROOT, "inst_00000000-0000-4000-8000-000000000000")
        .await
        .expect_error(404, "Institution not found");
    app.get_institution(ROOT, "garbage")
        .await
        .expect_error(404, "Institution not found");
}

#[tokio::test]
async fn unknown_body_keys_are_ignored() {
    let app = TestApp::new();
    let reply = app
        .create_institution(
            ROOT,
            json!({ "name": "Acme", "regions": ["US"], "id": "inst_mine", "admin": true }),
        )
        .await;
    let body = reply.expect(201);
    assert_ne!(body["id"], "inst_mine");
    assert!(body.get("admin").is_none());
}
