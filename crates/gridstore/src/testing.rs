//! Contract suites: one generic async fn per behaviour, expanded per backend by a macro.

pub mod dlq;
pub mod event_log;
pub mod lock;
