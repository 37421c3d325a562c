//! `list`: state filter, order and pages.

use chrono::{Duration, SubsecRound, Utc};

use super::session_at;
use crate::session::{SessionQuery, SessionState, SessionStore};

async fn save_four<S: SessionStore>(store: &S) {
    let now = Utc::now().trunc_subsecs(3);
    let fixtures = [
        ("session-1", SessionState::Active, 4),
        ("session-2", SessionState::Active, 3),
        ("session-3", SessionState::Paused, 2),
        ("session-4", SessionState::Expired, 1),
    ];
    for (id, state, minutes_ago) in fixtures {
        let session = session_at(id, state, now - Duration::minutes(minutes_ago));
        store.save(&session).await.expect("save fixture");
    }
}

/// SmallTalk 15: filtering by state returns exactly that state's sessions.
pub async fn listing_filters_by_state<S: SessionStore>(store: &S) {
    save_four(store).await;

    let active = store
        .list(&SessionQuery::in_state(SessionState::Active))
        .await
        .expect("list");
    let paused = store
        .list(&SessionQuery::in_state(SessionState::Paused))
        .await
        .expect("list");
    let expired = store
        .list(&SessionQuery::in_state(SessionState::Expired))
        .await
        .expect("list");
    let closed = store
        .list(&SessionQuery::in_state(SessionState::Closed))
        .await
        .expect("list");

    assert_eq!(active.len(), 2);
    assert!(active.iter().all(|s| s.state == SessionState::Active));
    assert_eq!(
        paused.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["session-3"]
    );
    assert_eq!(
        expired.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["session-4"]
    );
    assert!(closed.is_empty());
}

/// SmallTalk 16: consecutive pages do not overlap and together cover everything.
pub async fn listing_pages_do_not_overlap<S: SessionStore>(store: &S) {
    save_four(store).await;

    let first = store
        .list(&SessionQuery::all().page(2, 0))
        .await
        .expect("page 1");
    let second = store
        .list(&SessionQuery::all().page(2, 2))
        .await
        .expect("page 2");
    let third = store
        .list(&SessionQuery::all().page(2, 4))
        .await
        .expect("page 3");

    let ids = |page: &[crate::session::SessionSummary]| {
        page.iter().map(|s| s.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ["session-4", "session-3"]);
    assert_eq!(ids(&second), ["session-2", "session-1"]);
    assert!(third.is_empty());
}

/// SmallTalk 17: newest `updated_at` first; equal times are ordered by id.
pub async fn listing_is_ordered_by_updated_at_descending_then_id<S: SessionStore>(store: &S) {
    let now = Utc::now().trunc_subsecs(3);
    for (id, minutes_ago) in [("b", 5), ("a", 5), ("c", 1), ("d", 9)] {
        let session = session_at(
            id,
            SessionState::Active,
            now - Duration::minutes(minutes_ago),
        );
        store.save(&session).await.expect("save fixture");
    }

    let listed = store.list(&SessionQuery::all()).await.expect("list");

    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["c", "a", "b", "d"]);
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].updated_at >= w[1].updated_at)
    );
    assert!(listed.iter().all(|s| s.version == 1));
}

/// `limit: Some(0)` is an empty page; `limit: None` is no limit (offset still applies).
pub async fn a_zero_limit_lists_nothing_and_no_limit_lists_everything<S: SessionStore>(store: &S) {
    save_four(store).await;

    let zero = store
        .list(&SessionQuery::all().page(0, 0))
        .await
        .expect("list");
    let unlimited = store.list(&SessionQuery::all()).await.expect("list");
    let skipped = store
        .list(&SessionQuery {
            offset: 3,
            ..SessionQuery::all()
        })
        .await
        .expect("list");

    assert!(zero.is_empty());
    assert_eq!(unlimited.len(), 4);
    assert_eq!(
        skipped.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["session-1"]
    );
}
