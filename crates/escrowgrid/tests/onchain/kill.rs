//! A real crash between signing and broadcasting: the `escrowgrid` binary sends through a
//! JSON-RPC proxy that holds `eth_sendRawTransaction` (never forwarded, or forwarded with the
//! answer withheld), so its broadcast hangs after the batch's signed transactions were
//! persisted; the process is killed with SIGKILL, a new one (straight to the node) takes over,
//! and every event is on chain exactly once, with the transaction persisted before the kill.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use escrowgrid::domain::{LedgerEventId, PositionId};
use escrowgrid::onchain::Records;
use escrowgrid::store::Scope;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use testkit::TestAnvil;

use super::support::{Backend, Instance, ROOT};

/// What the proxy does with `eth_sendRawTransaction`.
#[derive(Debug, Clone, Copy)]
enum Hold {
    /// Never forwards it and never answers: the node never sees the transaction.
    Swallow,
    /// Forwards it (the node mines it) but never answers: the sender cannot know.
    ForwardThenHang,
}

/// A JSON-RPC proxy on 127.0.0.1 in front of `upstream`; counts held broadcasts.
struct RpcProxy {
    url: String,
    held: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    client: &Client<HttpConnector, Full<Bytes>>,
    upstream: &str,
    body: Bytes,
) -> Bytes {
    let request = hyper::Request::post(upstream)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("request");
    match client.request(request).await {
        Ok(response) => response
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default(),
        Err(_) => Bytes::new(),
    }
}

impl RpcProxy {
    async fn start(upstream: String, hold: Hold) -> Self {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let held = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&held);
        let app = Router::new().route(
            "/",
            post(move |body: Bytes| {
                let (client, upstream, counter) =
                    (client.clone(), upstream.clone(), Arc::clone(&counter));
                async move {
                    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if request["method"] == "eth_sendRawTransaction" {
                        if let Hold::ForwardThenHang = hold {
                            forward(&client, &upstream, body.clone()).await;
                        }
                        counter.fetch_add(1, Ordering::SeqCst);
                        std::future::pending::<()>().await;
                    }
                    let answer = forward(&client, &upstream, body).await;
                    ([("content-type", "application/json")], answer)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, held, task }
    }
}

/// `escrowgrid serve` on PostgreSQL with the on-chain ledger sending through `rpc_url`.
fn serve(database_url: &str, anvil: &TestAnvil, rpc_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_escrowgrid"))
        .arg("serve")
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env_clear()
        .env("STORE_BACKEND", "postgres")
        .env("DATABASE_URL", database_url)
        .env("ROOT_API_KEY", ROOT)
        .env("LEDGER_CHECKPOINT_INTERVAL_MS", "0")
        .env("RUST_LOG", "warn")
        .env("ONCHAIN_LEDGER_ENABLED", "true")
        .env("ONCHAIN_RPC_URL", rpc_url)
        .env("ONCHAIN_PRIVATE_KEY", anvil.sender_private_key())
        .env(
            "ONCHAIN_CONTRACT_ADDRESS",
            anvil.contract_address().to_string(),
        )
        .env("ONCHAIN_CHAIN_ID", anvil.chain_id().to_string())
        .env("ONCHAIN_RETRY_DELAY_MS", "100")
        .env("ONCHAIN_MAX_RETRIES", "1000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the escrowgrid binary")
}

/// Waits until `check` holds, failing after `limit` with `what`.
async fn wait_until<F: AsyncFn() -> bool>(limit: Duration, what: &str, check: F) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_server_killed_between_sign_and_broadcast_sends_each_event_exactly_once(hold: Hold) {
    let (backend, database) = Backend::postgres().await;
    let anvil = TestAnvil::start().await.expect("anvil");
    let proxy = RpcProxy::start(anvil.rpc_url(), hold).await;
    let app = Instance::without_sender(&backend, None).await;
    let (institution, asset) = app.asset(json!({"enabled": true})).await;
    let mut ledger_ids: Vec<(String, LedgerEventId)> = Vec::new();
    for _ in 0..3 {
        let position = app.position(&institution, &asset).await;
        let id = position["id"].as_str().expect("id").to_owned();
        let position_id = PositionId::parse(&id).expect("position id");
        let ledger = app
            .store
            .list_ledger_events(&Scope::Root, Some(&position_id))
            .await
            .expect("ledger")
            .remove(0);
        ledger_ids.push((id, ledger.id));
    }
    let records = Records::new(Arc::clone(&app.ports.kv));

    let mut first = serve(database.url(), &anvil, &proxy.url);
    // The batch is signed and persisted before any broadcast, and a broadcast has begun.
    let signed = async || {
        let mut hashes = Vec::new();
        for (_, id) in &ledger_ids {
            match records.load(id).await.expect("record") {
                Some((record, _)) if record.raw_tx.is_some() => hashes.push(record.view.tx_hash),
                _ => return None,
            }
        }
        Some(hashes)
    };
    wait_until(
        Duration::from_secs(60),
        "the batch is signed and a broadcast held",
        async || proxy.held.load(Ordering::SeqCst) > 0 && signed().await.is_some(),
    )
    .await;
    let persisted = signed().await.expect("signed transactions");
    first.kill().expect("kill -9 the server");
    first.wait().expect("reap the server");
    let seen_before = anvil.position_events().await.expect("logs").len();
    match hold {
        Hold::Swallow => assert_eq!(seen_before, 0, "nothing reached the node"),
        Hold::ForwardThenHang => assert_eq!(seen_before, 1, "the first broadcast reached it"),
    }

    let mut second = serve(database.url(), &anvil, &anvil.rpc_url());
    for (id, _) in &ledger_ids {
        app.wait_for_status(id, 1, &["confirmed"]).await;
    }
    second.kill().expect("stop the second server");
    second.wait().expect("reap the second server");

    let logs = anvil.position_events().await.expect("logs");
    for ((id, ledger_id), hash) in ledger_ids.iter().zip(&persisted) {
        let sent: Vec<_> = logs.iter().filter(|log| &log.position_id == id).collect();
        assert_eq!(sent.len(), 1, "{id} on chain exactly once: {logs:?}");
        assert_eq!(
            sent[0].tx_hash.map(|h| h.to_string()),
            hash.clone(),
            "{id}: the transaction persisted before the kill, not a new one"
        );
        let view = records.view(ledger_id).await.expect("record");
        assert_eq!(view.tx_hash, *hash);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_before_its_broadcast_reached_the_node_sends_each_event_exactly_once() {
    a_server_killed_between_sign_and_broadcast_sends_each_event_exactly_once(Hold::Swallow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_before_learning_its_broadcast_succeeded_sends_each_event_exactly_once() {
    a_server_killed_between_sign_and_broadcast_sends_each_event_exactly_once(Hold::ForwardThenHang)
        .await;
}
