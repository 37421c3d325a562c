//! gridstore: storage primitives on memory and PostgreSQL.
//!
//! Every primitive is one small async trait free of driver types, with an in-memory backend
//! ([`memory`]) and a PostgreSQL backend ([`postgres`]) that pass one contract suite
//! ([`testing`], feature `test-suite`).
//!
//! | primitive | trait module |
//! |---|---|
//! | versioned sessions with optimistic locking | [`session`] |
//! | key-value with TTL | [`kv`] |
//! | append-only event log with gap-free subscriptions | [`event_log`] |
//! | workflow checkpoints | [`checkpoint`] |
//! | dead-letter queue | [`dlq`] |
//! | leases (distributed locks with fencing tokens) | [`lock`] |

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
    Event, EventFilter, EventLog, EventPosition, NewEvent, StreamStats, Subscription,
    SubscriptionOptions, Wakeups,
};
pub use kv::{KvStats, KvStore};
pub use lock::{Lease, Locks};
pub use session::{
    Session, SessionQuery, SessionState, SessionStats, SessionStore, SessionSummary,
};
