//! `/positions`, transitions and the ledger they write.

use serde_json::json;

use super::helpers::{ROOT, TestApp, number, position_body};

#[tokio::test]
async fn a_position_is_created_with_exact_decimal_amounts() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let mut body = position_body(&world.asset, number("12345678901234.12345678"));
    body["currency"] = json!("usd");
    let reply = app.create_position(&world.tenant.admin, body).await;
    let position = reply.expect(201);
    assert!(position["id"].as_str().expect("id").starts_with("pos_"));
    assert_eq!(position["state"], "CREATED");
    assert_eq!(position["currency"], "USD");
    assert_eq!(position["events"], json!([]));
    assert!(position.get("externalReference").is_none());
    assert!(position.get("version").is_none());
    assert!(
        reply.text.contains("\"amount\":12345678901234.12345678"),
        "{}",
        reply.text
    );
    let fetched = app.get_position(&world.tenant.read_only, &reply.id()).await;
    assert!(
        fetched.text.contains("\"amount\":12345678901234.12345678"),
        "{}",
        fetched.text
    );
}

#[tokio::test]
async fn an_empty_external_reference_is_kept() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let mut body = position_body(&world.asset, number("1"));
    body["externalReference"] = json!("");
    let reply = app.create_position(&world.tenant.admin, body).await;
    assert_eq!(reply.expect(201)["externalReference"], "");
}

#[tokio::test]
async fn every_bad_position_field_is_listed() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let reply = app
        .create_position(&world.tenant.admin, json!({ "assetId": world.asset, "holderReference": "", "currency": "US", "amount": "10" }))
        .await;
    reply.expect_error(400, "Validation failed");
    assert_eq!(
        reply.json["details"],
        json!([
            { "field": "currency", "message": "Currency code must be 3 characters" },
            { "field": "amount", "message": "Invalid input: expected number, received string" },
            { "field": "holderReference", "message": "Holder reference is required" },
        ])
    );
}

#[tokio::test]
async fn amount_rules_are_reported_with_the_original_messages() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = &world.tenant.admin;
    let cases = [
        (
            "0",
            vec!["Amount must be positive", "Amount must be at least 1e-8"],
        ),
        (
            "1.123456789",
            vec!["Amount must have at most 8 decimal places"],
        ),
        (
            "1000000000000000.5",
            vec!["Amount must not exceed 1000000000000000"],
        ),
    ];
    for (amount, messages) in cases {
        let reply = app
            .create_position(key, position_body(&world.asset, number(amount)))
            .await;
        reply.expect_error(400, "Validation failed");
        let got: Vec<_> = reply.json["details"]
            .as_array()
            .expect("details")
            .iter()
            .map(|d| d["message"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(got, messages, "amount {amount}");
    }
    let mut unknown = position_body(&world.asset, number("1"));
    unknown["currency"] = json!("XXX");
    let reply = app.create_position(key, unknown).await;
    assert_eq!(
        reply.json["details"][0]["message"],
        "Invalid currency code: XXX. Must be a valid ISO 4217 code."
    );
}

#[tokio::test]
async fn an_asset_of_another_institution_is_not_found_for_the_institution() {
    let app = TestApp::new();
    let acme = app.world("Acme").await;
    let other = app.tenant("Other").await;
    let reply = app
        .create_position(&other.admin, position_body(&acme.asset, number("1")))
        .await;
    assert_eq!(
        reply.expect(400),
        &json!({ "error": "Asset not found for institution" })
    );
    let malformed = app
        .create_position(&other.admin, position_body("ast_bad", number("1")))
        .await;
    assert_eq!(
        malformed.expect(400),
        &json!({ "error": "Asset not found for institution" })
    );
}

#[tokio::test]
async fn institution_context_rules_apply_to_positions() {
    let app = TestApp::new();
    let acme = app.world("Acme").await;
    let other = app.tenant("Other").await;
    app.create_position(ROOT, position_body(&acme.asset, number("1")))
        .await
        .expect_error(400, "Invalid institution context");
    let mut body = position_body(&acme.asset, number("1"));
    body["institutionId"] = json!(acme.tenant.id);
    app.create_position(ROOT, body.clone()).await.expect(201);
    let reply = app.create_position(&other.admin, body).await;
    assert_eq!(
        reply.expect(403),
        &json!({ "error": "Forbidden", "details": "Cannot create positions for a different institution" })
    );
    app.create_position(
        &acme.tenant.read_only,
        position_body(&acme.asset, number("1")),
    )
    .await
    .expect_error(403, "Write access forbidden for read_only API key");
}

#[tokio::test]
async fn a_transition_records_an_event_and_a_ledger_entry() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = &world.tenant.admin;
    let reply = app
        .transition(
            key,
            &world.position,
            json!({ "toState": "FUNDED", "reason": "wire in", "metadata": { "ref": 1 } }),
        )
        .await;
    let position = reply.expect(200);
    assert_eq!(position["state"], "FUNDED");
    let events = position["events"].as_array().expect("events");
    assert_eq!(events.len(), 1);
    assert!(events[0]["id"].as_str().expect("id").starts_with("ple_"));
    assert_eq!(events[0]["fromState"], "CREATED");
    assert_eq!(events[0]["toState"], "FUNDED");
    assert_eq!(events[0]["reason"], "wire in");
    assert_eq!(events[0]["metadata"], json!({ "ref": 1 }));
    let ledger = app
        .ledger_events(key, &format!("?positionId={}", world.position))
        .await;
    let entries = ledger.expect(200).as_array().expect("ledger").clone();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["kind"], "POSITION_CREATED");
    assert!(entries[0].get("previousState").is_none());
    assert_eq!(entries[1]["kind"], "POSITION_STATE_CHANGED");
    assert_eq!(entries[1]["previousState"], "CREATED");
    assert_eq!(entries[1]["newState"], "FUNDED");
    assert!(entries[1]["id"].as_str().expect("id").starts_with("led_"));
}

