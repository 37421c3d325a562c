//! Authentication: token sources, root key, allow-list, revoked keys, failure audit rows.

use escrowgrid::domain::{AuditAction, AuditOutcome};
use escrowgrid::store::{AuditFilter, Page, Scope};
use serde_json::json;

use super::helpers::{ROOT, TestApp};

async fn failures(app: &TestApp, action: AuditAction) -> Vec<escrowgrid::domain::AuditEvent> {
    let filter = AuditFilter {
        action: Some(action),
        ..AuditFilter::default()
    };
    app.store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .expect("audit list")
        .items
}

#[tokio::test]
async fn a_request_without_a_key_is_401_and_audited_with_its_request_id() {
    let app = TestApp::new();
    let reply = app
        .get("/institutions")
        .header("x-request-id", "req-missing")
        .send()
        .await;
    assert_eq!(reply.expect(401), &json!({ "error": "Missing API key" }));
    let rows = failures(&app, AuditAction::AuthFailed).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].request_id.as_deref(), Some("req-missing"));
    assert_eq!(rows[0].outcome, AuditOutcome::Failure);
    assert_eq!(rows[0].path, "/institutions");
    assert_eq!(rows[0].status_code, Some(401));
    assert_eq!(
        rows[0].error.as_ref().and_then(|e| e.code.as_deref()),
        Some("MISSING_API_KEY")
    );
}

#[tokio::test]
async fn an_unknown_key_is_401_invalid_api_key_and_audited() {
    let app = TestApp::new();
    let reply = app.get("/institutions").key("ak_nope").send().await;
    assert_eq!(reply.expect(401), &json!({ "error": "Invalid API key" }));
    let rows = failures(&app, AuditAction::AuthFailed).await;
    assert_eq!(
        rows[0].error.as_ref().and_then(|e| e.code.as_deref()),
        Some("INVALID_API_KEY")
    );
}

#[tokio::test]
async fn a_bearer_token_authenticates_with_any_scheme_case() {
    let app = TestApp::new();
    let reply = app
        .get("/institutions")
        .header("authorization", &format!("bEaReR {ROOT}"))
        .send()
        .await;
    reply.expect(200);
}

#[tokio::test]
async fn the_api_key_header_wins_even_when_invalid() {
    let app = TestApp::new();
    let reply = app
        .get("/institutions")
        .key("wrong")
        .header("authorization", &format!("Bearer {ROOT}"))
        .send()
        .await;
    reply.expect_error(401, "Invalid API key");
}

#[tokio::test]
async fn other_authorization_schemes_count_as_no_token() {
    let app = TestApp::new();
    let reply = app
        .get("/institutions")
        .header("authorization", &format!("Basic {ROOT}"))
        .send()
        .await;
    reply.expect_error(401, "Missing API key");
}

#[tokio::test]
async fn a_revoked_key_is_rejected_at_once() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    app.list_institutions(&tenant.admin).await.expect(200);
    app.revoke_api_key(ROOT, &tenant.id, &tenant.admin_key_id)
        .await
        .expect(200);
    app.list_institutions(&tenant.admin)
        .await
        .expect_error(401, "Invalid API key");
}

#[tokio::test]
async fn without_a_configured_root_key_no_token_is_root() {
    let app = TestApp::with(|s| s.root_api_key = None);
    app.list_institutions(super::helpers::ROOT)
        .await
        .expect_error(401, "Invalid API key");
}

fn allow_list_app(trust_proxy: bool) -> TestApp {
    TestApp::with(|s| {
        s.root_api_key_allowed_ips = vec!["10.0.0.7".parse().expect("ip")];
        s.trust_proxy = trust_proxy;
    })
}

#[tokio::test]
async fn root_is_accepted_from_an_allowed_peer_address() {
    let app = allow_list_app(false);
    app.get("/institutions")
        .key(ROOT)
        .peer("10.0.0.7:5555")
        .send()
        .await
        .expect(200);
    app.get("/institutions")
        .key(ROOT)
        .peer("[::ffff:10.0.0.7]:5555")
        .send()
        .await
        .expect(200);
}

#[tokio::test]
async fn root_from_another_address_is_403_and_audited() {
    let app = allow_list_app(false);
    let reply = app
        .get("/institutions")
        .key(ROOT)
        .peer("10.0.0.8:5555")
        .send()
        .await;
    assert_eq!(
        reply.expect(403),
        &json!({ "error": "Forbidden", "details": "Root API key cannot be used from this IP address" })
    );
    let rows = failures(&app, AuditAction::AuthForbidden).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].client_ip.as_deref(), Some("10.0.0.8"));
    assert_eq!(
        rows[0].error.as_ref().and_then(|e| e.code.as_deref()),
        Some("ROOT_KEY_IP_NOT_ALLOWED")
    );
}

#[tokio::test]
async fn a_spoofed_forwarded_header_is_ignored_without_trust_proxy() {
    let app = allow_list_app(false);
    let reply = app
        .get("/institutions")
        .key(ROOT)
        .peer("203.0.113.9:1")
        .header("x-forwarded-for", "10.0.0.7")
        .send()
        .await;
    reply.expect_error(403, "Forbidden");
}

#[tokio::test]
async fn the_forwarded_header_is_used_with_trust_proxy() {
    let app = allow_list_app(true);
    let allowed = app
        .get("/institutions")
        .key(ROOT)
        .peer("192.168.0.1:1")
        .header("x-forwarded-for", "10.0.0.7, 192.168.0.1")
        .send()
        .await;
    allowed.expect(200);
    let denied = app
        .get("/institutions")
        .key(ROOT)
        .peer("10.0.0.7:1")
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await;
    denied.expect_error(403, "Forbidden");
}

#[tokio::test]
async fn an_ipv4_mapped_allow_list_entry_matches_the_plain_address() {
    let app = TestApp::with(|s| {
        s.root_api_key_allowed_ips = vec!["::ffff:10.0.0.7".parse().expect("ip")];
    });
    app.get("/institutions")
        .key(ROOT)
        .peer("10.0.0.7:1")
        .send()
        .await
        .expect(200);
}

#[tokio::test]
async fn an_unknown_client_address_never_matches_the_allow_list() {
    let app = allow_list_app(false);
    app.get("/institutions")
        .key(ROOT)
        .send()
        .await
        .expect_error(403, "Forbidden");
}

#[tokio::test]
async fn docs_require_a_key_unless_public_docs_are_enabled() {
    let private = TestApp::new();
    private
        .get("/openapi.json")
        .send()
        .await
        .expect_error(401, "Missing API key");
    private
        .get("/openapi.json")
        .key(ROOT)
        .send()
        .await
        .expect(200);
    let public = TestApp::with(|s| s.public_docs_enabled = true);
    public.get("/openapi.json").send().await.expect(200);
    let page = public.get("/docs").send().await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("EscrowGrid API"));
}
