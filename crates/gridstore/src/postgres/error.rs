//! The one place where SQLSTATEs and driver failures become [`Error`]s.

use std::error::Error as StdError;

use tokio_postgres::error::{DbError, SqlState};

use crate::Error;

/// `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";
/// `foreign_key_violation`.
const FOREIGN_KEY_VIOLATION: &str = "23503";
/// `check_violation`.
const CHECK_VIOLATION: &str = "23514";
/// `not_null_violation`.
const NOT_NULL_VIOLATION: &str = "23502";
/// `serialization_failure`.
const SERIALIZATION_FAILURE: &str = "40001";
/// `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";
/// `query_canceled`, raised by `statement_timeout` (and by explicit cancellation).
const QUERY_CANCELED: &str = "57014";
/// `lock_not_available`, raised by `lock_timeout` and by `nowait` locks.
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// `admin_shutdown`, e.g. `pg_terminate_backend` or a fast shutdown.
const ADMIN_SHUTDOWN: &str = "57P01";
/// `crash_shutdown`.
const CRASH_SHUTDOWN: &str = "57P02";
/// `cannot_connect_now`, the server is starting up or shutting down.
const CANNOT_CONNECT_NOW: &str = "57P03";
/// Class 08, connection exceptions.
const CONNECTION_EXCEPTION_CLASS: &str = "08";
/// `idle_session_timeout` (PostgreSQL 14+): the server closed an idle session.
const IDLE_SESSION_TIMEOUT: &str = "57P05";
/// `idle_in_transaction_session_timeout`: the server closed a session idle inside a
/// transaction (which it rolled back).
const IDLE_IN_TRANSACTION_SESSION_TIMEOUT: &str = "25P03";
/// `too_many_connections`: the server refused a new connection for now.
const TOO_MANY_CONNECTIONS: &str = "53300";

/// gridstore's own SQLSTATE for an optimistic-locking conflict raised by a database function
/// (e.g. `gs_sessions_save_many`, migration 0007), with the conflict as JSON in DETAIL.
const VERSION_CONFLICT: &str = "GS409";

/// Display text of the driver's connect timeout, which carries no source to match on.
const DRIVER_CONNECT_TIMEOUT: &str = "timeout waiting for server";

/// Display text of the driver's TLS errors ("server does not support TLS", handshake failures).
const DRIVER_TLS_FAILURE: &str = "error performing TLS handshake";

/// Maps a driver error to a typed [`Error`].
///
/// Constraint violations, serialization failures, deadlocks, statement and lock timeouts, server
/// shutdowns and lost connections get their own variants; gridstore's own `GS409` becomes
/// [`Error::VersionConflict`] from the JSON in its DETAIL; anything else becomes
/// [`Error::Database`] with its SQLSTATE and is logged at `warn`.
///
/// [`Error::Connection`] covers class 08, I/O failures, and the server closing the session
/// (idle-session and idle-in-transaction timeouts, 57P05 and 25P03) or refusing it for now
/// (too many connections, 53300): all of them leave no transaction open, so a transaction
/// may be run again; a `COMMIT` that meets one has an unknown outcome (see
/// [`commit`](super::commit)).
pub fn classify(err: tokio_postgres::Error) -> Error {
    let Some(code) = err.code().map(SqlState::code) else {
        return classify_without_code(err);
    };
    let db = err.as_db_error();
    let constraint = || {
        db.and_then(|db| db.constraint())
            .unwrap_or_default()
            .to_owned()
    };
    match code {
        UNIQUE_VIOLATION => Error::UniqueViolation {
            constraint: constraint(),
        },
        FOREIGN_KEY_VIOLATION => Error::ForeignKeyViolation {
            constraint: constraint(),
        },
        CHECK_VIOLATION => Error::CheckViolation {
            constraint: constraint(),
        },
        NOT_NULL_VIOLATION => Error::NotNullViolation {
            column: db.and_then(|db| db.column()).unwrap_or_default().to_owned(),
        },
        SERIALIZATION_FAILURE => Error::SerializationFailure,
        DEADLOCK_DETECTED => Error::Deadlock,
        QUERY_CANCELED => Error::StatementTimeout,
        LOCK_NOT_AVAILABLE => Error::LockTimeout,
        ADMIN_SHUTDOWN | CRASH_SHUTDOWN | CANNOT_CONNECT_NOW => Error::Shutdown(Box::new(err)),
        IDLE_SESSION_TIMEOUT | IDLE_IN_TRANSACTION_SESSION_TIMEOUT | TOO_MANY_CONNECTIONS => {
            Error::Connection(Box::new(err))
        }
        code if code.starts_with(CONNECTION_EXCEPTION_CLASS) => Error::Connection(Box::new(err)),
        VERSION_CONFLICT => match db.and_then(version_conflict) {
            Some(conflict) => conflict,
            None => unexpected(code.to_owned(), err),
        },
        code => unexpected(code.to_owned(), err),
    }
}

