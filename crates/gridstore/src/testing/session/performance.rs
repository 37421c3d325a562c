//! SmallTalk's latency targets (SC-007, SC-009) and batch-versus-sequential check.
//!
//! Latencies are measured as SmallTalk does: 20 timed operations, p95 = the 19th of 20
//! sorted ascending.

use std::time::{Duration, Instant};

use super::session;
use crate::session::{Session, SessionState, SessionStore};

const SAVE_TARGET: Duration = Duration::from_millis(50);
const GET_TARGET: Duration = Duration::from_millis(100);

fn p95(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let index = (samples.len() * 95).div_ceil(100) - 1;
    samples[index]
}

/// SmallTalk 13 (SC-009): 20 saves of fresh sessions, p95 under 50 ms.
pub async fn save_p95_is_under_50_ms<S: SessionStore>(store: &S) {
    let mut samples = Vec::with_capacity(20);
    for n in 0..20 {
        let s = session(&format!("perf-save-{n}"), SessionState::Active);
        let started = Instant::now();
        store.save(&s).await.expect("save");
        samples.push(started.elapsed());
    }

    let p95 = p95(samples);
    assert!(
        p95 < SAVE_TARGET,
        "save p95 {p95:?} is not under {SAVE_TARGET:?}"
    );
}

/// SmallTalk 14 (SC-007): 20 reads of one session, p95 under 100 ms.
pub async fn get_p95_is_under_100_ms<S: SessionStore>(store: &S) {
    store
        .save(&session("perf-get", SessionState::Active))
        .await
        .expect("save");
    let mut samples = Vec::with_capacity(20);
    for _ in 0..20 {
        let started = Instant::now();
        store.get("perf-get").await.expect("get").expect("exists");
        samples.push(started.elapsed());
    }

    let p95 = p95(samples);
    assert!(
        p95 < GET_TARGET,
        "get p95 {p95:?} is not under {GET_TARGET:?}"
    );
}

/// SmallTalk 37: a 1000-turn session (JSON over 100 KB) saves under 50 ms and loads under
/// 100 ms, and round-trips unchanged.
pub async fn a_large_session_saves_and_loads_within_the_targets<S: SessionStore>(store: &S) {
    let large = Session::new("large", SessionState::Active, super::conversation(1000));
    let size = serde_json::to_vec(&large.data).expect("serializes").len();
    assert!(size > 100 * 1024, "fixture is only {size} bytes");

    let started = Instant::now();
    store.save(&large).await.expect("save");
    let save = started.elapsed();
    let started = Instant::now();
    let loaded = store.get("large").await.expect("get").expect("exists");
    let get = started.elapsed();

    assert_eq!(loaded.data, large.data);
    assert!(save < SAVE_TARGET, "large save took {save:?}");
    assert!(get < GET_TARGET, "large get took {get:?}");
}

/// SmallTalk 39: saving 10 sessions as one batch takes at most 1.2 times as long as saving
/// them one by one. Each side is timed over 5 rounds and the fastest round of each is
/// compared, so one scheduler hiccup on a busy machine does not decide the outcome.
pub async fn a_batch_save_is_not_slower_than_sequential_saves<S: SessionStore>(store: &S) {
    let mut sequential = Duration::MAX;
    let mut batched = Duration::MAX;
    for round in 0..5 {
        let singles: Vec<Session> = (0..10)
            .map(|n| session(&format!("single-{round}-{n}"), SessionState::Active))
            .collect();
        let batch: Vec<Session> = (0..10)
            .map(|n| session(&format!("batched-{round}-{n}"), SessionState::Active))
            .collect();

        let started = Instant::now();
        for s in &singles {
            store.save(s).await.expect("save");
        }
        sequential = sequential.min(started.elapsed());
        let started = Instant::now();
        store.save_many(&batch).await.expect("batch save");
        batched = batched.min(started.elapsed());
    }

    assert!(
        batched.as_secs_f64() <= sequential.as_secs_f64() * 1.2,
        "batch {batched:?} vs sequential {sequential:?}"
    );
}
