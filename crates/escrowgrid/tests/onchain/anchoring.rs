//! Batches of events sent together, and ledger checkpoints anchored on chain.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use escrowgrid::domain::now_millis;
use escrowgrid::ledger::Checkpoint;
use serde_json::{Value, json};
use testkit::TestAnvil;

use super::support::{Backend, Instance, fast_settings};

/// Takes a checkpoint, waiting (with a deadline) until one covers what was written.
async fn take_checkpoint(app: &Instance) -> Checkpoint {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(taken) = app
            .store
            .create_ledger_checkpoint(now_millis())
            .await
            .expect("checkpoint")
        {
            return taken;
        }
        assert!(Instant::now() < deadline, "no checkpoint could be taken");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `GET /ledger/checkpoints` lists `count` checkpoints, all anchored.
async fn wait_for_anchors(app: &Instance, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, listed) = app.call(Method::GET, "/ledger/checkpoints", None).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        let listed = listed.as_array().expect("a list").clone();
        if listed.len() == count && listed.iter().all(|c| c["onchain"]["status"] == "confirmed") {
            return listed;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for anchors: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn each_checkpoint_is_anchored_once_with_its_stored_hash(backend: Backend) {
    let anvil = TestAnvil::start().await.expect("anvil");
    let app = Instance::start(&backend, &anvil, fast_settings(5)).await;
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    app.position(&institution, &asset).await;
    let first = take_checkpoint(&app).await;
    app.position(&institution, &asset).await;
    let second = take_checkpoint(&app).await;

    let listed = wait_for_anchors(&app, 2).await;
    let anchors = anvil.checkpoint_anchors().await.expect("logs");
    assert_eq!(anchors.len(), 2, "one anchor per checkpoint: {anchors:?}");
    let sender = anvil
        .sender_private_key()
        .parse::<alloy::signers::local::PrivateKeySigner>()
        .expect("key")
        .address();
    for ((anchor, taken), shown) in anchors.iter().zip([&first, &second]).zip(&listed) {
        assert_eq!(anchor.recorder, sender);
        assert_eq!(i64::try_from(anchor.number).expect("number"), taken.number);
        assert_eq!(
            anchor.checkpoint_hash.to_string(),
            format!("0x{}", taken.hash),
            "the anchored hash is the checkpoint's stored hash"
        );
        assert_eq!(shown["hash"], json!(taken.hash));
        assert_eq!(
            shown["onchain"]["txHash"],
            json!(anchor.tx_hash.expect("tx").to_string())
        );
        assert_eq!(
            shown["onchain"]["blockNumber"],
            json!(anchor.block_number.expect("block"))
        );
    }
}

#[tokio::test]
async fn each_checkpoint_is_anchored_once_with_its_stored_hash_on_memory() {
    each_checkpoint_is_anchored_once_with_its_stored_hash(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_checkpoint_is_anchored_once_with_its_stored_hash_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    each_checkpoint_is_anchored_once_with_its_stored_hash(backend).await;
}

#[tokio::test]
async fn a_backlog_is_sent_in_batches_with_consecutive_nonces_each_event_once() {
    let anvil = TestAnvil::start().await.expect("anvil");
    let mut app = Instance::start(&Backend::Memory, &anvil, fast_settings(5)).await;
    if let Some(sender) = app.sender.take() {
        sender.shutdown().await;
    }
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    let mut ids = Vec::new();
    for _ in 0..23 {
        let position = app.position(&institution, &asset).await;
        ids.push(position["id"].as_str().expect("id").to_owned());
    }
    let mut settings = fast_settings(5);
    settings.batch_size = 10;
    app.start_sender(&anvil, settings);
    let mut hashes = Vec::new();
    for id in &ids {
        let events = app.wait_for_status(id, 1, &["confirmed"]).await;
        hashes.push(events[0]["onchain"]["txHash"].clone());
    }
    let logs = anvil.position_events().await.expect("logs");
    let sent: Vec<&str> = logs.iter().map(|log| log.position_id.as_str()).collect();
    assert_eq!(sent, ids, "each event once, in commit order");
    let nonces = transaction_nonces(&anvil, &logs).await;
    assert!(
        nonces.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "consecutive nonces: {nonces:?}"
    );
}

/// The nonce of each log's transaction.
async fn transaction_nonces(
    anvil: &TestAnvil,
    logs: &[testkit::RecordedPositionEvent],
) -> Vec<u64> {
    use alloy::consensus::Transaction as _;
    use alloy::providers::Provider as _;
    let provider = anvil.provider();
    let mut nonces = Vec::new();
    for log in logs {
        let tx = provider
            .get_transaction_by_hash(log.tx_hash.expect("tx"))
            .await
            .expect("rpc")
            .expect("the transaction exists");
        nonces.push(tx.nonce());
    }
    nonces
}
