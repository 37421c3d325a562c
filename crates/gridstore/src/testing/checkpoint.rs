//! Contract suite for [`crate::checkpoint::CheckpointStore`].
//!
//! Expand it with [`checkpoint_contract_tests!`](crate::checkpoint_contract_tests) and an
//! async factory returning `(store, guard)`. Data surviving a reopen is
//! [`checkpoints_written_through_one_store_are_read_through_another`], called by each
//! backend's test file with two stores.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use futures_util::future::join_all;
use serde_json::json;

use crate::Error;
use crate::checkpoint::{CheckpointStore, MAX_WORKFLOW_LEN};

/// Expands the checkpoint contract suite as `#[tokio::test]`s for the store built by
/// `$factory`, an async fn returning `(store, guard)`.
#[macro_export]
macro_rules! checkpoint_contract_tests {
    ($factory:path) => {
        $crate::checkpoint_contract_tests!(@expand $factory;
            saving_assigns_versions_one_two_three_per_workflow,
            the_latest_checkpoint_is_the_highest_version,
            loading_a_version_returns_exactly_that_checkpoint,
            an_unknown_workflow_has_no_checkpoints,
            listing_returns_newest_first,
            deleting_one_version_keeps_the_others,
            deleting_without_a_version_deletes_only_that_workflow,
            versions_are_never_reused_after_deletes,
            keep_last_keeps_the_newest_of_one_workflow_only,
            concurrent_saves_get_distinct_consecutive_versions,
            created_at_is_stamped_by_the_store_to_the_millisecond,
            an_invalid_workflow_or_payload_is_invalid_input,
            a_fenced_save_with_an_older_token_is_refused_and_saves_nothing,
            concurrent_fenced_saves_never_move_the_token_back,
            plain_saves_are_not_fenced_and_keep_the_token,
        );
    };
    (@expand $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $factory().await;
                $crate::testing::checkpoint::$name(&store).await;
            }
        )*
    };
}

async fn save_n<S: CheckpointStore>(store: &S, workflow: &str, n: i64) {
    for step in 1..=n {
        store
            .save(workflow, json!({"step": step}))
            .await
            .expect("save");
    }
}

async fn versions<S: CheckpointStore>(store: &S, workflow: &str) -> Vec<i64> {
    let list = store.list(workflow).await.expect("list");
    list.into_iter().map(|c| c.version).collect()
}

/// Versions start at 1 and count up per workflow, independently of other workflows.
pub async fn saving_assigns_versions_one_two_three_per_workflow<S: CheckpointStore>(store: &S) {
    let a1 = store.save("wf-a", json!(1)).await.expect("save");
    let b1 = store.save("wf-b", json!(1)).await.expect("save");
    let a2 = store.save("wf-a", json!(2)).await.expect("save");
    let a3 = store.save("wf-a", json!(3)).await.expect("save");

    assert_eq!(
        [a1.version, a2.version, a3.version, b1.version],
        [1, 2, 3, 1]
    );
    assert_eq!(
        (a1.workflow.as_str(), b1.workflow.as_str()),
        ("wf-a", "wf-b")
    );
}

/// `load_latest` returns the highest version with its payload.
pub async fn the_latest_checkpoint_is_the_highest_version<S: CheckpointStore>(store: &S) {
    save_n(store, "wf", 3).await;

    let latest = store
        .load_latest("wf")
        .await
        .expect("load")
        .expect("exists");

    assert_eq!((latest.workflow.as_str(), latest.version), ("wf", 3));
    assert_eq!(latest.data, json!({"step": 3}));
}

/// `load(v)` returns version `v` exactly as saved, `None` for a version that never existed.
pub async fn loading_a_version_returns_exactly_that_checkpoint<S: CheckpointStore>(store: &S) {
    let payload = json!({"vars": {"a": "1"}, "done": [1, 2], "state": null});
    store.save("wf", json!("first")).await.expect("save");
    let saved = store.save("wf", payload.clone()).await.expect("save");
    store.save("wf", json!("third")).await.expect("save");

    let loaded = store.load("wf", 2).await.expect("load").expect("exists");

    assert_eq!(loaded.data, payload);
    assert_eq!(loaded.info(), saved);
    assert_eq!(store.load("wf", 4).await.expect("load"), None);
    assert_eq!(store.load("wf", 0).await.expect("load"), None);
}

