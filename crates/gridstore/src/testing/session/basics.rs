//! Save, get, has, delete, version checks and `update_state`.

use chrono::{Duration, SubsecRound, TimeZone, Utc};
use serde_json::json;

use super::{conversation, session};
use crate::Error;
use crate::session::{MAX_ID_LEN, Session, SessionState, SessionStore};

/// SmallTalk 8: a saved session comes back with every field, at version 1.
pub async fn a_saved_session_is_read_back_with_every_field<S: SessionStore>(store: &S) {
    let id = "9b2f4c1e-3d5a-4e6f-8a7b-1c2d3e4f5a6b";
    let mut new = session(id, SessionState::Active);
    new.expires_at = Some(new.created_at + Duration::days(7));

    let version = store.save(&new).await.expect("save succeeds");

    assert_eq!(version, 1);
    let stored = store
        .get(id)
        .await
        .expect("get succeeds")
        .expect("session exists");
    assert_eq!(stored, Session { version: 1, ..new });
}

/// SmallTalk 9 and 10: history turns, agent-state maps and nested context round-trip.
pub async fn a_nested_payload_round_trips_unchanged<S: SessionStore>(store: &S) {
    let mut new = Session::new("nested", SessionState::Active, conversation(5));
    new.data["sharedContext"]["big"] =
        serde_json::from_str("12345678901234567890123.000000001").expect("valid number");
    new.data["sharedContext"]["precise"] = json!(0.1);

    store.save(&new).await.expect("save succeeds");

    let stored = store.get("nested").await.expect("get").expect("exists");
    assert_eq!(stored.data, new.data);
    let history = stored.data["conversationHistory"]
        .as_array()
        .expect("array");
    assert_eq!(history.len(), 5);
    assert_eq!(history[0]["sequence"], json!(1));
    assert_eq!(history[4]["sequence"], json!(5));
    let agent = &stored.data["agentStates"]["agent-1"];
    assert_eq!(
        agent["config"],
        json!({"model": "gpt-4o-mini", "temperature": 0.7})
    );
    assert_eq!(agent["messageHistory"].as_array().map(Vec::len), Some(2));
}

/// SmallTalk 11: the three dates come back equal at millisecond precision.
pub async fn dates_round_trip_to_the_millisecond<S: SessionStore>(store: &S) {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 21, 10, 11, 12)
        .single()
        .expect("valid date")
        + Duration::microseconds(123_456);
    let mut new = session("dates", SessionState::Active);
    new.created_at = at;
    new.updated_at = at + Duration::microseconds(999);
    new.expires_at = Some(at + Duration::days(7) + Duration::nanoseconds(1_500_000));

    store.save(&new).await.expect("save succeeds");

    let stored = store.get("dates").await.expect("get").expect("exists");
    assert_eq!(stored.created_at, at.trunc_subsecs(3));
    assert_eq!(
        stored.updated_at,
        (at + Duration::microseconds(999)).trunc_subsecs(3)
    );
    assert_eq!(
        stored.expires_at,
        new.expires_at.map(|t| t.trunc_subsecs(3))
    );
    assert_eq!(stored.created_at.timestamp_subsec_millis(), 123);
}

/// SmallTalk 12: saving with the version read writes version + 1.
pub async fn saving_with_the_version_read_increments_the_version<S: SessionStore>(store: &S) {
    let new = session("v", SessionState::Active);
    assert_eq!(store.save(&new).await.expect("first save"), 1);
    let mut read = store.get("v").await.expect("get").expect("exists");
    assert_eq!(read.version, 1);

    read.data = json!({"step": 2});
    assert_eq!(store.save(&read).await.expect("second save"), 2);

    let stored = store.get("v").await.expect("get").expect("exists");
    assert_eq!((stored.version, stored.data), (2, json!({"step": 2})));
}

/// Gap: a save carrying a version older than the stored one is a typed conflict that writes
/// nothing.
pub async fn saving_with_a_stale_version_is_a_conflict_and_writes_nothing<S: SessionStore>(
    store: &S,
) {
    store
        .save(&session("stale", SessionState::Active))
        .await
        .expect("create");
    let first_read = store.get("stale").await.expect("get").expect("exists");
    let mut winner = first_read.clone();
    winner.data = json!("winner");
    store.save(&winner).await.expect("winner saves");

    let mut loser = first_read;
    loser.data = json!("loser");
    let err = store.save(&loser).await.expect_err("stale save must fail");

    assert!(
        matches!(&err, Error::VersionConflict { key, expected: 1, actual: Some(2) } if key == "stale"),
        "unexpected error: {err:?}"
    );
    let stored = store.get("stale").await.expect("get").expect("exists");
    assert_eq!((stored.version, stored.data), (2, json!("winner")));
}

