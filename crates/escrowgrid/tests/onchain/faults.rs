//! A node that is down, retries exhausted, and two senders on one database.

use std::time::{Duration, Instant};

use axum::http::Method;
use gridstore::DlqFilter;
use serde_json::json;
use testkit::TestAnvil;

use super::support::{Backend, Instance, fast_settings};

#[tokio::test]
async fn writes_succeed_while_the_node_is_down_and_confirm_when_it_returns() {
    let mut anvil = TestAnvil::start().await.expect("anvil");
    let app = Instance::start(&Backend::Memory, &anvil, fast_settings(1000)).await;
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    let first = app.position(&institution, &asset).await;
    let first = first["id"].as_str().expect("id").to_owned();
    app.wait_for_status(&first, 1, &["confirmed"]).await;

    anvil.stop();
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let position = app.position(&institution, &asset).await;
        ids.push(position["id"].as_str().expect("id").to_owned());
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "writes wait for nobody: {took:?}"
    );
    for id in &ids {
        let events = app.ledger(id).await;
        assert_eq!(events[0]["onchain"]["status"], "pending", "{events:?}");
    }

    anvil.start_again().await.expect("anvil back");
    for id in &ids {
        app.wait_for_status(id, 1, &["confirmed"]).await;
    }
    let logs = anvil.position_events().await.expect("logs");
    let mut sent: Vec<&str> = logs.iter().map(|log| log.position_id.as_str()).collect();
    sent.sort_unstable();
    let mut expected: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .chain([first.as_str()])
        .collect();
    expected.sort_unstable();
    assert_eq!(sent, expected, "each event exactly once");
}

async fn exhausted_retries_go_to_the_dlq_with_an_audit_row(backend: Backend) {
    let mut anvil = TestAnvil::start().await.expect("anvil");
    let app = Instance::start(&backend, &anvil, fast_settings(2)).await;
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    let first = app.position(&institution, &asset).await;
    app.wait_for_status(first["id"].as_str().expect("id"), 1, &["confirmed"])
        .await;

    anvil.stop();
    let position = app.position(&institution, &asset).await;
    let id = position["id"].as_str().expect("id");
    let events = app.wait_for_status(id, 1, &["failed"]).await;

    let parked = app
        .ports
        .dlq
        .list(&DlqFilter {
            job_id: Some("onchain".into()),
            ..DlqFilter::default()
        })
        .await
        .expect("dlq");
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].payload["ledgerEventId"], events[0]["id"]);
    assert_eq!(parked[0].payload["positionId"], id);
    let (_, audit) = app
        .call(
            Method::GET,
            "/audit-events?action=ONCHAIN_LEDGER_RETRY_EXHAUSTED",
            None,
        )
        .await;
    let rows = audit["data"].as_array().expect("audit rows");
    assert_eq!(rows.len(), 1, "{audit}");
    assert_eq!(rows[0]["resourceId"], id);
    assert_eq!(rows[0]["payload"]["attempts"], 2);
    assert!(
        rows[0]["error"]["message"].is_string() && !audit.to_string().contains(&anvil.rpc_url()),
        "the error is recorded, the node's URL is not: {audit}"
    );

    // Root lists it and, once the node is back, re-drives it: one more attempt confirms it.
    let (status, failed) = app.call(Method::GET, "/ledger/onchain/failed", None).await;
    assert_eq!(status, axum::http::StatusCode::OK, "{failed}");
    assert_eq!(failed.as_array().map(Vec::len), Some(1), "{failed}");
    assert_eq!(failed[0]["positionId"], id);
    assert_eq!(failed[0]["chainId"], 31_337);
    anvil.start_again().await.expect("anvil back");
    let (status, reopened) = app
        .call(
            Method::POST,
            &format!("/ledger/onchain/failed/{}/retry", failed[0]["id"]),
            None,
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{reopened}");
    app.wait_for_status(id, 1, &["confirmed"]).await;
    let logs = anvil.position_events().await.expect("logs");
    assert_eq!(
        logs.iter().filter(|log| log.position_id == id).count(),
        1,
        "{logs:?}"
    );
    let (_, failed) = app.call(Method::GET, "/ledger/onchain/failed", None).await;
    assert_eq!(failed[0]["status"], "resolved", "{failed}");
}

