//! The matrix itself: every route with the status each caller expects.

use axum::http::Method;
use serde_json::{Value, json};

use super::super::helpers::World;

/// Expected statuses: [root, admin, read_only, other admin, revoked, none].
pub(super) type Expect = [u16; 6];

/// One route called by every caller.
pub(super) struct Case {
    pub(super) method: Method,
    /// The route as the router lists it.
    pub(super) template: &'static str,
    pub(super) path: String,
    pub(super) body: Option<Value>,
    pub(super) expect: Expect,
}

fn case(
    method: Method,
    template: &'static str,
    path: String,
    body: Option<Value>,
    expect: Expect,
) -> Case {
    Case {
        method,
        template,
        path,
        body,
        expect,
    }
}

/// Every route of the router with its expected statuses.
pub(super) fn cases(w: &World, unknown_key: &str, webhook: &str) -> Vec<Case> {
    let (inst, tmpl, ast, pos) = (&w.tenant.id, &w.template, &w.asset, &w.position);
    let unknown_webhook = "wh_00000000-0000-4000-8000-000000000000";
    let unknown_delivery = "whd_00000000-0000-4000-8000-000000000000";
    let template_body = json!({
        "institutionId": inst, "code": "CONSTR_ESCROW", "name": "T", "vertical": "CONSTRUCTION",
        "region": "US", "config": { "currency": "USD", "region": "US" },
    });
    let position_body = json!({ "institutionId": inst, "assetId": ast, "holderReference": "h", "currency": "USD", "amount": 5 });
    vec![
        case(
            Method::GET,
            "/health",
            "/health".into(),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        case(
            Method::GET,
            "/ready",
            "/ready".into(),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        case(
            Method::POST,
            "/institutions",
            "/institutions".into(),
            Some(json!({ "name": "N", "regions": ["US"] })),
            [201, 403, 403, 403, 401, 401],
        ),
        case(
            Method::GET,
            "/institutions",
            "/institutions".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/institutions/{id}",
            format!("/institutions/{inst}"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::POST,
            "/institutions/{id}/api-keys",
            format!("/institutions/{inst}/api-keys"),
            Some(json!({ "label": "k", "role": "read_only" })),
            [201, 201, 403, 404, 401, 401],
        ),
        case(
            Method::GET,
            "/institutions/{id}/api-keys",
            format!("/institutions/{inst}/api-keys"),
            None,
            [200, 200, 403, 404, 401, 401],
        ),
        case(
            Method::POST,
            "/institutions/{id}/api-keys/{keyId}/revoke",
            format!("/institutions/{inst}/api-keys/{unknown_key}/revoke"),
            None,
            [404, 404, 403, 404, 401, 401],
        ),
        case(
            Method::GET,
            "/institutions/{id}/policies",
            format!("/institutions/{inst}/policies"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::GET,
            "/institutions/{id}/policies/{region}",
            format!("/institutions/{inst}/policies/US"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::PUT,
            "/institutions/{id}/policies/{region}",
            format!("/institutions/{inst}/policies/US"),
            Some(json!({ "position": {} })),
            [200, 200, 403, 404, 401, 401],
        ),
        case(
            Method::POST,
            "/asset-templates",
            "/asset-templates".into(),
            Some(template_body),
            [201, 201, 403, 403, 401, 401],
        ),
        case(
            Method::GET,
            "/asset-templates",
            "/asset-templates".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/asset-templates/{id}",
            format!("/asset-templates/{tmpl}"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::POST,
            "/assets",
            "/assets".into(),
            Some(json!({ "institutionId": inst, "templateId": tmpl, "label": "A" })),
            [201, 201, 403, 403, 401, 401],
        ),
        case(
            Method::GET,
            "/assets",
            "/assets".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/assets/{id}",
            format!("/assets/{ast}"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::POST,
            "/positions",
            "/positions".into(),
            Some(position_body),
            [201, 201, 403, 403, 401, 401],
        ),
        case(
            Method::GET,
            "/positions",
            "/positions".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/positions/{id}",
            format!("/positions/{pos}"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::POST,
            "/positions/{id}/transition",
            format!("/positions/{pos}/transition"),
            Some(json!({ "toState": "CREATED" })),
            [200, 200, 403, 404, 401, 401],
        ),
        case(
            Method::GET,
            "/ledger-events",
            format!("/ledger-events?positionId={pos}"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::GET,
            "/ledger-events",
            "/ledger-events".into(),
            None,
            [200, 400, 400, 400, 401, 401],
        ),
        case(
            Method::GET,
            "/ledger/verify",
            format!("/ledger/verify?institutionId={inst}"),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/ledger/checkpoints",
            "/ledger/checkpoints".into(),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        // The on-chain ledger is off here: root learns that (404), others never get that far.
        case(
            Method::GET,
            "/ledger/onchain/failed",
            "/ledger/onchain/failed".into(),
            None,
            [404, 403, 403, 403, 401, 401],
        ),
        case(
            Method::POST,
            "/ledger/onchain/failed/{id}/retry",
            "/ledger/onchain/failed/1/retry".into(),
            None,
            [404, 403, 403, 403, 401, 401],
        ),
        case(
            Method::GET,
            "/events/stream",
            format!("/events/stream?institutionId={inst}"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::GET,
            "/audit-events",
            "/audit-events".into(),
            None,
            [200, 200, 403, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/metrics",
            "/metrics".into(),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        case(
            Method::GET,
            "/metrics/prometheus",
            "/metrics/prometheus".into(),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        case(
            Method::POST,
            "/webhooks",
            "/webhooks".into(),
            Some(
                json!({ "institutionId": inst, "url": "https://hooks.example.com/in", "eventTypes": ["*"] }),
            ),
            [201, 201, 403, 403, 401, 401],
        ),
        case(
            Method::GET,
            "/webhooks",
            "/webhooks".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/webhooks/{id}",
            format!("/webhooks/{webhook}"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::PATCH,
            "/webhooks/{id}",
            format!("/webhooks/{webhook}"),
            Some(json!({ "enabled": true })),
            [200, 200, 403, 404, 401, 401],
        ),
        case(
            Method::DELETE,
            "/webhooks/{id}",
            format!("/webhooks/{unknown_webhook}"),
            None,
            [404, 404, 403, 404, 401, 401],
        ),
        case(
            Method::POST,
            "/webhooks/{id}/rotate-secret",
            format!("/webhooks/{webhook}/rotate-secret"),
            None,
            [200, 200, 403, 404, 401, 401],
        ),
        case(
            Method::GET,
            "/webhooks/{id}/deliveries",
            format!("/webhooks/{webhook}/deliveries"),
            None,
            [200, 200, 200, 404, 401, 401],
        ),
        case(
            Method::POST,
            "/webhooks/{id}/deliveries/{deliveryId}/retry",
            format!("/webhooks/{webhook}/deliveries/{unknown_delivery}/retry"),
            None,
            [404, 404, 403, 404, 401, 401],
        ),
        case(
            Method::GET,
            "/openapi.json",
            "/openapi.json".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/me",
            "/me".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/lifecycle",
            "/lifecycle".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/asset-templates/rules",
            "/asset-templates/rules".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        case(
            Method::GET,
            "/docs",
            "/docs".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
    ]
}
