//! Instances (router + dispatcher) on memory or PostgreSQL, contract events, API calls,
//! waiting with deadlines, and the Standard Webhooks reference verifier.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use escrowgrid::api::{ApiSettings, AppState, router};
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, WebhookStore};
use escrowgrid::webhooks::{
    DeliveryClient, Dispatcher, DispatcherHandle, SecretBox, TargetPolicy, WebhookMetrics,
    WebhookPorts, WebhookService, WebhookSettings,
};
use gridstore::memory::MemoryKvStore;
use gridstore::postgres::{PgConfig, PgPool};
use gridstore::{EventLog, KvStore, NewEvent};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::receiver::Received;

pub const ROOT: &str = "root-webhook-test-key-0123456789";

/// Fast settings for tests: short retries, timeouts and leases; private targets allowed.
pub fn fast_settings() -> WebhookSettings {
    WebhookSettings {
        retry_schedule: vec![Duration::from_millis(50), Duration::from_millis(100)],
        timeout: Duration::from_millis(500),
        // Long enough that a loaded machine does not lose leases mid-test (a lost lease means
        // a re-delivery, which the exact counts below would not expect).
        lease_ttl: Duration::from_secs(5),
        refresh_interval: Duration::from_millis(50),
        batch_size: 20,
        ..WebhookSettings::default()
    }
}

/// One application instance: the router with webhooks and a running dispatcher.
pub struct Instance {
    pub router: Router,
    pub store: Arc<dyn EscrowStore>,
    pub kv: Arc<dyn KvStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub ports: WebhookPorts,
    pub metrics: Arc<WebhookMetrics>,
    pub policy: TargetPolicy,
    pub settings: WebhookSettings,
    pub dispatcher: Option<DispatcherHandle>,
}

/// An instance's ports: escrow store, webhook store, KV store and the gridstore ports.
type Ports = (
    Arc<dyn EscrowStore>,
    Arc<dyn WebhookStore>,
    Arc<dyn KvStore>,
    WebhookPorts,
);

/// Where an instance keeps its data.
#[derive(Clone)]
pub enum Backend {
    Memory,
    /// A database URL: every instance opens its own pool, like separate processes.
    Postgres(String),
}

impl Backend {
    /// A migrated PostgreSQL database (escrowgrid and gridstore schemas); keep the guard.
    pub async fn postgres() -> (Self, testkit::TestDatabase) {
        let database = testkit::database().await;
        let pool = connect(database.url()).await;
        PgEscrowStore::new(pool.clone())
            .migrate()
            .await
            .expect("migrate");
        gridstore::postgres::migrations::migrate(&pool)
            .await
            .expect("gridstore migrate");
        pool.close();
        (Self::Postgres(database.url().to_owned()), database)
    }
}

/// Shows the dispatcher's logs when `TEST_LOG` is set (once per test binary).
fn init_tracing() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
                .with_test_writer()
                .try_init();
        }
    });
}

impl Instance {
    /// An instance with `settings` and private targets allowed.
    pub async fn start(backend: &Backend, settings: WebhookSettings) -> Self {
        init_tracing();
        Self::with_policy(backend, settings, TargetPolicy::new(true)).await
    }

    pub async fn with_policy(
        backend: &Backend,
        settings: WebhookSettings,
        policy: TargetPolicy,
    ) -> Self {
        let (store, webhooks, kv, ports): Ports = match backend {
            Backend::Memory => {
                let store = Arc::new(MemoryStore::new());
                // The store's own outbox, as `serve` wires it.
                let events: Arc<dyn EventLog> = store.events();
                let kv: Arc<dyn KvStore> = Arc::new(MemoryKvStore::new());
                (store.clone(), store, kv, WebhookPorts::memory(events))
            }
            Backend::Postgres(url) => {
                let pool = connect(url).await;
                let store = PgEscrowStore::new(pool.clone());
                let kv: Arc<dyn KvStore> = Arc::new(store.kv_store());
                let store = Arc::new(store);
                // The store's own outbox, as `serve` wires it.
                let events: Arc<dyn EventLog> = store.events();
                (
                    store.clone(),
                    store,
                    kv,
                    WebhookPorts::postgres(&pool, events),
                )
            }
        };
        let metrics = Arc::new(WebhookMetrics::default());
        let service = WebhookService::new(
            Arc::clone(&webhooks),
            Arc::clone(&ports.dlq),
            policy.clone(),
            SecretBox::plain(),
            Arc::clone(&metrics),
        )
        .starting_at_the_tail(Arc::clone(&ports.events), Arc::clone(&ports.checkpoints));
        let api = ApiSettings {
            root_api_key: Some(ROOT.to_owned()),
            ..ApiSettings::default()
        };
        let router =
            router(AppState::new(Arc::clone(&store), Arc::clone(&kv), api).with_webhooks(service));
        let mut instance = Self {
            router,
            store,
            kv,
            webhooks,
            ports,
            metrics,
            policy,
            settings,
            dispatcher: None,
        };
        instance.start_dispatcher();
        instance
    }

    /// Another instance over the same data (same store, same gridstore ports).
    pub fn sibling(&self, settings: WebhookSettings) -> Self {
        let service = WebhookService::new(
            Arc::clone(&self.webhooks),
            Arc::clone(&self.ports.dlq),
            self.policy.clone(),
            SecretBox::plain(),
            Arc::clone(&self.metrics),
        )
        .starting_at_the_tail(
            Arc::clone(&self.ports.events),
            Arc::clone(&self.ports.checkpoints),
        );
        let api = ApiSettings {
            root_api_key: Some(ROOT.to_owned()),
            ..ApiSettings::default()
        };
        let mut instance = Self {
            router: router(
                AppState::new(Arc::clone(&self.store), Arc::clone(&self.kv), api)
                    .with_webhooks(service),
            ),
            store: Arc::clone(&self.store),
            kv: Arc::clone(&self.kv),
            webhooks: Arc::clone(&self.webhooks),
            ports: self.ports.clone(),
            metrics: Arc::new(WebhookMetrics::default()),
            policy: self.policy.clone(),
            settings,
            dispatcher: None,
        };
        instance.start_dispatcher();
        instance
    }

