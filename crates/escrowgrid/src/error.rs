//! The one error type of escrowgrid.

use crate::domain::{
    FieldError, InvalidId, PolicyViolation, PositionId, PositionState, TemplateConfigError,
};
use crate::lifecycle::InvalidTransition;

/// Everything that can go wrong in escrowgrid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// The lifecycle table does not allow the transition.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The position breaks the institution's policy or the template's limits.
    #[error(transparent)]
    PolicyViolation(#[from] PolicyViolation),
    /// The template config breaks its code's rules.
    #[error(transparent)]
    TemplateConfig(#[from] TemplateConfigError),
    /// A storage failure.
    #[error(transparent)]
    Storage(#[from] gridstore::Error),
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

impl gridstore::Retryable for Error {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Storage(err) => err.is_retryable(),
            _ => false,
        }
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
    fn retryability_is_delegated_to_storage_errors() {
        assert!(Error::Storage(gridstore::Error::Deadlock).is_retryable());
        assert!(!Error::Storage(gridstore::Error::StatementTimeout).is_retryable());
    }
}