#[tokio::test]
async fn exhausted_retries_go_to_the_dlq_with_an_audit_row_on_memory() {
    exhausted_retries_go_to_the_dlq_with_an_audit_row(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_go_to_the_dlq_with_an_audit_row_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    exhausted_retries_go_to_the_dlq_with_an_audit_row(backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_event_exactly_once() {
    let (backend, _database) = Backend::postgres().await;
    let anvil = TestAnvil::start().await.expect("anvil");
    let one = Instance::start(&backend, &anvil, fast_settings(5)).await;
    let two = one.sibling(&anvil, fast_settings(5));
    let (institution, asset) = one.asset(json!({"enabled": true})).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let app = if i % 2 == 0 { &one } else { &two };
        let position = app.position(&institution, &asset).await;
        ids.push(position["id"].as_str().expect("id").to_owned());
    }
    for id in &ids {
        two.wait_for_status(id, 1, &["confirmed"]).await;
    }
    let logs = anvil.position_events().await.expect("logs");
    let mut sent: Vec<&str> = logs.iter().map(|log| log.position_id.as_str()).collect();
    sent.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(sent, expected, "each event exactly once");
}

#[tokio::test]
async fn fail_mode_waits_for_the_receipt_and_names_the_committed_position_when_none_comes() {
    let mut anvil = TestAnvil::start().await.expect("anvil");
    let app = Instance::start_with(
        &Backend::Memory,
        &anvil,
        fast_settings(1000),
        Some(Duration::from_millis(1500)),
    )
    .await;
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    // The node is up: the write answers 201 once its event is confirmed.
    let confirmed = app.position(&institution, &asset).await;
    let events = app.ledger(confirmed["id"].as_str().expect("id")).await;
    assert_eq!(events[0]["onchain"]["status"], "confirmed", "{events:?}");

    anvil.stop();
    let (status, body) = app
        .call(
            Method::POST,
            "/positions",
            Some(json!({
                "institutionId": institution, "assetId": asset, "holderReference": "h",
                "currency": "USD", "amount": 10
            })),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["details"]["committed"], true);
    assert_eq!(body["details"]["resourceType"], "position");
    let id = body["details"]["resourceId"]
        .as_str()
        .expect("the committed position");
    let (status, stored) = app
        .call(Method::GET, &format!("/positions/{id}"), None)
        .await;
    assert_eq!(
        status,
        axum::http::StatusCode::OK,
        "the write committed: {stored}"
    );
}

#[tokio::test]
async fn a_transaction_signed_but_never_broadcast_is_sent_after_a_restart_exactly_once() {
    use escrowgrid::domain::PositionId;
    use escrowgrid::onchain::record::TxRecord;
    use escrowgrid::onchain::{ChainClient, OnchainStatus, Records, contract, payload};
    use escrowgrid::store::Scope;

    let anvil = TestAnvil::start().await.expect("anvil");
    let mut app = Instance::start(&Backend::Memory, &anvil, fast_settings(5)).await;
    // The sender dies before it reads anything (its lease stays until it expires).
    if let Some(mut sender) = app.sender.take() {
        sender.abort();
    }
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    let created = app.position(&institution, &asset).await;
    let id = created["id"].as_str().expect("id");

    // What a sender killed between sign and broadcast leaves: the signed transaction, stored.
    let position_id = PositionId::parse(id).expect("position id");
    let ledger = app
        .store
        .list_ledger_events(&Scope::Root, Some(&position_id))
        .await
        .expect("ledger")
        .remove(0);
    let position = app
        .store
        .get_position(&Scope::Root, &position_id)
        .await
        .expect("position");
    let (kind, payload_json) = payload::build(&ledger, &position);
    let chain = ChainClient::new(
        &anvil.rpc_url(),
        anvil.sender_private_key(),
        anvil.contract_address(),
        anvil.chain_id(),
    )
    .expect("client");
    let nonce = chain.pending_nonce().await.expect("nonce");
    let signed = chain
        .sign(
            contract::record_position_event(id, &kind, &payload_json),
            nonce,
        )
        .await
        .expect("sign");
    let mut record = TxRecord::new(OnchainStatus::Pending, Some(anvil.chain_id()));
    record.view.tx_hash = Some(signed.hash.to_string());
    record.nonce = Some(signed.nonce);
    record.raw_tx = Some(signed.raw.to_string());
    Records::new(app.ports.kv.clone())
        .store(&ledger.id, &record)
        .await
        .expect("store the record");
    assert!(anvil.position_events().await.expect("logs").is_empty());

    app.start_sender(&anvil, fast_settings(5));
    let events = app.wait_for_status(id, 1, &["confirmed"]).await;
    assert_eq!(
        events[0]["onchain"]["txHash"],
        json!(signed.hash.to_string()),
        "the stored transaction was broadcast, not a new one"
    );
    let logs = anvil.position_events().await.expect("logs");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].tx_hash, Some(signed.hash));
}

#[tokio::test]
async fn a_node_on_another_chain_stops_the_sender_and_health_says_why() {
    let anvil = TestAnvil::start().await.expect("anvil");
    let mut settings = fast_settings(5);
    settings.configured_chain_id = Some(1);
    let app = Instance::start(&Backend::Memory, &anvil, settings).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let (status, health) = app.call(Method::GET, "/health", None).await;
        assert_eq!(status, axum::http::StatusCode::OK, "{health}");
        if health["onchain"]["ok"] == false {
            break health;
        }
        assert!(Instant::now() < deadline, "health never told: {health}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let error = health["onchain"]["error"].as_str().expect("why");
    assert!(
        error.contains("31337") && error.contains("ONCHAIN_CHAIN_ID is 1"),
        "{error}"
    );
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    let position = app.position(&institution, &asset).await;
    let events = app.ledger(position["id"].as_str().expect("id")).await;
    assert_eq!(events[0]["onchain"]["status"], "pending", "{events:?}");
    assert!(
        anvil.position_events().await.expect("logs").is_empty(),
        "nothing is sent for the wrong chain"
    );
}
