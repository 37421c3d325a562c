//! `serve` with the on-chain ledger enabled (PostgreSQL, a real anvil): the settings wire the
//! sender and the API, a position is recorded on chain and its ledger event shows it.

use std::time::{Duration, Instant};

use escrowgrid::config::Secret;
use hyper::StatusCode;
use serde_json::json;
use testkit::TestAnvil;

use super::client::Client;
use super::server::{ROOT_KEY, TestServer, postgres_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_records_positions_on_chain_when_enabled() {
    let database = testkit::database().await;
    let anvil = TestAnvil::start().await.expect("anvil");
    let mut settings = postgres_settings(database.url());
    settings.onchain.enabled = true;
    settings.onchain.rpc_url = Some(Secret::new(anvil.rpc_url()));
    settings.onchain.private_key = Some(Secret::new(anvil.sender_private_key().to_owned()));
    settings.onchain.contract_address = Some(anvil.contract_address().to_string());
    settings.onchain.chain_id = Some(anvil.chain_id());
    let server = TestServer::start(settings).await;
    server.wait_ready().await;

    let mut root = Client::connect(server.addr, Some(ROOT_KEY)).await;
    let institution = root
        .post(
            "/institutions",
            &json!({"name": "Chain Co", "regions": ["US"]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    let template = root
        .post(
            "/asset-templates",
            &json!({
                "institutionId": institution, "code": "CONSTR_ESCROW", "name": "Escrow",
                "vertical": "CONSTRUCTION", "region": "US",
                "config": {"currency": "USD", "region": "US", "onchain": {"enabled": true}}
            }),
        )
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    let asset = root
        .post(
            "/assets",
            &json!({"institutionId": institution, "templateId": template, "label": "Tower A"}),
        )
        .await
        .expect(StatusCode::CREATED)
        .str("id");
    let position = root
        .post(
            "/positions",
            &json!({
                "institutionId": institution, "assetId": asset, "holderReference": "h-1",
                "currency": "USD", "amount": 99
            }),
        )
        .await
        .expect(StatusCode::CREATED)
        .str("id");

    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let reply = root
            .get(&format!("/ledger-events?positionId={position}"))
            .await
            .expect(StatusCode::OK);
        if reply.body[0]["onchain"]["status"] == "confirmed" {
            break reply.body;
        }
        assert!(Instant::now() < deadline, "never confirmed: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let logs = anvil.position_events().await.expect("logs");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].position_id, position);
    assert_eq!(
        events[0]["onchain"]["txHash"],
        json!(logs[0].tx_hash.expect("tx hash").to_string())
    );
    server.stop().await;
}
