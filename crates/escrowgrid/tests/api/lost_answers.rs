//! Issue 13 item 4 for creates: a create whose answer was lost (`503 Commit outcome unknown`
//! after the COMMIT did apply) and that is retried with the same `Idempotency-Key` must not
//! create a second entity. The retry answers 201 with what the earlier attempt created, or 409
//! naming it for API keys and webhooks (their secret was only in the lost answer).
//!
//! The loss is modelled two ways: on PostgreSQL and memory, a create completes, then its
//! idempotency record is dropped (what a 503 leaves: the write committed, the reservation
//! released); on memory, also through the real path, a store reporting the commit of a
//! position creation as unknown after applying it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use escrowgrid::idempotency::KEY_PREFIX;
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, WebhookStore};
use gridstore::KvStore;
use gridstore::memory::MemoryKvStore;
use gridstore::postgres::PgConfig;
use serde_json::{Value, json};

use super::helpers::outage::OutageStore;
use super::helpers::{ROOT, Reply, TestApp, number, position_body, template_body};

/// An app on `store` whose idempotency records live in `kv`, which the test can edit.
fn app_on(
    store: Arc<dyn EscrowStore>,
    webhooks: Arc<dyn WebhookStore>,
    kv: Arc<MemoryKvStore>,
) -> TestApp {
    TestApp::on_ports(store, kv, |_| {}).with_webhook_store(webhooks)
}

/// Sends `POST path` with `body` under `key`, as `token`.
async fn post(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> Reply {
    app.post(path)
        .key(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
}

/// Drops the stored answer of (`caller`, `key`): the write stays, the answer is lost.
async fn lose_answer(kv: &MemoryKvStore, caller: &str, key: &str) {
    let record = format!("{KEY_PREFIX}{caller}:{key}");
    assert!(kv.delete(&record).await.expect("kv"), "no record {record}");
}

/// How many items a list answer (plain array or page of `data`) holds.
fn count(reply: &Reply) -> usize {
    let body = reply.expect(200);
    body.as_array()
        .or_else(|| body["data"].as_array())
        .map_or(0, Vec::len)
}

/// Creates `path` under `key`, loses the answer, retries: 201 with the same entity, not
/// replayed (the request ran again), and the list at `list` grew by one only.
#[allow(
    clippy::too_many_arguments,
    reason = "one create route, described in full"
)]
async fn retried_create_is_the_same_entity(
    app: &TestApp,
    kv: &MemoryKvStore,
    (token, caller): (&str, &str),
    path: &str,
    key: &str,
    body: &Value,
    list: &str,
) -> String {
    let before = count(&app.get(list).key(token).send().await);
    let first = post(app, token, path, key, body).await;
    let id = first.expect(201)["id"].as_str().expect("id").to_owned();
    lose_answer(kv, caller, key).await;
    let retry = post(app, token, path, key, body).await;
    assert_eq!(retry.expect(201), first.expect(201), "{path}");
    assert_eq!(retry.header("idempotency-replayed"), None);
    // The retry's answer is stored now: a third attempt is a replay.
    let third = post(app, token, path, key, body).await;
    assert_eq!(third.header("idempotency-replayed"), Some("true"));
    let after = count(&app.get(list).key(token).send().await);
    assert_eq!(after, before + 1, "{path}: one entity, not two");
    id
}

