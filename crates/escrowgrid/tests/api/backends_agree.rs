//! Issue 13: random valid and invalid bodies for every write route of the core API give the
//! same status, the same answer and the same stored result on memory and on PostgreSQL.
//!
//! One PostgreSQL database for the whole test (testkit) and one memory store, each behind the
//! whole router. Each generated case is sent to both; ids and timestamps differ between
//! backends, so answers are compared with them masked. After every case the tenant's stored
//! state (institutions, keys, policies, templates, assets, positions, ledger, webhooks), read back
//! through the API, must be equal too. Case count: `PROPTEST_CASES`, default 256.

mod bodies;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::Method;
use escrowgrid::store::memory::MemoryStore;
use escrowgrid::store::postgres::PgEscrowStore;
use escrowgrid::store::{EscrowStore, WebhookStore};
use gridstore::postgres::PgConfig;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use self::bodies::{WriteCase, write_case};
use super::helpers::{ROOT, Reply, TestApp};

/// The id prefixes the API mints; an id is the prefix, `_` and a hyphenated UUID.
const ID_PREFIXES: [&str; 12] = [
    "inst", "tmpl", "ast", "pos", "ak", "led", "aud", "evt", "pol", "ple", "whd", "wh",
];
const UUID_LEN: usize = 36;

/// One backend behind the router, with its ids for the `$name` placeholders.
struct Backend {
    name: &'static str,
    app: TestApp,
    admin: String,
    ids: BTreeMap<&'static str, String>,
}

impl Backend {
    async fn new(
        name: &'static str,
        store: Arc<dyn EscrowStore>,
        webhooks: Arc<dyn WebhookStore>,
    ) -> Self {
        let app = TestApp::on_store(store, |settings| {
            settings.rate_limit.institution_creations_per_hour = 1_000_000;
            settings.rate_limit.api_key_creations_per_hour = 1_000_000;
        })
        .with_webhook_store(webhooks);
        let world = app.world("Acme").await;
        let spare = app
            .create_api_key(
                &world.tenant.admin,
                &world.tenant.id,
                serde_json::json!({ "label": "spare", "role": "read_only" }),
            )
            .await
            .id();
        let webhook = app
            .post("/webhooks")
            .key(&world.tenant.admin)
            .json(
                &serde_json::json!({ "url": "https://hooks.example.com/in", "eventTypes": ["*"] }),
            )
            .send()
            .await
            .id();
        let ids = BTreeMap::from([
            ("$last_webhook", webhook),
            ("$inst", world.tenant.id.clone()),
            ("$spare", spare.clone()),
            ("$last_key", spare),
            ("$template", world.template.clone()),
            ("$last_template", world.template),
            ("$asset", world.asset.clone()),
            ("$last_asset", world.asset),
            ("$position", world.position.clone()),
            ("$last_position", world.position),
        ]);
        Self {
            name,
            app,
            admin: world.tenant.admin,
            ids,
        }
    }

    /// `text` with every placeholder replaced by this backend's id (longest names first, so
    /// `$last_asset` is not read as `$last` + ...).
    fn resolve(&self, text: &str) -> String {
        let mut names: Vec<&&str> = self.ids.keys().collect();
        names.sort_by_key(|name| std::cmp::Reverse(name.len()));
        names.into_iter().fold(text.to_owned(), |text, name| {
            text.replace(*name, &self.ids[*name])
        })
    }

    async fn send(&mut self, case: &WriteCase) -> Reply {
        let method = Method::from_bytes(case.method.as_bytes()).expect("method");
        let path = self.resolve(&case.path);
        let key = if case.as_root {
            ROOT
        } else {
            self.admin.as_str()
        };
        let reply = self
            .app
            .call(method, &path)
            .key(key)
            .raw(self.resolve(&case.body), Some("application/json"))
            .send()
            .await;
        if reply.status.as_u16() == 201 {
            let latest = match case.path.as_str() {
                "/institutions/$inst/api-keys" => Some("$last_key"),
                "/asset-templates" => Some("$last_template"),
                "/assets" => Some("$last_asset"),
                "/positions" => Some("$last_position"),
                "/webhooks" => Some("$last_webhook"),
                _ => None,
            };
            if let (Some(name), Some(id)) = (latest, reply.json["id"].as_str()) {
                self.ids.insert(name, id.to_owned());
            }
        }
        reply
    }

    /// The stored state as the API shows it, masked and with lists in a canonical order.
    async fn snapshot(&self) -> Result<Value, TestCaseError> {
        let inst = &self.ids["$inst"];
        let reads = [
            ("/institutions".to_owned(), ROOT),
            (
                format!("/institutions/{inst}/api-keys"),
                self.admin.as_str(),
            ),
            (
                format!("/institutions/{inst}/policies"),
                self.admin.as_str(),
            ),
            (
                "/asset-templates?limit=1000".to_owned(),
                self.admin.as_str(),
            ),
            ("/assets?limit=1000".to_owned(), self.admin.as_str()),
            ("/positions?limit=1000".to_owned(), self.admin.as_str()),
            ("/ledger-events?limit=1000".to_owned(), ROOT),
            ("/webhooks".to_owned(), self.admin.as_str()),
        ];
        let mut state = serde_json::Map::new();
        for (path, key) in reads {
            let reply = self.app.get(&path).key(key).send().await;
            if reply.status.as_u16() != 200 {
                return Err(TestCaseError::fail(format!(
                    "{} {path}: {} {}",
                    self.name, reply.status, reply.text
                )));
            }
            state.insert(path.replace(inst.as_str(), "$inst"), canonical(&reply.json));
        }
        Ok(Value::Object(state))
    }
}

