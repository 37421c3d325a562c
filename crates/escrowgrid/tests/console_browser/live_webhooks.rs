//! The console's live updates, ledger hashes and webhook pages in a real browser: a list and a
//! position page follow writes made elsewhere through `GET /events/stream`; the ledger shows
//! each event's hash; an endpoint's deliveries page shows a dead-lettered delivery and its
//! re-drive. Memory and PostgreSQL.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::browser::Browser;
use super::server::{ROOT_KEY, Server};

/// A webhook receiver on 127.0.0.1 answering every request with a settable status.
struct Receiver {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    received: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let status = Arc::new(AtomicU16::new(status));
        let received = Arc::new(AtomicUsize::new(0));
        let (answer, count) = (Arc::clone(&status), Arc::clone(&received));
        let app = Router::new().route(
            "/hook",
            post(move || {
                let (answer, count) = (Arc::clone(&answer), Arc::clone(&count));
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    StatusCode::from_u16(answer.load(Ordering::SeqCst)).expect("status")
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            status,
            received,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    async fn wait_for(&self, requests: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.received.load(Ordering::SeqCst) < requests {
            assert!(
                Instant::now() < deadline,
                "the receiver got fewer than {requests} requests"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn sign_in(b: &Browser, key: &str, who: &str) {
    b.find("input[name=apiKey]").await;
    b.fill("input[name=apiKey]", key).await;
    b.click("form[aria-label='Sign in'] button[type=submit]")
        .await;
    b.until_text("#who", who).await;
}

/// Runs `body` (statements using `api`, the page's own API module) as an async script.
async fn with_api(b: &Browser, body: &str) -> Value {
    b.run(&format!(
        "return (async () => {{
            const base = document.querySelector('script[type=module]').src.replace(/app\\.js$/, '');
            const api = await import(base + 'api.js');
            {body}
        }})();"
    ))
    .await
}

async fn live_pages_ledger_hashes_and_webhook_deliveries(
    b: Arc<Browser>,
    console: String,
    receiver: Receiver,
) {
    b.open(&console).await;
    sign_in(&b, ROOT_KEY, "root").await;
    // Root sets up an institution with an admin key, a template, an asset and an endpoint.
    let setup = with_api(&b, &format!(r#"
        const inst = await api.call('createInstitution', {{ body: {{ name: 'Live Escrow', regions: ['US'], verticals: ['CONSTRUCTION'] }} }});
        const key = (await api.call('createApiKey', {{ params: {{ id: inst.id }}, body: {{ label: 'ops', role: 'admin' }} }})).apiKey;
        const tmpl = await api.call('createTemplate', {{ key, body: {{ code: 'CONSTR_ESCROW', name: 'Live', vertical: 'CONSTRUCTION', region: 'US', config: {{ currency: 'USD', region: 'US' }} }} }});
        const asset = await api.call('createAsset', {{ key, body: {{ templateId: tmpl.id, label: 'Live tower' }} }});
        const answer = await fetch('/webhooks', {{ method: 'POST', headers: {{ 'X-API-KEY': key, 'Content-Type': 'application/json' }},
            body: JSON.stringify({{ url: {url}, eventTypes: ['position.created'], description: 'books' }}) }});
        const hook = await answer.json();
        return {{ key, asset: asset.id, hook: hook.id, status: answer.status }};
    "#, url = json!(receiver.url()))).await;
    assert_eq!(setup["status"], 201, "{setup}");
    let key = setup["key"].as_str().expect("key").to_owned();
    let hook = setup["hook"].as_str().expect("hook").to_owned();
    b.click("#sign-out").await;
    sign_in(&b, &key, "admin").await;

    // A position created elsewhere appears in the open list without a reload.
    b.route("#/positions").await;
    b.until_text("main .empty", "No positions yet.").await;
    let created = with_api(&b, &format!(
        "return (await api.call('createPosition', {{ body: {{ assetId: {asset}, holderReference: 'Live LLC', currency: 'USD', amount: 250.5 }} }})).id;",
        asset = setup["asset"]
    )).await;
    let position = created.as_str().expect("position id").to_owned();
    b.until_text("main table", "Live LLC").await;
    b.screenshot("live-01-list-updated").await;

    // The position page follows a transition made elsewhere, keeping the reason being typed.
    b.route(&format!("#/positions/{position}")).await;
    b.until_text("#position-state", "CREATED").await;
    b.fill("input[name=reason]", "half typed").await;
    with_api(&b, &format!(
        "await api.call('transitionPosition', {{ params: {{ id: {position} }}, body: {{ toState: 'FUNDED', reason: 'live wire' }} }}); return true;",
        position = json!(position)
    )).await;
    // The update waits while the focus is in the form; once it leaves, the page reloads and
    // keeps the reason typed so far.
    b.run("document.activeElement.blur(); return true;").await;
    b.until_text("#position-state", "FUNDED").await;
    b.until_text("#timeline", "live wire").await;
    assert_eq!(
        b.run("return document.querySelector('input[name=reason]').value;")
            .await,
        json!("half typed"),
        "a live update does not wipe what the user was typing"
    );

    // The ledger shows each event's hash (64 hex digits), chained per position.
    b.until(
        "two ledger rows",
        "document.querySelectorAll('code.hash').length === 2",
    )
    .await;
    let hashes = b
        .run("return [...document.querySelectorAll('code.hash')].map((c) => c.textContent);")
        .await;
    let hashes: Vec<&str> = hashes
        .as_array()
        .expect("hashes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(hashes.len(), 2);
    for hash in &hashes {
        assert!(
            hash.len() == 64 && hash.bytes().all(|c| c.is_ascii_hexdigit()),
            "not a SHA-256: {hash}"
        );
    }
    assert_ne!(hashes[0], hashes[1]);
    b.screenshot("live-02-position-with-hashes").await;

    // The endpoint's page: its delivery dead-lettered after the schedule, then re-driven.
    receiver.wait_for(3).await;
    b.route("#/webhooks").await;
    b.until_text("main table", &receiver.url()).await;
    b.click(&format!("a[href='#/webhooks/{hook}']")).await;
    b.until_text("h1", &receiver.url()).await;
    b.until_text("main dl", "position.created").await;
    b.until(
        "the delivery shows as dead-lettered",
        "document.querySelector('[data-status=failed]')",
    )
    .await;
    b.until_text("main table", "HTTP 500").await;
    b.screenshot("live-03-delivery-failed").await;
    b.assert_contrast().await;
    receiver.status.store(204, Ordering::SeqCst);
    b.click("button[data-retry]").await;
    b.until(
        "the re-driven delivery succeeded",
        "document.querySelector('[data-status=succeeded]')",
    )
    .await;
    assert_eq!(
        b.count("button[data-retry]").await,
        0,
        "a delivered delivery has no retry"
    );
    let attempts = b.run("return document.querySelector('[data-status=succeeded]').closest('tr').cells[3].textContent;").await;
    assert_eq!(
        attempts,
        json!("4"),
        "three scheduled attempts and the re-drive"
    );
    b.screenshot("live-04-delivery-redriven").await;
    b.resize(390, 844).await;
    b.until(
        "no horizontal scrolling at 390 px",
        "document.documentElement.scrollWidth <= window.innerWidth",
    )
    .await;
    b.resize(1280, 900).await;
    b.assert_no_console_errors().await;
}

async fn run(database_url: Option<&str>, prefix: &str) {
    let receiver = Receiver::start(500).await;
    let server = Server::start_with(database_url, |settings| {
        settings.webhooks.allow_private_targets = true;
        settings.webhooks.retry_schedule_ms = vec![50, 50];
    })
    .await;
    let console = server.console_url();
    let browser = Arc::new(Browser::start(prefix).await);
    let outcome = tokio::spawn(live_pages_ledger_hashes_and_webhook_deliveries(
        Arc::clone(&browser),
        console,
        receiver,
    ))
    .await;
    if let Ok(browser) = Arc::try_unwrap(browser) {
        browser.close().await;
    }
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_updates_ledger_hashes_and_webhook_deliveries_in_a_real_browser_on_memory() {
    run(None, "live-memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_updates_ledger_hashes_and_webhook_deliveries_in_a_real_browser_on_postgres() {
    let db = testkit::database().await;
    run(Some(db.url()), "live-postgres").await;
}
