//! The one error type of gridstore.
//!
//! Backend-specific failures are mapped into these typed variants in exactly one place per
//! backend (for PostgreSQL: `postgres::error`, which classifies SQLSTATEs).

use chrono::{DateTime, Utc};

/// A boxed error kept as the source of a variant, so the chain is never flattened to a string.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in gridstore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The addressed item does not exist (or is invisible, e.g. an expired key).
    #[error("{kind} not found: {key}")]
    NotFound {
        /// What was looked up, e.g. `"session"`.
        kind: &'static str,
        /// The key or id that was looked up.
        key: String,
    },
    /// An item with this identity already exists.
    #[error("{kind} already exists: {key}")]
    AlreadyExists {
        /// What was created, e.g. `"checkpoint"`.
        kind: &'static str,
        /// The conflicting key or id.
        key: String,
    },
    /// An optimistic-locking check failed: the stored version is not the expected one.
    #[error("version conflict on {key}: expected version {expected}, found {actual:?}")]
    VersionConflict {
        /// The key of the item.
        key: String,
        /// The version the writer based its change on.
        expected: u64,
        /// The version actually stored (`None` when the item does not exist).
        actual: Option<u64>,
    },
    /// A lease is held by someone else.
    #[error("lock {key} is held by {holder} until {expires_at}")]
    LockHeld {
        /// The lock key.
        key: String,
        /// The current holder.
        holder: String,
        /// When the current lease expires.
        expires_at: DateTime<Utc>,
    },
    /// The caller does not hold the lease it tried to extend or release (it expired or was
    /// taken over).
    #[error("lock {key} is not held by {holder}")]
    LockNotHeld {
        /// The lock key.
        key: String,
        /// The caller that claimed to hold it.
        holder: String,
    },
    /// A fenced write carried an older fencing token than one already used for the same key:
    /// its writer lost the lease (see [`crate::CheckpointStore::save_fenced`]).
    #[error("write to {key} fenced off: token {token} is older than {current}")]
    Fenced {
        /// The key written (a checkpoint workflow).
        key: String,
        /// The token the refused write carried.
        token: u64,
        /// The newest token used for the key.
        current: u64,
    },
    /// An argument was invalid; the message says which and why.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A unique constraint was violated (SQLSTATE 23505).
    #[error("unique constraint {constraint} violated")]
    UniqueViolation {
        /// The constraint name reported by the database.
        constraint: String,
    },
    /// A foreign key constraint was violated (SQLSTATE 23503).
    #[error("foreign key constraint {constraint} violated")]
    ForeignKeyViolation {
        /// The constraint name reported by the database.
        constraint: String,
    },
    /// A check constraint was violated (SQLSTATE 23514).
    #[error("check constraint {constraint} violated")]
    CheckViolation {
        /// The constraint name reported by the database.
        constraint: String,
    },
    /// A not-null constraint was violated (SQLSTATE 23502).
    #[error("not-null constraint violated on column {column}")]
    NotNullViolation {
        /// The column name reported by the database.
        column: String,
    },
    /// The transaction could not be serialized (SQLSTATE 40001); retrying may succeed.
    #[error("serialization failure")]
    SerializationFailure,
    /// The transaction was chosen as a deadlock victim (SQLSTATE 40P01); retrying may succeed.
    #[error("deadlock detected")]
    Deadlock,
    /// The connection failed or was lost (SQLSTATE class 08, an I/O error, the server
    /// closing an idle session: 57P05, 25P03) or was refused for now (53300).
    #[error("database connection failed")]
    Connection(#[source] BoxError),
    /// The TLS handshake failed or TLS was required but the server does not offer it: an
    /// untrusted certificate, a host name the certificate does not name, a server without
    /// TLS under `sslmode=require`. Not retried: it is a configuration problem. The message
    /// carries the reason.
    #[error("database tls failed: {reason}")]
    Tls {
        /// Why, e.g. `invalid peer certificate: UnknownIssuer` or `server does not support TLS`.
        reason: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// The server is shutting down or was restarted (SQLSTATE 57P01, 57P02, 57P03).
    #[error("database is shutting down or starting up")]
    Shutdown(#[source] BoxError),
    /// The statement was cancelled, usually by `statement_timeout` (SQLSTATE 57014).
    #[error("statement timed out")]
    StatementTimeout,
    /// A lock could not be acquired in time: `lock_timeout` expired or a `nowait` lock was
    /// taken (SQLSTATE 55P03). Not retried automatically: the holder may keep it for long.
    #[error("timed out waiting for a lock")]
    LockTimeout,
    /// No pooled connection became available in time.
    #[error("timed out waiting for a database connection")]
    PoolTimeout,
    /// The connection was lost while `COMMIT` was in flight: the transaction may or may not have
    /// committed. Never retried automatically.
    #[error("commit outcome unknown: the connection was lost while committing")]
    CommitOutcomeUnknown(#[source] BoxError),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A migration could not be applied, or an applied migration's checksum changed.
    #[error("migration {version} ({name}) failed: {message}")]
    Migration {
        /// The migration's number.
        version: i64,
        /// The migration's name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A payload could not be (de)serialized.
    #[error("payload serialization failed")]
    Serialization(#[from] serde_json::Error),
    /// Any other database error, with its SQLSTATE.
    #[error("database error {code}")]
    Database {
        /// The five-character SQLSTATE, or `"none"` when the driver reported none.
        code: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
}

/// Errors that may be retried by a transaction helper.
pub trait Retryable {
    /// Whether running the whole operation again may succeed (serialization failures,
    /// deadlocks, lost connections before commit, server restarts).
    fn is_retryable(&self) -> bool;
}

impl Retryable for Error {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::SerializationFailure
                | Self::Deadlock
                | Self::Connection(_)
                | Self::Shutdown(_)
                | Self::PoolTimeout
        )
    }
}

impl Error {
    /// Builds a [`Error::NotFound`].
    pub fn not_found(kind: &'static str, key: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            key: key.into(),
        }
    }
}
