//! Contract suites: one generic async fn per behaviour, expanded per backend by a macro.

pub mod checkpoint;
pub mod dlq;
pub mod event_log;
pub mod kv;
pub mod lock;
pub mod pool;
pub mod session;
pub mod wait;

pub use pool::migrated_pool;
pub use wait::eventually;
