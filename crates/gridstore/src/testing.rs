//! Contract suites: one generic async fn per behaviour, expanded per backend by a macro.
