//! `save_many`, `get_many`, `delete_many`.

use serde_json::json;

use super::session;
use crate::Error;
use crate::session::{SessionState, SessionStore};

/// SmallTalk 22 and 23: every session of a batch is saved, versions come back in order.
pub async fn saving_a_batch_saves_every_session_and_returns_their_versions<S: SessionStore>(
    store: &S,
) {
    store
        .save(&session("batch-0", SessionState::Active))
        .await
        .expect("create");
    let mut existing = store.get("batch-0").await.expect("get").expect("exists");
    existing.data = json!("updated in batch");
    let mut batch = vec![existing];
    batch.extend((1..=4).map(|n| session(&format!("batch-{n}"), SessionState::Active)));

    let versions = store.save_many(&batch).await.expect("batch save");

    assert_eq!(versions, [2, 1, 1, 1, 1]);
    for n in 0..=4 {
        assert!(store.has(&format!("batch-{n}")).await.expect("has"));
    }
    let updated = store.get("batch-0").await.expect("get").expect("exists");
    assert_eq!(
        (updated.version, updated.data),
        (2, json!("updated in batch"))
    );
}

/// SmallTalk 24: an empty batch saves nothing and returns nothing.
pub async fn saving_an_empty_batch_returns_nothing<S: SessionStore>(store: &S) {
    assert!(store.save_many(&[]).await.expect("batch save").is_empty());
    assert!(store.get_many(&[]).await.expect("batch get").is_empty());
    assert_eq!(store.delete_many(&[]).await.expect("batch delete"), 0);
}

/// Gap (SmallTalk never tested atomicity): one stale item fails the whole batch, nothing
/// is written, and the error names the first conflicting id.
pub async fn a_batch_with_one_stale_version_writes_nothing_and_names_it<S: SessionStore>(
    store: &S,
) {
    store
        .save(&session("keep", SessionState::Active))
        .await
        .expect("create");
    store
        .save(&session("stale-1", SessionState::Active))
        .await
        .expect("create");
    store
        .save(&session("stale-2", SessionState::Active))
        .await
        .expect("create");
    let mut keep = store.get("keep").await.expect("get").expect("exists");
    keep.data = json!("must not land");
    let mut stale_1 = store.get("stale-1").await.expect("get").expect("exists");
    stale_1.version = 7;
    let mut stale_2 = store.get("stale-2").await.expect("get").expect("exists");
    stale_2.version = 9;
    let fresh = session("fresh", SessionState::Active);

    let err = store
        .save_many(&[keep, fresh, stale_1, stale_2])
        .await
        .expect_err("batch must fail");

    assert!(
        matches!(&err, Error::VersionConflict { key, expected: 7, actual: Some(1) } if key == "stale-1"),
        "unexpected error: {err:?}"
    );
    assert!(
        !store.has("fresh").await.expect("has"),
        "fresh must not be written"
    );
    let kept = store.get("keep").await.expect("get").expect("exists");
    assert_eq!(kept.version, 1);
    assert_ne!(kept.data, json!("must not land"));
}

/// A batch naming one id twice is rejected before anything is written.
pub async fn a_batch_with_a_duplicate_id_is_invalid_input<S: SessionStore>(store: &S) {
    let batch = [
        session("once", SessionState::Active),
        session("twice", SessionState::Active),
        session("twice", SessionState::Paused),
    ];

    let result = store.save_many(&batch).await;

    assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    assert!(!store.has("once").await.expect("has"));
}

/// SmallTalk 25–27: existing sessions come back keyed by id; missing ids are left out.
pub async fn getting_a_batch_returns_the_existing_sessions_by_id<S: SessionStore>(store: &S) {
    let batch: Vec<_> = (1..=3)
        .map(|n| session(&format!("multi-{n}"), SessionState::Active))
        .collect();
    store.save_many(&batch).await.expect("batch save");
    let ids: Vec<String> = ["multi-1", "missing-a", "multi-3", "missing-b", "multi-2"]
        .map(String::from)
        .into();

    let found = store.get_many(&ids).await.expect("batch get");

    assert_eq!(found.len(), 3);
    for n in 1..=3 {
        let id = format!("multi-{n}");
        let got = found.get(&id).expect("present");
        assert_eq!((got.id.as_str(), got.version), (id.as_str(), 1));
        assert_eq!(got.data, batch[n - 1].data);
    }
    assert!(!found.contains_key("missing-a"));
}

/// SmallTalk 28 and 29: a batch delete returns how many existed and removes them.
pub async fn deleting_a_batch_returns_how_many_existed<S: SessionStore>(store: &S) {
    let batch: Vec<_> = (1..=3)
        .map(|n| session(&format!("delete-{n}"), SessionState::Active))
        .collect();
    store.save_many(&batch).await.expect("batch save");
    let ids: Vec<String> = ["delete-1", "delete-2", "delete-3", "delete-404"]
        .map(String::from)
        .into();

    let deleted = store.delete_many(&ids).await.expect("batch delete");

    assert_eq!(deleted, 3);
    for id in &ids {
        assert!(!store.has(id).await.expect("has"));
    }
    assert_eq!(store.delete_many(&ids[..2]).await.expect("again"), 0);
}
