//! `/asset-templates` and `/assets`.

use serde_json::json;

use super::helpers::{ROOT, TestApp, number, position_body, template_body};

#[tokio::test]
async fn a_template_is_created_for_the_key_institution() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let reply = app.create_template(&tenant.admin, template_body()).await;
    let body = reply.expect(201);
    assert!(body["id"].as_str().expect("id").starts_with("tmpl_"));
    assert_eq!(body["institutionId"], tenant.id.as_str());
    assert_eq!(body["code"], "CONSTR_ESCROW");
    assert_eq!(body["config"], json!({ "currency": "USD", "region": "US" }));
    let id = reply.id();
    assert_eq!(
        app.get_template(&tenant.read_only, &id).await.expect(200),
        body
    );
}

#[tokio::test]
async fn root_must_name_the_institution_of_a_template() {
    let app = TestApp::new();
    let reply = app.create_template(ROOT, template_body()).await;
    assert_eq!(
        reply.expect(400),
        &json!({ "error": "Invalid institution context", "details": "Institution must be specified or derived from API key" })
    );
    let mut body = template_body();
    body["institutionId"] = json!("inst_00000000-0000-4000-8000-000000000000");
    let unknown = app.create_template(ROOT, body).await;
    assert_eq!(
        unknown.expect(400),
        &json!({ "error": "Failed to create asset template", "details": "Institution not found" })
    );
}

#[tokio::test]
async fn a_key_cannot_create_templates_for_another_institution() {
    let app = TestApp::new();
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let mut body = template_body();
    body["institutionId"] = json!(other.id);
    let reply = app.create_template(&acme.admin, body).await;
    assert_eq!(
        reply.expect(403),
        &json!({ "error": "Forbidden", "details": "Cannot create templates for a different institution" })
    );
    app.create_template(&acme.read_only, template_body())
        .await
        .expect_error(403, "Write access forbidden for read_only API key");
}

#[tokio::test]
async fn template_config_rules_answer_with_the_rule_message() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let mut no_region = template_body();
    no_region["config"] = json!({ "currency": "USD" });
    let reply = app.create_template(&tenant.admin, no_region).await;
    assert_eq!(
        reply.expect(400),
        &json!({ "error": "Failed to create asset template", "details": "CONSTR_ESCROW config requires a region" })
    );
    let mut mismatch = template_body();
    mismatch["code"] = json!("TF_LC");
    let reply = app.create_template(&tenant.admin, mismatch).await;
    reply.expect_error(400, "Failed to create asset template");
    assert!(
        reply.json["details"]
            .as_str()
            .expect("details")
            .contains("TF_LC")
    );
}

#[tokio::test]
async fn every_bad_template_field_is_listed() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let reply = app
        .create_template(
            &tenant.admin,
            json!({ "code": "NOPE", "name": "", "vertical": 1, "config": [] }),
        )
        .await;
    reply.expect_error(400, "Validation failed");
    let mut fields = reply.detail_fields();
    fields.sort();
    assert_eq!(fields, vec!["code", "config", "name", "region", "vertical"]);
}

#[tokio::test]
async fn template_lists_are_paginated_and_tenant_scoped() {
    let app = TestApp::new();
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    for _ in 0..3 {
        app.create_template(&acme.admin, template_body())
            .await
            .expect(201);
    }
    app.create_template(&other.admin, template_body())
        .await
        .expect(201);
    let page = app
        .get("/asset-templates?limit=2&offset=1")
        .key(&acme.read_only)
        .send()
        .await;
    let body = page.expect(200);
    assert_eq!(body["data"].as_array().expect("data").len(), 2);
    assert_eq!(
        body["pagination"],
        json!({ "total": 3, "limit": 2, "offset": 1, "hasMore": false, "nextCursor": null })
    );
    let ignored = app
        .get(&format!("/asset-templates?institutionId={}", other.id))
        .key(&acme.admin)
        .send()
        .await;
    assert_eq!(ignored.expect(200)["pagination"]["total"], 3);
    let root_all = app.list_templates(ROOT, "").await;
    assert_eq!(root_all.expect(200)["pagination"]["total"], 4);
    let root_filtered = app
        .get(&format!("/asset-templates?institutionId={}", other.id))
        .key(ROOT)
        .send()
        .await;
    assert_eq!(root_filtered.expect(200)["pagination"]["total"], 1);
}

