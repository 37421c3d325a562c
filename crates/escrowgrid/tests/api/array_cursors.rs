//! Keyset pages of the lists answered as plain arrays: without `limit` and `cursor` the whole
//! array as always; with them one page, still an array, and `Link: <...>; rel="next"` while
//! more follow. Following the links walks exactly the whole array, filters kept; bad pages
//! are the envelope lists' 400s.

use serde_json::{Value, json};

use super::helpers::{ROOT, TestApp};

/// The relative URL of a `Link: <url>; rel="next"` header.
fn next_url(link: &str) -> String {
    let (url, relation) = link.split_once(">; ").expect("link shape");
    assert_eq!(relation, "rel=\"next\"", "{link}");
    url.strip_prefix('<').expect("link shape").to_owned()
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("a plain array")
        .iter()
        .map(|item| item["id"].to_string())
        .collect()
}

/// Follows `first`'s `Link` headers as `key`; the ids of every page in order.
async fn walk(app: &TestApp, key: &str, first: &str) -> Vec<String> {
    let mut walked = Vec::new();
    let mut url = first.to_owned();
    for _ in 0..100 {
        let reply = app.get(&url).key(key).send().await;
        walked.extend(ids(reply.expect(200)));
        match reply.header("link") {
            Some(link) => url = next_url(link),
            None => return walked,
        }
    }
    panic!("more than 100 pages");
}

/// Two tenants with keys, policies, positions moved along (ledger events) and webhooks.
async fn seed(app: &TestApp) -> (String, String, String) {
    let acme = app.world("Acme").await;
    let beta = app.world("Beta").await;
    for (tenant, region) in [(&acme, "US"), (&acme, "EU_UK"), (&beta, "US")] {
        let rules = json!({ "position": { "allowedCurrencies": ["USD"] } });
        app.put_policy(ROOT, &tenant.tenant.id, region, rules)
            .await
            .expect(200);
    }
    for to in ["FUNDED", "PARTIALLY_RELEASED", "RELEASED"] {
        app.transition(&acme.tenant.admin, &acme.position, json!({ "toState": to }))
            .await
            .expect(200);
    }
    for (n, tenant) in [&acme, &beta, &acme].into_iter().enumerate() {
        let body = json!({
            "institutionId": tenant.tenant.id,
            "url": format!("https://hooks{n}.example.com/in"),
            "eventTypes": ["*"],
        });
        app.post("/webhooks")
            .key(ROOT)
            .json(&body)
            .send()
            .await
            .expect(201);
    }
    (acme.tenant.id, acme.position, acme.tenant.admin)
}

#[tokio::test]
async fn every_array_list_walked_by_its_link_headers_is_its_whole_array_with_filters_kept() {
    let app = TestApp::new();
    let (acme, position, acme_admin) = seed(&app).await;
    let root_lists = [
        "/institutions".to_owned(),
        format!("/institutions/{acme}/api-keys"),
        format!("/institutions/{acme}/policies"),
        "/ledger-events".to_owned(),
        format!("/ledger-events?positionId={position}"),
        "/webhooks".to_owned(),
        format!("/webhooks?institutionId={acme}"),
    ];
    let tenant_lists = [
        format!("/ledger-events?positionId={position}"),
        "/webhooks".to_owned(),
        "/institutions".to_owned(),
    ];
    let cases = root_lists
        .iter()
        .map(|path| (ROOT, path))
        .chain(tenant_lists.iter().map(|path| (acme_admin.as_str(), path)));
    for (key, path) in cases {
        let whole = app.get(path).key(key).send().await;
        assert_eq!(
            whole.header("link"),
            None,
            "{path}: the whole list has no next page"
        );
        let whole = ids(whole.expect(200));
        assert!(!whole.is_empty(), "{path}");
        let joiner = if path.contains('?') { '&' } else { '?' };
        for limit in [1, 2] {
            let first = format!("{path}{joiner}limit={limit}");
            assert_eq!(walk(&app, key, &first).await, whole, "{path} by {limit}");
        }
        let empty_cursor = format!("{path}{joiner}cursor=");
        assert_eq!(walk(&app, key, &empty_cursor).await, whole, "{path}");
    }
    // The link keeps the filter and the page size, and replaces the cursor.
    let first = app
        .get(&format!(
            "/ledger-events?positionId={position}&limit=1&cursor="
        ))
        .key(ROOT)
        .send()
        .await;
    let next = next_url(first.header("link").expect("more events"));
    assert!(
        next.starts_with(&format!(
            "/ledger-events?positionId={position}&limit=1&cursor="
        )),
        "{next}"
    );
    assert_eq!(next.matches("cursor=").count(), 1, "{next}");
}

