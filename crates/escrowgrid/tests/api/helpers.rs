//! `TestApp`: the router on a fresh memory store, driven with `oneshot`, with one method per
//! endpoint and fixtures for a tenant with keys, a template, an asset and a position.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use escrowgrid::api::{ApiSettings, AppState, router};
use escrowgrid::store::EscrowStore;
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::webhooks::{SecretBox, TargetPolicy, WebhookMetrics, WebhookService};
use gridstore::KvStore;
use gridstore::memory::MemoryDeadLetterQueue;
use gridstore::memory::MemoryKvStore;
use serde_json::{Value, json};
use tower::ServiceExt;

mod endpoints;
pub mod outage;

/// The root key every `TestApp` is configured with.
pub const ROOT: &str = "root-test-key-0123456789";

/// A JSON number with exact text (serde_json `arbitrary_precision`).
pub fn number(text: &str) -> Value {
    Value::Number(text.parse().expect("a JSON number"))
}

/// Shows the API's request logs when `TEST_LOG` is set (once per test binary).
fn init_tracing() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .json()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
                .with_test_writer()
                .try_init();
        }
    });
}

/// The router over a memory store.
#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn EscrowStore>,
    state: AppState,
}

/// A request under construction.
#[must_use]
pub struct Call<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    key: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    content_type: Option<String>,
    peer: Option<SocketAddr>,
}