/// Gap: version 0 means "must not exist", so it cannot overwrite a stored session.
pub async fn saving_a_new_session_over_an_existing_one_is_a_conflict<S: SessionStore>(store: &S) {
    store
        .save(&session("twice", SessionState::Active))
        .await
        .expect("create");

    let err = store
        .save(&session("twice", SessionState::Paused))
        .await
        .expect_err("second create must fail");

    assert!(
        matches!(
            err,
            Error::VersionConflict {
                expected: 0,
                actual: Some(1),
                ..
            }
        ),
        "unexpected error: {err:?}"
    );
    let stored = store.get("twice").await.expect("get").expect("exists");
    assert_eq!(stored.state, SessionState::Active);
}

/// Gap: a non-zero version for a session that does not exist (e.g. deleted meanwhile)
/// conflicts instead of resurrecting it.
pub async fn saving_a_missing_session_with_a_nonzero_version_is_a_conflict<S: SessionStore>(
    store: &S,
) {
    let mut ghost = session("ghost", SessionState::Active);
    ghost.version = 3;

    let err = store.save(&ghost).await.expect_err("must fail");

    assert!(
        matches!(
            err,
            Error::VersionConflict {
                expected: 3,
                actual: None,
                ..
            }
        ),
        "unexpected error: {err:?}"
    );
    assert!(!store.has("ghost").await.expect("has"));
}

/// SmallTalk 18: deleting an existing session returns true and it is gone.
pub async fn deleting_an_existing_session_returns_true_and_removes_it<S: SessionStore>(store: &S) {
    store
        .save(&session("del", SessionState::Active))
        .await
        .expect("create");

    assert!(store.delete("del").await.expect("delete"));

    assert_eq!(store.get("del").await.expect("get"), None);
}

/// SmallTalk 19: deleting a missing session returns false.
pub async fn deleting_a_missing_session_returns_false<S: SessionStore>(store: &S) {
    assert!(!store.delete("never-saved").await.expect("delete"));
}

/// SmallTalk 20 and 21: `has` is true for a stored session, false otherwise.
pub async fn has_tells_whether_a_session_exists<S: SessionStore>(store: &S) {
    store
        .save(&session("here", SessionState::Active))
        .await
        .expect("create");

    assert!(store.has("here").await.expect("has"));
    assert!(!store.has("not-here").await.expect("has"));
}

/// `update_state` sets the state, stamps `updated_at` with the store clock and bumps the
/// version, so a writer holding the old version conflicts.
pub async fn updating_the_state_stamps_updated_at_and_bumps_the_version<S: SessionStore>(
    store: &S,
) {
    let long_ago = Utc::now().trunc_subsecs(3) - Duration::days(30);
    let mut new = session("upd", SessionState::Active);
    new.updated_at = long_ago;
    store.save(&new).await.expect("create");
    let read = store.get("upd").await.expect("get").expect("exists");

    let version = store
        .update_state("upd", SessionState::Expired)
        .await
        .expect("update");

    assert_eq!(version, 2);
    let stored = store.get("upd").await.expect("get").expect("exists");
    assert_eq!((stored.state, stored.version), (SessionState::Expired, 2));
    assert!(stored.updated_at > long_ago + Duration::days(29));
    assert_eq!(stored.data, new.data);
    let err = store.save(&read).await.expect_err("old version is stale");
    assert!(
        matches!(err, Error::VersionConflict { .. }),
        "unexpected error: {err:?}"
    );
}

/// `update_state` on a missing session is `NotFound`.
pub async fn updating_the_state_of_a_missing_session_is_not_found<S: SessionStore>(store: &S) {
    let err = store
        .update_state("nobody", SessionState::Closed)
        .await
        .expect_err("must fail");

    assert!(
        matches!(err, Error::NotFound { .. }),
        "unexpected error: {err:?}"
    );
}

/// Empty and overlong ids, and payloads PostgreSQL cannot store (a NUL character), are
/// rejected by every backend before anything is written.
pub async fn an_invalid_id_or_payload_is_invalid_input<S: SessionStore>(store: &S) {
    let empty = store.save(&session("", SessionState::Active)).await;
    let long = store
        .save(&session(&"x".repeat(MAX_ID_LEN + 1), SessionState::Active))
        .await;
    let nul = Session::new("nul", SessionState::Active, json!({"text": "a\u{0}b"}));
    let nul_single = store.save(&nul).await;
    let nul_batch = store
        .save_many(&[session("fine", SessionState::Active), nul])
        .await;

    assert!(matches!(empty, Err(Error::InvalidInput(_))), "{empty:?}");
    assert!(matches!(long, Err(Error::InvalidInput(_))), "{long:?}");
    assert!(
        matches!(nul_single, Err(Error::InvalidInput(_))),
        "{nul_single:?}"
    );
    assert!(
        matches!(nul_batch, Err(Error::InvalidInput(_))),
        "{nul_batch:?}"
    );
    assert_eq!(store.stats().await.expect("stats").total, 0);
}
