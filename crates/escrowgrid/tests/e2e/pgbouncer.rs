//! The API over a real socket through PgBouncer in transaction mode (testkit's):
//! `DATABASE_STATEMENT_CACHE=false`, migrations on `DATABASE_DIRECT_URL`.

use escrowgrid::config::Secret;
use hyper::{Method, StatusCode};
use serde_json::json;

use super::flows::{position_body, tenant};
use super::lifecycle::ledger_items;
use super::server::{ROOT_KEY, TestServer, postgres_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_through_pgbouncer_in_transaction_mode() {
    // Arrange
    let db = testkit::database().await;
    let bounced = testkit::pgbouncer().await.url_for(&db);
    let mut settings = postgres_settings(&bounced);
    settings.store.statement_cache = false;
    settings.store.database_direct_url = Some(Secret::new(db.url().to_owned()));
    let server = TestServer::start(settings).await;
    server.wait_ready().await;

    // Act + assert: every resource, written and read, twice so that statements are reused
    // on whatever server connection PgBouncer hands out.
    for round in 0..2 {
        let tenant = tenant(server.addr, ROOT_KEY).await;
        let institution = &tenant.institution_id;
        let mut root = server.root().await;
        let mut admin = server.client(&tenant.admin_key).await;
        root.get("/institutions").await.expect(StatusCode::OK);
        root.get(&format!("/institutions/{institution}"))
            .await
            .expect(StatusCode::OK);
        let key = root
            .post(
                &format!("/institutions/{institution}/api-keys"),
                &json!({"label": "reader", "role": "read_only"}),
            )
            .await
            .expect(StatusCode::CREATED);
        root.get(&format!("/institutions/{institution}/api-keys"))
            .await
            .expect(StatusCode::OK);
        root.post(
            &format!(
                "/institutions/{institution}/api-keys/{}/revoke",
                key.str("id")
            ),
            &json!({}),
        )
        .await
        .expect(StatusCode::OK);
        admin
            .send(
                Method::PUT,
                &format!("/institutions/{institution}/policies/US"),
                Some(&json!({"position": {"minAmount": 1}})),
                &[],
            )
            .await
            .expect(StatusCode::OK);
        admin
            .get(&format!("/institutions/{institution}/policies"))
            .await
            .expect(StatusCode::OK);
        admin
            .get(&format!("/institutions/{institution}/policies/US"))
            .await
            .expect(StatusCode::OK);
        let templates = admin.get("/asset-templates").await.expect(StatusCode::OK);
        let template_id = ledger_items(&templates.body)[0]["id"]
            .as_str()
            .expect("a template")
            .to_owned();
        admin
            .get(&format!("/asset-templates/{template_id}"))
            .await
            .expect(StatusCode::OK);
        admin.get("/assets").await.expect(StatusCode::OK);
        admin
            .get(&format!("/assets/{}", tenant.asset_id))
            .await
            .expect(StatusCode::OK);
        let idempotency = format!("pgbouncer-{round}");
        let created = admin
            .send(
                Method::POST,
                "/positions",
                Some(&position_body(&tenant.asset_id)),
                &[("idempotency-key", &idempotency)],
            )
            .await
            .expect(StatusCode::CREATED);
        let id = created.str("id");
        let funded = admin
            .post(
                &format!("/positions/{id}/transition"),
                &json!({"toState": "FUNDED", "reason": "wire received"}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(funded.body["state"], "FUNDED");
        let fetched = admin
            .get(&format!("/positions/{id}"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(fetched.body["state"], "FUNDED");
        admin.get("/positions").await.expect(StatusCode::OK);
        let ledger = admin
            .get(&format!("/ledger-events?positionId={id}"))
            .await
            .expect(StatusCode::OK);
        assert!(ledger.body.to_string().contains("POSITION_STATE_CHANGED"));
        admin.get("/audit-events").await.expect(StatusCode::OK);
        root.get("/metrics").await.expect(StatusCode::OK);
        root.get("/metrics/prometheus").await.expect(StatusCode::OK);
        root.get("/openapi.json").await.expect(StatusCode::OK);
        root.get("/health").await.expect(StatusCode::OK);
        root.get("/ready").await.expect(StatusCode::OK);
    }
    // Concurrent clients make PgBouncer hand each transaction whichever server connection is
    // free, so a statement prepared on one connection would be missing on the next.
    let tenant = tenant(server.addr, ROOT_KEY).await;
    let workers = (0..8).map(|_| {
        let (addr, key, asset) = (
            server.addr,
            tenant.admin_key.clone(),
            tenant.asset_id.clone(),
        );
        tokio::spawn(async move {
            let mut admin = super::client::Client::connect(addr, Some(&key)).await;
            for _ in 0..10 {
                let id = admin
                    .post("/positions", &position_body(&asset))
                    .await
                    .expect(StatusCode::CREATED)
                    .str("id");
                admin
                    .post(
                        &format!("/positions/{id}/transition"),
                        &json!({"toState": "FUNDED"}),
                    )
                    .await
                    .expect(StatusCode::OK);
                admin
                    .get(&format!("/positions/{id}"))
                    .await
                    .expect(StatusCode::OK);
            }
        })
    });
    for worker in futures_util::future::join_all(workers).await {
        worker.expect("worker");
    }
    server.stop().await;
}