/// A workflow never saved has no latest, an empty list, and deletes nothing.
pub async fn an_unknown_workflow_has_no_checkpoints<S: CheckpointStore>(store: &S) {
    assert_eq!(store.load_latest("nobody").await.expect("load"), None);
    assert!(store.list("nobody").await.expect("list").is_empty());
    assert_eq!(store.delete("nobody", None).await.expect("delete"), 0);
    assert_eq!(store.keep_last("nobody", 1).await.expect("keep_last"), 0);
}

/// `list` returns every checkpoint of the workflow, highest version first.
pub async fn listing_returns_newest_first<S: CheckpointStore>(store: &S) {
    save_n(store, "wf", 4).await;
    save_n(store, "other", 2).await;

    let list = store.list("wf").await.expect("list");

    assert_eq!(
        list.iter().map(|c| c.version).collect::<Vec<_>>(),
        [4, 3, 2, 1]
    );
    assert!(list.iter().all(|c| c.workflow == "wf"));
    assert!(list.windows(2).all(|w| w[0].created_at >= w[1].created_at));
}

/// Deleting one version returns 1 and leaves the others; deleting it again returns 0.
pub async fn deleting_one_version_keeps_the_others<S: CheckpointStore>(store: &S) {
    save_n(store, "wf", 3).await;

    assert_eq!(store.delete("wf", Some(2)).await.expect("delete"), 1);
    assert_eq!(store.delete("wf", Some(2)).await.expect("delete again"), 0);

    assert_eq!(versions(store, "wf").await, [3, 1]);
    assert_eq!(store.load("wf", 2).await.expect("load"), None);
}

/// Deleting without a version deletes all of that workflow's checkpoints and no other's.
pub async fn deleting_without_a_version_deletes_only_that_workflow<S: CheckpointStore>(store: &S) {
    save_n(store, "wf", 3).await;
    save_n(store, "other", 2).await;

    assert_eq!(store.delete("wf", None).await.expect("delete"), 3);

    assert!(versions(store, "wf").await.is_empty());
    assert_eq!(versions(store, "other").await, [2, 1]);
}

/// After the newest checkpoints (or all) are deleted, the next save still gets a new number.
pub async fn versions_are_never_reused_after_deletes<S: CheckpointStore>(store: &S) {
    save_n(store, "wf", 3).await;
    store.delete("wf", Some(3)).await.expect("delete");

    assert_eq!(store.save("wf", json!(4)).await.expect("save").version, 4);
    store.delete("wf", None).await.expect("delete all");
    assert_eq!(store.save("wf", json!(5)).await.expect("save").version, 5);
    assert_eq!(versions(store, "wf").await, [5]);
}

/// `keep_last(n)` deletes all but the `n` highest versions of one workflow; `0` deletes all.
pub async fn keep_last_keeps_the_newest_of_one_workflow_only<S: CheckpointStore>(store: &S) {
    save_n(store, "wf", 5).await;
    save_n(store, "other", 3).await;

    assert_eq!(store.keep_last("wf", 2).await.expect("keep_last"), 3);
    assert_eq!(versions(store, "wf").await, [5, 4]);
    assert_eq!(store.keep_last("wf", 10).await.expect("keep more"), 0);
    assert_eq!(versions(store, "other").await, [3, 2, 1]);

    assert_eq!(store.keep_last("wf", 0).await.expect("keep none"), 2);
    assert!(versions(store, "wf").await.is_empty());
}

/// Gap: 16 concurrent saves of one workflow all succeed with versions 1..=16.
pub async fn concurrent_saves_get_distinct_consecutive_versions<S: CheckpointStore>(store: &S) {
    let saves = (0..16).map(|n| store.save("busy", json!(n)));

    let results = join_all(saves).await;

    let assigned: BTreeSet<i64> = results
        .into_iter()
        .map(|r| r.expect("concurrent save succeeds").version)
        .collect();
    assert_eq!(assigned, (1..=16).collect::<BTreeSet<i64>>());
    assert_eq!(store.list("busy").await.expect("list").len(), 16);
}

/// `created_at` is stamped by the store at millisecond precision, close to now.
pub async fn created_at_is_stamped_by_the_store_to_the_millisecond<S: CheckpointStore>(store: &S) {
    let before = Utc::now();
    let saved = store.save("wf", json!(1)).await.expect("save");
    let after = Utc::now();

    assert_eq!(saved.created_at.timestamp_subsec_nanos() % 1_000_000, 0);
    // The database clock may differ slightly from the process clock on the same host.
    let slack = Duration::seconds(1);
    assert!(saved.created_at >= before - slack && saved.created_at <= after + slack);
    let loaded = store.load("wf", 1).await.expect("load").expect("exists");
    assert_eq!(loaded.created_at, saved.created_at);
}

