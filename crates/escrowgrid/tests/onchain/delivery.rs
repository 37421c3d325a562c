//! Created and transitioned positions on chain with the exact payload; the skip rules.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::TestAnvil;

use super::support::{Backend, Instance, fast_settings};

/// The payload a log carries, parsed.
fn parsed(payload: &str) -> Value {
    serde_json::from_str(payload).expect("payloadJson is JSON")
}

async fn positions_appear_on_chain_with_the_exact_payload(backend: Backend) {
    let anvil = TestAnvil::start().await.expect("anvil");
    let app = Instance::start(&backend, &anvil, fast_settings(5)).await;
    let (institution, asset) = app.asset(json!({"enabled": true, "chainId": 31_337})).await;
    let position = app.position(&institution, &asset).await;
    let id = position["id"].as_str().expect("id");
    let (status, moved) = app
        .call(
            Method::POST,
            &format!("/positions/{id}/transition"),
            Some(json!({"toState": "FUNDED", "reason": "wire received"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");

    let events = app.wait_for_status(id, 2, &["confirmed"]).await;
    let logs = anvil.position_events().await.expect("logs");
    assert_eq!(logs.len(), 2, "one log per ledger event: {logs:?}");
    let sender = anvil
        .sender_private_key()
        .parse::<alloy::signers::local::PrivateKeySigner>()
        .expect("key")
        .address();
    for (log, event) in logs.iter().zip(&events) {
        assert_eq!(log.recorder, sender);
        assert_eq!(log.position_id, id);
        assert_eq!(log.kind, event["kind"].as_str().expect("kind"));
        let onchain = &event["onchain"];
        assert_eq!(onchain["chainId"], 31_337);
        assert_eq!(
            onchain["txHash"],
            json!(log.tx_hash.expect("tx hash").to_string())
        );
        assert_eq!(
            onchain["blockNumber"],
            json!(log.block_number.expect("block"))
        );
    }
    assert_eq!(
        parsed(&logs[0].payload_json),
        json!({
            "institutionId": institution, "assetId": asset, "currency": "USD",
            "amount": 1250.5, "externalReference": "ext-7", "state": "CREATED",
            "requestId": events[0]["payload"]["requestId"],
        })
    );
    assert_eq!(
        parsed(&logs[1].payload_json),
        json!({
            "institutionId": institution, "assetId": asset, "fromState": "CREATED",
            "toState": "FUNDED", "reason": "wire received", "at": events[1]["at"],
        })
    );
    assert!(events[0]["payload"]["requestId"].is_string(), "{events:?}");
    assert_eq!(logs[0].kind, "POSITION_CREATED");
    assert_eq!(logs[1].kind, "POSITION_STATE_CHANGED");
}

#[tokio::test]
async fn positions_appear_on_chain_with_the_exact_payload_on_memory() {
    positions_appear_on_chain_with_the_exact_payload(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_appear_on_chain_with_the_exact_payload_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    positions_appear_on_chain_with_the_exact_payload(backend).await;
}

async fn templates_without_onchain_or_on_another_chain_send_nothing(backend: Backend) {
    let anvil = TestAnvil::start().await.expect("anvil");
    let app = Instance::start(&backend, &anvil, fast_settings(5)).await;
    let mut skipped = Vec::new();
    for onchain in [
        Value::Null,
        json!({"enabled": false, "chainId": 31_337}),
        json!({"enabled": true, "chainId": 1}),
    ] {
        let (institution, asset) = app.asset(onchain).await;
        let position = app.position(&institution, &asset).await;
        skipped.push(position["id"].as_str().expect("id").to_owned());
    }
    // A position that is sent after the skipped ones: once it is confirmed, the sender has
    // passed them all (it follows the outbox in commit order).
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    let sent = app.position(&institution, &asset).await;
    let sent = sent["id"].as_str().expect("id");

    app.wait_for_status(sent, 1, &["confirmed"]).await;
    for id in &skipped {
        let events = app.wait_for_status(id, 1, &["skipped"]).await;
        assert_eq!(events[0]["onchain"]["txHash"], Value::Null);
    }
    let logs = anvil.position_events().await.expect("logs");
    assert_eq!(
        logs.len(),
        1,
        "only the enabled template's position: {logs:?}"
    );
    assert_eq!(logs[0].position_id, sent);
}

#[tokio::test]
async fn templates_without_onchain_or_on_another_chain_send_nothing_on_memory() {
    templates_without_onchain_or_on_another_chain_send_nothing(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_without_onchain_or_on_another_chain_send_nothing_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    templates_without_onchain_or_on_another_chain_send_nothing(backend).await;
}

#[tokio::test]
async fn an_event_is_confirmed_only_after_the_configured_number_of_blocks() {
    let anvil = TestAnvil::start().await.expect("anvil");
    let mut settings = fast_settings(5);
    settings.confirmations = 3;
    settings.confirm_timeout = std::time::Duration::from_secs(60);
    let app = Instance::start(&Backend::Memory, &anvil, settings).await;
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    let position = app.position(&institution, &asset).await;
    let id = position["id"].as_str().expect("id");

    // Mined (automine) but with one block only: still pending.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while anvil.position_events().await.expect("logs").is_empty() {
        assert!(std::time::Instant::now() < deadline, "never mined");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let events = app.ledger(id).await;
    assert_eq!(events[0]["onchain"]["status"], "pending", "{events:?}");
    assert!(events[0]["onchain"]["txHash"].is_string(), "{events:?}");

    anvil.mine(2).await.expect("mine");
    let events = app.wait_for_status(id, 1, &["confirmed"]).await;
    let logs = anvil.position_events().await.expect("logs");
    assert_eq!(
        events[0]["onchain"]["blockNumber"],
        json!(logs[0].block_number.expect("block"))
    );
}
