//! The general and the sensitive-operation rate limiters.

use std::time::Duration;

use escrowgrid::api::RateLimitSettings;
use serde_json::json;

use super::helpers::{ROOT, TestApp};

fn limited(max_requests: u32) -> TestApp {
    TestApp::with(|s| {
        s.rate_limit = RateLimitSettings {
            enabled: true,
            window: Duration::from_secs(60),
            max_requests,
            ..RateLimitSettings::default()
        };
    })
}

#[tokio::test]
async fn the_general_limiter_answers_429_with_retry_after_once_the_window_is_full() {
    let app = limited(2);
    let tenant = app.tenant("Acme").await;
    app.list_institutions(&tenant.read_only).await.expect(200);
    app.list_institutions(&tenant.read_only).await.expect(200);
    let reply = app.list_institutions(&tenant.read_only).await;
    assert_eq!(
        reply.expect(429),
        &json!({ "error": "Rate limit exceeded", "details": { "windowMs": 60000, "maxRequests": 2 } })
    );
    let retry_after: u64 = reply
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let audit = app.audit_events(ROOT, "?action=RATE_LIMITED").await;
    assert_eq!(audit.expect(200)["pagination"]["total"], 1);
}

#[tokio::test]
async fn the_general_limiter_skips_root_and_public_routes_and_counts_per_key() {
    let app = limited(1);
    let tenant = app.tenant("Acme").await;
    for _ in 0..3 {
        app.list_institutions(ROOT).await.expect(200);
        app.health().await.expect(200);
    }
    app.list_institutions(&tenant.admin).await.expect(429);
    app.list_institutions(&tenant.read_only).await.expect(200);
}

#[tokio::test]
async fn institution_creation_is_limited_to_ten_per_hour_per_caller() {
    let app = TestApp::new();
    for index in 0..10 {
        app.create_institution(
            ROOT,
            json!({ "name": format!("I{index}"), "regions": ["US"] }),
        )
        .await
        .expect(201);
    }
    let reply = app
        .create_institution(ROOT, json!({ "name": "one too many", "regions": ["US"] }))
        .await;
    let body = reply.expect(429);
    assert_eq!(
        body["error"],
        "Rate limit exceeded for institution creation"
    );
    assert_eq!(body["details"]["maxInstitutions"], 10);
    assert_eq!(body["details"]["windowMinutes"], 60);
    assert!(
        body["details"]["retryAfterSeconds"]
            .as_u64()
            .is_some_and(|s| s > 0)
    );
    assert!(reply.header("retry-after").is_some());
}

#[tokio::test]
async fn api_key_creation_is_limited_per_caller_not_per_target_institution() {
    let app = TestApp::new();
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    // Another tenant hammering Acme's key endpoint spends only its own budget (and gets 404);
    // its admin already minted its read-only key, so 4 attempts are left.
    for _ in 0..4 {
        app.create_api_key(
            &other.admin,
            &acme.id,
            json!({ "label": "x", "role": "admin" }),
        )
        .await
        .expect(404);
    }
    let blocked = app
        .create_api_key(
            &other.admin,
            &acme.id,
            json!({ "label": "x", "role": "admin" }),
        )
        .await;
    let body = blocked.expect(429);
    assert_eq!(body["error"], "Rate limit exceeded for API key creation");
    assert_eq!(body["details"]["maxKeys"], 5);
    // Acme's admin keeps its full budget (the admin already minted the read-only key: 4 left).
    for _ in 0..4 {
        app.create_api_key(
            &acme.admin,
            &acme.id,
            json!({ "label": "ok", "role": "read_only" }),
        )
        .await
        .expect(201);
    }
    app.create_api_key(
        &acme.admin,
        &acme.id,
        json!({ "label": "ok", "role": "read_only" }),
    )
    .await
    .expect(429);
    app.create_api_key(
        ROOT,
        &acme.id,
        json!({ "label": "root", "role": "read_only" }),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn the_operator_limits_are_settings_so_an_operator_can_onboard_more_than_ten() {
    // Issue 13 item 8: root could create only 10 institutions and 5 API keys per hour.
    let app = TestApp::with(|s| {
        s.rate_limit.institution_creations_per_hour = 12;
        s.rate_limit.api_key_creations_per_hour = 7;
    });
    let mut institution = String::new();
    for n in 0..12 {
        let reply = app
            .create_institution(
                ROOT,
                json!({ "name": format!("Bank {n}"), "regions": ["US"] }),
            )
            .await;
        institution = reply.expect(201)["id"].as_str().expect("id").to_owned();
    }
    let reply = app
        .create_institution(ROOT, json!({ "name": "Bank 13", "regions": ["US"] }))
        .await;
    let body = reply.expect_error(429, "Rate limit exceeded for institution creation");
    assert_eq!(body["details"]["maxInstitutions"], 12);
    for n in 0..7 {
        app.create_api_key(
            ROOT,
            &institution,
            json!({ "label": format!("k{n}"), "role": "admin" }),
        )
        .await
        .expect(201);
    }
    let reply = app
        .create_api_key(
            ROOT,
            &institution,
            json!({ "label": "k8", "role": "admin" }),
        )
        .await;
    let body = reply.expect_error(429, "Rate limit exceeded for API key creation");
    assert_eq!(body["details"]["maxKeys"], 7);
}