/// Empty and overlong workflow names and payloads with a NUL character are rejected without
/// writing.
pub async fn an_invalid_workflow_or_payload_is_invalid_input<S: CheckpointStore>(store: &S) {
    let empty = store.save("", json!(1)).await;
    let long = store
        .save(&"w".repeat(MAX_WORKFLOW_LEN + 1), json!(1))
        .await;
    let nul = store.save("wf", json!({"s": "\u{0}"})).await;

    assert!(matches!(empty, Err(Error::InvalidInput(_))), "{empty:?}");
    assert!(matches!(long, Err(Error::InvalidInput(_))), "{long:?}");
    assert!(matches!(nul, Err(Error::InvalidInput(_))), "{nul:?}");
    assert!(store.list("wf").await.expect("list").is_empty());
}

/// A fenced save with a token below one already used is refused with `Fenced` and writes
/// nothing; the same token passes again and a newer one takes over.
pub async fn a_fenced_save_with_an_older_token_is_refused_and_saves_nothing<S: CheckpointStore>(
    store: &S,
) {
    store.save_fenced("wf", 5, json!("a")).await.expect("first");
    store.save_fenced("wf", 7, json!("b")).await.expect("newer");

    let stale = store.save_fenced("wf", 5, json!("stale")).await;

    match stale {
        Err(Error::Fenced {
            key,
            token,
            current,
        }) => assert_eq!((key.as_str(), token, current), ("wf", 5, 7)),
        other => panic!("expected Fenced, got {other:?}"),
    }
    let latest = store
        .load_latest("wf")
        .await
        .expect("load")
        .expect("exists");
    assert_eq!((latest.version, latest.data), (2, json!("b")));
    let again = store.save_fenced("wf", 7, json!("c")).await.expect("same");
    assert_eq!(again.version, 3, "a refused save consumes no version");
    store
        .save_fenced("other", 1, json!("x"))
        .await
        .expect("tokens are per workflow");
}

/// Gap: 16 concurrent fenced saves with tokens 1..=16: whatever interleaving, the saved
/// checkpoints' tokens increase with their versions and the last one is the newest token.
pub async fn concurrent_fenced_saves_never_move_the_token_back<S: CheckpointStore>(store: &S) {
    let saves = (1..=16u64).map(|token| store.save_fenced("race", token, json!(token)));

    let results = join_all(saves).await;

    for result in &results {
        assert!(
            matches!(result, Ok(_) | Err(Error::Fenced { .. })),
            "{result:?}"
        );
    }
    let mut listed = store.list("race").await.expect("list");
    listed.reverse();
    let mut tokens = Vec::new();
    for info in listed {
        let saved = store.load("race", info.version).await.expect("load");
        tokens.push(saved.expect("listed").data.as_u64().expect("token"));
    }
    assert!(
        tokens.windows(2).all(|pair| pair[0] < pair[1]),
        "a lower token saved after a higher one: {tokens:?}"
    );
    assert_eq!(tokens.last(), Some(&16));
    let saved = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(saved, tokens.len());
}

/// A plain save after fenced ones is not checked and does not lower the stored token.
pub async fn plain_saves_are_not_fenced_and_keep_the_token<S: CheckpointStore>(store: &S) {
    store.save("wf", json!("plain")).await.expect("plain first");
    store
        .save_fenced("wf", 9, json!("fenced"))
        .await
        .expect("fenced");
    store.save("wf", json!("plain again")).await.expect("plain");

    let stale = store.save_fenced("wf", 8, json!("stale")).await;

    assert!(
        matches!(stale, Err(Error::Fenced { current: 9, .. })),
        "{stale:?}"
    );
    let latest = store
        .load_latest("wf")
        .await
        .expect("load")
        .expect("exists");
    assert_eq!(latest.data, json!("plain again"));
}

/// Gap: checkpoints written through one store are read through another on the same storage
/// (for PostgreSQL: a new pool on the same database).
pub async fn checkpoints_written_through_one_store_are_read_through_another<S: CheckpointStore>(
    writer: &S,
    reopened: &S,
) {
    save_n(writer, "durable", 2).await;

    let latest = reopened
        .load_latest("durable")
        .await
        .expect("load")
        .expect("exists");

    assert_eq!((latest.version, latest.data), (2, json!({"step": 2})));
    assert_eq!(
        reopened
            .save("durable", json!(3))
            .await
            .expect("save")
            .version,
        3
    );
}
