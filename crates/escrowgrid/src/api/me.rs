//! `GET /me`: who the presented key is (role, institution, key id), so that clients such as
//! the console show only what the key may do. Nothing secret is returned.

use axum::Json;
use axum::http::Method;
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::AuthRole;
use super::caller::Caller;
use super::openapi::Op;
use super::routes::Route;

pub(super) fn routes() -> Vec<Route> {
    vec![Route {
        method: Method::GET,
        path: "/me",
        handler: get(me),
        doc: || {
            Op::new("auth", "The caller's role and institution")
                .response(200, "Me")
                .errors(&[401, 403])
                .build()
        },
    }]
}

async fn me(caller: Caller) -> Json<Value> {
    let role = match caller.auth.role {
        AuthRole::Root => "root",
        AuthRole::Admin => "admin",
        AuthRole::ReadOnly => "read_only",
    };
    let mut body = json!({ "role": role, "canWrite": caller.auth.require_write().is_ok() });
    if let Some(object) = body.as_object_mut() {
        if let Some(id) = &caller.auth.institution_id {
            object.insert("institutionId".into(), json!(id.as_str()));
        }
        if let Some(id) = &caller.auth.api_key_id {
            object.insert("apiKeyId".into(), json!(id.as_str()));
        }
    }
    Json(body)
}