#[tokio::test]
async fn bad_pagination_parameters_are_listed() {
    let app = TestApp::new();
    let reply = app
        .get("/asset-templates?limit=1001&offset=-2")
        .key(ROOT)
        .send()
        .await;
    reply.expect_error(400, "Invalid pagination parameters");
    assert_eq!(
        reply.json["details"],
        json!([
            { "field": "limit", "message": "Limit must not exceed 1000" },
            { "field": "offset", "message": "Offset must be non-negative" },
        ])
    );
}

#[tokio::test]
async fn unknown_templates_and_assets_are_404() {
    let app = TestApp::new();
    app.get_template(ROOT, "tmpl_00000000-0000-4000-8000-000000000000")
        .await
        .expect_error(404, "Asset template not found");
    app.get_asset(ROOT, "nope")
        .await
        .expect_error(404, "Asset not found");
}

#[tokio::test]
async fn an_asset_is_created_with_empty_metadata_by_default() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let reply = app.get_asset(&world.tenant.read_only, &world.asset).await;
    let body = reply.expect(200);
    assert!(world.asset.starts_with("ast_"));
    assert_eq!(body["templateId"], world.template.as_str());
    assert_eq!(body["metadata"], json!({}));
    assert_eq!(body["label"], "Tower A");
}

#[tokio::test]
async fn an_asset_needs_a_template_of_its_own_institution() {
    let app = TestApp::new();
    let acme = app.world("Acme").await;
    let other = app.tenant("Other").await;
    let reply = app
        .create_asset(
            &other.admin,
            json!({ "templateId": acme.template, "label": "x" }),
        )
        .await;
    assert_eq!(
        reply.expect(400),
        &json!({ "error": "Failed to create asset", "details": "Asset template not found for institution" })
    );
    let malformed = app
        .create_asset(
            &other.admin,
            json!({ "templateId": "tmpl_bad", "label": "x" }),
        )
        .await;
    malformed.expect_error(400, "Failed to create asset");
    let mut body = json!({ "templateId": acme.template, "label": "x" });
    body["institutionId"] = json!(acme.tenant.id);
    app.create_asset(&other.admin, body)
        .await
        .expect_error(403, "Forbidden");
}

#[tokio::test]
async fn every_bad_asset_field_is_listed() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let deep = (0..11).fold(json!({}), |inner, _| json!({ "a": inner }));
    let reply = app
        .create_asset(
            &tenant.admin,
            json!({ "templateId": "", "label": "", "metadata": deep }),
        )
        .await;
    reply.expect_error(400, "Validation failed");
    assert_eq!(
        reply.detail_fields(),
        vec!["templateId", "label", "metadata"]
    );
    assert_eq!(
        reply.json["details"][2]["message"],
        "Metadata nesting depth must not exceed 10 levels"
    );
}

#[tokio::test]
async fn assets_are_filtered_by_template() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let second = app
        .create_template(&world.tenant.admin, template_body())
        .await
        .id();
    app.create_asset(
        &world.tenant.admin,
        json!({ "templateId": second, "label": "B" }),
    )
    .await
    .expect(201);
    let all = app.list_assets(&world.tenant.admin, "").await;
    assert_eq!(all.expect(200)["pagination"]["total"], 2);
    let filtered = app
        .get(&format!("/assets?templateId={second}"))
        .key(&world.tenant.admin)
        .send()
        .await;
    let body = filtered.expect(200);
    assert_eq!(body["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["label"], "B");
}

#[tokio::test]
async fn template_limits_are_enforced_on_positions() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let mut template = template_body();
    template["config"] =
        json!({ "currency": "USD", "region": "US", "minAmount": 100, "maxAmount": 200 });
    let template = app.create_template(&tenant.admin, template).await.id();
    let asset = app
        .create_asset(
            &tenant.admin,
            json!({ "templateId": template, "label": "A" }),
        )
        .await
        .id();
    let below = app
        .create_position(&tenant.admin, position_body(&asset, number("99.5")))
        .await;
    assert_eq!(
        below.expect(400),
        &json!({ "error": "Amount below minimum for template", "details": "minAmount=100" })
    );
    let above = app
        .create_position(&tenant.admin, position_body(&asset, number("200.01")))
        .await;
    assert_eq!(
        above.expect(400),
        &json!({ "error": "Amount above maximum for template", "details": "maxAmount=200" })
    );
    app.create_position(&tenant.admin, position_body(&asset, number("200")))
        .await
        .expect(201);
}
