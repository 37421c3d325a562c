//! `GET /ledger/onchain/failed` in keyset pages (no node needed: the items are parked in the
//! DLQ directly): the whole list without `limit`/`cursor`, and pages whose `Link: rel="next"`
//! walk exactly that list; other jobs' items never appear; a cursor of another list is a 400.

use axum::http::{Method, StatusCode};
use escrowgrid::onchain::DLQ_JOB;
use gridstore::NewDlqItem;
use serde_json::{Value, json};

use super::support::{Backend, Instance};

fn ids(body: &Value) -> Vec<i64> {
    let items = body.as_array().expect("a plain array");
    items
        .iter()
        .map(|item| item["id"].as_i64().expect("id"))
        .collect()
}

async fn failed_events_walked_by_their_link_headers_are_the_whole_list(backend: Backend) {
    let app = Instance::without_sender(&backend, None).await;
    for n in 0..5 {
        let payload = json!({ "ledgerEventId": format!("le_{n}"), "chainId": 31_337 });
        for job in [DLQ_JOB, "another-job"] {
            let parked = NewDlqItem::new(job, payload.clone(), "node down");
            app.ports.dlq.enqueue(parked).await.expect("enqueue");
        }
    }
    let (status, headers, whole) = app
        .call_with_headers(Method::GET, "/ledger/onchain/failed", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert!(headers.get("link").is_none());
    let whole = ids(&whole);
    assert_eq!(whole.len(), 5, "only the on-chain job's items");
    let mut url = "/ledger/onchain/failed?limit=2".to_owned();
    let mut walked = Vec::new();
    for _ in 0..10 {
        let (status, headers, page) = app.call_with_headers(Method::GET, &url, None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        walked.extend(ids(&page));
        let Some(link) = headers.get("link") else {
            break;
        };
        let link = link.to_str().expect("ascii");
        let next = link.strip_suffix(">; rel=\"next\"").expect("rel next");
        url = next.strip_prefix('<').expect("<url>").to_owned();
    }
    assert_eq!(walked, whole);
    let (_, headers, _) = app
        .call_with_headers(Method::GET, "/ledger/onchain/failed?limit=1", None)
        .await;
    let link = headers["link"].to_str().expect("ascii");
    let cursor = link.split("cursor=").nth(1).expect("cursor");
    let cursor = cursor.trim_end_matches(">; rel=\"next\"");
    let (status, refused) = app
        .call(Method::GET, &format!("/institutions?cursor={cursor}"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["details"][0]["field"], "cursor");
}

#[tokio::test]
async fn failed_events_walked_by_their_link_headers_are_the_whole_list_on_memory() {
    failed_events_walked_by_their_link_headers_are_the_whole_list(Backend::Memory).await;
}

#[tokio::test]
async fn failed_events_walked_by_their_link_headers_are_the_whole_list_on_postgres() {
    let (backend, _database) = Backend::postgres().await;
    failed_events_walked_by_their_link_headers_are_the_whole_list(backend).await;
}
