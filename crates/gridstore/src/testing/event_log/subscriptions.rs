//! Subscription behaviours of the event-log contract suite.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{event, seed};
use crate::event_log::{
    Event, EventFilter, EventLog, EventPosition, Subscription, SubscriptionOptions,
};

fn options(poll_ms: u64) -> SubscriptionOptions {
    SubscriptionOptions {
        batch_size: 3,
        poll_interval: Duration::from_millis(poll_ms),
    }
}

/// Reads batches until `n` events arrived or a deadline passed.
async fn collect(sub: &mut Subscription, n: usize) -> Vec<Event> {
    let mut got = Vec::new();
    let deadline = Duration::from_secs(30);
    tokio::time::timeout(deadline, async {
        while got.len() < n {
            got.extend(sub.next_batch().await.expect("next batch"));
        }
    })
    .await
    .expect("events did not arrive within the deadline");
    got
}

/// A subscription from the start replays what exists, then follows new appends, in order.
pub async fn subscription_replays_then_follows_in_order(log: impl EventLog) {
    seed(&log).await;
    let log: Arc<dyn EventLog> = Arc::new(log);
    let mut sub = Subscription::new(log.clone(), None, EventFilter::all(), options(50));
    let replay = collect(&mut sub, 5).await;
    log.append(vec![
        event("job-4", "x", json!(1)),
        event("job-4", "y", json!(2)),
    ])
    .await
    .expect("append");
    let live = collect(&mut sub, 2).await;
    let all: Vec<_> = replay.iter().chain(&live).map(|e| e.position).collect();
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(sub.position(), all[6]);
    assert!(sub.poll().await.expect("poll").is_empty());
}

/// Resuming from a saved position delivers exactly the events after it.
pub async fn subscription_resumes_after_a_saved_position(log: impl EventLog) {
    seed(&log).await;
    let log: Arc<dyn EventLog> = Arc::new(log);
    let mut sub = Subscription::new(log.clone(), None, EventFilter::all(), options(50));
    let first = sub.next_batch().await.expect("batch");
    assert_eq!(first.len(), 3);
    let saved = sub.position().to_string();
    drop(sub);
    let resume_at: EventPosition = saved.parse().expect("position");
    let mut resumed = Subscription::new(log, Some(resume_at), EventFilter::all(), options(50));
    let rest = collect(&mut resumed, 2).await;
    assert_eq!(rest.len(), 2);
    assert!(rest[0].position > first[2].position);
}

/// A filtered subscription skips non-matching events.
pub async fn subscription_delivers_only_matching_events(log: impl EventLog) {
    seed(&log).await;
    let log: Arc<dyn EventLog> = Arc::new(log);
    let filter = EventFilter::all().stream("job-2");
    let mut sub = Subscription::new(log, None, filter, options(50));
    let got = collect(&mut sub, 2).await;
    assert!(got.iter().all(|e| e.stream == "job-2"));
    assert!(sub.poll().await.expect("poll").is_empty());
}

/// A filtered subscription delivers every matching event between non-matching ones, and its
/// reads move past the non-matching events instead of re-reading them.
pub async fn a_filtered_subscription_moves_past_non_matching_events(log: impl EventLog) {
    // Arrange: four rounds of one matching event and five non-matching ones, each its own
    // append (transaction).
    let log: Arc<dyn EventLog> = Arc::new(log);
    let mut matching = Vec::new();
    let mut last_other = EventPosition::START;
    for round in 0..4 {
        let wanted = vec![event("wanted", "tick", json!({ "n": round }))];
        matching.extend(log.append(wanted).await.expect("append"));
        for _ in 0..5 {
            let other = vec![event("other", "tick", json!({ "n": 0 }))];
            last_other = log.append(other).await.expect("append")[0];
        }
    }
    let filter = EventFilter::all().stream("wanted");
    let mut sub = Subscription::new(log.clone(), None, filter, options(50));

    // Act + assert: batches of three deliver all four matching events in order.
    let got = collect(&mut sub, 4).await;
    assert_eq!(got.iter().map(|e| e.position).collect::<Vec<_>>(), matching);
    assert_eq!(sub.position(), matching[3]);

    // Reads move past the trailing non-matching events (once the commit fence passes them).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sub.scanned_position() < last_other {
        assert!(sub.poll().await.expect("poll").is_empty(), "extra delivery");
        assert!(
            tokio::time::Instant::now() < deadline,
            "reads never moved past {last_other}; at {}",
            sub.scanned_position()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sub.position(), matching[3]);

    // A later matching event is still delivered, after the ones before it.
    let next = log
        .append(vec![event("wanted", "tick", json!({ "n": 4 }))])
        .await
        .expect("append");
    let more = collect(&mut sub, 1).await;
    assert_eq!(more.iter().map(|e| e.position).collect::<Vec<_>>(), next);
}

