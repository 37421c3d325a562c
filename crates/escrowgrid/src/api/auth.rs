//! Authentication and the caller's identity.
//!
//! The token comes from `X-API-KEY` (trimmed; it wins even when invalid), otherwise from
//! `Authorization: Bearer <token>` (scheme case-insensitive). Other schemes count as no token.
//!
//! - No token: 401 `Missing API key` (audit `AUTH_FAILED` / `MISSING_API_KEY`).
//! - The root key (compared in constant time on SHA-256 digests, so neither content nor length
//!   leaks through timing): role `root`; with `ROOT_API_KEY_ALLOWED_IPS` set, a client address
//!   outside the list (or an unknown one, see [`super::client_ip`]) gets 403 `Forbidden` /
//!   `Root API key cannot be used from this IP address` (audit `AUTH_FORBIDDEN`).
//! - Otherwise the token's SHA-256 is looked up; unknown or revoked: 401 `Invalid API key`
//!   (audit `AUTH_FAILED` / `INVALID_API_KEY`). On PostgreSQL the store answers active keys
//!   from its API-key cache (`store/postgres/key_cache.rs`: no connection checked out;
//!   revocations reach every instance through LISTEN/NOTIFY).
//!
//! `/health` and `/ready` are public; so are `/openapi.json` and `/docs` when
//! `PUBLIC_DOCS_ENABLED` is set.

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::{
    ApiKeyId, ApiKeyRole, AuditAction, AuditContext, AuditError, AuditOutcome, InstitutionId,
    ResourceType, now_millis,
};

use crate::store::Scope;

use super::client_ip::client_ip;
use super::error::ApiError;
use super::request_id::RequestId;
use super::state::AppState;

/// The role a request acts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRole {
    /// The root key: every institution.
    Root,
    /// An admin key of one institution.
    Admin,
    /// A read-only key of one institution.
    ReadOnly,
}

/// Who is calling: set by the auth middleware on every non-public route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// The role.
    pub role: AuthRole,
    /// The key's institution (none for root).
    pub institution_id: Option<InstitutionId>,
    /// The key's id (none for root).
    pub api_key_id: Option<ApiKeyId>,
}

impl AuthContext {
    /// Whether the caller is root.
    pub fn is_root(&self) -> bool {
        self.role == AuthRole::Root
    }

    /// Rejects read-only keys: 403 `Write access forbidden for read_only API key`.
    pub fn require_write(&self) -> Result<(), ApiError> {
        match self.role {
            AuthRole::ReadOnly => Err(ApiError::read_only()),
            AuthRole::Root | AuthRole::Admin => Ok(()),
        }
    }

    /// The institution a non-root caller is confined to (`None` = root, unrestricted).
    pub fn tenant(&self) -> Option<&InstitutionId> {
        if self.is_root() {
            None
        } else {
            self.institution_id.as_ref()
        }
    }

    /// Whether the caller may see `institution` at all.
    pub fn can_see(&self, institution: &InstitutionId) -> bool {
        self.is_root() || self.institution_id.as_ref() == Some(institution)
    }

    /// The store scope of the caller: root sees everything, a key only its institution.
    pub fn scope(&self) -> Scope {
        match (&self.role, &self.institution_id) {
            (AuthRole::Root, _) => Scope::Root,
            (_, Some(id)) => Scope::Institution(id.clone()),
            // Cannot happen (keys always belong to an institution); fail closed: a fresh id
            // matches no row.
            (_, None) => Scope::Institution(InstitutionId::new()),
        }
    }

    /// The bucket key of the caller for per-caller limits (`root` or the API key id).
    pub fn caller_key(&self) -> String {
        self.api_key_id
            .as_ref()
            .map_or_else(|| "root".to_owned(), |id| id.as_str().to_owned())
    }
}

/// Whether `path` is served without authentication.
pub fn is_public(path: &str, public_docs: bool) -> bool {
    matches!(path, "/health" | "/ready")
        || (public_docs
            && (path == "/openapi.json" || path == "/docs" || path.starts_with("/docs/")))
}

/// Authenticates the request and stores [`AuthContext`] (non-public paths) and
/// [`AuditContext`] in its extensions, or answers the rejection (see the module docs).
pub async fn authenticate(state: &AppState, req: Request) -> Result<Request, Response> {
    let settings = state.settings();
    let (mut parts, body) = req.into_parts();
    let ip = client_ip(&parts, settings.trust_proxy);
    let mut audit = AuditContext {
        request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
        api_key_id: None,
        institution_id: None,
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        client_ip: ip.map(|ip| ip.to_string()),
        id_seed: None,
    };
    if !is_public(parts.uri.path(), settings.public_docs_enabled) {
        let auth = match identify(state, &parts.headers, ip).await {
            Ok(auth) => auth,
            Err(rejection) => return Err(reject(state, &audit, rejection).await),
        };
        audit.api_key_id.clone_from(&auth.api_key_id);
        audit.institution_id.clone_from(&auth.institution_id);
        parts.extensions.insert(auth);
    }
    parts.extensions.insert(audit);
    Ok(Request::from_parts(parts, body))
}

/// Why authentication failed.
#[derive(Debug)]
enum Rejection {
    Missing,
    Invalid,
    RootIpNotAllowed,
    Store(crate::Error),
}

