//! The audit trail: who did what, from where, with which outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::millis;
use super::{
    ApiKeyId, AuditAction, AuditEventId, AuditOutcome, IdSeed, InstitutionId, ResourceType,
};

/// One audit record. Successful writes are recorded by the store in the same transaction as
/// the change; failures (auth, rate limit, conflict, ...) through `EscrowStore::record_audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Its id.
    pub id: AuditEventId,
    /// When the audited operation happened.
    #[serde(with = "millis")]
    pub occurred_at: DateTime<Utc>,
    /// When the record was written.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// The request id (`X-Request-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The API key used (none for root or unauthenticated requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<ApiKeyId>,
    /// The acting institution (from the auth context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_id: Option<InstitutionId>,
    /// HTTP method.
    pub method: String,
    /// Full request path.
    pub path: String,
    /// What was done.
    pub action: AuditAction,
    /// Whether it succeeded.
    pub outcome: AuditOutcome,
    /// The kind of resource concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<ResourceType>,
    /// The id of the resource concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Action-specific details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// The error, for failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AuditError>,
    /// The HTTP status answered, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// The error part of a failure audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditError {
    /// A machine-readable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// Extra details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// Who is writing, passed with every store write so the store can record the audit row in
/// the same transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    /// The request id.
    pub request_id: Option<String>,
    /// The API key used (none for root).
    pub api_key_id: Option<ApiKeyId>,
    /// The acting institution (none for root).
    pub institution_id: Option<InstitutionId>,
    /// HTTP method.
    pub method: String,
    /// Full request path.
    pub path: String,
    /// The client's IP address.
    pub client_ip: Option<String>,
    /// Set on a `POST` under an `Idempotency-Key`: the created entity's id is derived from it
    /// (see [`IdSeed`]); `None` means random ids.
    pub id_seed: Option<IdSeed>,
}

impl AuditContext {
    /// Builds an audit event from this context. `status_code` and `error` start empty.
    #[must_use]
    pub fn event(
        &self,
        action: AuditAction,
        outcome: AuditOutcome,
        resource: Option<(ResourceType, String)>,
        payload: Option<Value>,
        at: DateTime<Utc>,
    ) -> AuditEvent {
        let (resource_type, resource_id) = resource.unzip();
        AuditEvent {
            id: AuditEventId::new(),
            occurred_at: at,
            created_at: at,
            request_id: self.request_id.clone(),
            api_key_id: self.api_key_id.clone(),
            institution_id: self.institution_id.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            action,
            outcome,
            resource_type,
            resource_id,
            payload,
            error: None,
            status_code: None,
            client_ip: self.client_ip.clone(),
        }
    }
}
