//! In-memory backends, one file per primitive.

pub mod dlq;
pub mod event_log;
pub mod lock;

pub use dlq::MemoryDeadLetterQueue;
pub use event_log::MemoryEventLog;
pub use lock::MemoryLocks;
