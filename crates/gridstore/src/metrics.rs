//! The one helper that records gridstore's metrics through the `metrics` facade.
//!
//! Every backend operation calls [`record`] once with its outcome:
//!
//! - counter `gridstore_operations_total{primitive, op, backend}`: every call;
//! - counter `gridstore_errors_total{primitive, op, kind}`: failed calls, `kind` from
//!   [`error_kind`];
//! - histogram `gridstore_operation_seconds{primitive, op, backend}`: wall time of the call.
//!
//! Expected outcomes that are part of a primitive's contract (a version conflict, a held lock)
//! are still counted as errors of their kind, so dashboards can tell contention from failure.

use std::time::Instant;

use crate::{Error, Result};

/// Records one finished operation: its count, its duration and, if it failed, its error kind.
pub(crate) fn record<T>(
    primitive: &'static str,
    op: &'static str,
    backend: &'static str,
    started: Instant,
    result: &Result<T>,
) {
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!(
        "gridstore_operations_total",
        "primitive" => primitive,
        "op" => op,
        "backend" => backend
    )
    .increment(1);
    metrics::histogram!(
        "gridstore_operation_seconds",
        "primitive" => primitive,
        "op" => op,
        "backend" => backend
    )
    .record(elapsed);
    if let Err(err) = result {
        metrics::counter!(
            "gridstore_errors_total",
            "primitive" => primitive,
            "op" => op,
            "kind" => error_kind(err)
        )
        .increment(1);
    }
}

/// Awaits `operation` and [`record`]s its outcome and duration.
pub(crate) async fn observe<T>(
    primitive: &'static str,
    op: &'static str,
    backend: &'static str,
    operation: impl Future<Output = Result<T>>,
) -> Result<T> {
    let started = Instant::now();
    let result = operation.await;
    record(primitive, op, backend, started, &result);
    result
}

/// A short, stable, low-cardinality label for an error, used as the `kind` metric label.
pub(crate) fn error_kind(err: &Error) -> &'static str {
    match err {
        Error::NotFound { .. } => "not_found",
        Error::AlreadyExists { .. } => "already_exists",
        Error::VersionConflict { .. } => "version_conflict",
        Error::LockHeld { .. } => "lock_held",
        Error::LockNotHeld { .. } => "lock_not_held",
        Error::InvalidInput(_) => "invalid_input",
        Error::UniqueViolation { .. } => "unique_violation",
        Error::ForeignKeyViolation { .. } => "foreign_key_violation",
        Error::CheckViolation { .. } => "check_violation",
        Error::NotNullViolation { .. } => "not_null_violation",
        Error::SerializationFailure => "serialization_failure",
        Error::Deadlock => "deadlock",
        Error::Connection(_) => "connection",
        Error::Shutdown(_) => "shutdown",
        Error::StatementTimeout => "statement_timeout",
        Error::PoolTimeout => "pool_timeout",
        Error::CommitOutcomeUnknown(_) => "commit_outcome_unknown",
        Error::Config(_) => "config",
        Error::Migration { .. } => "migration",
        Error::Serialization(_) => "serialization",
        Error::Database { .. } => "database",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_are_lowercase_snake_case_labels() {
        let kinds = [
            error_kind(&Error::not_found("session", "a")),
            error_kind(&Error::InvalidInput("x".into())),
            error_kind(&Error::VersionConflict {
                key: "a".into(),
                expected: 1,
                actual: None,
            }),
        ];
        assert_eq!(kinds, ["not_found", "invalid_input", "version_conflict"]);
    }

    #[test]
    fn recording_without_an_installed_recorder_is_a_no_op() {
        let ok: Result<()> = Ok(());
        record("kv", "get", "memory", Instant::now(), &ok);
        let err: Result<()> = Err(Error::PoolTimeout);
        record("kv", "get", "memory", Instant::now(), &err);
    }
}
