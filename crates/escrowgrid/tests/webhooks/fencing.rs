//! A stale dispatcher cannot move an endpoint's cursor back: a worker paused inside its
//! checkpoint save (after its last lease extension) while another instance took the endpoint
//! over and saved further is refused when it wakes up. Memory and PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use escrowgrid::webhooks::WebhookSettings;
use gridstore::{Checkpoint, CheckpointInfo, CheckpointStore};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::receiver::{Behaviour, Receiver};
use super::support::{Backend, Instance, fast_settings, wait_until};

/// The held save's token (once it arrived) and its outcome (version or error, once it ran).
type Held = (Option<u64>, Option<Result<i64, String>>);

/// Holds the first fenced save until the test opens the gate; every other call passes.
#[derive(Debug)]
struct GatedFirstSave {
    inner: Arc<dyn CheckpointStore>,
    armed: AtomicBool,
    gate: Semaphore,
    held: Mutex<Held>,
}

impl GatedFirstSave {
    fn held(&self) -> Held {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl CheckpointStore for GatedFirstSave {
    async fn save(&self, workflow: &str, data: Value) -> gridstore::Result<CheckpointInfo> {
        self.inner.save(workflow, data).await
    }

    async fn save_fenced(
        &self,
        workflow: &str,
        token: u64,
        data: Value,
    ) -> gridstore::Result<CheckpointInfo> {
        if !self.armed.swap(false, Ordering::SeqCst) {
            return self.inner.save_fenced(workflow, token, data).await;
        }
        self.held.lock().unwrap_or_else(PoisonError::into_inner).0 = Some(token);
        let _open = self.gate.acquire().await.expect("gate");
        let outcome = self.inner.save_fenced(workflow, token, data).await;
        self.held.lock().unwrap_or_else(PoisonError::into_inner).1 = Some(
            outcome
                .as_ref()
                .map(|info| info.version)
                .map_err(ToString::to_string),
        );
        outcome
    }

    async fn load_latest(&self, workflow: &str) -> gridstore::Result<Option<Checkpoint>> {
        self.inner.load_latest(workflow).await
    }

    async fn load(&self, workflow: &str, version: i64) -> gridstore::Result<Option<Checkpoint>> {
        self.inner.load(workflow, version).await
    }

    async fn list(&self, workflow: &str) -> gridstore::Result<Vec<CheckpointInfo>> {
        self.inner.list(workflow).await
    }

    async fn delete(&self, workflow: &str, version: Option<i64>) -> gridstore::Result<u64> {
        self.inner.delete(workflow, version).await
    }

    async fn keep_last(&self, workflow: &str, keep: usize) -> gridstore::Result<u64> {
        self.inner.keep_last(workflow, keep).await
    }
}

fn token_of(checkpoint: &Checkpoint) -> u64 {
    checkpoint.data["fencingToken"].as_u64().expect("token")
}

async fn a_stale_worker_cannot_move_the_cursor_back(backend: Backend) {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let settings = WebhookSettings {
        endpoint_parallelism: 1,
        ..fast_settings()
    };
    let mut first = Instance::start(&backend, settings.clone()).await;
    // Restart the (still idle) dispatcher on a checkpoint store that holds its first save.
    first.crash_dispatcher();
    let gated = Arc::new(GatedFirstSave {
        inner: Arc::clone(&first.ports.checkpoints),
        armed: AtomicBool::new(true),
        gate: Semaphore::new(0),
        held: Mutex::new((None, None)),
    });
    first.ports.checkpoints = gated.clone();
    first.start_dispatcher();
    let (acme, _, _) = first.tenant("Acme").await;
    let (webhook, _) = first.webhook(&acme, &receiver.url(), &["*"]).await;
    let workflow = format!("webhook:{webhook}");
    let early = first
        .emit(&acme, &[("position.state_changed", Some("pos_1")); 3])
        .await;

    wait_until(
        "the first worker is inside its save",
        Duration::from_secs(20),
        || gated.held().0.is_some(),
    )
    .await;
    let stale_token = gated.held().0.expect("token");
    // Its lease is lost (as if it had expired while the worker was paused); another instance
    // takes the endpoint over, delivers and saves further.
    first
        .ports
        .locks
        .force_release(&workflow)
        .await
        .expect("release");
    let late = first
        .emit(&acme, &[("position.state_changed", Some("pos_1")); 3])
        .await;
    let _second = first.sibling(settings);
    let checkpoints = Arc::clone(&gated.inner);
    let all_delivered = || {
        let delivered: Vec<String> = receiver
            .requests()
            .iter()
            .map(|r| r.header("webhook-id").to_owned())
            .collect();
        early.iter().chain(&late).all(|id| delivered.contains(id))
    };
    // The new holder delivers every event (its first save may come before its last delivery,
    // so wait for both, each with a deadline).
    let mut newer = None;
    for _ in 0..400 {
        let latest = checkpoints.load_latest(&workflow).await.expect("load");
        if let Some(latest) = latest.filter(|c| token_of(c) > stale_token)
            && all_delivered()
        {
            newer = Some(latest);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let newer = newer.expect("the new holder delivered every event and saved its cursor");

    // The stale worker wakes up and tries to save its older cursor.
    gated.gate.add_permits(1);
    wait_until("the stale save returned", Duration::from_secs(10), || {
        gated.held().1.is_some()
    })
    .await;
    let outcome = gated.held().1.expect("outcome");
    assert!(
        outcome.as_ref().is_err_and(|e| e.contains("fenced off")),
        "the stale save was not refused: {outcome:?}"
    );
    let latest = checkpoints
        .load_latest(&workflow)
        .await
        .expect("load")
        .expect("saved");
    // The stale save did not land: the newest cursor is still the new holder's (it may have
    // saved again since, never with the stale token).
    assert_eq!(token_of(&latest), token_of(&newer), "the cursor moved back");
    assert!(latest.version >= newer.version, "the cursor moved back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_worker_cannot_move_the_cursor_back_on_memory() {
    a_stale_worker_cannot_move_the_cursor_back(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_worker_cannot_move_the_cursor_back_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    a_stale_worker_cannot_move_the_cursor_back(backend).await;
}
