//! The `/webhooks` resource: access rules, tenancy, the secret shown once, target checks.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{Method, StatusCode};
use escrowgrid::webhooks::{Resolver, TargetPolicy};
use serde_json::json;

use super::support::{Backend, Instance, ROOT, fast_settings};

/// A resolver answering from a table (a seam for DNS answers, including changing ones).
#[derive(Debug, Default)]
pub struct FixedResolver(Mutex<HashMap<String, IpAddr>>);

impl FixedResolver {
    pub fn set(&self, host: &str, ip: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host.to_owned(), ip.parse().expect("ip"));
    }
}

#[async_trait::async_trait]
impl Resolver for FixedResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let table = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .get(host)
            .map(|ip| vec![SocketAddr::new(*ip, port)])
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown host"))
    }
}

#[tokio::test]
async fn webhooks_are_tenant_scoped_and_the_secret_is_shown_only_on_create_and_rotate() {
    let app = Instance::start(&Backend::Memory, fast_settings()).await;
    let (acme, acme_admin, acme_reader) = app.tenant("Acme").await;
    let (_, other_admin, _) = app.tenant("Other").await;

    let body = json!({"url": "https://hooks.example.com/in", "eventTypes": ["position.created"], "description": "ops"});
    let (status, created) = app
        .call(Method::POST, "/webhooks", &acme_admin, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["institutionId"], acme.as_str());
    assert_eq!(created["enabled"], true);

    // Reads never show the secret; read-only keys may read but not write.
    let path = format!("/webhooks/{id}");
    let (status, fetched) = app.call(Method::GET, &path, &acme_reader, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(fetched.get("secret").is_none(), "{fetched}");
    let (status, listed) = app.call(Method::GET, "/webhooks", &acme_reader, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(!listed.to_string().contains(&secret));
    let (status, _) = app
        .call(Method::POST, "/webhooks", &acme_reader, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another institution sees nothing and gets 404 for every id-based route.
    let (_, others) = app.call(Method::GET, "/webhooks", &other_admin, None).await;
    assert_eq!(others, json!([]));
    for (method, route) in [
        (Method::GET, path.clone()),
        (Method::PATCH, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::POST, format!("{path}/rotate-secret")),
        (Method::GET, format!("{path}/deliveries")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"enabled": false}));
        let (status, answer) = app.call(method.clone(), &route, &other_admin, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {route}: {answer}");
        assert_eq!(answer["error"], "Webhook not found");
    }
    // Nor can it create one for Acme.
    let mut foreign = body.clone();
    foreign["institutionId"] = json!(acme);
    let (status, _) = app
        .call(Method::POST, "/webhooks", &other_admin, Some(foreign))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Patch, rotate (a new secret, once), delete.
    let (status, patched) = app
        .call(
            Method::PATCH,
            &path,
            &acme_admin,
            Some(json!({"enabled": false, "description": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["enabled"].clone(), patched["description"].clone()),
        (json!(false), json!(null))
    );
    let (status, rotated) = app
        .call(
            Method::POST,
            &format!("{path}/rotate-secret"),
            &acme_admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["secret"].as_str().expect("secret");
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    let (status, _) = app.call(Method::DELETE, &path, &acme_admin, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::GET, &path, &acme_admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every write was audited, and no audit row holds a secret.
    let (_, audit) = app
        .call(
            Method::GET,
            &format!("/audit-events?resourceId={id}"),
            ROOT,
            None,
        )
        .await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .expect("audit page")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "WEBHOOK_CREATED",
            "WEBHOOK_UPDATED",
            "WEBHOOK_SECRET_ROTATED",
            "WEBHOOK_DELETED"
        ]
    );
    assert!(!audit.to_string().contains("whsec_"));
}

#[tokio::test]
async fn bad_urls_and_event_types_are_refused_with_every_field_listed() {
    let app = Instance::start(&Backend::Memory, fast_settings()).await;
    let (_, admin, _) = app.tenant("Acme").await;
    let (status, answer) = app
        .call(
            Method::POST,
            "/webhooks",
            &admin,
            Some(json!({"url": "ftp://example.com/", "eventTypes": ["position.exploded"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let fields: Vec<&str> = answer["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(fields, ["url", "eventTypes.0"]);
    let (status, _) = app
        .call(
            Method::POST,
            "/webhooks",
            ROOT,
            Some(json!({"url": "https://example.com/", "eventTypes": ["*"]})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "root must name the institution"
    );
}

#[tokio::test]
async fn internal_targets_are_refused_at_create_and_update_unless_allowed() {
    let resolver = Arc::new(FixedResolver::default());
    resolver.set("metadata.internal", "169.254.169.254");
    resolver.set("hooks.example.com", "203.0.113.10");
    let policy = TargetPolicy::with_resolver(false, resolver.clone());
    let app = Instance::with_policy(&Backend::Memory, fast_settings(), policy).await;
    let (_, admin, _) = app.tenant("Acme").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://100.64.1.1/hook",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://metadata.internal/latest",
        "http://unknown.invalid/hook",
    ] {
        let body = json!({"url": url, "eventTypes": ["*"]});
        let (status, answer) = app
            .call(Method::POST, "/webhooks", &admin, Some(body))
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{url} must be refused: {answer}"
        );
        assert_eq!(answer["details"][0]["field"], "url", "{answer}");
    }
    let body = json!({"url": "https://hooks.example.com/in", "eventTypes": ["*"]});
    let (status, created) = app
        .call(Method::POST, "/webhooks", &admin, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/webhooks/{}", created["id"].as_str().expect("id"));
    let (status, _) = app
        .call(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"url": "http://10.0.0.1/"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let allowing = Instance::with_policy(
        &Backend::Memory,
        fast_settings(),
        TargetPolicy::with_resolver(true, resolver),
    )
    .await;
    let (_, admin, _) = allowing.tenant("Lab").await;
    let body = json!({"url": "http://127.0.0.1:8080/hook", "eventTypes": ["*"]});
    let (status, _) = allowing
        .call(Method::POST, "/webhooks", &admin, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}
