//! In-memory [`CheckpointStore`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

use crate::Result;
use crate::checkpoint::{Checkpoint, CheckpointInfo, CheckpointStore, fenced, validate_save};
use crate::metrics::observe;

const PRIMITIVE: &str = "checkpoint";
const BACKEND: &str = "memory";

#[derive(Debug, Default)]
struct Workflow {
    /// The highest version ever assigned (kept after deletes so versions are never reused).
    last_version: i64,
    /// The highest fencing token a fenced save carried.
    fencing_token: Option<u64>,
    checkpoints: BTreeMap<i64, (Value, DateTime<Utc>)>,
}

/// Checkpoints in a process-local map. Clones are handles to the same checkpoints; nothing
/// survives the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryCheckpointStore {
    workflows: Arc<Mutex<HashMap<String, Workflow>>>,
}

impl MemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Workflow>> {
        // Every write completes under the lock without panicking paths, so poison is benign.
        self.workflows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl MemoryCheckpointStore {
    /// Saves under the lock, fenced when `token` is given.
    fn save_locked(
        &self,
        workflow: &str,
        token: Option<u64>,
        data: Value,
    ) -> Result<CheckpointInfo> {
        let mut workflows = self.lock();
        let entry = workflows.entry(workflow.to_owned()).or_default();
        if let (Some(token), Some(current)) = (token, entry.fencing_token) {
            if token < current {
                return Err(fenced(workflow, token, current));
            }
        }
        if token.is_some() {
            entry.fencing_token = token;
        }
        // Stamped under the lock, so `created_at` grows with the version (as in PostgreSQL).
        let created_at = Utc::now().trunc_subsecs(3);
        entry.last_version += 1;
        entry
            .checkpoints
            .insert(entry.last_version, (data, created_at));
        Ok(CheckpointInfo {
            workflow: workflow.to_owned(),
            version: entry.last_version,
            created_at,
        })
    }
}

fn checkpoint(workflow: &str, version: i64, data: &Value, created_at: DateTime<Utc>) -> Checkpoint {
    Checkpoint {
        workflow: workflow.to_owned(),
        version,
        data: data.clone(),
        created_at,
    }
}

#[async_trait::async_trait]
impl CheckpointStore for MemoryCheckpointStore {
    async fn save(&self, workflow: &str, data: Value) -> Result<CheckpointInfo> {
        observe(PRIMITIVE, "save", BACKEND, async {
            validate_save(workflow, &data)?;
            self.save_locked(workflow, None, data)
        })
        .await
    }

    async fn save_fenced(
        &self,
        workflow: &str,
        fencing_token: u64,
        data: Value,
    ) -> Result<CheckpointInfo> {
        observe(PRIMITIVE, "save_fenced", BACKEND, async {
            validate_save(workflow, &data)?;
            self.save_locked(workflow, Some(fencing_token), data)
        })
        .await
    }

    async fn load_latest(&self, workflow: &str) -> Result<Option<Checkpoint>> {
        observe(PRIMITIVE, "load_latest", BACKEND, async {
            Ok(self.lock().get(workflow).and_then(|w| {
                w.checkpoints
                    .last_key_value()
                    .map(|(&v, (data, at))| checkpoint(workflow, v, data, *at))
            }))
        })
        .await
    }

    async fn load(&self, workflow: &str, version: i64) -> Result<Option<Checkpoint>> {
        observe(PRIMITIVE, "load", BACKEND, async {
            Ok(self.lock().get(workflow).and_then(|w| {
                w.checkpoints
                    .get(&version)
                    .map(|(data, at)| checkpoint(workflow, version, data, *at))
            }))
        })
        .await
    }

    async fn list(&self, workflow: &str) -> Result<Vec<CheckpointInfo>> {
        observe(PRIMITIVE, "list", BACKEND, async {
            Ok(self
                .lock()
                .get(workflow)
                .map(|w| {
                    w.checkpoints
                        .iter()
                        .rev()
                        .map(|(&version, (_, at))| CheckpointInfo {
                            workflow: workflow.to_owned(),
                            version,
                            created_at: *at,
                        })
                        .collect()
                })
                .unwrap_or_default())
        })
        .await
    }

    async fn delete(&self, workflow: &str, version: Option<i64>) -> Result<u64> {
        observe(PRIMITIVE, "delete", BACKEND, async {
            let mut workflows = self.lock();
            let Some(entry) = workflows.get_mut(workflow) else {
                return Ok(0);
            };
            Ok(match version {
                Some(v) => u64::from(entry.checkpoints.remove(&v).is_some()),
                None => {
                    let deleted = entry.checkpoints.len() as u64;
                    entry.checkpoints.clear();
                    deleted
                }
            })
        })
        .await
    }

    async fn keep_last(&self, workflow: &str, keep: usize) -> Result<u64> {
        observe(PRIMITIVE, "keep_last", BACKEND, async {
            let mut workflows = self.lock();
            let Some(entry) = workflows.get_mut(workflow) else {
                return Ok(0);
            };
            let excess = entry.checkpoints.len().saturating_sub(keep);
            let doomed: Vec<i64> = entry.checkpoints.keys().take(excess).copied().collect();
            for version in &doomed {
                entry.checkpoints.remove(version);
            }
            Ok(doomed.len() as u64)
        })
        .await
    }
}