#[tokio::test]
async fn a_same_state_transition_is_200_and_writes_nothing() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = &world.tenant.admin;
    let funded = app
        .transition(key, &world.position, json!({ "toState": "FUNDED" }))
        .await;
    let before = funded.expect(200).clone();
    let again = app
        .transition(key, &world.position, json!({ "toState": "FUNDED" }))
        .await;
    assert_eq!(again.expect(200), &before);
    let ledger = app
        .ledger_events(key, &format!("?positionId={}", world.position))
        .await;
    assert_eq!(ledger.expect(200).as_array().expect("ledger").len(), 2);
}

#[tokio::test]
async fn an_invalid_transition_is_400_with_the_lifecycle_message() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let reply = app
        .transition(
            &world.tenant.admin,
            &world.position,
            json!({ "toState": "RELEASED" }),
        )
        .await;
    assert_eq!(
        reply.expect(400),
        &json!({ "error": "Failed to transition position", "details": "Invalid transition from CREATED to RELEASED" })
    );
}

#[tokio::test]
async fn a_full_lifecycle_reaches_a_terminal_state() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = &world.tenant.admin;
    for state in ["FUNDED", "PARTIALLY_RELEASED", "RELEASED"] {
        app.transition(key, &world.position, json!({ "toState": state }))
            .await
            .expect(200);
    }
    app.transition(key, &world.position, json!({ "toState": "CANCELLED" }))
        .await
        .expect_error(400, "Failed to transition position");
}

#[tokio::test]
async fn transition_bodies_are_validated_before_the_position_is_loaded() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let reply = app
        .transition(
            &world.tenant.admin,
            "pos_unknown",
            json!({ "toState": "DONE", "reason": "r".repeat(1001), "metadata": 3 }),
        )
        .await;
    reply.expect_error(400, "Validation failed");
    assert_eq!(reply.detail_fields(), vec!["toState", "metadata", "reason"]);
    app.transition(
        &world.tenant.admin,
        "pos_unknown",
        json!({ "toState": "FUNDED" }),
    )
    .await
    .expect_error(404, "Position not found");
    app.transition(
        &world.tenant.read_only,
        &world.position,
        json!({ "toState": "FUNDED" }),
    )
    .await
    .expect_error(403, "Write access forbidden for read_only API key");
}

#[tokio::test]
async fn positions_are_listed_with_filters_and_events() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = &world.tenant.admin;
    let mut other_holder = position_body(&world.asset, number("5"));
    other_holder["holderReference"] = json!("holder-2");
    app.create_position(key, other_holder).await.expect(201);
    app.transition(key, &world.position, json!({ "toState": "FUNDED" }))
        .await
        .expect(200);
    let all = app.list_positions(key, "").await;
    assert_eq!(all.expect(200)["pagination"]["total"], 2);
    let holder = app
        .get("/positions?holderReference=holder-1")
        .key(key)
        .send()
        .await;
    let body = holder.expect(200);
    assert_eq!(body["pagination"]["total"], 1);
    assert_eq!(
        body["data"][0]["events"].as_array().expect("events").len(),
        1
    );
    let by_asset = app
        .get(&format!("/positions?assetId={}&limit=1", world.asset))
        .key(key)
        .send()
        .await;
    let mut pagination = by_asset.expect(200)["pagination"].clone();
    let next = pagination["nextCursor"].take();
    assert!(
        next.as_str().is_some_and(|cursor| !cursor.is_empty()),
        "{next}"
    );
    assert_eq!(
        pagination,
        json!({ "total": 2, "limit": 1, "offset": 0, "hasMore": true, "nextCursor": null })
    );
}
