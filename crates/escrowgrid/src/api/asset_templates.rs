//! `/asset-templates`: create, list (paginated), get.
//!
//! Template config rules (per vertical × code, code must belong to the vertical) are the
//! domain's; a violation is 400 `Failed to create asset template` with the rule's message.
//! Another tenant's template answers 404 `Asset template not found` (the original: 403).
//!
//! `GET /asset-templates/rules` serves the rules themselves (the domain's table, see
//! [`crate::domain::rules_for`]) so that clients such as the console build their forms from
//! the same rules the server enforces.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::domain::{
    AssetTemplate, CURRENCIES, FieldRule, JsonObject, Region, TemplateCode, TemplateId, Vertical,
    rules_for,
};
use crate::store::TemplateFilter;

use super::caller::Caller;
use super::earlier_attempt::committed;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryMap};
use super::openapi::Op;
use super::pagination::{PageBody, Paging};
use super::routes::{Route, created};
use super::state::AppState;
use super::validate;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route {
            method: Method::POST,
            path: "/asset-templates",
            handler: post(create),
            doc: || {
                Op::new("asset-templates", "Create an asset template")
                    .body("NewAssetTemplate")
                    .idempotent()
                    .response(201, "AssetTemplate")
                    .errors(&[400, 401, 403, 413, 415, 422, 429])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/asset-templates",
            handler: get(list),
            doc: || {
                Op::new("asset-templates", "List asset templates")
                    .query(
                        "institutionId",
                        "string",
                        "Root only: filter by institution",
                    )
                    .paginated()
                    .response_page(200, "AssetTemplate")
                    .errors(&[400, 401])
                    .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/asset-templates/rules",
            handler: get(rules),
            doc: || {
                Op::new(
                    "asset-templates",
                    "The config rules per template code (the table the server enforces)",
                )
                .response(200, "TemplateRules")
                .errors(&[401])
                .build()
            },
        },
        Route {
            method: Method::GET,
            path: "/asset-templates/{id}",
            handler: get(fetch),
            doc: || {
                Op::new("asset-templates", "Get an asset template")
                    .response(200, "AssetTemplate")
                    .errors(&[401, 404])
                    .build()
            },
        },
    ]
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<JsonObject>,
) -> ApiResult<(StatusCode, Json<AssetTemplate>)> {
    caller.auth.require_write()?;
    let draft = validate::new_asset_template(&body)?;
    let mut new = draft.input;
    new.institution_id = caller.acting_institution(
        draft.institution_id.as_deref(),
        "Cannot create templates for a different institution",
    )?;
    let scope = caller.auth.scope();
    let store = state.store();
    let get = |id| async move { store.get_asset_template(&scope, &id).await };
    if let Some(earlier) = committed(&caller, TemplateId::from_seed, get).await? {
        return Ok(created(earlier));
    }
    let template = state
        .store()
        .create_asset_template(&caller.auth.scope(), new, &caller.audit)
        .await
        .map_err(ApiError::create_failed("Failed to create asset template"))?;
    Ok(created(template))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryMap,
) -> ApiResult<Json<PageBody<AssetTemplate>>> {
    let paging = Paging::from_query(&query, "asset-templates", &["institutionId"])?;
    let filter = TemplateFilter {
        institution_id: root_filter(&caller, query.get("institutionId")),
    };
    let result = state
        .store()
        .list_asset_templates(&caller.auth.scope(), &filter, paging.page())
        .await?;
    Ok(Json(paging.body(result)))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetTemplate>> {
    let id = TemplateId::parse(&id).map_err(|_| ApiError::not_found("Asset template not found"))?;
    let template = state
        .store()
        .get_asset_template(&caller.auth.scope(), &id)
        .await?;
    Ok(Json(template))
}

async fn rules() -> Json<Value> {
    Json(rules_document())
}

/// The rules of every template code as JSON (schema `TemplateRules`).
pub fn rules_document() -> Value {
    let codes: Vec<Value> = TemplateCode::ALL
        .iter()
        .map(|code| {
            let rules = rules_for(*code);
            let fields: Vec<Value> = rules.fields.iter().map(field_json).collect();
            let constraints: Vec<Value> = rules
                .ordered
                .iter()
                .map(|(low, high)| json!({ "kind": "lessOrEqual", "low": low, "high": high }))
                .collect();
            json!({
                "code": code.as_str(), "vertical": code.vertical().as_str(),
                "fields": fields, "constraints": constraints,
            })
        })
        .collect();
    json!({
        "verticals": Vertical::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        "regions": Region::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "currencies": CURRENCIES,
        "codes": codes,
    })
}

fn field_json(rule: &FieldRule) -> Value {
    let mut field = json!({
        "key": rule.key, "kind": rule.kind.as_str(), "required": rule.required,
        "numeric": rule.kind.is_numeric(),
    });
    let bounds = [
        ("minimum", rule.kind.minimum()),
        ("exclusiveMinimum", rule.kind.exclusive_minimum()),
        ("maximum", rule.kind.maximum()),
    ];
    for (name, bound) in bounds {
        if let (Some(bound), Some(object)) = (bound, field.as_object_mut()) {
            object.insert(name.into(), decimal_json(bound));
        }
    }
    field
}

fn decimal_json(value: Decimal) -> Value {
    value
        .normalize()
        .to_string()
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}

/// An id filter from the query; only root may filter by institution (keys always see their
/// own, the query value is ignored as in the original). A malformed id matches nothing.
pub(super) fn root_filter<T: std::str::FromStr + Default>(
    caller: &Caller,
    raw: Option<&str>,
) -> Option<T> {
    if caller.auth.is_root() {
        any_filter(raw)
    } else {
        None
    }
}

/// An id filter from the query; a malformed id matches nothing.
pub(super) fn any_filter<T: std::str::FromStr + Default>(raw: Option<&str>) -> Option<T> {
    raw.filter(|raw| !raw.is_empty())
        .map(|raw| raw.parse().unwrap_or_default())
}
