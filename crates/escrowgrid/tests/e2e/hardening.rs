//! Issue 13 on PostgreSQL: NUL characters that PostgreSQL text and jsonb cannot store answer
//! the same 400 as on memory (`tests/api/hardening.rs`), never a 500, and the server's own
//! errors are JSON over a real socket.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::flows::tenant;
use super::server::{ROOT_KEY, TestServer};

const NUL: &str = "Invalid input: text must not contain NUL (\\u0000) characters";

#[track_caller]
fn assert_nul_rejected(reply: super::client::Reply, field: &str) {
    let reply = reply.expect(StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        json!({ "error": "Validation failed", "details": [{ "field": field, "message": NUL }] })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_in_bodies_and_filters_are_a_400_on_postgres_like_on_memory() {
    let db = testkit::database().await;
    let server = TestServer::postgres(db.url()).await;
    let acme = tenant(server.addr, ROOT_KEY).await;
    let mut root = server.root().await;
    let mut admin = server.client(&acme.admin_key).await;

    let reply = root
        .post(
            "/institutions",
            &json!({ "name": "a\u{0}b", "regions": ["US"] }),
        )
        .await;
    assert_nul_rejected(reply, "name");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/assets",
            json!({ "templateId": "tmpl_x", "label": "A", "metadata": { "k\u{0}": 1 } }),
            "metadata.k\\u0000",
        ),
        (
            "/positions",
            json!({ "assetId": acme.asset_id, "holderReference": "h\u{0}", "currency": "USD", "amount": 1 }),
            "holderReference",
        ),
    ];
    for (path, body, field) in cases {
        assert_nul_rejected(admin.post(path, &body).await, field);
    }
    assert_nul_rejected(
        admin.get("/positions?holderReference=%00").await,
        "holderReference",
    );
    let listed = admin.get("/positions").await.expect(StatusCode::OK);
    assert_eq!(listed.body["data"], json!([]));

    let reply = admin.get("/positions/%FF").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.headers["content-type"], "application/json");
    server.stop().await;
}
