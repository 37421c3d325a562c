//! `/institutions/{id}/api-keys`.

use serde_json::json;

use super::helpers::{ROOT, TestApp};

#[tokio::test]
async fn an_api_key_is_created_once_with_its_token() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let reply = app
        .create_api_key(
            &tenant.admin,
            &tenant.id,
            json!({ "label": "ci", "role": "read_only" }),
        )
        .await;
    let body = reply.expect(201);
    assert!(body["id"].as_str().expect("id").starts_with("ak_"));
    let token = body["apiKey"].as_str().expect("token");
    assert_eq!(token.len(), 3 + 48);
    assert_eq!(body["institutionId"], tenant.id.as_str());
    assert_eq!(body["label"], "ci");
    assert_eq!(body["role"], "read_only");
    assert!(body.get("keyHash").is_none());
    assert!(body.get("revokedAt").is_none());
    app.list_institutions(token).await.expect(200);
}

#[tokio::test]
async fn keys_are_listed_without_secrets_and_revoked_ones_disappear() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let listed = app.list_api_keys(&tenant.admin, &tenant.id).await;
    let keys = listed.expect(200).as_array().expect("keys").clone();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .all(|k| k.get("apiKey").is_none() && k.get("keyHash").is_none())
    );
    let revoked = app
        .revoke_api_key(ROOT, &tenant.id, &tenant.admin_key_id)
        .await;
    let body = revoked.expect(200);
    assert!(body["revokedAt"].is_string());
    assert_eq!(
        app.list_api_keys(ROOT, &tenant.id)
            .await
            .expect(200)
            .as_array()
            .expect("keys")
            .len(),
        1
    );
}

#[tokio::test]
async fn a_second_revoke_is_404() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    app.revoke_api_key(ROOT, &tenant.id, &tenant.admin_key_id)
        .await
        .expect(200);
    app.revoke_api_key(ROOT, &tenant.id, &tenant.admin_key_id)
        .await
        .expect_error(404, "API key not found or already revoked");
    app.revoke_api_key(ROOT, &tenant.id, "ak_nope")
        .await
        .expect_error(404, "API key not found or already revoked");
}

#[tokio::test]
async fn a_key_of_another_institution_cannot_be_revoked_through_this_one() {
    let app = TestApp::new();
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    app.revoke_api_key(ROOT, &acme.id, &other.admin_key_id)
        .await
        .expect_error(404, "API key not found or already revoked");
}

#[tokio::test]
async fn read_only_keys_cannot_manage_keys() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    app.create_api_key(
        &tenant.read_only,
        &tenant.id,
        json!({ "label": "x", "role": "admin" }),
    )
    .await
    .expect_error(403, "Forbidden to create API keys for this institution");
    app.list_api_keys(&tenant.read_only, &tenant.id)
        .await
        .expect_error(403, "Forbidden to list API keys for this institution");
    app.revoke_api_key(&tenant.read_only, &tenant.id, &tenant.admin_key_id)
        .await
        .expect_error(403, "Forbidden to revoke API keys for this institution");
}

#[tokio::test]
async fn the_institution_is_checked_before_the_body() {
    let app = TestApp::new();
    let missing = "inst_00000000-0000-4000-8000-000000000000";
    app.create_api_key(ROOT, missing, json!({}))
        .await
        .expect_error(404, "Institution not found");
}

#[tokio::test]
async fn every_bad_key_field_is_listed() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let reply = app
        .create_api_key(ROOT, &tenant.id, json!({ "label": "", "role": "owner" }))
        .await;
    reply.expect_error(400, "Validation failed");
    let mut fields = reply.detail_fields();
    fields.sort();
    assert_eq!(fields, vec!["label", "role"]);
}
