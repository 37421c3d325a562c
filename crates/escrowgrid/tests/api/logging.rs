//! Request logs: one structured event per request with the request id, and no secrets.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use super::helpers::{ROOT, TestApp};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_request_is_logged_once_with_its_request_id_and_without_secrets() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    app.post("/positions")
        .key(&tenant.admin)
        .header("x-request-id", "req-log-1")
        .header("authorization", "Bearer also-secret")
        .json(&json!({ "assetId": "ast_x", "holderReference": "holder-secret", "currency": "USD", "amount": 1 }))
        .send()
        .await;
    app.get("/institutions")
        .key("wrong-token-value")
        .send()
        .await;

    let logs = captured.text();
    let request_lines: Vec<_> = logs
        .lines()
        .filter(|line| line.contains("req-log-1") && line.contains("\"route\""))
        .collect();
    assert_eq!(request_lines.len(), 1, "{logs}");
    assert!(
        request_lines[0].contains("\"route\":\"/positions\""),
        "{}",
        request_lines[0]
    );
    assert!(
        request_lines[0].contains("\"status\":400"),
        "{}",
        request_lines[0]
    );
    assert!(
        request_lines[0].contains("latency_ms"),
        "{}",
        request_lines[0]
    );
    for secret in [
        ROOT,
        tenant.admin.as_str(),
        tenant.read_only.as_str(),
        "also-secret",
        "holder-secret",
        "wrong-token-value",
    ] {
        assert!(
            !logs.contains(secret),
            "a secret leaked into the logs: {secret}"
        );
    }
}