/// [`Error::Database`] for a SQLSTATE without a variant of its own, logged at `warn`.
fn unexpected(code: String, err: tokio_postgres::Error) -> Error {
    let message = err.as_db_error().map(|db| db.message()).unwrap_or_default();
    tracing::warn!(sqlstate = %code, message, "unexpected database error");
    Error::Database {
        code,
        source: Box::new(err),
    }
}

/// The DETAIL of a `GS409` error: the first conflicting item of a batch.
#[derive(serde::Deserialize)]
struct ConflictDetail {
    key: String,
    expected: u64,
    actual: Option<u64>,
}

/// The [`Error::VersionConflict`] described by a `GS409` error's DETAIL, if it parses.
fn version_conflict(db: &DbError) -> Option<Error> {
    let detail: ConflictDetail = serde_json::from_str(db.detail()?).ok()?;
    tracing::debug!(
        key = %detail.key,
        expected = detail.expected,
        actual = detail.actual,
        "version conflict raised by the database"
    );
    Some(Error::VersionConflict {
        key: detail.key,
        expected: detail.expected,
        actual: detail.actual,
    })
}

/// Classifies errors the server did not send: lost connections, I/O failures, timeouts, and
/// client-side failures such as (de)serialization of parameters.
fn classify_without_code(err: tokio_postgres::Error) -> Error {
    if is_tls_failure(&err) {
        let mut reasons = Vec::new();
        let mut source = err.source();
        while let Some(current) = source {
            reasons.push(current.to_string());
            source = current.source();
        }
        return Error::Tls {
            reason: reasons.join(": "),
            source: Box::new(err),
        };
    }
    if err.is_closed() || has_io_source(&err) || err.to_string() == DRIVER_CONNECT_TIMEOUT {
        return Error::Connection(Box::new(err));
    }
    tracing::warn!(error = %err, "unexpected driver error");
    Error::Database {
        code: "none".to_owned(),
        source: Box::new(err),
    }
}

/// Whether the driver failed the TLS negotiation (its message says so; the reason is in the
/// source chain).
fn is_tls_failure(err: &tokio_postgres::Error) -> bool {
    err.to_string().starts_with(DRIVER_TLS_FAILURE)
}

/// Whether an I/O error appears anywhere in the source chain.
fn has_io_source(err: &tokio_postgres::Error) -> bool {
    let mut source = err.source();
    while let Some(current) = source {
        if current.is::<std::io::Error>() {
            return true;
        }
        source = current.source();
    }
    false
}

/// Whether this error means the connection was lost (so an in-flight `COMMIT` may or may not
/// have been applied).
pub(crate) fn is_connection_loss(err: &Error) -> bool {
    matches!(err, Error::Connection(_) | Error::Shutdown(_))
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        classify(err)
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::{PoolError, TimeoutType};
        match err {
            PoolError::Timeout(TimeoutType::Wait) => Error::PoolTimeout,
            PoolError::Backend(err) => classify(err),
            PoolError::NoRuntimeSpecified => Error::Config(err.to_string().to_lowercase()),
            PoolError::Timeout(_) | PoolError::Closed | PoolError::PostCreateHook(_) => {
                Error::Connection(Box::new(err))
            }
        }
    }
}
