//! `GET /audit-events` (new): the audit trail, paginated, in write order.
//!
//! Root sees every event (and may filter by `institutionId`); an admin key sees the events of
//! its own institution; read-only keys get 403 `Forbidden to access audit events`.
//!
//! Filters: `action`, `outcome`, `apiKeyId` (in the store), and `resourceType`, `resourceId`,
//! `from`, `to` (RFC 3339, inclusive bounds on `occurredAt`). The store's `AuditFilter` has no
//! resource or time fields yet, so when one of those is given the handler reads the
//! store-filtered list in pages of 1000 and filters and paginates the rest itself.

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::routing::get;
use chrono::{DateTime, Utc};

use crate::domain::{AuditAction, AuditEvent, AuditOutcome, FieldError, ResourceType};
use crate::store::{AuditFilter, MAX_LIMIT, Page};

use super::asset_templates::{any_filter, root_filter};
use super::auth::AuthRole;
use super::caller::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::QueryMap;
use super::openapi::Op;
use super::pagination::{PageBody, page_from_query};
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
            .query(
                "action",
                "string",
                "Filter by action, e.g. POSITION_TRANSITIONED",
            )
            .query("outcome", "string", "success or failure")
            .query("apiKeyId", "string", "Filter by API key")
            .query(
                "resourceType",
                "string",
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

/// Filters the store cannot apply (yet).
#[derive(Debug, Default)]
struct LocalFilter {
    resource_type: Option<ResourceType>,
    resource_id: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl LocalFilter {
    fn is_empty(&self) -> bool {
        self.resource_type.is_none()
            && self.resource_id.is_none()
            && self.from.is_none()
            && self.to.is_none()
    }

    fn accepts(&self, event: &AuditEvent) -> bool {
        self.resource_type
            .is_none_or(|wanted| event.resource_type == Some(wanted))
            && self
                .resource_id
                .as_ref()
                .is_none_or(|wanted| event.resource_id.as_ref() == Some(wanted))
            && self.from.is_none_or(|from| event.occurred_at >= from)
            && self.to.is_none_or(|to| event.occurred_at <= to)
    }
}

fn parse_filters(caller: &Caller, query: &QueryMap) -> ApiResult<(AuditFilter, LocalFilter)> {
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
    let store_filter = AuditFilter {
        institution_id: root_filter(caller, query.get("institutionId")),
        api_key_id: any_filter(query.get("apiKeyId")),
        action,
        outcome,
    };
    let local = LocalFilter {
        resource_type,
        resource_id: query
            .get("resourceId")
            .filter(|raw| !raw.is_empty())
            .map(str::to_owned),
        from,
        to,
    };
    Ok((store_filter, local))
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
    let page = page_from_query(&query)?;
    let (filter, local) = parse_filters(&caller, &query)?;
    let scope = caller.auth.scope();
    let result = if local.is_empty() {
        state
            .store()
            .list_audit_events(&scope, &filter, page)
            .await?
    } else {
        let mut matching = Vec::new();
        let mut offset = 0_i64;
        loop {
            let chunk = Page::new(i64::from(MAX_LIMIT), offset).map_err(ApiError::validation)?;
            let batch = state
                .store()
                .list_audit_events(&scope, &filter, chunk)
                .await?;
            let fetched = batch.items.len();
            let more = batch.has_more(chunk);
            matching.extend(batch.items.into_iter().filter(|event| local.accepts(event)));
            offset += i64::try_from(fetched).unwrap_or(i64::MAX);
            if fetched == 0 || !more {
                break;
            }
        }
        page.apply(matching.into_iter())
    };
    Ok(Json(PageBody::new(result, page)))
}