/// A finished response: status, headers, raw text and parsed JSON (`Null` if not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        &self.json
    }

    /// Asserts status and the `error` string.
    #[track_caller]
    pub fn expect_error(&self, status: u16, error: &str) -> &Value {
        let body = self.expect(status);
        assert_eq!(body["error"], error, "body: {}", self.text);
        body
    }

    /// The `field`s of a `details` list.
    pub fn detail_fields(&self) -> Vec<String> {
        self.json["details"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|d| d["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `id` of the body.
    pub fn id(&self) -> String {
        self.json["id"]
            .as_str()
            .expect("an id in the body")
            .to_owned()
    }
}

impl<'a> Call<'a> {
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(serde_json::to_vec(body).expect("json"));
        self.content_type = Some("application/json".into());
        self
    }

    pub fn raw(mut self, body: impl Into<Vec<u8>>, content_type: Option<&str>) -> Self {
        self.body = Some(body.into());
        self.content_type = content_type.map(str::to_owned);
        self
    }

    pub fn peer(mut self, peer: &str) -> Self {
        self.peer = Some(peer.parse().expect("socket address"));
        self
    }

    pub async fn send(self) -> Reply {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        if let Some(key) = &self.key {
            builder = builder.header("x-api-key", key);
        }
        if let Some(content_type) = &self.content_type {
            builder = builder.header("content-type", content_type);
        }
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(Body::from(self.body.unwrap_or_default()))
            .expect("request");
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let response = self
            .app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        // An event stream never ends: its body is not read here (see `api/events.rs`).
        let endless = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let bytes = if endless {
            axum::body::Bytes::new()
        } else {
            to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body")
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }
}

/// An institution with an admin and a read-only key.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub admin: String,
    pub admin_key_id: String,
    pub read_only: String,
}

/// A tenant plus a template, an asset and a position in state CREATED.
#[derive(Debug, Clone)]
pub struct World {
    pub tenant: Tenant,
    pub template: String,
    pub asset: String,
    pub position: String,
}

impl TestApp {
    /// Default settings with the root key [`ROOT`].
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    /// Default settings with the root key, adjusted by `adjust`.
    ///
    /// The `/webhooks` routes are on (memory DLQ, private targets allowed, no dispatcher).
    pub fn with(adjust: impl FnOnce(&mut ApiSettings)) -> Self {
        let store = Arc::new(MemoryStore::new());
        let webhooks = WebhookService::new(
            store.clone(),
            Arc::new(MemoryDeadLetterQueue::new()),
            TargetPolicy::new(true),
            SecretBox::plain(),
            Arc::new(WebhookMetrics::default()),
        );
        let mut app = Self::on_store(store, adjust);
        let state = app.state.clone().with_webhooks(webhooks);
        app.router = router(state);
        app
    }

    /// The router over `store` and a fresh memory KV store, with the root key and adjusted
    /// settings.
    pub fn on_store(store: Arc<dyn EscrowStore>, adjust: impl FnOnce(&mut ApiSettings)) -> Self {
        Self::on_ports(store, Arc::new(MemoryKvStore::new()), adjust)
    }

    /// The router over `store` and `kv` (share both to model instances behind a load
    /// balancer), with the root key and adjusted settings.
    pub fn on_ports(
        store: Arc<dyn EscrowStore>,
        kv: Arc<dyn KvStore>,
        adjust: impl FnOnce(&mut ApiSettings),
    ) -> Self {
        init_tracing();
        let mut settings = ApiSettings {
            root_api_key: Some(ROOT.to_owned()),
            ..ApiSettings::default()
        };
        adjust(&mut settings);
        let state = AppState::new(Arc::clone(&store), kv, settings);
        let router = router(state.clone());
        Self {
            router,
            store,
            state,
        }
    }

    /// The same app with the `/webhooks` routes on `webhooks` (memory DLQ, private targets
    /// allowed, no dispatcher), e.g. a PostgreSQL store.
    pub fn with_webhook_store(
        mut self,
        webhooks: Arc<dyn escrowgrid::store::WebhookStore>,
    ) -> Self {
        let service = WebhookService::new(
            webhooks,
            Arc::new(MemoryDeadLetterQueue::new()),
            TargetPolicy::new(true),
            SecretBox::plain(),
            Arc::new(WebhookMetrics::default()),
        );
        self.state = self.state.clone().with_webhooks(service);
        self.router = router(self.state.clone());
        self
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            app: self,
            method,
            path: path.to_owned(),
            key: None,
            headers: Vec::new(),
            body: None,
            content_type: None,
            peer: None,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call<'_> {
        self.call(Method::PUT, path)
    }

    // ---- fixtures ----

    /// Creates an institution (regions US and EU_UK) with an admin key (made by root) and a
    /// read-only key (made by the admin, so root's 5-per-hour key budget lasts for 5 tenants).
    pub async fn tenant(&self, name: &str) -> Tenant {
        let institution = self
            .create_institution(ROOT, json!({ "name": name, "regions": ["US", "EU_UK"] }))
            .await;
        let id = institution.expect(201)["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let admin = self
            .create_api_key(ROOT, &id, json!({ "label": "admin", "role": "admin" }))
            .await;
        let admin_body = admin.expect(201);
        let admin_token = admin_body["apiKey"].as_str().expect("token").to_owned();
        let read_only = self
            .create_api_key(
                &admin_token,
                &id,
                json!({ "label": "reader", "role": "read_only" }),
            )
            .await;
        Tenant {
            admin: admin_body["apiKey"].as_str().expect("token").to_owned(),
            admin_key_id: admin_body["id"].as_str().expect("id").to_owned(),
            read_only: read_only.expect(201)["apiKey"]
                .as_str()
                .expect("token")
                .to_owned(),
            id,
        }
    }

    /// A tenant with a CONSTR_ESCROW template (US), an asset and a 1000 USD position.
    pub async fn world(&self, name: &str) -> World {
        let tenant = self.tenant(name).await;
        let template = self
            .create_template(&tenant.admin, template_body())
            .await
            .expect(201)["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let asset = self
            .create_asset(
                &tenant.admin,
                json!({ "templateId": template, "label": "Tower A" }),
            )
            .await
            .expect(201)["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let position = self
            .create_position(&tenant.admin, position_body(&asset, number("1000")))
            .await
            .expect(201)["id"]
            .as_str()
            .expect("id")
            .to_owned();
        World {
            tenant,
            template,
            asset,
            position,
        }
    }
}

/// A valid CONSTR_ESCROW template in region US.
pub fn template_body() -> Value {
    json!({
        "code": "CONSTR_ESCROW", "name": "Construction escrow", "vertical": "CONSTRUCTION",
        "region": "US", "config": { "currency": "USD", "region": "US" },
    })
}

/// A valid position body on `asset`.
pub fn position_body(asset: &str, amount: Value) -> Value {
    let mut body = json!({ "assetId": asset, "holderReference": "holder-1", "currency": "USD" });
    body["amount"] = amount;
    body
}