    pub fn start_dispatcher(&mut self) {
        let client =
            DeliveryClient::new(self.policy.clone(), self.settings.timeout).expect("client");
        self.dispatcher = Some(Dispatcher::spawn(
            Arc::clone(&self.webhooks),
            self.ports.clone(),
            client,
            SecretBox::plain(),
            WebhookSettings {
                instance: format!("test-{}", uuid::Uuid::new_v4()),
                ..self.settings.clone()
            },
            Arc::clone(&self.metrics),
        ));
    }

    /// Kills the dispatcher mid-flight (no lease release, no checkpoint).
    pub fn crash_dispatcher(&mut self) {
        if let Some(mut handle) = self.dispatcher.take() {
            handle.abort();
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", key);
        let body = match body {
            Some(body) => {
                builder = builder.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&body).expect("json"))
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(builder.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// The Prometheus text of `/metrics/prometheus` (root).
    pub async fn prometheus(&self) -> String {
        let request = Request::builder()
            .uri("/metrics/prometheus")
            .header("x-api-key", ROOT)
            .body(Body::empty())
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A new institution (root) and an admin and a read-only key: `(id, admin, read_only)`.
    pub async fn tenant(&self, name: &str) -> (String, String, String) {
        let (status, institution) = self
            .call(
                Method::POST,
                "/institutions",
                ROOT,
                Some(json!({"name": name, "regions": ["US"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{institution}");
        let id = institution["id"].as_str().expect("id").to_owned();
        let mut keys = Vec::new();
        for role in ["admin", "read_only"] {
            let (status, key) = self
                .call(
                    Method::POST,
                    &format!("/institutions/{id}/api-keys"),
                    ROOT,
                    Some(json!({"label": role, "role": role})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{key}");
            keys.push(key["apiKey"].as_str().expect("token").to_owned());
        }
        let read_only = keys.pop().expect("read-only key");
        let admin = keys.pop().expect("admin key");
        (id, admin, read_only)
    }

    /// Registers an endpoint as root: `(webhook id, secret)`.
    pub async fn webhook(&self, institution: &str, url: &str, types: &[&str]) -> (String, String) {
        let (status, body) = self
            .call(
                Method::POST,
                "/webhooks",
                ROOT,
                Some(json!({"institutionId": institution, "url": url, "eventTypes": types})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["id"].as_str().expect("id").to_owned(),
            body["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Appends contract events (`(type, position)`) to the institution's stream, one append
    /// each (one transaction each, like the outbox); returns their event ids in order.
    pub async fn emit(&self, institution: &str, events: &[(&str, Option<&str>)]) -> Vec<String> {
        let mut ids = Vec::new();
        for (event_type, position) in events {
            let id = format!("evt_{}", uuid::Uuid::new_v4());
            let data = match position {
                Some(position) => json!({"id": position, "n": ids.len()}),
                None => json!({"n": ids.len()}),
            };
            let payload = json!({
                "id": id, "type": event_type, "institutionId": institution,
                "occurredAt": "2026-11-30T01:02:03.456Z", "data": data,
            });
            let mut event = NewEvent::new(format!("inst:{institution}"), *event_type, payload);
            if let Some(position) = position {
                event = event.with_correlation_id(*position);
            }
            self.ports.events.append(vec![event]).await.expect("append");
            ids.push(id);
        }
        ids
    }
}

async fn connect(url: &str) -> PgPool {
    let config = PgConfig::from_url(url).expect("url").with_pool_max_size(8);
    PgPool::connect(&config).await.expect("pool")
}

/// Waits until `condition` holds, polling, failing after `deadline` with `what`.
pub async fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Checks every request with the `standardwebhooks` Python package (the reference
/// implementation): panics with an install hint when it is missing.
pub fn verify_with_reference_library(secret: &str, requests: &[Received]) {
    let script = r#"
import json, sys
try:
    from standardwebhooks.webhooks import Webhook
except ImportError:
    print("MISSING"); sys.exit(3)
checked = 0
for line in sys.stdin:
    item = json.loads(line)
    Webhook(item["secret"]).verify(item["body"], item["headers"])
    checked += 1
print("ok", checked)
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the Standard Webhooks check (apt-get install python3)");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for request in requests {
            let line = json!({"secret": secret, "body": request.body, "headers": request.headers});
            writeln!(stdin, "{line}").expect("write");
        }
    }
    let output = child.wait_with_output().expect("python3 ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("MISSING"),
        "the Standard Webhooks reference library is missing: pip install standardwebhooks"
    );
    assert!(
        output.status.success(),
        "signature verification failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), format!("ok {}", requests.len()));
}

/// Polls the endpoint's deliveries until one satisfies `wanted`; returns it.
pub async fn wait_for_delivery(
    instance: &Instance,
    webhook: &str,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let (status, page) = instance
            .call(
                Method::GET,
                &format!("/webhooks/{webhook}/deliveries"),
                ROOT,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        if let Some(found) = page["data"]
            .as_array()
            .and_then(|items| items.iter().find(|d| wanted(d)))
        {
            return found.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
