//! Contract suites: one generic async fn per behaviour, expanded per backend by a macro.

pub mod checkpoint;
pub mod dlq;
pub mod event_log;
pub mod kv;
pub mod lock;
pub mod session;