async fn creates_retried_after_a_lost_answer_make_one_entity(app: &TestApp, kv: &MemoryKvStore) {
    let world = app.world("Acme").await;
    let admin = (
        world.tenant.admin.as_str(),
        world.tenant.admin_key_id.as_str(),
    );
    let root = (ROOT, "root");
    let inst = json!({ "name": "Lost answers", "regions": ["US"] });
    retried_create_is_the_same_entity(
        app,
        kv,
        root,
        "/institutions",
        "i-1",
        &inst,
        "/institutions",
    )
    .await;
    let templates = "/asset-templates";
    retried_create_is_the_same_entity(
        app,
        kv,
        admin,
        templates,
        "t-1",
        &template_body(),
        templates,
    )
    .await;
    let asset = json!({ "templateId": world.template, "label": "Tower B" });
    let asset_id =
        retried_create_is_the_same_entity(app, kv, admin, "/assets", "a-1", &asset, "/assets")
            .await;
    let position = position_body(&asset_id, number("250.50"));
    let position_id = retried_create_is_the_same_entity(
        app,
        kv,
        admin,
        "/positions",
        "p-1",
        &position,
        "/positions",
    )
    .await;
    let ledger = app
        .ledger_events(admin.0, &format!("?positionId={position_id}"))
        .await;
    assert_eq!(count(&ledger), 1, "one POSITION_CREATED: {}", ledger.text);

    // A transition whose answer was lost, then another writer moved the position on: the
    // retry finds its own lifecycle event and answers 200 with the position as it is now,
    // instead of 400 for a transition from the new state; nothing is applied twice.
    let path = format!("/positions/{position_id}/transition");
    let fund = json!({ "toState": "FUNDED" });
    post(app, admin.0, &path, "f-1", &fund).await.expect(200);
    lose_answer(kv, admin.1, "f-1").await;
    let cancel = json!({ "toState": "CANCELLED" });
    app.transition(admin.0, &position_id, cancel)
        .await
        .expect(200);
    let retry = post(app, admin.0, &path, "f-1", &fund).await;
    let position = retry.expect(200);
    assert_eq!(position["state"], "CANCELLED");
    let events = position["events"].as_array().cloned().unwrap_or_default();
    let states: Vec<&Value> = events.iter().map(|event| &event["toState"]).collect();
    assert_eq!(
        states,
        [&json!("FUNDED"), &json!("CANCELLED")],
        "{}",
        retry.text
    );
    let ledger = app
        .ledger_events(admin.0, &format!("?positionId={position_id}"))
        .await;
    assert_eq!(
        count(&ledger),
        3,
        "created, funded, cancelled: {}",
        ledger.text
    );
    // The same body under another key is another request: 400 from CANCELLED, as before.
    post(app, admin.0, &path, "f-2", &fund)
        .await
        .expect_error(400, "Failed to transition position");

    // Another key is another request: a second asset, as before.
    let other = post(app, admin.0, "/assets", "a-2", &asset).await;
    assert_ne!(other.id(), asset_id);

    // Secrets are shown once: the retry names what the lost answer created instead.
    let keys = format!("/institutions/{}/api-keys", world.tenant.id);
    let body = json!({ "label": "ops", "role": "admin" });
    let key_id = post(app, admin.0, &keys, "k-1", &body).await.id();
    lose_answer(kv, admin.1, "k-1").await;
    let retry = post(app, admin.0, &keys, "k-1", &body).await;
    let error = retry.expect_error(409, "API key already created by an earlier attempt");
    assert!(
        error["details"]
            .as_str()
            .is_some_and(|d| d.contains(&key_id)),
        "{}",
        retry.text
    );
    assert_eq!(
        count(&app.list_api_keys(admin.0, &world.tenant.id).await),
        3
    );

    let hook = json!({ "url": "https://hooks.example.com/in", "eventTypes": ["*"] });
    let hook_id = post(app, admin.0, "/webhooks", "w-1", &hook).await.id();
    lose_answer(kv, admin.1, "w-1").await;
    let retry = post(app, admin.0, "/webhooks", "w-1", &hook).await;
    let error = retry.expect_error(409, "Webhook already created by an earlier attempt");
    assert!(
        error["details"]
            .as_str()
            .is_some_and(|d| d.contains(&hook_id)),
        "{}",
        retry.text
    );
    assert_eq!(count(&app.get("/webhooks").key(admin.0).send().await), 1);
}

#[tokio::test]
async fn on_memory_a_retried_create_after_a_lost_answer_makes_one_entity() {
    let store = Arc::new(MemoryStore::new());
    let kv = Arc::new(MemoryKvStore::new());
    let app = app_on(store.clone(), store, kv.clone());
    creates_retried_after_a_lost_answer_make_one_entity(&app, &kv).await;
}

#[tokio::test]
async fn on_postgres_a_retried_create_after_a_lost_answer_makes_one_entity() {
    let database = testkit::database().await;
    let config = PgConfig::from_url(database.url()).expect("config");
    let store = PgEscrowStore::connect(&config).await.expect("connect");
    store.migrate().await.expect("migrate");
    let store = Arc::new(store);
    let kv = Arc::new(MemoryKvStore::new());
    let app = app_on(store.clone(), store, kv.clone());
    creates_retried_after_a_lost_answer_make_one_entity(&app, &kv).await;
}

#[tokio::test]
async fn a_position_create_whose_commit_outcome_is_unknown_is_retried_into_one_position() {
    let store = OutageStore::shared();
    let app = TestApp::on_store(store.clone(), |_| {});
    let world = app.world("Acme").await;
    let admin = &world.tenant.admin;
    let before = count(&app.list_positions(admin, "").await);
    let body = position_body(&world.asset, number("75"));
    store.unknown_next_commit.store(true, Ordering::SeqCst);
    let first = post(&app, admin, "/positions", "pos-1", &body).await;
    first.expect_error(503, "Commit outcome unknown");
    // The commit did apply.
    assert_eq!(count(&app.list_positions(admin, "").await), before + 1);
    let retry = post(&app, admin, "/positions", "pos-1", &body).await;
    let id = retry.expect(201)["id"].clone();
    let positions = app.list_positions(admin, "").await;
    assert_eq!(count(&positions), before + 1, "{}", positions.text);
    let listed = positions
        .json
        .as_array()
        .or_else(|| positions.json["data"].as_array());
    assert!(listed.is_some_and(|items| items.iter().any(|p| p["id"] == id)));
}
