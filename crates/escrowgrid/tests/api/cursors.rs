//! Keyset pagination over HTTP: `cursor` walks a list page by page (no `total`, no `offset`,
//! `nextCursor` null on the last page) exactly like `offset`; a cursor with an offset, of another
//! list or filter set, or not issued by the server is a 400.

use serde_json::Value;

use super::helpers::{ROOT, TestApp, number, position_body};

/// Walks `path` (which has a `?`) by cursor from an empty one, returning the ids in order.
async fn walk(app: &TestApp, key: &str, path: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let reply = app
            .get(&format!("{path}&limit={limit}&cursor={cursor}"))
            .key(key)
            .send()
            .await;
        let body = reply.expect(200);
        let pagination = &body["pagination"];
        assert!(pagination.get("total").is_none(), "{pagination}");
        assert!(pagination.get("offset").is_none(), "{pagination}");
        ids.extend(item_ids(body));
        match &pagination["nextCursor"] {
            Value::String(next) => {
                assert_eq!(pagination["hasMore"], true);
                cursor.clone_from(next);
            }
            Value::Null => {
                assert_eq!(pagination["hasMore"], false);
                return ids;
            }
            other => panic!("nextCursor {other}"),
        }
    }
    panic!("more than 100 pages");
}

fn item_ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn every_paginated_list_walked_by_cursor_is_its_offset_walk() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    for n in 0..6 {
        let mut body = position_body(&world.asset, number("10"));
        body["holderReference"] = format!("holder-{}", n % 2).into();
        app.create_position(&world.tenant.admin, body)
            .await
            .expect(201);
    }
    for path in [
        "/positions?".to_owned(),
        "/positions?holderReference=holder-1".to_owned(),
        format!("/positions?assetId={}", world.asset),
        "/assets?".to_owned(),
        "/asset-templates?".to_owned(),
        "/audit-events?".to_owned(),
        "/audit-events?action=POSITION_CREATED".to_owned(),
    ] {
        let all = app
            .get(&format!("{path}&limit=1000"))
            .key(ROOT)
            .send()
            .await;
        let all = all.expect(200);
        let expected = item_ids(all);
        assert!(!expected.is_empty(), "{path}");
        assert_eq!(all["pagination"]["nextCursor"], Value::Null, "{path}");
        for limit in [1, 4] {
            assert_eq!(walk(&app, ROOT, &path, limit).await, expected, "{path}");
        }
        // An offset page's nextCursor continues it by key.
        let first = app.get(&format!("{path}&limit=1")).key(ROOT).send().await;
        let first = first.expect(200);
        let cursor = first["pagination"]["nextCursor"]
            .as_str()
            .map(str::to_owned);
        if let Some(cursor) = cursor {
            let rest = app
                .get(&format!("{path}&limit=1000&cursor={cursor}"))
                .key(ROOT)
                .send()
                .await;
            let mut joined = item_ids(first);
            joined.extend(item_ids(rest.expect(200)));
            assert_eq!(joined, expected, "{path}");
        }
    }
}

#[tokio::test]
async fn a_cursor_with_an_offset_of_another_list_or_filter_set_or_forged_is_a_400() {
    let app = TestApp::new();
    let world = app.world("Acme").await;
    app.create_position(
        &world.tenant.admin,
        position_body(&world.asset, number("10")),
    )
    .await
    .expect(201);
    let first = app.get("/positions?limit=1").key(ROOT).send().await;
    let cursor = first.expect(200)["pagination"]["nextCursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let cases = [
        (format!("/positions?cursor={cursor}&offset=0"), "offset"),
        (format!("/positions?cursor={cursor}&offset="), "offset"),
        (format!("/assets?cursor={cursor}"), "cursor"),
        (
            format!("/positions?cursor={cursor}&holderReference=holder-1"),
            "cursor",
        ),
        ("/positions?cursor=bm90LWEtY3Vyc29y".to_owned(), "cursor"),
        ("/positions?cursor=%21%21".to_owned(), "cursor"),
    ];
    for (path, field) in cases {
        let reply = app.get(&path).key(ROOT).send().await;
        reply.expect_error(400, "Invalid pagination parameters");
        assert_eq!(reply.detail_fields(), vec![field.to_owned()], "{path}");
    }
    let reply = app
        .get(&format!("/assets?cursor={cursor}"))
        .key(ROOT)
        .send()
        .await;
    assert_eq!(
        reply.expect(400)["details"][0]["message"],
        "Cursor belongs to another list or filter set"
    );
    let reply = app.get("/positions?cursor=%21%21").key(ROOT).send().await;
    assert_eq!(reply.expect(400)["details"][0]["message"], "Invalid cursor");
}
