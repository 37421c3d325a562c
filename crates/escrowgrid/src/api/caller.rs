//! The `Caller` extractor: who is calling (set by [`super::auth::authenticate`]) and the audit
//! context of the request, plus the tenancy rule for creates.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::domain::{AuditContext, InstitutionId};

use super::auth::AuthContext;
use super::error::ApiError;

/// The authenticated caller plus the audit context of the request (the extractor handlers use).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who is calling.
    pub auth: AuthContext,
    /// Request id, key, institution, method, full path and client address, for audit rows.
    pub audit: AuditContext,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("Missing API key"))?;
        let audit = parts
            .extensions
            .get::<AuditContext>()
            .cloned()
            .unwrap_or_default();
        Ok(Self { auth, audit })
    }
}

impl Caller {
    /// The institution a create acts for: root must name it in the body (else 400
    /// `Invalid institution context`); a key acts for its own institution and may not name
    /// another (403 `Forbidden` with `different` as details). A malformed id named by root
    /// matches nothing, so the store reports `Institution not found`.
    pub fn acting_institution(
        &self,
        named: Option<&str>,
        different: &'static str,
    ) -> Result<InstitutionId, ApiError> {
        if self.auth.is_root() {
            return named
                .map(|raw| raw.parse().unwrap_or_default())
                .ok_or_else(|| {
                    ApiError::bad_request("Invalid institution context")
                        .with_details("Institution must be specified or derived from API key")
                });
        }
        let own = self.auth.institution_id.clone().ok_or_else(|| {
            ApiError::bad_request("Invalid institution context")
                .with_details("Institution must be specified or derived from API key")
        })?;
        match named {
            Some(raw) if raw != own.as_str() => {
                Err(ApiError::forbidden("Forbidden").with_details(different))
            }
            _ => Ok(own),
        }
    }
}
