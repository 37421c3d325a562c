//! The one place where failures become HTTP responses.
//!
//! Every error a client can see is JSON `{"error": string, "details"?: any}`. Handlers return
//! [`ApiError`] built through the named constructors below (never a bare status code), and
//! [`escrowgrid::Error`](crate::Error) converts with `?`.
//!
//! 5xx bodies are opaque (`{"error":"Internal server error"}`): the real error travels in the
//! response extensions as an [`ErrorReport`] and the request-logging middleware logs it together
//! with the request id.
//!
//! Tenancy: a row of another institution is reported exactly like a row that does not exist
//! (404 with the same body). The original answered 403 there, which told callers that the id
//! exists; this is a deliberate deviation.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::FieldError;

mod from_domain;

pub use self::from_domain::not_found_message;

/// The `Retry-After` (seconds) of a 503: store outages such as a failover pass within seconds.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// The body of every JSON error response.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ErrorBody {
    /// A stable, human-readable error string (kept from the original service).
    pub error: Cow<'static, str>,
    /// Optional structured details (a string, an object or a list of field errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The internal cause of a 5xx answer, attached to the response extensions for logging.
#[derive(Debug, Clone)]
pub struct ErrorReport(pub Arc<str>);

/// The kind of store error a response was built from, for the `taas_store_errors_total` series.
#[derive(Debug, Clone, Copy)]
pub struct StoreErrorKind(pub &'static str);

/// An HTTP error answer: a status, a JSON body and optional extra headers.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    retry_after_secs: Option<u64>,
    report: Option<Arc<str>>,
    store_error_kind: Option<&'static str>,
}

/// `Result` with [`ApiError`] as the error type, for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(status: StatusCode, error: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: error.into(),
                details: None,
            },
            retry_after_secs: None,
            report: None,
            store_error_kind: None,
        }
    }

    /// Adds `details` to the body.
    pub fn with_details(mut self, details: impl Into<Value>) -> Self {
        self.body.details = Some(details.into());
        self
    }

    /// 400 with the given error string.
    pub fn bad_request(error: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    /// 400 `Validation failed` listing every bad field.
    pub fn validation(details: Vec<FieldError>) -> Self {
        Self::field_errors("Validation failed", details)
    }

    /// 400 with a custom error string and a list of field errors as details.
    pub fn field_errors(error: &'static str, details: Vec<FieldError>) -> Self {
        let details: Vec<Value> = details
            .into_iter()
            .map(|d| json!({ "field": d.field, "message": d.message }))
            .collect();
        Self::bad_request(error).with_details(details)
    }

    /// 401 with the given error string.
    pub fn unauthorized(error: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, error)
    }

    /// 403 with the given error string.
    pub fn forbidden(error: &'static str) -> Self {
        Self::new(StatusCode::FORBIDDEN, error)
    }

    /// 403 `Write access forbidden for read_only API key`.
    pub fn read_only() -> Self {
        Self::forbidden("Write access forbidden for read_only API key")
    }

    /// 404 with the given error string.
    pub fn not_found(error: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error)
    }

    /// 404 `Not found` for paths no route matches.
    pub fn route_not_found() -> Self {
        Self::not_found("Not found")
    }

    /// 405 `Method not allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
    }

    /// 409 with the given error string.
    pub fn conflict(error: &'static str) -> Self {
        Self::new(StatusCode::CONFLICT, error)
    }

    /// 413 `Request body too large`.
    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
    }

    /// 415 `Content-Type must be application/json`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        )
    }

    /// 422 with the given error string.
    pub fn unprocessable(error: &'static str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, error)
    }

    /// 429 with a `Retry-After` header of `retry_after_secs`.
    pub fn too_many_requests(error: &'static str, details: Value, retry_after_secs: u64) -> Self {
        let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, error).with_details(details);
        err.retry_after_secs = Some(retry_after_secs);
        err
    }

    /// `ONCHAIN_FAILURE_MODE=fail`: the write committed but its on-chain record was not
    /// confirmed: 504 while it is still pending at the deadline, 502 when it failed. The body
    /// names the committed resource so the client does not write it again.
    pub fn onchain_unconfirmed(resource_type: &str, resource_id: &str, onchain: &Value) -> Self {
        let failed = onchain["status"] == "failed";
        let (status, error) = if failed {
            (
                StatusCode::BAD_GATEWAY,
                "Committed, but the on-chain ledger failed",
            )
        } else {
            (
                StatusCode::GATEWAY_TIMEOUT,
                "Committed, but not confirmed on chain in time",
            )
        };
        Self::new(status, error).with_details(json!({
            "committed": true,
            "resourceType": resource_type,
            "resourceId": resource_id,
            "onchain": onchain,
        }))
    }

    /// 503 `Request timed out`.
    pub fn timed_out() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "Request timed out")
    }

    /// 503 `Server overloaded` with `Retry-After: 1`: too many requests in flight (load
    /// shedding, [`super::shed`]); nothing was done.
    pub fn overloaded() -> Self {
        let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, "Server overloaded");
        err.retry_after_secs = Some(UNAVAILABLE_RETRY_AFTER_SECS);
        err
    }

    /// 500 with an opaque body; `cause` is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut err = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
        err.report = Some(Arc::from(cause.to_string()));
        err
    }

    /// 503 with an opaque body; `cause` is logged, never sent.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable");
        err.report = Some(Arc::from(cause.to_string()));
        // Outages (a database failover, a restart) usually pass within seconds.
        err.retry_after_secs = Some(UNAVAILABLE_RETRY_AFTER_SECS);
        err
    }

    /// 503 `Commit outcome unknown` with `Retry-After: 1`: the connection was lost while the
    /// write was committing, so it may or may not have been applied. The client retries with
    /// the same `Idempotency-Key`, which replays nothing (the reservation was released) and runs
    /// the request again; see `docs/OPERATIONS.md` for what that means per route. `cause` is logged.
    pub fn commit_outcome_unknown(cause: impl std::fmt::Display) -> Self {
        let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, "Commit outcome unknown")
            .with_details(
                "The connection to the database was lost while the write was committing; it may \
                 or may not have been applied. Retry with the same Idempotency-Key.",
            );
        err.retry_after_secs = Some(1);
        err.report = Some(Arc::from(cause.to_string()));
        err
    }

    /// Marks the error as coming from the store, with a kind label for metrics.
    pub(crate) fn store_kind(mut self, kind: &'static str) -> Self {
        self.store_error_kind = Some(kind);
        self
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body this error answers with.
    pub fn body(&self) -> &ErrorBody {
        &self.body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(&self.body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(report) = self.report {
            response.extensions_mut().insert(ErrorReport(report));
        }
        if let Some(kind) = self.store_error_kind {
            response.extensions_mut().insert(StoreErrorKind(kind));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(err: ApiError) -> (u16, Value) {
        let status = err.status().as_u16();
        let body = serde_json::to_value(err.body).expect("json");
        (status, body)
    }

    #[test]
    fn an_internal_error_is_opaque_and_reported_in_the_extensions() {
        let response = ApiError::internal("connection refused at 10.0.0.1").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let report = response.extensions().get::<ErrorReport>().expect("report");
        assert!(report.0.contains("10.0.0.1"));
        let (_, body) = body_of(ApiError::internal("secret detail"));
        assert_eq!(body, json!({ "error": "Internal server error" }));
    }

    #[test]
    fn a_rate_limit_answer_carries_retry_after() {
        let response =
            ApiError::too_many_requests("Rate limit exceeded", json!({}), 7).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }
}
