//! `Idempotency-Key` on POST.

use serde_json::json;

use super::helpers::{ROOT, TestApp};

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_response() {
    let app = TestApp::new();
    let body = json!({ "name": "Acme", "regions": ["US"] });
    let first = app
        .post("/institutions")
        .key(ROOT)
        .header("idempotency-key", "k-1")
        .json(&body.clone())
        .send()
        .await;
    let second = app
        .post("/institutions")
        .key(ROOT)
        .header("idempotency-key", "k-1")
        .json(&body)
        .send()
        .await;
    first.expect(201);
    assert_eq!(second.status, first.status);
    assert_eq!(second.json, first.json);
    assert_eq!(second.header("idempotency-replayed"), Some("true"));
    assert_eq!(first.header("idempotency-replayed"), None);
    assert!(second.header("x-request-id").is_some());
    assert_eq!(
        app.list_institutions(ROOT)
            .await
            .expect(200)
            .as_array()
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let app = TestApp::new();
    app.post("/institutions")
        .key(ROOT)
        .header("idempotency-key", "k-2")
        .json(&json!({ "name": "A", "regions": ["US"] }))
        .send()
        .await
        .expect(201);
    let reply = app
        .post("/institutions")
        .key(ROOT)
        .header("idempotency-key", "k-2")
        .json(&json!({ "name": "B", "regions": ["US"] }))
        .send()
        .await;
    assert_eq!(
        reply.expect(422),
        &json!({ "error": "Idempotency-Key reused with a different request" })
    );
}

#[tokio::test]
async fn keys_are_scoped_per_caller() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let other = app.world("Other").await;
    let body = |asset: &str| json!({ "assetId": asset, "holderReference": "h", "currency": "USD", "amount": 1 });
    let mine = app
        .post("/positions")
        .key(&world.tenant.admin)
        .header("idempotency-key", "same")
        .json(&body(&world.asset))
        .send()
        .await;
    let theirs = app
        .post("/positions")
        .key(&other.tenant.admin)
        .header("idempotency-key", "same")
        .json(&body(&other.asset))
        .send()
        .await;
    mine.expect(201);
    theirs.expect(201);
    assert_ne!(mine.id(), theirs.id());
    assert_eq!(theirs.header("idempotency-replayed"), None);
}

#[tokio::test]
async fn a_client_error_is_replayed_too() {
    let app = TestApp::new();
    let first = app
        .post("/institutions")
        .key(ROOT)
        .header("idempotency-key", "bad")
        .json(&json!({}))
        .send()
        .await;
    first.expect_error(400, "Validation failed");
    let again = app
        .post("/institutions")
        .key(ROOT)
        .header("idempotency-key", "bad")
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(again.json, first.json);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
}

#[tokio::test]
async fn a_transition_is_replayed_after_the_state_moved_on() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let path = format!("/positions/{}/transition", world.position);
    let key = &world.tenant.admin;
    let funded = app
        .post(&path)
        .key(key)
        .header("idempotency-key", "t-1")
        .json(&json!({ "toState": "FUNDED" }))
        .send()
        .await;
    app.transition(key, &world.position, json!({ "toState": "RELEASED" }))
        .await
        .expect(200);
    let replay = app
        .post(&path)
        .key(key)
        .header("idempotency-key", "t-1")
        .json(&json!({ "toState": "FUNDED" }))
        .send()
        .await;
    assert_eq!(replay.json, funded.json);
    assert_eq!(replay.json["state"], "FUNDED");
}

#[tokio::test]
async fn a_malformed_key_is_400() {
    let app = TestApp::new();
    let reply = app
        .post("/institutions")
        .key(ROOT)
        .header("idempotency-key", &"k".repeat(256))
        .json(&json!({ "name": "A", "regions": ["US"] }))
        .send()
        .await;
    reply.expect_error(400, "Invalid Idempotency-Key header");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_key_create_one_entity() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        let (key, asset) = (world.tenant.admin.clone(), world.asset.clone());
        tasks.push(tokio::spawn(async move {
            app.post("/positions")
                .key(&key)
                .header("idempotency-key", "burst")
                .json(&json!({ "assetId": asset, "holderReference": "burst", "currency": "USD", "amount": 1 }))
                .send()
                .await
        }));
    }
    let mut created = std::collections::HashSet::new();
    for task in tasks {
        let reply = task.await.expect("task");
        match reply.status.as_u16() {
            201 => {
                created.insert(reply.id());
            }
            409 => assert_eq!(
                reply.json["error"],
                "A request with this Idempotency-Key is in progress"
            ),
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(created.len(), 1);
    let listed = app
        .get("/positions?holderReference=burst")
        .key(&world.tenant.admin)
        .send()
        .await;
    assert_eq!(listed.expect(200)["pagination"]["total"], 1);
}
