//! The one place where SQLSTATEs and driver failures become [`Error`]s.

use std::error::Error as StdError;

use tokio_postgres::error::SqlState;

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
/// `admin_shutdown`, e.g. `pg_terminate_backend` or a fast shutdown.
const ADMIN_SHUTDOWN: &str = "57P01";
/// `crash_shutdown`.
const CRASH_SHUTDOWN: &str = "57P02";
/// `cannot_connect_now`, the server is starting up or shutting down.
const CANNOT_CONNECT_NOW: &str = "57P03";
/// Class 08, connection exceptions.
const CONNECTION_EXCEPTION_CLASS: &str = "08";

/// Display text of the driver's connect timeout, which carries no source to match on.
const DRIVER_CONNECT_TIMEOUT: &str = "timeout waiting for server";

/// Maps a driver error to a typed [`Error`].
///
/// Constraint violations, serialization failures, deadlocks, statement timeouts, server
/// shutdowns and lost connections get their own variants; anything else becomes
/// [`Error::Database`] with its SQLSTATE and is logged at `warn`.
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
        ADMIN_SHUTDOWN | CRASH_SHUTDOWN | CANNOT_CONNECT_NOW => Error::Shutdown(Box::new(err)),
        code if code.starts_with(CONNECTION_EXCEPTION_CLASS) => Error::Connection(Box::new(err)),
        code => {
            let code = code.to_owned();
            let message = db.map(|db| db.message()).unwrap_or_default();
            tracing::warn!(sqlstate = %code, message, "unexpected database error");
            Error::Database {
                code,
                source: Box::new(err),
            }
        }
    }
}

/// Classifies errors the server did not send: lost connections, I/O failures, timeouts, and
/// client-side failures such as (de)serialization of parameters.
fn classify_without_code(err: tokio_postgres::Error) -> Error {
    if err.is_closed() || has_io_source(&err) || err.to_string() == DRIVER_CONNECT_TIMEOUT {
        return Error::Connection(Box::new(err));
    }
    tracing::warn!(error = %err, "unexpected driver error");
    Error::Database {
        code: "none".to_owned(),
        source: Box::new(err),
    }
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
