//! Contract suites: one generic async fn per behaviour, expanded per backend by a macro.

pub mod checkpoint;
pub mod kv;
pub mod session;
