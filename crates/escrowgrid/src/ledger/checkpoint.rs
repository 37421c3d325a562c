//! Ledger checkpoints: every event committed since the previous checkpoint, hashed in commit
//! order into an events root, each checkpoint chained to the previous one. A checkpoint's count
//! and root expose what the per-position chains cannot: a deleted tail or an appended event.
//! Its `hash` is what the on-chain ledger anchors (see `docs/LEDGER.md`, `docs/ONCHAIN.md`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::LedgerEvent;
use crate::domain::time::{format_millis, millis};

use super::hash::digest;

/// The domain-separation tags of the two hashes.
const ROOT_TAG: &str = "escrowgrid-checkpoint-events-v1";
const TAG: &str = "escrowgrid-checkpoint-v1";

/// One checkpoint (the JSON of `GET /ledger/checkpoints`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// 1, 2, 3, … without gaps.
    pub number: i64,
    /// When it was taken.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// The backend's commit-order cursor after the last event covered (PostgreSQL: the
    /// transaction id fence; memory: the ledger length).
    pub fence: i64,
    /// How many events it covers.
    pub event_count: i64,
    /// SHA-256 over the covered events' leaves in commit order.
    pub events_root: String,
    /// The previous checkpoint's hash (`None` for the first).
    pub previous_hash: Option<String>,
    /// SHA-256 of this checkpoint chained to the previous one.
    pub hash: String,
    /// Its anchor on chain, `{status, txHash, blockNumber, chainId}` (as a ledger event's
    /// `onchain`), when the on-chain ledger is enabled; `None` otherwise.
    pub onchain: Option<serde_json::Value>,
}

/// An event's leaf: its hash, or `id:<event id>` for an event written before hashing started.
#[must_use]
pub fn leaf(event: &LedgerEvent) -> String {
    event
        .hash
        .clone()
        .unwrap_or_else(|| format!("id:{}", event.id))
}

/// The events root of `leaves` (in commit order).
#[must_use]
pub fn events_root(leaves: &[String]) -> String {
    digest(std::iter::once(ROOT_TAG).chain(leaves.iter().map(String::as_str)))
}

/// The hash of a checkpoint's fields (its own `hash` and `onchain` are not read).
#[must_use]
pub fn checkpoint_hash(checkpoint: &Checkpoint) -> String {
    digest([
        TAG,
        checkpoint.previous_hash.as_deref().unwrap_or(""),
        &checkpoint.number.to_string(),
        &format_millis(&checkpoint.created_at),
        &checkpoint.fence.to_string(),
        &checkpoint.event_count.to_string(),
        &checkpoint.events_root,
    ])
}

/// The checkpoint after `previous` covering `leaves` up to `fence`.
#[must_use]
pub fn next(
    previous: Option<&Checkpoint>,
    fence: i64,
    leaves: &[String],
    at: DateTime<Utc>,
) -> Checkpoint {
    let mut checkpoint = Checkpoint {
        number: previous.map_or(1, |p| p.number + 1),
        created_at: at,
        fence,
        event_count: i64::try_from(leaves.len()).unwrap_or(i64::MAX),
        events_root: events_root(leaves),
        previous_hash: previous.map(|p| p.hash.clone()),
        hash: String::new(),
        onchain: None,
    };
    checkpoint.hash = checkpoint_hash(&checkpoint);
    checkpoint
}

/// The first checkpoint that does not verify, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointBreak {
    /// Its number.
    pub number: i64,
    /// `count` (events deleted or added), `root` (events changed or reordered), `hash` (the
    /// checkpoint row edited) or `chain` (a checkpoint missing or out of order).
    pub reason: &'static str,
    /// A sentence for people.
    pub detail: String,
}

/// Verifies checkpoints (in number order) against the leaves of the events each covers now.
#[must_use]
pub fn verify_checkpoints(checkpoints: &[(Checkpoint, Vec<String>)]) -> Option<CheckpointBreak> {
    let mut previous: Option<&Checkpoint> = None;
    for (checkpoint, leaves) in checkpoints {
        let broken = |reason, detail: String| {
            Some(CheckpointBreak {
                number: checkpoint.number,
                reason,
                detail,
            })
        };
        let expected_number = previous.map_or(1, |p| p.number + 1);
        if checkpoint.number != expected_number
            || checkpoint.previous_hash.as_deref() != previous.map(|p| p.hash.as_str())
        {
            return broken(
                "chain",
                format!("expected checkpoint {expected_number} here"),
            );
        }
        if checkpoint_hash(checkpoint) != checkpoint.hash {
            return broken("hash", "its hash does not match its fields".into());
        }
        let count = i64::try_from(leaves.len()).unwrap_or(i64::MAX);
        if count != checkpoint.event_count {
            return broken(
                "count",
                format!(
                    "it covered {} events, {count} remain",
                    checkpoint.event_count
                ),
            );
        }
        if events_root(leaves) != checkpoint.events_root {
            return broken("root", "its events changed since it was taken".into());
        }
        previous = Some(checkpoint);
    }
    None
}