#[tokio::test]
async fn bad_pages_of_array_lists_are_the_envelope_lists_400s_and_no_paging_is_the_whole_list() {
    let app = TestApp::new();
    let (acme, position, _) = seed(&app).await;
    let first = app.get("/ledger-events?limit=1").key(ROOT).send().await;
    let link = next_url(first.header("link").expect("more events"));
    let cursor = link.rsplit_once("cursor=").expect("a cursor").1.to_owned();
    let cases = [
        (format!("/institutions?cursor={cursor}"), "cursor"),
        (
            format!("/ledger-events?positionId={position}&cursor={cursor}"),
            "cursor",
        ),
        (
            format!("/webhooks?institutionId={acme}&cursor={cursor}"),
            "cursor",
        ),
        ("/institutions?cursor=%21%21".to_owned(), "cursor"),
        ("/institutions?limit=1&offset=1".to_owned(), "offset"),
        (format!("/institutions/{acme}/policies?limit=0"), "limit"),
        (format!("/institutions/{acme}/api-keys?limit=1001"), "limit"),
    ];
    for (path, field) in cases {
        let reply = app.get(&path).key(ROOT).send().await;
        reply.expect_error(400, "Invalid pagination parameters");
        assert_eq!(reply.detail_fields(), vec![field.to_owned()], "{path}");
    }
    let foreign = app
        .get(&format!("/webhooks?cursor={cursor}"))
        .key(ROOT)
        .send()
        .await;
    assert_eq!(
        foreign.expect(400)["details"][0]["message"],
        "Cursor belongs to another list or filter set"
    );
    // A lone offset pages nothing, as it never did: the whole list.
    let whole = app.get("/institutions").key(ROOT).send().await;
    let with_offset = app.get("/institutions?offset=1").key(ROOT).send().await;
    assert_eq!(ids(with_offset.expect(200)), ids(whole.expect(200)));
    assert_eq!(with_offset.header("link"), None);
}

#[tokio::test]
async fn cors_exposes_the_link_header_to_browser_clients() {
    let app = TestApp::new();
    seed(&app).await;
    let reply = app
        .get("/institutions?limit=1")
        .key(ROOT)
        .header("origin", "http://localhost:5173")
        .send()
        .await;
    assert!(reply.header("link").is_some());
    let exposed = reply
        .header("access-control-expose-headers")
        .expect("exposed headers")
        .to_ascii_lowercase();
    assert!(
        exposed.split(',').any(|name| name.trim() == "link"),
        "{exposed}"
    );
}

#[tokio::test]
async fn the_openapi_document_gives_every_array_list_limit_cursor_and_the_link_header() {
    let app = TestApp::new();
    let doc = app.openapi(ROOT).await.json;
    for path in [
        "/institutions",
        "/institutions/{id}/api-keys",
        "/institutions/{id}/policies",
        "/ledger-events",
        "/webhooks",
        "/ledger/onchain/failed",
    ] {
        let operation = &doc["paths"][path]["get"];
        let names: Vec<&str> = operation["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|parameter| parameter["name"].as_str())
            .collect();
        assert!(
            names.contains(&"limit") && names.contains(&"cursor"),
            "{path}: {names:?}"
        );
        assert!(!names.contains(&"offset"), "{path}");
        let ok = &operation["responses"]["200"];
        assert_eq!(
            ok["content"]["application/json"]["schema"]["type"], "array",
            "{path}"
        );
        assert!(
            ok["headers"]["Link"]["description"].is_string(),
            "{path}: {ok}"
        );
    }
}