/// With a poll interval far longer than the deadline, only a wake-up can deliver in time.
pub async fn subscription_wakes_up_on_append_before_the_poll_interval(log: impl EventLog) {
    let log: Arc<dyn EventLog> = Arc::new(log);
    let mut sub = Subscription::new(log.clone(), None, EventFilter::all(), options(600_000));
    let waiter = tokio::spawn(async move { sub.next_batch().await.map(|b| b.len()) });
    // Let the subscriber start waiting; it must not see anything yet.
    tokio::task::yield_now().await;
    log.append(vec![event("job-1", "a", json!(1))])
        .await
        .expect("append");
    let got = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("no wake-up within 10 s")
        .expect("join")
        .expect("next batch");
    assert_eq!(got, 1);
}

/// Eight concurrent writers: every event delivered exactly once, positions strictly
/// increasing, each writer's events in the order it committed them.
pub async fn concurrent_writers_are_delivered_once_in_commit_order(log: impl EventLog) {
    const WRITERS: usize = 8;
    const BATCHES: usize = 15;
    let log: Arc<dyn EventLog> = Arc::new(log);
    let mut sub = Subscription::new(log.clone(), None, EventFilter::all(), options(20));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            for b in 0..BATCHES {
                let batch = (0..2)
                    .map(|i| event(&format!("writer-{w}"), "tick", json!({"n": b * 2 + i})))
                    .collect();
                log.append(batch).await.expect("append");
                tokio::time::sleep(Duration::from_millis(((w * 7 + b * 3) % 5) as u64)).await;
            }
        }));
    }
    let got = collect(&mut sub, WRITERS * BATCHES * 2).await;
    for writer in writers {
        writer.await.expect("writer");
    }
    assert_delivered_once_in_order(&got, WRITERS * BATCHES * 2);
    assert!(sub.poll().await.expect("poll").is_empty());
}

/// Asserts `events` holds `expected` distinct events, positions strictly increasing, and each
/// stream's `n` payload counting up from 0 without gaps.
pub fn assert_delivered_once_in_order(events: &[Event], expected: usize) {
    assert_eq!(events.len(), expected, "wrong number of deliveries");
    assert!(
        events.windows(2).all(|w| w[0].position < w[1].position),
        "positions are not strictly increasing"
    );
    let mut next: HashMap<&str, u64> = HashMap::new();
    for e in events {
        let n = e.payload["n"].as_u64().expect("payload n");
        let expected_n = next.entry(e.stream.as_str()).or_insert(0);
        assert_eq!(n, *expected_n, "stream {} out of order", e.stream);
        *expected_n += 1;
    }
}

/// A subscription from the tail delivers every event appended after it was taken, once, and
/// otherwise at most some of the events committed before (on PostgreSQL the tail is the commit
/// fence, which another running transaction of the cluster may hold back), never a gap.
pub async fn a_subscription_from_the_tail_delivers_every_later_event(log: impl EventLog) {
    let empty = log.tail().await.expect("tail of an empty log");
    seed(&log).await;
    let tail = log.tail().await.expect("tail");
    assert!(tail >= empty, "the tail never moves back");
    let log: Arc<dyn EventLog> = Arc::new(log);
    let before = log
        .query(&EventFilter::all(), None, 100)
        .await
        .expect("query");
    let mut sub = Subscription::new(log.clone(), Some(tail), EventFilter::all(), options(50));
    let positions = log
        .append(vec![event("job-9", "late", json!({"n": 1}))])
        .await
        .expect("append");

    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while !got.iter().any(|e: &Event| e.position == positions[0]) {
            got.extend(sub.next_batch().await.expect("next batch"));
        }
    })
    .await
    .expect("the later event arrives within 30 s");

    assert_eq!(got.last().map(|e| e.position), Some(positions[0]));
    let replayed = &got[..got.len() - 1];
    assert!(
        replayed.iter().all(|e| before.contains(e)),
        "only events committed before the tail come before the later one"
    );
    assert!(got.windows(2).all(|w| w[0].position < w[1].position));
    assert!(sub.poll().await.expect("poll").is_empty(), "nothing twice");
}
