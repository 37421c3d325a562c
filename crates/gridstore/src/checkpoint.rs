//! Versioned workflow checkpoints.
//!
//! # Semantics
//!
//! - **Versions are assigned by the store**: 1, 2, 3, ... per workflow, in save order, and
//!   never reused, not even after [`CheckpointStore::delete`] or
//!   [`CheckpointStore::keep_last`] removed the newest ones. Concurrent saves for one workflow
//!   each get their own version (PostgreSQL serializes them on a per-workflow counter row, so
//!   no save ever fails on the `(workflow, version)` unique key). The counter of a workflow is
//!   kept after all its checkpoints are deleted, which is what makes versions never reused.
//! - **`created_at`** is stamped by the store with its clock (the database clock for
//!   PostgreSQL), truncated to the millisecond, after the version is assigned, so it never
//!   decreases as versions grow (unless the clock itself steps back).
//! - **Latest** means the highest version, not the newest timestamp.
//! - **`list`** returns the workflow's checkpoints without their payloads, newest (highest
//!   version) first.
//! - **`delete(workflow, Some(v))`** deletes one version; **`delete(workflow, None)`** deletes
//!   all of the workflow's checkpoints. Both return how many were deleted.
//! - **`keep_last(workflow, n)`** deletes all but the `n` highest versions of one workflow
//!   (`n = 0` deletes them all) and returns how many were deleted. Other workflows are never
//!   touched.
//! - **Fenced saves** ([`CheckpointStore::save_fenced`]) carry the fencing token of the
//!   [lease](crate::Locks) their writer holds. The store keeps the highest token a fenced save
//!   of the workflow carried and refuses, with [`Error::Fenced`] and without saving anything, a
//!   fenced save whose token is lower: a writer whose lease expired and was granted to someone
//!   else can never save after the new holder, so it cannot move the workflow's progress back.
//!   The check and the save are one atomic step (PostgreSQL: under the workflow's counter row
//!   lock). Equal tokens pass (one holder saving again). A plain [`CheckpointStore::save`] is
//!   not fenced and leaves the stored token as it is.
//! - **Workflow names** are non-empty and at most [`MAX_WORKFLOW_LEN`] bytes; payloads
//!   follow the [payload rules](crate::payload) (no NUL character).
//!
//! # Example
//!
//! ```
//! use gridstore::CheckpointStore;
//! use gridstore::memory::MemoryCheckpointStore;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> gridstore::Result<()> {
//! let store = MemoryCheckpointStore::new();
//! for step in 1..=3 {
//!     store.save("import-42", json!({"step": step})).await?;
//! }
//! assert_eq!(store.keep_last("import-42", 1).await?, 2);
//! let latest = store.load_latest("import-42").await?.expect("one is kept");
//! assert_eq!((latest.version, latest.data), (3, json!({"step": 3})));
//! # Ok(())
//! # }
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// The longest workflow name accepted, in bytes.
pub const MAX_WORKFLOW_LEN: usize = 256;

/// One saved checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The workflow it belongs to.
    pub workflow: String,
    /// Its version, assigned by the store (1, 2, 3, ... per workflow).
    pub version: i64,
    /// The payload.
    pub data: Value,
    /// When it was saved (store clock, millisecond precision).
    pub created_at: DateTime<Utc>,
}

impl Checkpoint {
    /// This checkpoint without its payload.
    pub fn info(&self) -> CheckpointInfo {
        CheckpointInfo {
            workflow: self.workflow.clone(),
            version: self.version,
            created_at: self.created_at,
        }
    }
}

/// A checkpoint without its payload, as listed and as returned by a save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// The workflow it belongs to.
    pub workflow: String,
    /// Its version.
    pub version: i64,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

/// Versioned workflow checkpoints. See the [module docs](self) for the rules.
#[async_trait::async_trait]
pub trait CheckpointStore: Send + Sync + fmt::Debug + 'static {
    /// Saves a new checkpoint of `workflow` and returns its version and timestamp.
    async fn save(&self, workflow: &str, data: Value) -> Result<CheckpointInfo>;

    /// Saves like [`CheckpointStore::save`] when `fencing_token` is at least every token an
    /// earlier fenced save of `workflow` carried, and records it as the workflow's token.
    ///
    /// # Errors
    /// [`Error::Fenced`] (nothing saved) when an earlier fenced save carried a higher token.
    async fn save_fenced(
        &self,
        workflow: &str,
        fencing_token: u64,
        data: Value,
    ) -> Result<CheckpointInfo>;

    /// The highest-version checkpoint of `workflow`, if any.
    async fn load_latest(&self, workflow: &str) -> Result<Option<Checkpoint>>;

    /// The checkpoint `version` of `workflow`, if it exists.
    async fn load(&self, workflow: &str, version: i64) -> Result<Option<Checkpoint>>;

    /// The checkpoints of `workflow`, newest first, without payloads.
    async fn list(&self, workflow: &str) -> Result<Vec<CheckpointInfo>>;

    /// Deletes one version (`Some`) or all (`None`) of `workflow`'s checkpoints; returns how
    /// many were deleted.
    async fn delete(&self, workflow: &str, version: Option<i64>) -> Result<u64>;

    /// Deletes all but the `keep` newest checkpoints of `workflow`; returns how many.
    async fn keep_last(&self, workflow: &str, keep: usize) -> Result<u64>;
}

/// Checks a workflow name and a payload about to be saved.
pub(crate) fn validate_save(workflow: &str, data: &Value) -> Result<()> {
    validate_workflow(workflow)?;
    crate::payload::check_storable(data)
}

/// The error of a fenced save refused because `current` was already used.
pub(crate) fn fenced(workflow: &str, token: u64, current: u64) -> Error {
    Error::Fenced {
        key: workflow.to_owned(),
        token,
        current,
    }
}

/// Checks a workflow name against the rules in the module docs.
pub(crate) fn validate_workflow(workflow: &str) -> Result<()> {
    if workflow.is_empty() {
        return Err(Error::InvalidInput(
            "checkpoint workflow must not be empty".into(),
        ));
    }
    if workflow.len() > MAX_WORKFLOW_LEN {
        return Err(Error::InvalidInput(format!(
            "checkpoint workflow must be at most {MAX_WORKFLOW_LEN} bytes"
        )));
    }
    Ok(())
}
