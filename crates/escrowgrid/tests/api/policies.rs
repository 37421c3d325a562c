//! `/institutions/{id}/policies[/{region}]` and policy enforcement on position creation.

use escrowgrid::domain::AuditAction;
use escrowgrid::store::{AuditFilter, Page, Scope};
use serde_json::json;

use super::helpers::{ROOT, TestApp, number, position_body};

#[tokio::test]
async fn a_policy_is_upserted_with_its_region_twice_and_exact_amounts() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let body = json!({ "position": { "minAmount": number("10.5"), "maxAmount": number("12345678901234.12345678"), "allowedCurrencies": ["usd", "EUR"] } });
    let reply = app.put_policy(&tenant.admin, &tenant.id, "US", body).await;
    let policy = reply.expect(200);
    assert!(policy["id"].as_str().expect("id").starts_with("pol_"));
    assert_eq!(policy["institutionId"], tenant.id.as_str());
    assert_eq!(policy["region"], "US");
    assert_eq!(policy["config"]["region"], "US");
    assert!(
        reply.text.contains("\"maxAmount\":12345678901234.12345678"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("\"minAmount\":10.5"), "{}", reply.text);
    assert_eq!(
        policy["config"]["position"]["allowedCurrencies"],
        json!(["USD", "EUR"])
    );
}

#[tokio::test]
async fn a_second_upsert_keeps_id_and_creation_time_and_replaces_the_rules() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let first = app
        .put_policy(
            ROOT,
            &tenant.id,
            "SG",
            json!({ "position": { "minAmount": 5 } }),
        )
        .await;
    let second = app
        .put_policy(ROOT, &tenant.id, "SG", json!({ "position": {} }))
        .await;
    let (first, second) = (first.expect(200), second.expect(200));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["createdAt"], second["createdAt"]);
    assert_eq!(second["config"]["position"], json!({}));
    let fetched = app.get_policy(&tenant.read_only, &tenant.id, "SG").await;
    assert_eq!(fetched.expect(200), second);
    let listed = app.list_policies(&tenant.read_only, &tenant.id).await;
    assert_eq!(listed.expect(200).as_array().expect("list").len(), 1);
}

#[tokio::test]
async fn policy_updates_are_audited() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    app.put(&format!("/institutions/{}/policies/US", tenant.id))
        .key(&tenant.admin)
        .header("x-request-id", "req-policy")
        .json(&json!({ "position": {} }))
        .send()
        .await
        .expect(200);
    let filter = AuditFilter {
        action: Some(AuditAction::PolicyUpdated),
        ..AuditFilter::default()
    };
    let rows = app
        .store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .expect("audit");
    assert_eq!(rows.items.len(), 1);
    assert_eq!(rows.items[0].request_id.as_deref(), Some("req-policy"));
}

#[tokio::test]
async fn read_only_keys_cannot_modify_policies() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    app.put_policy(
        &tenant.read_only,
        &tenant.id,
        "US",
        json!({ "position": {} }),
    )
    .await
    .expect_error(403, "Forbidden to modify policies for this institution");
}

#[tokio::test]
async fn an_invalid_region_is_400_and_a_missing_policy_404() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    app.get_policy(ROOT, &tenant.id, "MARS")
        .await
        .expect_error(400, "Invalid region");
    app.put_policy(ROOT, &tenant.id, "MARS", json!({ "position": {} }))
        .await
        .expect_error(400, "Invalid region");
    app.get_policy(ROOT, &tenant.id, "UAE")
        .await
        .expect_error(404, "Policy not found");
    let missing = "inst_00000000-0000-4000-8000-000000000000";
    app.get_policy(ROOT, missing, "UAE")
        .await
        .expect_error(404, "Institution not found");
    app.list_policies(ROOT, missing)
        .await
        .expect_error(404, "Institution not found");
}

#[tokio::test]
async fn every_bad_policy_field_is_listed() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let reply = app
        .put_policy(ROOT, &tenant.id, "US", json!({ "position": { "minAmount": "5", "maxAmount": 0, "allowedCurrencies": ["USD", "XXX", 3] } }))
        .await;
    reply.expect_error(400, "Validation failed");
    assert_eq!(
        reply.detail_fields(),
        vec![
            "position.minAmount",
            "position.maxAmount",
            "position.maxAmount",
            "position.allowedCurrencies.1",
            "position.allowedCurrencies.2"
        ]
    );
    assert_eq!(
        reply.json["details"][3]["message"],
        "Invalid currency code: XXX. Must be a valid ISO 4217 code."
    );
    let missing = app.put_policy(ROOT, &tenant.id, "US", json!({})).await;
    missing.expect_error(400, "Validation failed");
    assert_eq!(missing.detail_fields(), vec!["position"]);
}

#[tokio::test]
async fn a_minimum_above_the_maximum_is_rejected() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let reply = app
        .put_policy(
            ROOT,
            &tenant.id,
            "US",
            json!({ "position": { "minAmount": 10, "maxAmount": 5 } }),
        )
        .await;
    assert_eq!(
        reply.expect(400)["details"],
        json!([{ "field": "position", "message": "minAmount must be less than or equal to maxAmount" }])
    );
}

#[tokio::test]
async fn positions_outside_the_policy_are_rejected_with_the_original_strings() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let (key, tenant) = (&world.tenant.admin, &world.tenant.id);
    let rules =
        json!({ "position": { "minAmount": 10, "maxAmount": 100, "allowedCurrencies": ["EUR"] } });
    app.put_policy(key, tenant, "US", rules).await.expect(200);
    let below = app
        .create_position(key, position_body(&world.asset, number("9.99999999")))
        .await;
    assert_eq!(
        below.expect(400),
        &json!({ "error": "Amount below minimum for policy", "details": "minAmount=10" })
    );
    let above = app
        .create_position(key, position_body(&world.asset, number("100.00000001")))
        .await;
    assert_eq!(
        above.expect(400),
        &json!({ "error": "Amount above maximum for policy", "details": "maxAmount=100" })
    );
    let currency = app
        .create_position(key, position_body(&world.asset, number("10")))
        .await;
    assert_eq!(
        currency.expect(400),
        &json!({ "error": "Currency not allowed by policy", "details": { "allowedCurrencies": ["EUR"], "currency": "USD" } })
    );
    let mut ok = position_body(&world.asset, number("10"));
    ok["currency"] = json!("eur");
    assert_eq!(
        app.create_position(key, ok).await.expect(201)["currency"],
        "EUR"
    );
}

#[tokio::test]
async fn an_empty_currency_list_rejects_every_currency() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    app.put_policy(
        ROOT,
        &world.tenant.id,
        "US",
        json!({ "position": { "allowedCurrencies": [] } }),
    )
    .await
    .expect(200);
    app.create_position(ROOT, json!({ "institutionId": world.tenant.id, "assetId": world.asset, "holderReference": "h", "currency": "USD", "amount": 1 }))
        .await
        .expect_error(400, "Currency not allowed by policy");
}
