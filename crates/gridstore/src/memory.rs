//! In-memory backends, one file per primitive.

pub mod checkpoint;
pub mod clock;
pub mod dlq;
pub mod event_log;
pub mod kv;
pub mod lock;
pub mod session;

pub use checkpoint::MemoryCheckpointStore;
pub use clock::{Clock, ManualClock, SystemClock};
pub use dlq::MemoryDeadLetterQueue;
pub use event_log::{MemoryEvent, MemoryEventLog, MemoryPayload, RenderPayload};
pub use kv::MemoryKvStore;
pub use lock::MemoryLocks;
pub use session::MemorySessionStore;
