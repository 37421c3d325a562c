//! The tenant-isolation matrix: every route × root, own admin, own read-only, another
//! institution's admin, a revoked key and no key.

use std::collections::HashSet;

use escrowgrid::api::routes::route_list;
use serde_json::json;

use super::helpers::{ROOT, TestApp, World};

mod matrix;

use self::matrix::cases;

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
