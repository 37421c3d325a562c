//! The tenant-isolation matrix: every route × root, own admin, own read-only, another
//! institution's admin, a revoked key and no key.

use std::collections::HashSet;

use axum::http::Method;
use escrowgrid::api::routes::route_list;
use serde_json::{Value, json};

use super::helpers::{ROOT, TestApp, World};

/// Expected statuses: [root, admin, read_only, other admin, revoked, none].
type Expect = [u16; 6];

struct Case {
    method: Method,
    template: &'static str,
    path: String,
    body: Option<Value>,
    expect: Expect,
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

fn cases(w: &World, unknown_key: &str, webhook: &str) -> Vec<Case> {
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

struct Keys {
    all: [(&'static str, Option<String>); 6],
    /// A webhook endpoint of the world's institution.
    webhook: String,
}

async fn setup(app: &TestApp) -> (World, Keys) {
    let world = app.world("Acme").await;
    let other = app.tenant("Other").await;
    app.put_policy(ROOT, &world.tenant.id, "US", json!({ "position": {} }))
        .await
        .expect(200);
    let revoked = app
        .create_api_key(
            ROOT,
            &world.tenant.id,
            json!({ "label": "old", "role": "admin" }),
        )
        .await;
    let revoked_token = revoked.json["apiKey"].as_str().expect("token").to_owned();
    app.revoke_api_key(ROOT, &world.tenant.id, &revoked.id())
        .await
        .expect(200);
    let webhook = app
        .post("/webhooks")
        .key(ROOT)
        .json(&json!({ "institutionId": world.tenant.id, "url": "https://hooks.example.com/a", "eventTypes": ["*"] }))
        .send()
        .await
        .id();
    let keys = Keys {
        webhook,
        all: [
            ("root", Some(ROOT.to_owned())),
            ("admin", Some(world.tenant.admin.clone())),
            ("read_only", Some(world.tenant.read_only.clone())),
            ("other", Some(other.admin.clone())),
            ("revoked", Some(revoked_token)),
            ("none", None),
        ],
    };
    (world, keys)
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let app = TestApp::new();
    let (world, keys) = setup(&app).await;
    let unknown_key = "ak_00000000-0000-4000-8000-000000000000";
    let cases = cases(&world, unknown_key, &keys.webhook);
    let mut failures = Vec::new();
    for case in &cases {
        for ((who, key), expected) in keys.all.iter().zip(case.expect) {
            let mut call = app.call(case.method.clone(), &case.path);
            if let Some(key) = key {
                call = call.key(key);
            }
            if let Some(body) = &case.body {
                call = call.json(&body.clone());
            }
            let reply = call.send().await;
            if reply.status.as_u16() != expected {
                failures.push(format!(
                    "{} {} as {who}: expected {expected}, got {} {}",
                    case.method, case.path, reply.status, reply.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let covered: HashSet<_> = cases
        .iter()
        .map(|c| (c.method.clone(), c.template))
        .collect();
    for (method, path) in route_list() {
        assert!(
            covered.contains(&(method.clone(), path)),
            "{method} {path} is missing from the matrix"
        );
    }
}

#[tokio::test]
async fn another_tenants_ids_answer_exactly_like_unknown_ids() {
    let app = TestApp::new();
    let (world, keys) = setup(&app).await;
    let other_key = keys.all[3].1.clone().expect("other key");
    let unknown = [
        (
            "/institutions/",
            world.tenant.id.as_str(),
            "inst_00000000-0000-4000-8000-000000000000",
        ),
        (
            "/asset-templates/",
            world.template.as_str(),
            "tmpl_00000000-0000-4000-8000-000000000000",
        ),
        (
            "/assets/",
            world.asset.as_str(),
            "ast_00000000-0000-4000-8000-000000000000",
        ),
        (
            "/positions/",
            world.position.as_str(),
            "pos_00000000-0000-4000-8000-000000000000",
        ),
        (
            "/webhooks/",
            keys.webhook.as_str(),
            "wh_00000000-0000-4000-8000-000000000000",
        ),
    ];
    for (prefix, existing, missing) in unknown {
        let theirs = app
            .get(&format!("{prefix}{existing}"))
            .key(&other_key)
            .send()
            .await;
        let nobody = app
            .get(&format!("{prefix}{missing}"))
            .key(&other_key)
            .send()
            .await;
        assert_eq!(
            (theirs.status, &theirs.json),
            (nobody.status, &nobody.json),
            "{prefix}"
        );
        assert_eq!(theirs.status.as_u16(), 404);
    }
    let theirs = app
        .transition(&other_key, &world.position, json!({ "toState": "FUNDED" }))
        .await;
    let nobody = app
        .transition(
            &other_key,
            "pos_00000000-0000-4000-8000-000000000000",
            json!({ "toState": "FUNDED" }),
        )
        .await;
    assert_eq!((theirs.status, &theirs.json), (nobody.status, &nobody.json));
    let theirs = app
        .ledger_events(&other_key, &format!("?positionId={}", world.position))
        .await;
    let nobody = app
        .ledger_events(
            &other_key,
            "?positionId=pos_00000000-0000-4000-8000-000000000000",
        )
        .await;
    assert_eq!((theirs.status, &theirs.json), (nobody.status, &nobody.json));
}

#[tokio::test]
async fn list_endpoints_never_show_another_tenants_rows() {
    let app = TestApp::new();
    let (world, keys) = setup(&app).await;
    let other_key = keys.all[3].1.clone().expect("other key");
    for path in ["/asset-templates", "/assets", "/positions"] {
        let reply = app
            .get(&format!("{path}?institutionId={}", world.tenant.id))
            .key(&other_key)
            .send()
            .await;
        assert_eq!(reply.expect(200)["pagination"]["total"], 0, "{path}");
    }
}
