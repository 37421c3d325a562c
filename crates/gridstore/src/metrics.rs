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
//!
//! The handles of the first two series are looked up in the recorder once per thread and
//! operation, then kept ([`OperationHandles`]): building a labelled key and finding it in the
//! recorder's registry cost ~1.5 µs per call, paid by the memory backend under its locks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};

use crate::{Error, Result};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// An operation's series in one recorder: the recorder's address (a test may install a local
/// one) and the address and length of each `&'static str` label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct OperationKey([usize; 7]);

impl OperationKey {
    fn new(recorder: &dyn Recorder, labels: [&'static str; 3]) -> Self {
        let [primitive, op, backend] = labels.map(|label| (label.as_ptr() as usize, label.len()));
        let recorder = std::ptr::from_ref(recorder).cast::<()>() as usize;
        Self([
            recorder,
            primitive.0,
            primitive.1,
            op.0,
            op.1,
            backend.0,
            backend.1,
        ])
    }
}

/// The registered handles of `gridstore_operations_total` and `gridstore_operation_seconds`
/// for one operation.
#[derive(Debug)]
struct OperationHandles {
    operations: Counter,
    seconds: Histogram,
}

impl OperationHandles {
    fn register(recorder: &dyn Recorder, [primitive, op, backend]: [&'static str; 3]) -> Self {
        let labels = || {
            vec![
                Label::from_static_parts("primitive", primitive),
                Label::from_static_parts("op", op),
                Label::from_static_parts("backend", backend),
            ]
        };
        Self {
            operations: recorder.register_counter(
                &Key::from_parts("gridstore_operations_total", labels()),
                &METADATA,
            ),
            seconds: recorder.register_histogram(
                &Key::from_parts("gridstore_operation_seconds", labels()),
                &METADATA,
            ),
        }
    }
}

thread_local! {
    /// Per thread, so that a test's local recorder (whose address a later test's may reuse)
    /// never outlives its thread in here, and so that lookups share no lock.
    static HANDLES: RefCell<HashMap<OperationKey, OperationHandles>> =
        RefCell::new(HashMap::new());
}

/// Records one finished operation: its count, its duration and, if it failed, its error kind.
pub(crate) fn record<T>(
    primitive: &'static str,
    op: &'static str,
    backend: &'static str,
    started: Instant,
    result: &Result<T>,
) {
    let elapsed = started.elapsed().as_secs_f64();
    metrics::with_recorder(|recorder| {
        let labels = [primitive, op, backend];
        let key = OperationKey::new(recorder, labels);
        HANDLES.with_borrow_mut(|handles| {
            let handles = handles
                .entry(key)
                .or_insert_with(|| OperationHandles::register(recorder, labels));
            handles.operations.increment(1);
            handles.seconds.record(elapsed);
        });
    });
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
        Error::Fenced { .. } => "fenced",
        Error::InvalidInput(_) => "invalid_input",
        Error::UniqueViolation { .. } => "unique_violation",
        Error::ForeignKeyViolation { .. } => "foreign_key_violation",
        Error::CheckViolation { .. } => "check_violation",
        Error::NotNullViolation { .. } => "not_null_violation",
        Error::SerializationFailure => "serialization_failure",
        Error::Deadlock => "deadlock",
        Error::Connection(_) => "connection",
        Error::Tls { .. } => "tls",
        Error::Shutdown(_) => "shutdown",
        Error::StatementTimeout => "statement_timeout",
        Error::LockTimeout => "lock_timeout",
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

    #[test]
    fn a_failed_operation_is_counted_timed_and_counted_as_an_error_of_its_kind() {
        let recorder = capture::Capture::default();

        metrics::with_local_recorder(&recorder, || {
            let failed: Result<()> = Err(Error::not_found("session", "s"));
            record(
                "session",
                "update_state",
                "postgres",
                Instant::now(),
                &failed,
            );
            record("session", "get", "memory", Instant::now(), &Ok(()));
        });

        let events = recorder.events();
        assert_eq!(
            events,
            [
                "gridstore_operations_total{primitive=session,op=update_state,backend=postgres} += 1",
                "gridstore_operation_seconds{primitive=session,op=update_state,backend=postgres} observed",
                "gridstore_errors_total{primitive=session,op=update_state,kind=not_found} += 1",
                "gridstore_operations_total{primitive=session,op=get,backend=memory} += 1",
                "gridstore_operation_seconds{primitive=session,op=get,backend=memory} observed",
            ]
        );
    }

    #[test]
    fn cached_handles_belong_to_their_recorder_so_a_second_recorder_sees_its_own_calls() {
        let first = capture::Capture::default();
        let second = capture::Capture::default();

        for recorder in [&first, &second, &first] {
            metrics::with_local_recorder(recorder, || {
                record("kv", "get", "memory", Instant::now(), &Ok(()));
            });
        }

        let get = [
            "gridstore_operations_total{primitive=kv,op=get,backend=memory} += 1",
            "gridstore_operation_seconds{primitive=kv,op=get,backend=memory} observed",
        ];
        assert_eq!(first.events(), [get, get].concat());
        assert_eq!(second.events(), get);
    }

    /// A recorder that writes every counter increment and histogram sample as a line.
    mod capture {
        use std::sync::{Arc, Mutex, PoisonError};

        use metrics::{
            Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
            SharedString, Unit,
        };

        #[derive(Debug, Default)]
        pub(super) struct Capture {
            events: Arc<Mutex<Vec<String>>>,
        }

        impl Capture {
            pub(super) fn events(&self) -> Vec<String> {
                self.events
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            }

            fn line(&self, key: &Key) -> Line {
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                Line {
                    name: format!("{}{{{}}}", key.name(), labels.join(",")),
                    events: Arc::clone(&self.events),
                }
            }
        }

        struct Line {
            name: String,
            events: Arc<Mutex<Vec<String>>>,
        }

        impl Line {
            fn push(&self, event: String) {
                let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
                events.push(event);
            }
        }

        impl CounterFn for Line {
            fn increment(&self, value: u64) {
                self.push(format!("{} += {value}", self.name));
            }

            fn absolute(&self, value: u64) {
                self.push(format!("{} = {value}", self.name));
            }
        }

        impl HistogramFn for Line {
            fn record(&self, _value: f64) {
                self.push(format!("{} observed", self.name));
            }
        }

        impl Recorder for Capture {
            fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
            fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
            fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

            fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
                Counter::from_arc(Arc::new(self.line(key)))
            }

            fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
                Gauge::noop()
            }

            fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
                Histogram::from_arc(Arc::new(self.line(key)))
            }
        }
    }
}