/// `text` with every minted id replaced by `<prefix>`.
fn mask_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for prefix in ID_PREFIXES {
            let Some(tail) = rest.strip_prefix(prefix).and_then(|t| t.strip_prefix('_')) else {
                continue;
            };
            let preceded_by_word = out.chars().last().is_some_and(char::is_alphanumeric);
            let uuid = tail.get(..UUID_LEN).unwrap_or_default();
            if !preceded_by_word
                && uuid.len() == UUID_LEN
                && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            {
                out.push('<');
                out.push_str(prefix);
                out.push('>');
                rest = &tail[UUID_LEN..];
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// `value` with ids, timestamps, tokens and hashes masked and arrays sorted.
fn canonical(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(mask_ids(text)),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_key(Value::to_string);
            Value::Array(items)
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, field)| {
                    let volatile = name.ends_with("At")
                        || matches!(
                            name.as_str(),
                            "at" | "apiKey" | "hash" | "previousHash" | "requestId" | "secret"
                        );
                    let field = if volatile && !field.is_null() {
                        Value::String("<volatile>".to_owned())
                    } else {
                        canonical(field)
                    };
                    (name.clone(), field)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where `memory` and `postgres` first differ, as `path: memory value / postgres value`.
fn first_difference(memory: &Value, postgres: &Value, path: &str) -> Option<String> {
    match (memory, postgres) {
        (Value::Object(m), Value::Object(p)) => m.keys().chain(p.keys()).find_map(|key| {
            let (left, right) = (m.get(key), p.get(key));
            let child = format!("{path}/{key}");
            match (left, right) {
                (Some(left), Some(right)) => first_difference(left, right, &child),
                _ => Some(format!("{child}: memory {left:?} / postgres {right:?}")),
            }
        }),
        (Value::Array(m), Value::Array(p)) if m.len() == p.len() => m
            .iter()
            .zip(p)
            .enumerate()
            .find_map(|(index, (left, right))| {
                first_difference(left, right, &format!("{path}/{index}"))
            }),
        _ if memory == postgres => None,
        _ => Some(format!("{path}: memory {memory} / postgres {postgres}")),
    }
}

#[test]
fn memory_and_postgres_answer_every_write_alike_and_store_the_same() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (database, mut memory, mut postgres) = runtime.block_on(async {
        let database = testkit::database().await;
        let config = PgConfig::from_url(database.url()).expect("config");
        let store = PgEscrowStore::connect(&config).await.expect("connect");
        store.migrate().await.expect("migrate");
        let memory_store = Arc::new(MemoryStore::new());
        let memory = Backend::new("memory", memory_store.clone(), memory_store).await;
        let store = Arc::new(store);
        let postgres = Backend::new("postgres", store.clone(), store).await;
        (database, memory, postgres)
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    let mut runner = TestRunner::new(Config {
        cases,
        // Shrinking replays cases against the state built so far; a few steps are enough to
        // name a small failing body.
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let backends = std::sync::Mutex::new((&mut memory, &mut postgres));
    let accepted = std::sync::atomic::AtomicU32::new(0);
    let result = runner.run(&write_case(), |case| {
        let mut guard = backends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (memory, postgres) = &mut *guard;
        runtime.block_on(async {
            let on_memory = memory.send(&case).await;
            let on_postgres = postgres.send(&case).await;
            let context = format!(
                "{} {}\nbody: {}\nmemory: {} {}\npostgres: {} {}",
                case.method,
                case.path,
                case.body,
                on_memory.status,
                on_memory.text,
                on_postgres.status,
                on_postgres.text
            );
            if on_memory.status.is_success() {
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if on_memory.status != on_postgres.status {
                return Err(TestCaseError::fail(format!("statuses differ: {context}")));
            }
            if canonical(&on_memory.json) != canonical(&on_postgres.json) {
                return Err(TestCaseError::fail(format!("answers differ: {context}")));
            }
            let (stored_memory, stored_postgres) =
                (memory.snapshot().await?, postgres.snapshot().await?);
            if let Some(difference) = first_difference(&stored_memory, &stored_postgres, "") {
                return Err(TestCaseError::fail(format!(
                    "stored results differ after {context}\n{difference}"
                )));
            }
            Ok(())
        })
    });
    drop(memory);
    drop(postgres);
    runtime.block_on(async move { drop(database) });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The bodies must reach the stores, not only the validation: a good share is accepted.
    let accepted = accepted.into_inner();
    assert!(
        accepted * 10 >= cases,
        "only {accepted} of {cases} cases were accepted"
    );
}
