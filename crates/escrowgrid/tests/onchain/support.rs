//! An instance (router + on-chain sender) on memory or PostgreSQL, API calls, and waiting
//! with deadlines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use escrowgrid::api::{ApiSettings, AppState, router};
use escrowgrid::config::Secret;
use escrowgrid::onchain::{
    ChainTarget, OnchainApi, OnchainPorts, OnchainSender, SenderHandle, SenderSettings,
};
use escrowgrid::store::EscrowStore;
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::store::postgres::PgEscrowStore;
use gridstore::memory::MemoryKvStore;
use gridstore::postgres::{PgConfig, PgPool};
use gridstore::{EventLog, KvStore};
use serde_json::{Value, json};
use testkit::TestAnvil;
use tower::ServiceExt;

pub const ROOT: &str = "root-onchain-test-key-0123456789";

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

async fn connect(url: &str) -> PgPool {
    let config = PgConfig::from_url(url).expect("url").with_pool_max_size(8);
    PgPool::connect(&config).await.expect("pool")
}

/// Fast settings: short polls and retries, `max_retries` attempts.
pub fn fast_settings(max_retries: u32) -> SenderSettings {
    SenderSettings {
        instance: format!("test-{}", uuid::Uuid::new_v4()),
        configured_chain_id: Some(31_337),
        max_retries,
        retry_delay: Duration::from_millis(50),
        batch_size: 10,
        confirmations: 1,
        confirm_timeout: Duration::from_secs(10),
        poll_interval: Duration::from_millis(50),
        lease_ttl: Duration::from_secs(5),
    }
}

/// Shows the sender's logs when `TEST_LOG` is set (once per test binary).
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

/// One application instance: the router showing on-chain records, and a running sender.
pub struct Instance {
    pub router: Router,
    pub store: Arc<dyn EscrowStore>,
    pub ports: OnchainPorts,
    pub sender: Option<SenderHandle>,
}

impl Instance {
    pub async fn start(backend: &Backend, anvil: &TestAnvil, settings: SenderSettings) -> Self {
        Self::start_with(backend, anvil, settings, None).await
    }

    /// An instance whose position writes wait `fail_wait` for confirmation (`fail` mode).
    pub async fn start_with(
        backend: &Backend,
        anvil: &TestAnvil,
        settings: SenderSettings,
        fail_wait: Option<Duration>,
    ) -> Self {
        let mut instance = Self::without_sender(backend, fail_wait).await;
        instance.start_sender(anvil, settings);
        instance
    }

    /// An instance that sends nothing (another process may).
    pub async fn without_sender(backend: &Backend, fail_wait: Option<Duration>) -> Self {
        init_tracing();
        let (store, ports): (Arc<dyn EscrowStore>, OnchainPorts) = match backend {
            Backend::Memory => {
                let store = Arc::new(MemoryStore::new());
                let events: Arc<dyn EventLog> = store.events();
                let kv: Arc<dyn KvStore> = Arc::new(MemoryKvStore::new());
                (store, OnchainPorts::memory(events, kv))
            }
            Backend::Postgres(url) => {
                let pool = connect(url).await;
                let store = PgEscrowStore::new(pool.clone());
                let kv: Arc<dyn KvStore> = Arc::new(store.kv_store());
                let store = Arc::new(store);
                let events: Arc<dyn EventLog> = store.events();
                (store, OnchainPorts::postgres(&pool, events, kv))
            }
        };
        Self::around(store, ports, fail_wait)
    }

    /// Another instance over the same data (same store and ports), with its own sender.
    pub fn sibling(&self, anvil: &TestAnvil, settings: SenderSettings) -> Self {
        let mut instance = Self::around(Arc::clone(&self.store), self.ports.clone(), None);
        instance.start_sender(anvil, settings);
        instance
    }

    fn around(
        store: Arc<dyn EscrowStore>,
        ports: OnchainPorts,
        fail_wait: Option<Duration>,
    ) -> Self {
        let api = ApiSettings {
            root_api_key: Some(ROOT.to_owned()),
            ..ApiSettings::default()
        };
        let state = AppState::new(Arc::clone(&store), Arc::clone(&ports.kv), api)
            .with_onchain(OnchainApi::new(&ports, fail_wait));
        Self {
            router: router(state),
            store,
            ports,
            sender: None,
        }
    }

    pub fn start_sender(&mut self, anvil: &TestAnvil, settings: SenderSettings) {
        let target = ChainTarget {
            rpc_url: anvil.rpc_url(),
            private_key: Secret::new(anvil.sender_private_key().to_owned()),
            contract: anvil.contract_address(),
        };
        self.sender = Some(OnchainSender::spawn(
            Arc::clone(&self.store),
            self.ports.clone(),
            target,
            settings,
        ));
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self.call_with_headers(method, path, body).await;
        (status, body)
    }

    /// [`Instance::call`], with the answer's headers.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", ROOT);
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
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn created(&self, path: &str, body: Value) -> Value {
        let (status, body) = self.call(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
        body
    }

    /// A new institution and an asset whose template has `config.onchain` = `onchain` (left
    /// out when null): `(institution id, asset id)`.
    pub async fn asset(&self, onchain: Value) -> (String, String) {
        let institution = self
            .created("/institutions", json!({"name": "Acme", "regions": ["US"]}))
            .await;
        let institution_id = institution["id"].as_str().expect("id").to_owned();
        let mut config = json!({"currency": "USD", "region": "US"});
        if !onchain.is_null() {
            config["onchain"] = onchain;
        }
        let template = self
            .created(
                "/asset-templates",
                json!({
                    "institutionId": institution_id,
                    "code": "CONSTR_ESCROW", "name": "Escrow", "vertical": "CONSTRUCTION",
                    "region": "US", "config": config
                }),
            )
            .await;
        let asset = self
            .created(
                "/assets",
                json!({"institutionId": institution_id, "templateId": template["id"], "label": "Tower A"}),
            )
            .await;
        (institution_id, asset["id"].as_str().expect("id").to_owned())
    }

    /// A new position on `asset`: its JSON.
    pub async fn position(&self, institution: &str, asset: &str) -> Value {
        self.created(
            "/positions",
            json!({
                "institutionId": institution, "assetId": asset, "holderReference": "holder-42",
                "currency": "USD", "amount": 1250.5, "externalReference": "ext-7"
            }),
        )
        .await
    }

    /// The ledger events of a position as the API shows them.
    pub async fn ledger(&self, position: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/ledger-events?positionId={position}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body.as_array().expect("a list").clone()
    }

    /// Waits until every ledger event of `position` has an `onchain.status` in `statuses`.
    pub async fn wait_for_status(
        &self,
        position: &str,
        count: usize,
        statuses: &[&str],
    ) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = self.ledger(position).await;
            let done = events.len() == count
                && events
                    .iter()
                    .all(|e| statuses.iter().any(|s| e["onchain"]["status"] == *s));
            if done {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {statuses:?}: {events:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
