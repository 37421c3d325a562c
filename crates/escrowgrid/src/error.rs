//! The one error type of escrowgrid.

use crate::domain::{
    FieldError, InvalidId, PolicyViolation, PositionId, PositionState, TemplateConfigError,
};
use crate::lifecycle::InvalidTransition;

/// Everything that can go wrong in escrowgrid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `escrowgrid ledger verify` found a break (already reported on stdout).
    #[error("the ledger does not verify")]
    LedgerBroken,
    /// The input breaks field rules; every bad field is listed.
    #[error("validation failed: {} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// The resource does not exist, belongs to another tenant, or its id is malformed. The
    /// three cases are deliberately indistinguishable.
    #[error("{resource} not found: {id}")]
    NotFound {
        /// What was looked up, e.g. `"position"` (the ids' `RESOURCE`).
        resource: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// A unique resource already exists.
    #[error("{resource} already exists: {key}")]
    Duplicate {
        /// What was created, e.g. `"idempotency key"`.
        resource: &'static str,
        /// The conflicting key.
        key: String,
    },
    /// Another writer changed the position first (optimistic `version` check); retry.
    #[error(
        "position {position_id} was modified concurrently: expected version {expected_version} \
         ({expected_state}), found version {actual_version} ({actual_state})"
    )]
    Conflict {
        /// The position.
        position_id: PositionId,
        /// The version the writer based its change on.
        expected_version: i64,
        /// The version stored now.
        actual_version: i64,
        /// The state the writer based its change on.
        expected_state: PositionState,
        /// The state stored now.
        actual_state: PositionState,
    },
    /// The resource is not in a state that allows the request (e.g. re-driving a delivery
    /// that is no longer dead-lettered, which is also what the losers of concurrent re-drives
    /// find); the request itself was well formed.
    #[error("{resource} {id}: {message}")]
    WrongState {
        /// What was acted on, e.g. `"webhook delivery"`.
        resource: &'static str,
        /// Its id.
        id: String,
        /// What the client is told, e.g. `"Only failed (dead-lettered) deliveries can be re-driven"`.
        message: &'static str,
    },
    /// The lifecycle table does not allow the transition.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The position breaks the institution's policy or the template's limits.
    #[error(transparent)]
    PolicyViolation(#[from] PolicyViolation),
    /// The template config breaks its code's rules.
    #[error(transparent)]
    TemplateConfig(#[from] TemplateConfigError),
    /// The storage backend cannot serve requests now (no connection, the database is
    /// restarting, no pooled connection became free in time); retrying later may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] StorageCause),
    /// A storage statement or lock wait ran out of time.
    #[error("storage timed out: {0}")]
    Timeout(#[source] StorageCause),
    /// The write lost a race inside the database (serialization failure, deadlock); running
    /// it again may succeed.
    #[error("storage contention: {0}")]
    Contention(#[source] StorageCause),
    /// The connection was lost while committing: the write may or may not have been applied.
    #[error("storage commit outcome unknown: {0}")]
    CommitOutcomeUnknown(#[source] StorageCause),
    /// Any other storage failure (a bug, a schema problem, an unexpected database error).
    #[error("storage failure: {0}")]
    Storage(#[source] StorageCause),
    /// Invalid configuration: a bad environment variable, flag or configuration file.
    #[error("invalid configuration {key}: {message}")]
    Config {
        /// The variable, flag or file at fault.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// An I/O failure outside the store (binding the listener, serving connections).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Builds an [`Error::NotFound`].
    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            resource,
            id: id.into(),
        }
    }

    /// The API's conflict details:
    /// `Position was modified by another request. Expected state: X, actual: Y. Please retry.`
    /// (`None` for other variants).
    #[must_use]
    pub fn conflict_details(&self) -> Option<String> {
        match self {
            Self::Conflict {
                expected_state,
                actual_state,
                ..
            } => Some(format!(
                "Position was modified by another request. Expected state: {expected_state}, \
                 actual: {actual_state}. Please retry."
            )),
            _ => None,
        }
    }
}

impl From<InvalidId> for Error {
    /// A malformed id names nothing: it is reported as not found.
    fn from(err: InvalidId) -> Self {
        Self::NotFound {
            resource: err.resource,
            id: err.value,
        }
    }
}

impl From<Vec<FieldError>> for Error {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Validation(errors)
    }
}

/// The backend's description of a storage failure, kept as the source of the storage
/// variants of [`Error`] for logs. Opaque: callers branch on the variant, never on the cause.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StorageCause(Cause);

#[derive(Debug, thiserror::Error)]
enum Cause {
    #[error(transparent)]
    Backend(gridstore::Error),
    #[error("{0}")]
    Described(String),
}

impl StorageCause {
    /// A cause described by a message, for stores that are not built on gridstore (test
    /// doubles, wrappers).
    pub fn described(message: impl Into<String>) -> Self {
        Self(Cause::Described(message.into()))
    }

    /// The gridstore error, if the cause is one (for the store's own translation of
    /// constraint violations).
    pub(crate) fn backend(&self) -> Option<&gridstore::Error> {
        match &self.0 {
            Cause::Backend(err) => Some(err),
            Cause::Described(_) => None,
        }
    }
}

impl From<gridstore::Error> for Error {
    /// The one classification of storage failures into escrowgrid's variants.
    fn from(err: gridstore::Error) -> Self {
        use gridstore::Error as G;
        let cause = |err| StorageCause(Cause::Backend(err));
        match err {
            G::PoolTimeout | G::Connection(_) | G::Shutdown(_) => Self::Unavailable(cause(err)),
            G::StatementTimeout | G::LockTimeout => Self::Timeout(cause(err)),
            G::SerializationFailure | G::Deadlock => Self::Contention(cause(err)),
            G::CommitOutcomeUnknown(_) => Self::CommitOutcomeUnknown(cause(err)),
            G::Config(message) => Self::Config {
                key: "DATABASE_URL".to_owned(),
                message,
            },
            other => Self::Storage(cause(other)),
        }
    }
}

impl gridstore::Retryable for Error {
    /// The variants gridstore retries: contention and unavailability (a lost connection before
    /// commit, a restart, a pool timeout). A timeout or an unknown commit outcome never is.
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Contention(_) | Self::Unavailable(_))
    }
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use gridstore::Retryable;

    #[test]
    fn conflict_details_use_the_original_wording() {
        let err = Error::Conflict {
            position_id: PositionId::new(),
            expected_version: 1,
            actual_version: 2,
            expected_state: PositionState::Created,
            actual_state: PositionState::Funded,
        };
        assert_eq!(
            err.conflict_details().unwrap(),
            "Position was modified by another request. Expected state: CREATED, actual: FUNDED. \
             Please retry."
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn a_malformed_id_is_not_found() {
        let err: Error = PositionId::parse("nope").unwrap_err().into();
        assert!(matches!(
            err,
            Error::NotFound {
                resource: "position",
                ..
            }
        ));
    }

    #[test]
    fn retryability_matches_gridstore_for_every_storage_error() {
        let cases = || -> Vec<gridstore::Error> {
            vec![
                gridstore::Error::Deadlock,
                gridstore::Error::SerializationFailure,
                gridstore::Error::PoolTimeout,
                gridstore::Error::Connection("reset".into()),
                gridstore::Error::Shutdown("restart".into()),
                gridstore::Error::StatementTimeout,
                gridstore::Error::LockTimeout,
                gridstore::Error::CommitOutcomeUnknown("lost".into()),
                gridstore::Error::InvalidInput("x".into()),
            ]
        };
        for (storage, again) in cases().into_iter().zip(cases()) {
            let expected = storage.is_retryable();
            assert_eq!(Error::from(again).is_retryable(), expected, "{storage:?}");
        }
    }

    #[test]
    fn storage_failures_are_classified_into_escrowgrid_variants() {
        assert!(matches!(
            Error::from(gridstore::Error::PoolTimeout),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(gridstore::Error::StatementTimeout),
            Error::Timeout(_)
        ));
        assert!(matches!(
            Error::from(gridstore::Error::Deadlock),
            Error::Contention(_)
        ));
        assert!(matches!(
            Error::from(gridstore::Error::CommitOutcomeUnknown("lost".into())),
            Error::CommitOutcomeUnknown(_)
        ));
        let config = Error::from(gridstore::Error::Config("bad url".into()));
        assert!(matches!(config, Error::Config { ref message, .. } if message == "bad url"));
        let other = Error::from(gridstore::Error::InvalidInput("x".into()));
        assert_eq!(other.to_string(), "storage failure: invalid input: x");
    }
}
