//! How the crate's [`Error`](crate::Error) becomes an [`ApiError`]: one arm per variant, the
//! original service's strings for each, and the reframing of a failed create.

use super::ApiError;

/// The `error` string of a 404 for a resource, as the original words it.
pub fn not_found_message(resource: &str) -> &'static str {
    match resource {
        "institution" => "Institution not found",
        "asset template" => "Asset template not found",
        "asset" => "Asset not found",
        "position" => "Position not found",
        "policy" => "Policy not found",
        "api key" => "API key not found or already revoked",
        "webhook" => "Webhook not found",
        "webhook delivery" => "Webhook delivery not found",
        _ => "Not found",
    }
}

impl From<crate::Error> for ApiError {
    fn from(err: crate::Error) -> Self {
        use crate::Error;
        match err {
            Error::Validation(errors) => Self::validation(errors).store_kind("validation"),
            Error::NotFound { resource, .. } => {
                Self::not_found(not_found_message(resource)).store_kind("not_found")
            }
            Error::Duplicate { .. } => {
                Self::conflict("Resource already exists").store_kind("duplicate")
            }
            conflict @ Error::Conflict { .. } => {
                let details = conflict.conflict_details().unwrap_or_default();
                Self::conflict("Concurrent modification detected")
                    .with_details(details)
                    .store_kind("conflict")
            }
            Error::WrongState { message, .. } => Self::conflict(message).store_kind("wrong_state"),
            Error::InvalidTransition(invalid) => Self::bad_request("Failed to transition position")
                .with_details(invalid.to_string())
                .store_kind("invalid_transition"),
            Error::PolicyViolation(violation) => Self::bad_request(violation.error())
                .with_details(violation.details())
                .store_kind("policy_violation"),
            Error::TemplateConfig(config) => Self::bad_request("Failed to create asset template")
                .with_details(config.0)
                .store_kind("template_config"),
            Error::Unavailable(cause) => Self::unavailable(cause).store_kind("unavailable"),
            Error::Timeout(cause) => Self::unavailable(cause).store_kind("timeout"),
            // A lost race inside the database is a conflict the client can retry, like a version
            // conflict (but without states to report).
            Error::Contention(_) => Self::conflict("Concurrent modification detected")
                .with_details("The request conflicted with a concurrent request. Please retry.")
                .store_kind("contention"),
            unknown @ Error::CommitOutcomeUnknown(_) => {
                Self::commit_outcome_unknown(unknown).store_kind("commit_outcome_unknown")
            }
            other @ Error::Storage(_) => Self::internal(other).store_kind("storage"),
            // Process-level errors (configuration, listener I/O) never come from a handler.
            other @ (Error::Config { .. } | Error::Io(_) | Error::LedgerBroken) => {
                Self::internal(other)
            }
        }
    }
}

impl ApiError {
    /// Reframes a store failure of a create as the original did: 400 `<error>` with the
    /// reason (e.g. `Institution not found`) as `details`. Validation, policy, conflict and
    /// 5xx errors keep their own mapping.
    pub fn create_failed(error: &'static str) -> impl FnOnce(crate::Error) -> ApiError {
        move |err| match err {
            crate::Error::NotFound { resource, .. } => {
                let details = match resource {
                    "asset template" => "Asset template not found for institution",
                    "asset" => "Asset not found for institution",
                    other => not_found_message(other),
                };
                ApiError::bad_request(error)
                    .with_details(details)
                    .store_kind("not_found")
            }
            crate::Error::TemplateConfig(config) => ApiError::bad_request(error)
                .with_details(config.0)
                .store_kind("template_config"),
            other => ApiError::from(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use serde_json::{Value, json};

    use super::*;
    use crate::api::error::ErrorReport;
    use crate::domain::{PositionId, PositionState};
    use crate::lifecycle::InvalidTransition;

    /// A storage outage as the store reports it.
    fn unavailable() -> crate::Error {
        crate::Error::Unavailable(crate::StorageCause::described("no connection in time"))
    }

    /// A lost race inside the database as the store reports it.
    fn contention() -> crate::Error {
        crate::Error::Contention(crate::StorageCause::described("deadlock detected"))
    }

    fn body_of(err: ApiError) -> (u16, Value) {
        let status = err.status().as_u16();
        let body = serde_json::to_value(err.body).expect("json");
        (status, body)
    }

    #[test]
    fn storage_outages_are_503_without_internal_text() {
        let err = ApiError::from(unavailable());
        assert_eq!(
            body_of(err),
            (503, json!({ "error": "Service unavailable" }))
        );
    }

    #[test]
    fn domain_errors_keep_the_original_strings() {
        let not_found = crate::Error::not_found("position", "pos_x");
        assert_eq!(
            body_of(not_found.into()),
            (404, json!({ "error": "Position not found" }))
        );
        let invalid = crate::Error::InvalidTransition(InvalidTransition {
            from: PositionState::Created,
            to: PositionState::Released,
        });
        assert_eq!(
            body_of(invalid.into()),
            (
                400,
                json!({ "error": "Failed to transition position", "details": "Invalid transition from CREATED to RELEASED" })
            )
        );
        let conflict = crate::Error::Conflict {
            position_id: PositionId::new(),
            expected_version: 1,
            actual_version: 2,
            expected_state: PositionState::Created,
            actual_state: PositionState::Funded,
        };
        assert_eq!(
            body_of(conflict.into()),
            (
                409,
                json!({
                    "error": "Concurrent modification detected",
                    "details": "Position was modified by another request. Expected state: CREATED, actual: FUNDED. Please retry.",
                })
            )
        );
    }

    #[test]
    fn a_serialization_failure_is_a_retryable_409() {
        let err = ApiError::from(contention());
        let (status, body) = body_of(err);
        assert_eq!(status, 409);
        assert_eq!(body["error"], "Concurrent modification detected");
    }

    #[test]
    fn a_storage_outage_answer_carries_retry_after() {
        let outage = crate::Error::Unavailable(crate::StorageCause::described("pool timeout"));
        let response = ApiError::from(outage).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn an_unknown_commit_outcome_is_a_distinct_503_with_retry_after() {
        let unknown =
            crate::Error::CommitOutcomeUnknown(crate::StorageCause::described("connection lost"));
        let response = ApiError::from(unknown).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let report = response.extensions().get::<ErrorReport>().expect("report");
        assert!(report.0.contains("connection lost"));
        let unknown =
            crate::Error::CommitOutcomeUnknown(crate::StorageCause::described("connection lost"));
        let (status, body) = body_of(ApiError::from(unknown));
        assert_eq!(status, 503);
        assert_eq!(body["error"], "Commit outcome unknown");
        assert!(
            body["details"]
                .as_str()
                .unwrap_or_default()
                .contains("same Idempotency-Key")
        );
        assert!(!body.to_string().contains("connection lost"));
    }
}
