//! `GET /audit-events` (new): the audit trail, paginated, in write order.
//!
//! Root sees every event (and may filter by `institutionId`); an admin key sees the events of
//! its own institution; read-only keys get 403 `Forbidden to access audit events`.
//!
//! Filters: `action`, `outcome`, `apiKeyId`, `resourceType`, `resourceId`, `from`, `to`
//! (RFC 3339, inclusive bounds on `occurredAt`). All of them are applied by the store, which
//! also counts the total and cuts the page.

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::routing::get;
use chrono::{DateTime, Utc};

use crate::domain::{AuditAction, AuditEvent, AuditOutcome, FieldError, ResourceType};
use crate::store::AuditFilter;

use super::asset_templates::{any_filter, root_filter};
use super::auth::AuthRole;
use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::QueryMap;
use super::openapi::Op;
use super::pagination::{PageBody, Paging};
use super::routes::Route;
use super::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    vec![Route {
        method: Method::GET,
        path: "/audit-events",
        handler: get(list),
        doc: || {
            Op::new(
                "audit",
                "List audit events (root: all; admin: own institution)",
            )
            .query(
                "institutionId",
                "string",
                "Root only: filter by acting institution",
            )
            .query_schema(
                "action",
                string_enum(AuditAction::ALL.iter().map(|a| a.as_str())),
                "Filter by action, e.g. POSITION_TRANSITIONED",
            )
            .query_schema(
                "outcome",
                string_enum(AuditOutcome::ALL.iter().map(|o| o.as_str())),
                "success or failure",
            )
            .query("apiKeyId", "string", "Filter by API key")
            .query_schema(
                "resourceType",
                string_enum(ResourceType::ALL.iter().map(|r| r.as_str())),
                "Filter by resource type, e.g. position",
            )
            .query("resourceId", "string", "Filter by resource id")
            .query(
                "from",
                "string",
                "Earliest occurredAt (RFC 3339, inclusive)",
            )
            .query("to", "string", "Latest occurredAt (RFC 3339, inclusive)")
            .paginated()
            .response_page(200, "AuditEvent")
            .errors(&[400, 401, 403])
            .build()
        },
    }]
}

/// An enum filter; the empty string is listed too, since an empty filter means no filter.
fn string_enum<'a>(names: impl Iterator<Item = &'a str>) -> serde_json::Value {
    let names: Vec<&str> = std::iter::once("").chain(names).collect();
    serde_json::json!({ "type": "string", "enum": names })
}

/// The query parameters that filter the audit list (a cursor is bound to their values).
const AUDIT_FILTERS: &[&str] = &[
    "institutionId",
    "apiKeyId",
    "action",
    "outcome",
    "resourceType",
    "resourceId",
    "from",
    "to",
];

fn parse_filter(caller: &Caller, query: &QueryMap) -> ApiResult<AuditFilter> {
    let mut errors = Vec::new();
    let action = parse_enum::<AuditAction>(
        &mut errors,
        query,
        "action",
        AuditAction::invalid_option_message,
    );
    let outcome = parse_enum::<AuditOutcome>(
        &mut errors,
        query,
        "outcome",
        AuditOutcome::invalid_option_message,
    );
    let resource_type = parse_enum::<ResourceType>(
        &mut errors,
        query,
        "resourceType",
        ResourceType::invalid_option_message,
    );
    let from = parse_time(&mut errors, "from", query.get("from"));
    let to = parse_time(&mut errors, "to", query.get("to"));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(AuditFilter {
        institution_id: root_filter(caller, query.get("institutionId")),
        api_key_id: any_filter(query.get("apiKeyId")),
        action,
        outcome,
        resource_type,
        resource_id: query
            .get("resourceId")
            .filter(|raw| !raw.is_empty())
            .map(str::to_owned),
        occurred_from: from,
        occurred_to: to,
    })
}

fn parse_enum<T: std::str::FromStr>(
    errors: &mut Vec<FieldError>,
    query: &QueryMap,
    field: &str,
    options: fn() -> String,
) -> Option<T> {
    let raw = query.get(field).filter(|raw| !raw.is_empty())?;
    raw.parse().ok().or_else(|| {
        errors.push(FieldError::new(field, options()));
        None
    })
}

fn parse_time(
    errors: &mut Vec<FieldError>,
    field: &str,
    raw: Option<&str>,
) -> Option<DateTime<Utc>> {
    let raw = raw.filter(|raw| !raw.is_empty())?;
    match DateTime::parse_from_rfc3339(raw) {
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "Invalid input: expected an RFC 3339 date-time",
            ));
            None
        }
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
) -> ApiResult<Json<PageBody<AuditEvent>>> {
    if caller.auth.role == AuthRole::ReadOnly {
        return Err(ApiError::forbidden("Forbidden to access audit events"));
    }
    let paging = Paging::from_query(&query, "audit-events", AUDIT_FILTERS)?;
    let filter = parse_filter(&caller, &query)?;
    let result = state
        .store()
        .list_audit_events(&caller.auth.scope(), &filter, paging.page())
        .await?;
    Ok(Json(paging.body(result)))
}
