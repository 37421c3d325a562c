//! The tamper-evident ledger over HTTP: `GET /ledger/verify` and the auditor's script
//! (`scripts/verify_ledger.py`, stdlib Python) run against a real server.

use std::net::SocketAddr;
use std::process::Output;

use escrowgrid::config::{Secret, Settings};
use hyper::StatusCode;
use serde_json::json;

use super::client::Client;
use super::flows::{position_body, tenant};
use super::server::{ROOT_KEY, TestServer, postgres_settings};

/// Runs the auditor's script against `addr` as root (off the runtime's threads).
async fn auditor_script(addr: SocketAddr) -> Output {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/verify_ledger.py"
    );
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .arg(format!("http://{addr}"))
            .env("ESCROWGRID_API_KEY", ROOT_KEY)
            .output()
            .expect("run python3 (install python3)")
    })
    .await
    .expect("script task")
}

/// Runs `escrowgrid ledger verify` on `database_url` (stderr is not a terminal here).
async fn cli_verify(database_url: &str) -> Output {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_escrowgrid"))
            .env_clear()
            .args(["ledger", "verify"])
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run escrowgrid ledger verify")
    })
    .await
    .expect("cli task")
}

/// Two positions, one funded then released with metadata in odd spellings; returns the
/// ledger events as root reads them.
async fn some_ledger(addr: SocketAddr) -> (Vec<serde_json::Value>, String) {
    let tenant = tenant(addr, ROOT_KEY).await;
    let mut admin = Client::connect(addr, Some(&tenant.admin_key)).await;
    let metadata: serde_json::Value =
        serde_json::from_str(r#"{"rate": 1.50, "big": 1e2, "note": "é\n\"x\"", "z": [0.0]}"#)
            .expect("json");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let position = admin
            .post("/positions", &position_body(&tenant.asset_id))
            .await
            .expect(StatusCode::CREATED);
        ids.push(position.str("id"));
    }
    for to in ["FUNDED", "RELEASED"] {
        let body = json!({ "toState": to, "reason": "step", "metadata": metadata });
        admin
            .post(&format!("/positions/{}/transition", ids[0]), &body)
            .await
            .expect(StatusCode::OK);
    }
    let mut root = Client::connect(addr, Some(ROOT_KEY)).await;
    let events = root.get("/ledger-events").await.expect(StatusCode::OK);
    let events = events.body.as_array().expect("ledger").clone();
    assert_eq!(events.len(), 4);
    (events, tenant.admin_key)
}

/// Waits (deadline 20 s) until the server's checkpoint task has covered `events` events, and
/// checks the checkpoints chain.
async fn wait_for_checkpoints_covering(addr: SocketAddr, events: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut root = Client::connect(addr, Some(ROOT_KEY)).await;
    loop {
        let taken = root.get("/ledger/checkpoints").await.expect(StatusCode::OK);
        let taken = taken.body.as_array().expect("checkpoints").clone();
        let covered: i64 = taken.iter().filter_map(|c| c["eventCount"].as_i64()).sum();
        if covered == events {
            assert_eq!(taken[0]["previousHash"], serde_json::Value::Null);
            for pair in taken.windows(2) {
                assert_eq!(pair[1]["previousHash"], pair[0]["hash"]);
            }
            let report = root.get("/ledger/verify").await.expect(StatusCode::OK);
            assert_eq!(report.body["ok"], true, "{}", report.body);
            assert_eq!(report.body["checkpointsChecked"], taken.len());
            return;
        }
        assert!(
            covered < events,
            "checkpoints cover {covered} > {events} events"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "checkpoints cover {covered} of {events}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Runs the auditor's script and asserts it verifies the 4 events of [`some_ledger`].
async fn assert_script_says_ok(addr: SocketAddr) {
    let output = auditor_script(addr).await;
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let said = stdout(&output);
    assert!(said.starts_with("OK 4 events, 2 chains"), "{said}");
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn the_auditor_script_and_the_api_verify_an_untouched_ledger_in_memory() {
    let mut settings = Settings::default();
    settings.auth.root_api_key = Some(Secret::new(ROOT_KEY.to_owned()));
    settings.ledger.checkpoint_interval_ms = 50;
    let server = TestServer::start(settings).await;
    server.wait_ready().await;
    let (events, admin_key) = some_ledger(server.addr).await;
    wait_for_checkpoints_covering(server.addr, 4).await;
    assert!(
        events
            .iter()
            .all(|e| e["hash"].as_str().is_some_and(|h| h.len() == 64))
    );
    assert_eq!(events[2]["previousHash"], events[0]["hash"]);

    assert_script_says_ok(server.addr).await;
    let mut admin = Client::connect(server.addr, Some(&admin_key)).await;
    let report = admin.get("/ledger/verify").await.expect(StatusCode::OK);
    assert_eq!(
        report.body,
        json!({ "ok": true, "eventsChecked": 4, "chainsChecked": 2, "unhashedEvents": 0, "checkpointsChecked": 0 })
    );
    server.stop().await;
}

#[tokio::test]
async fn the_auditor_script_and_the_api_find_an_edited_event_on_postgres() {
    let db = testkit::database().await;
    let mut settings = postgres_settings(db.url());
    settings.ledger.checkpoint_interval_ms = 50;
    let server = TestServer::start(settings).await;
    server.wait_ready().await;
    let (events, admin_key) = some_ledger(server.addr).await;
    wait_for_checkpoints_covering(server.addr, 4).await;
    assert_script_says_ok(server.addr).await;

    let edited = events[2]["id"].as_str().expect("id").to_owned();
    let client = db.connect().await;
    client
        .batch_execute(&format!(
            "alter table ledger_events disable trigger ledger_events_no_update_delete;
             update ledger_events set payload = jsonb_set(payload, '{{reason}}', '\"other\"')
             where id = '{edited}'"
        ))
        .await
        .expect("tamper");

    let output = auditor_script(server.addr).await;
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains(&format!("BROKEN {edited}: edited")),
        "{}",
        stderr(&output)
    );
    for key in [ROOT_KEY, admin_key.as_str()] {
        let mut client = Client::connect(server.addr, Some(key)).await;
        let report = client.get("/ledger/verify").await.expect(StatusCode::OK);
        assert_eq!(report.body["ok"], false);
        assert_eq!(report.body["break"]["eventId"], edited.as_str());
        assert_eq!(report.body["break"]["reason"], "edited");
    }
    let cli = cli_verify(db.url()).await;
    assert_eq!(cli.status.code(), Some(1), "{}", stderr(&cli));
    assert!(
        stdout(&cli).starts_with(&format!("BROKEN: event {edited} of position")),
        "{}",
        stdout(&cli)
    );
    assert!(stdout(&cli).contains(": edited ("), "{}", stdout(&cli));
    server.stop().await;
}
