//! Instances (router + dispatcher) on memory or PostgreSQL and waiting with deadlines; their
//! API calls and contract events (`calls`), and the Standard Webhooks reference verifier
//! (`reference`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
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
use gridstore::{EventLog, KvStore};

mod calls;
mod reference;

pub use self::calls::wait_for_delivery;
pub use self::reference::verify_with_reference_library;

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
