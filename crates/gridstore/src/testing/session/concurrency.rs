//! Concurrent writers and reopening a store.

use futures_util::future::join_all;
use serde_json::json;

use super::session;
use crate::Error;
use crate::session::{Session, SessionState, SessionStore};

/// How many writers race in [`sixteen_writers_racing_one_session_lose_no_update`].
const WRITERS: u64 = 16;

/// SmallTalk 38: five concurrent saves of distinct sessions all land.
pub async fn concurrent_saves_of_distinct_sessions_all_land<S: SessionStore>(store: &S) {
    let sessions: Vec<Session> = (1..=5)
        .map(|n| session(&format!("concurrent-{n}"), SessionState::Active))
        .collect();

    let results = join_all(sessions.iter().map(|s| store.save(s))).await;

    for (result, session) in results.into_iter().zip(&sessions) {
        assert_eq!(result.expect("save succeeds"), 1);
        let stored = store.get(&session.id).await.expect("get").expect("exists");
        assert_eq!(stored.id, session.id);
    }
}

/// Gap: 16 writers each read-modify-write one counter, retrying on `VersionConflict`; the
/// final counter shows all 16 increments (no lost update) and the version counts every write.
pub async fn sixteen_writers_racing_one_session_lose_no_update<S: SessionStore>(store: &S) {
    store
        .save(&Session::new(
            "race",
            SessionState::Active,
            json!({"counter": 0}),
        ))
        .await
        .expect("create");

    let writers = (0..WRITERS).map(|_| increment(store));
    let conflicts: u64 = join_all(writers).await.into_iter().sum();

    let stored = store.get("race").await.expect("get").expect("exists");
    assert_eq!(stored.data["counter"].as_u64(), Some(WRITERS));
    assert_eq!(stored.version, WRITERS + 1);
    tracing::debug!(conflicts, "racing writers retried after conflicts");
}

/// One read-modify-write of the counter, retried on conflict; returns how many conflicts.
async fn increment<S: SessionStore>(store: &S) -> u64 {
    // Each conflict means another writer succeeded, so 16 writers need at most 15 retries;
    // the bound only turns a livelock bug into a failure instead of a hang.
    for conflicts in 0..=WRITERS * 4 {
        let mut read = store.get("race").await.expect("get").expect("exists");
        // Let the other writers read the same version before this one writes.
        tokio::task::yield_now().await;
        let counter = read.data["counter"].as_u64().expect("counter is a number");
        read.data["counter"] = json!(counter + 1);
        read.touch();
        match store.save(&read).await {
            Ok(_) => return conflicts,
            Err(Error::VersionConflict { .. }) => continue,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    panic!("a writer kept conflicting: livelock");
}

/// Gap: 8 batches racing over the same 4 sessions, in different orders, each version-checked
/// against one read: every batch either lands whole or fails whole with a `VersionConflict`
/// (deadlocks between them are retried inside, never surfaced), so each session's version
/// counts exactly the batches that landed, and every session shows the same last writer.
pub async fn racing_batches_over_the_same_sessions_apply_all_or_nothing<S: SessionStore>(
    store: &S,
) {
    let ids: Vec<String> = (0..4).map(|n| format!("shared-{n}")).collect();
    let initial: Vec<Session> = ids
        .iter()
        .map(|id| session(id, SessionState::Active))
        .collect();
    store.save_many(&initial).await.expect("create");
    let read = store.get_many(&ids).await.expect("read");

    let batches = (0..8_usize).map(|writer| {
        let mut batch: Vec<Session> = ids.iter().map(|id| read[id].clone()).collect();
        batch.rotate_left(writer % ids.len());
        for s in &mut batch {
            s.data = json!({"writer": writer});
        }
        async move { store.save_many(&batch).await }
    });
    let results = join_all(batches).await;

    let mut landed = 0;
    for result in results {
        match result {
            Ok(versions) => {
                assert_eq!(versions, [2, 2, 2, 2]);
                landed += 1;
            }
            Err(Error::VersionConflict { .. }) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(
        landed, 1,
        "all batches read version 1, so exactly one can land"
    );
    let stored = store.get_many(&ids).await.expect("read back");
    let writers: Vec<&serde_json::Value> =
        ids.iter().map(|id| &stored[id].data["writer"]).collect();
    assert!(
        writers.iter().all(|w| *w == writers[0]),
        "mixed writers: {writers:?}"
    );
    assert!(ids.iter().all(|id| stored[id].version == 2));
}

/// Gap: what one store handle wrote is read through another handle on the same storage (for
/// PostgreSQL: a new pool on the same database, i.e. a reopened store).
pub async fn sessions_written_through_one_store_are_read_through_another<S: SessionStore>(
    writer: &S,
    reopened: &S,
) {
    let mut new = session("durable", SessionState::Paused);
    new.expires_at = Some(new.updated_at + chrono::Duration::hours(1));
    writer.save(&new).await.expect("save");

    let stored = reopened.get("durable").await.expect("get").expect("exists");

    assert_eq!(stored, Session { version: 1, ..new });
    assert_eq!(reopened.stats().await.expect("stats").total, 1);
}
