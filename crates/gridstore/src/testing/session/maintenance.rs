//! `stats` and `clear`.

use chrono::{Duration, SubsecRound, Utc};
use serde_json::json;

use super::{session, session_at};
use crate::kv::KvStore;
use crate::session::{SessionState, SessionStore};

/// SmallTalk 40–42: totals, per-state counts (every state present) and a positive size.
pub async fn stats_count_sessions_by_state_and_size<S: SessionStore>(store: &S) {
    let empty = store.stats().await.expect("stats");
    assert_eq!((empty.total, empty.bytes), (0, 0));
    assert!(empty.by_state.values().all(|&n| n == 0));
    assert_eq!(empty.by_state.len(), SessionState::ALL.len());
    for (id, state) in [
        ("stats-1", SessionState::Active),
        ("stats-2", SessionState::Active),
        ("stats-3", SessionState::Paused),
        ("stats-4", SessionState::Expired),
    ] {
        store.save(&session(id, state)).await.expect("save fixture");
    }

    let stats = store.stats().await.expect("stats");

    assert_eq!(stats.total, 4);
    assert_eq!(stats.by_state[&SessionState::Active], 2);
    assert_eq!(stats.by_state[&SessionState::Paused], 1);
    assert_eq!(stats.by_state[&SessionState::Expired], 1);
    assert_eq!(stats.by_state[&SessionState::Completed], 0);
    assert_eq!(stats.by_state[&SessionState::Closed], 0);
    assert!(stats.bytes > 0);
}

/// SmallTalk 43 and 45: `clear(None)` deletes every session and returns how many.
pub async fn clearing_without_a_cutoff_deletes_every_session<S: SessionStore>(store: &S) {
    for n in 1..=3 {
        let s = session(&format!("clear-{n}"), SessionState::Active);
        store.save(&s).await.expect("save fixture");
    }

    let cleared = store.clear(None).await.expect("clear");

    assert_eq!(cleared, 3);
    assert_eq!(store.stats().await.expect("stats").total, 0);
    assert_eq!(store.clear(None).await.expect("clear again"), 0);
}

/// SmallTalk 44: `clear(older_than)` deletes sessions updated strictly before the cutoff and
/// keeps the rest, including one updated exactly at the cutoff.
pub async fn clearing_with_a_cutoff_deletes_only_strictly_older_sessions<S: SessionStore>(
    store: &S,
) {
    let now = Utc::now().trunc_subsecs(3);
    let cutoff = now - Duration::hours(1);
    let fixtures = [
        ("old-session", now - Duration::hours(2)),
        ("at-cutoff", cutoff),
        ("new-session", now),
    ];
    for (id, updated_at) in fixtures {
        store
            .save(&session_at(id, SessionState::Active, updated_at))
            .await
            .expect("save fixture");
    }

    let cleared = store.clear(Some(cutoff)).await.expect("clear");

    assert_eq!(cleared, 1);
    assert!(!store.has("old-session").await.expect("has"));
    assert!(store.has("at-cutoff").await.expect("has"));
    assert!(store.has("new-session").await.expect("has"));
}

/// Gap (SmallTalk never checked it): `clear` deletes sessions only; KV keys on the same
/// storage survive it.
pub async fn clearing_sessions_leaves_kv_untouched<S: SessionStore, K: KvStore>(
    sessions: &S,
    kv: &K,
) {
    sessions
        .save(&session("s", SessionState::Active))
        .await
        .expect("save");
    kv.set("k", json!("kept"), None).await.expect("set");

    assert_eq!(sessions.clear(None).await.expect("clear"), 1);

    assert_eq!(kv.get("k").await.expect("get"), Some(json!("kept")));
}
