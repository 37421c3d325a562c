//! `/ledger-events` and `/audit-events`.

use serde_json::json;

use super::helpers::{ROOT, TestApp};

#[tokio::test]
async fn non_root_ledger_queries_need_a_position() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let reply = app.ledger_events(&world.tenant.admin, "").await;
    assert_eq!(
        reply.expect(400),
        &json!({ "error": "positionId is required for non-root ledger queries" })
    );
    let all = app.ledger_events(ROOT, "").await;
    assert_eq!(all.expect(200).as_array().expect("ledger").len(), 1);
    app.ledger_events(ROOT, "?positionId=pos_nope")
        .await
        .expect_error(404, "Position not found");
}

#[tokio::test]
async fn the_ledger_payload_carries_the_exact_amount_and_request_id() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let reply = app
        .post("/positions")
        .key(&world.tenant.admin)
        .header("x-request-id", "req-ledger")
        .json(&super::helpers::position_body(
            &world.asset,
            super::helpers::number("0.00000001"),
        ))
        .send()
        .await;
    let id = reply.id();
    let ledger = app
        .ledger_events(&world.tenant.admin, &format!("?positionId={id}"))
        .await;
    let text = ledger.text.clone();
    let entries = ledger.expect(200);
    assert_eq!(entries[0]["payload"]["requestId"], "req-ledger");
    assert!(text.contains("\"amount\":0.00000001"), "{text}");
}

#[tokio::test]
async fn transition_audit_rows_carry_the_request_id_and_full_path() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    app.post(&format!("/positions/{}/transition", world.position))
        .key(&world.tenant.admin)
        .header("x-request-id", "req-transition")
        .json(&json!({ "toState": "FUNDED" }))
        .send()
        .await
        .expect(200);
    let reply = app
        .audit_events(&world.tenant.admin, "?action=POSITION_TRANSITIONED")
        .await;
    let body = reply.expect(200);
    assert_eq!(body["pagination"]["total"], 1);
    let row = &body["data"][0];
    assert_eq!(row["requestId"], "req-transition");
    assert_eq!(
        row["path"],
        format!("/positions/{}/transition", world.position)
    );
    assert_eq!(row["outcome"], "success");
    assert_eq!(row["resourceType"], "position");
    assert_eq!(row["resourceId"], world.position.as_str());
}

#[tokio::test]
async fn audit_events_are_scoped_to_the_callers_institution() {
    let app = TestApp::new();
    let acme = app.world("Acme").await;
    let other = app.world("Other").await;
    let own = app.audit_events(&acme.tenant.admin, "?limit=1000").await;
    let rows = own.expect(200)["data"].as_array().expect("rows").clone();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|row| row["institutionId"] == acme.tenant.id.as_str()),
        "{rows:?}"
    );
    let root = app
        .audit_events(ROOT, &format!("?institutionId={}", other.tenant.id))
        .await;
    let root_rows = root.expect(200)["data"].as_array().expect("rows").clone();
    assert!(!root_rows.is_empty());
    assert!(
        root_rows
            .iter()
            .all(|row| row["institutionId"] == other.tenant.id.as_str())
    );
    let ignored = app
        .audit_events(
            &acme.tenant.admin,
            &format!("?institutionId={}", other.tenant.id),
        )
        .await;
    assert_eq!(ignored.expect(200)["pagination"]["total"], rows.len());
    app.audit_events(&acme.tenant.read_only, "")
        .await
        .expect_error(403, "Forbidden to access audit events");
}

#[tokio::test]
async fn audit_events_are_filtered_by_resource_and_time_and_paginated() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let key = &world.tenant.admin;
    let by_resource = app
        .audit_events(
            key,
            &format!("?resourceType=position&resourceId={}", world.position),
        )
        .await;
    let body = by_resource.expect(200);
    assert_eq!(body["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["action"], "POSITION_CREATED");
    let future = app.audit_events(key, "?from=2999-01-01T00:00:00Z").await;
    assert_eq!(future.expect(200)["pagination"]["total"], 0);
    let past = app.audit_events(key, "?to=2000-01-01T00:00:00Z").await;
    assert_eq!(past.expect(200)["pagination"]["total"], 0);
    let everything = app
        .audit_events(key, "?from=2000-01-01T00:00:00Z&limit=1&offset=1")
        .await;
    let page = everything.expect(200);
    assert_eq!(page["data"].as_array().expect("rows").len(), 1);
    assert_eq!(
        page["pagination"]["hasMore"],
        json!(page["pagination"]["total"].as_u64().expect("total") > 2)
    );
}

#[tokio::test]
async fn bad_audit_filters_are_listed() {
    let app = TestApp::new();
    let reply = app
        .audit_events(ROOT, "?action=NOPE&outcome=maybe&from=yesterday")
        .await;
    reply.expect_error(400, "Validation failed");
    assert_eq!(reply.detail_fields(), vec!["action", "outcome", "from"]);
}

#[tokio::test]
async fn failures_are_visible_in_the_audit_trail_for_root() {
    let app = TestApp::new();
    app.get("/institutions").key("bad").send().await.expect(401);
    let reply = app
        .audit_events(ROOT, "?action=AUTH_FAILED&outcome=failure")
        .await;
    let body = reply.expect(200);
    assert_eq!(body["pagination"]["total"], 1);
    assert_eq!(body["data"][0]["statusCode"], 401);
}

#[tokio::test]
async fn ledger_verification_covers_the_callers_institution_and_root_may_pick_one() {
    let app = TestApp::new();
    let acme = app.world("Acme").await;
    let other = app.world("Other").await;
    app.post(&format!("/positions/{}/transition", acme.position))
        .key(&acme.tenant.admin)
        .json(&json!({ "toState": "FUNDED" }))
        .send()
        .await
        .expect(200);
    let verify = |key: &str, query: &str| {
        let path = format!("/ledger/verify{query}");
        let key = key.to_owned();
        let app = &app;
        async move { app.get(&path).key(&key).send().await.expect(200).clone() }
    };
    let all = verify(ROOT, "").await;
    assert_eq!(
        all,
        json!({ "ok": true, "eventsChecked": 3, "chainsChecked": 2, "unhashedEvents": 0, "checkpointsChecked": 0 })
    );
    assert_eq!(verify(&acme.tenant.admin, "").await["eventsChecked"], 2);
    // A non-root key cannot widen or move its scope with institutionId.
    let query = format!("?institutionId={}", acme.tenant.id);
    assert_eq!(
        verify(&other.tenant.admin, &query).await["eventsChecked"],
        1
    );
    assert_eq!(verify(ROOT, &query).await["eventsChecked"], 2);
    let events = app
        .ledger_events(
            &acme.tenant.admin,
            &format!("?positionId={}", acme.position),
        )
        .await;
    let events = events.expect(200);
    assert_eq!(events[1]["previousHash"], events[0]["hash"]);
}
