//! gridstore: storage primitives on memory and PostgreSQL.
//!
//! Every primitive is one small async trait free of driver types, with an in-memory backend
//! ([`memory`]) and a PostgreSQL backend ([`postgres`]) that pass one contract suite
//! (module `testing`, behind the cargo feature `test-suite`).
#![cfg_attr(
    feature = "test-suite",
    doc = "\nThe contract suites are in [`testing`]: one generic async fn per behaviour."
)]
//!
//! | primitive | trait module |
//! |---|---|
//! | versioned sessions with optimistic locking | [`session`] |
//! | key-value with TTL | [`kv`] |
//! | append-only event log with gap-free subscriptions | [`event_log`] |
//! | workflow checkpoints | [`checkpoint`] |
//! | dead-letter queue | [`dlq`] |
//! | leases (distributed locks with fencing tokens) | [`lock`] |
//!
//! # Semantic choices, and where each is written down
//!
//! | choice | documented in |
//! |---|---|
//! | conflict rule (the version a save carries is the version it read; stale = `VersionConflict`) | [`session`] |
//! | `limit = 0` (an empty page; `None` = no limit), what `clear` touches (sessions only) | [`session`] |
//! | TTL (expired keys invisible at once, swept in batches in the background) | [`kv`] |
//! | counters (atomic increment, fixed window: the TTL is set when the key is created) | [`kv`] |
//! | checkpoint versions (per workflow, assigned by the store, never reused) | [`checkpoint`] |
//! | subscriptions (at-least-once, commit order, never skip a late committer; LISTEN/NOTIFY only wakes) | [`event_log`] |
//! | claims (`for update skip locked`, visibility timeout, expired claims count as attempts) | [`dlq`] |
//! | leases (TTL by the database clock, fencing tokens increasing per key, holder checks) | [`lock`] |
//! | SQLSTATE mapping, retries, commits with unknown outcome | [`postgres`] |

pub mod checkpoint;
pub mod dlq;
pub mod error;
pub mod event_log;
pub mod kv;
pub mod lock;
pub mod memory;
pub(crate) mod metrics;
pub mod payload;
pub mod postgres;
pub mod session;
#[cfg(feature = "test-suite")]
pub mod testing;

pub use checkpoint::{Checkpoint, CheckpointInfo, CheckpointStore};
pub use dlq::{
    ClaimRequest, DeadLetterQueue, DlqFilter, DlqItem, DlqOutcome, DlqStats, DlqStatus, NewDlqItem,
};
pub use error::{Error, Result, Retryable};
pub use event_log::{
    Event, EventFilter, EventLog, EventPosition, NewEvent, ScannedBatch, StreamStats, Subscription,
    SubscriptionOptions, Wakeups,
};
pub use kv::{Counter, KvStats, KvStore};
pub use lock::{Lease, Locks};
pub use payload::Payload;
pub use session::{
    Session, SessionQuery, SessionState, SessionStats, SessionStore, SessionSummary,
};