async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> Result<AuthContext, Rejection> {
    let token = token_from_headers(headers).ok_or(Rejection::Missing)?;
    let settings = state.settings();
    if let Some(root_key) = settings.root_api_key.as_deref() {
        if digest_eq(token, root_key) {
            let allowed = &settings.root_api_key_allowed_ips;
            let listed = |ip: std::net::IpAddr| {
                let ip = ip.to_canonical();
                allowed.iter().any(|entry| entry.to_canonical() == ip)
            };
            if !allowed.is_empty() && !ip.is_some_and(listed) {
                return Err(Rejection::RootIpNotAllowed);
            }
            return Ok(AuthContext {
                role: AuthRole::Root,
                institution_id: None,
                api_key_id: None,
            });
        }
    }
    let key = state
        .store()
        .find_api_key_by_token(token)
        .await
        .map_err(Rejection::Store)?
        .filter(|key| key.revoked_at.is_none())
        .ok_or(Rejection::Invalid)?;
    let role = match key.role {
        ApiKeyRole::Admin => AuthRole::Admin,
        ApiKeyRole::ReadOnly => AuthRole::ReadOnly,
    };
    Ok(AuthContext {
        role,
        institution_id: Some(key.institution_id),
        api_key_id: Some(key.id),
    })
}

async fn reject(state: &AppState, audit: &AuditContext, rejection: Rejection) -> Response {
    let (action, code, message, error) = match rejection {
        Rejection::Missing => (
            AuditAction::AuthFailed,
            "MISSING_API_KEY",
            "Missing API key",
            ApiError::unauthorized("Missing API key"),
        ),
        Rejection::Invalid => (
            AuditAction::AuthFailed,
            "INVALID_API_KEY",
            "Invalid API key",
            ApiError::unauthorized("Invalid API key"),
        ),
        Rejection::RootIpNotAllowed => {
            tracing::warn!(
                security_alert = true,
                request_id = audit.request_id.as_deref().unwrap_or_default(),
                client_ip = audit.client_ip.as_deref().unwrap_or("unknown"),
                "root api key used from an address outside the allow-list"
            );
            (
                AuditAction::AuthForbidden,
                "ROOT_KEY_IP_NOT_ALLOWED",
                "Root API key cannot be used from this IP address",
                ApiError::forbidden("Forbidden")
                    .with_details("Root API key cannot be used from this IP address"),
            )
        }
        Rejection::Store(err) => return ApiError::from(err).into_response(),
    };
    let failure = Failure {
        action,
        code,
        message,
        status: error.status().as_u16(),
        resource: None,
    };
    record_failure(state, audit, failure).await;
    error.into_response()
}

/// A failure to record as a standalone audit row.
#[derive(Debug)]
pub struct Failure<'a> {
    /// The audit action (`AUTH_FAILED`, `RATE_LIMITED`, ...).
    pub action: AuditAction,
    /// A machine-readable code (`INVALID_API_KEY`, ...).
    pub code: &'a str,
    /// The message.
    pub message: &'a str,
    /// The HTTP status answered.
    pub status: u16,
    /// The resource concerned, if any.
    pub resource: Option<(ResourceType, String)>,
}

/// Records a standalone failure audit row; a failure to record is logged, never surfaced.
pub async fn record_failure(state: &AppState, audit: &AuditContext, failure: Failure<'_>) {
    let action = failure.action;
    let mut event = audit.event(
        action,
        AuditOutcome::Failure,
        failure.resource,
        None,
        now_millis(),
    );
    event.error = Some(AuditError {
        code: Some(failure.code.to_owned()),
        message: failure.message.to_owned(),
        details: None,
    });
    event.status_code = Some(failure.status);
    if let Err(err) = state.store().record_audit(event).await {
        tracing::error!(
            request_id = audit.request_id.as_deref().unwrap_or_default(),
            action = action.as_str(),
            error = %err,
            "failed to record audit event"
        );
    }
}

/// The token of a request, see the module docs.
pub fn token_from_headers(headers: &HeaderMap) -> Option<&str> {
    let api_key = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim);
    if let Some(token) = api_key.filter(|token| !token.is_empty()) {
        return Some(token);
    }
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn digest_eq(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    given.ct_eq(&expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_api_key_header_wins_over_a_bearer_token() {
        let map = headers(&[("x-api-key", " k1 "), ("authorization", "Bearer k2")]);
        assert_eq!(token_from_headers(&map), Some("k1"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_other_schemes_are_ignored() {
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "bEaReR  tok ")])),
            Some("tok")
        );
        assert_eq!(
            token_from_headers(&headers(&[("authorization", "Basic abc")])),
            None
        );
        assert_eq!(token_from_headers(&headers(&[])), None);
    }

    #[test]
    fn root_keys_compare_by_content() {
        assert!(digest_eq("secret", "secret"));
        assert!(!digest_eq("secret", "secreT"));
        assert!(!digest_eq("secret", "secret-longer"));
    }

    #[test]
    fn docs_are_public_only_when_enabled() {
        assert!(is_public("/health", false));
        assert!(!is_public("/openapi.json", false));
        assert!(is_public("/docs/redoc", true));
    }
}
