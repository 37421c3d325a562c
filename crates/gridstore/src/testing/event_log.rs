//! Contract suite for [`EventLog`]: one generic async fn per behaviour.
//!
//! Expand it with [`event_log_contract_tests!`](crate::event_log_contract_tests), giving a
//! factory `async fn() -> (impl EventLog, guard)`; the guard (e.g. a test database) lives as
//! long as the test. Subscription tests expect wake-ups to work (on PostgreSQL: a listener).

use chrono::{DateTime, Datelike, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};

use crate::event_log::{EventFilter, EventLog, NewEvent};

mod subscriptions;

pub use subscriptions::{
    a_filtered_subscription_moves_past_non_matching_events,
    a_subscription_from_the_tail_delivers_every_later_event, assert_delivered_once_in_order,
    concurrent_writers_are_delivered_once_in_commit_order,
    subscription_delivers_only_matching_events, subscription_replays_then_follows_in_order,
    subscription_resumes_after_a_saved_position,
    subscription_wakes_up_on_append_before_the_poll_interval,
};

/// Expands the event-log contract suite into `#[tokio::test]`s for one backend factory.
#[macro_export]
macro_rules! event_log_contract_tests {
    ($factory:expr) => {
        $crate::event_log_contract_tests!(@expand $factory;
            appending_returns_positions_in_batch_order,
            appending_an_empty_batch_stores_nothing,
            a_batch_with_an_invalid_event_is_rejected_as_a_whole,
            events_round_trip_every_field,
            an_encoded_payload_reads_back_as_the_value_it_encodes,
            query_filters_by_stream_type_and_correlation_id,
            query_filters_by_json_containment,
            query_filters_by_full_text,
            query_filters_by_time_range,
            query_pages_after_a_position_and_limit_zero_returns_nothing,
            count_and_aggregate_summarise_per_stream,
            dropping_old_months_keeps_the_current_month,
            subscription_replays_then_follows_in_order,
            subscription_resumes_after_a_saved_position,
            subscription_delivers_only_matching_events,
            a_filtered_subscription_moves_past_non_matching_events,
            subscription_wakes_up_on_append_before_the_poll_interval,
            concurrent_writers_are_delivered_once_in_commit_order,
            a_subscription_from_the_tail_delivers_every_later_event,
        );
    };
    (@expand $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = ($factory)().await;
                $crate::testing::event_log::$name(store).await;
            }
        )*
    };
}

fn event(stream: &str, event_type: &str, payload: Value) -> NewEvent {
    NewEvent::new(stream, event_type, payload)
}

/// A batch gets positions in batch order sharing one transaction; later batches sort after.
pub async fn appending_returns_positions_in_batch_order(log: impl EventLog) {
    let first = log
        .append(vec![
            event("job-1", "a", json!(1)),
            event("job-1", "b", json!(2)),
            event("job-2", "c", json!(3)),
        ])
        .await
        .expect("append");
    assert_eq!(first.len(), 3);
    assert!(first.windows(2).all(|w| w[0] < w[1]));
    assert!(first.iter().all(|p| p.tx_id() == first[0].tx_id()));
    let second = log
        .append(vec![event("job-1", "d", json!(4))])
        .await
        .expect("append");
    assert!(second[0] > first[2]);
    assert!(second[0].tx_id() > first[0].tx_id());
}

/// An empty batch is a no-op.
pub async fn appending_an_empty_batch_stores_nothing(log: impl EventLog) {
    assert!(log.append(Vec::new()).await.expect("append").is_empty());
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 0);
}

/// A batch is atomic: one invalid event rejects the whole batch.
pub async fn a_batch_with_an_invalid_event_is_rejected_as_a_whole(log: impl EventLog) {
    let result = log
        .append(vec![
            event("job-1", "a", json!(1)),
            event("", "b", json!(2)),
        ])
        .await;
    assert!(matches!(result, Err(crate::Error::InvalidInput(_))));
    let nul = log
        .append(vec![
            event("job-1", "a", json!(1)),
            event("job-1", "b", json!({"text": "nul \u{0} inside"})),
        ])
        .await;
    assert!(matches!(nul, Err(crate::Error::InvalidInput(_))));
    let nul_stream = log.append(vec![event("job\u{0}", "a", json!(1))]).await;
    assert!(matches!(nul_stream, Err(crate::Error::InvalidInput(_))));
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 0);
}

/// A payload encoded once ([`crate::Payload::encode`]) is stored and read back as the value it
/// encodes, exact decimals included, beside a `Value` payload in the same batch.
pub async fn an_encoded_payload_reads_back_as_the_value_it_encodes(log: impl EventLog) {
    #[derive(serde::Serialize)]
    struct Typed<'a> {
        amount: &'a str,
        exact: Value,
        tags: [&'a str; 2],
    }
    let exact = serde_json::from_str::<Value>("1250.50").expect("num");
    let typed = Typed {
        amount: "1250.50",
        exact: exact.clone(),
        tags: ["é", "✓"],
    };
    let encoded = crate::Payload::encode(&typed).expect("encodes");
    let value = json!({"tags": ["é", "✓"], "exact": exact, "amount": "1250.50"});
    log.append(vec![
        NewEvent::new("job-1", "encoded", encoded),
        NewEvent::new("job-1", "value", value.clone()),
    ])
    .await
    .expect("append");
    let events = log
        .query(&EventFilter::all(), None, 10)
        .await
        .expect("query");
    let payloads: Vec<_> = events.iter().map(|e| &e.payload).collect();
    assert_eq!(payloads, [&value, &value]);
}

/// Stream, type, correlation id, payload (exact numbers, unicode) and timestamps round-trip.
pub async fn events_round_trip_every_field(log: impl EventLog) {
    let before = Utc::now() - ChronoDuration::seconds(5);
    let payload = json!({
        "exact": serde_json::from_str::<Value>("100000000000000000000.000000001").expect("num"),
        "text": "héllo ✓",
        "nested": {"list": [1, null, true, "x"]}
    });
    let new = event("job-é", "step.completed", payload.clone()).with_correlation_id("corr-1");
    let positions = log.append(vec![new]).await.expect("append");
    let events = log
        .query(&EventFilter::all(), None, 10)
        .await
        .expect("query");
    assert_eq!(events.len(), 1);
    let got = &events[0];
    assert_eq!(got.position, positions[0]);
    assert_eq!(got.stream, "job-é");
    assert_eq!(got.event_type, "step.completed");
    assert_eq!(got.correlation_id.as_deref(), Some("corr-1"));
    assert_eq!(got.payload, payload);
    assert!(
        got.recorded_at >= before && got.recorded_at <= Utc::now() + ChronoDuration::seconds(5)
    );
    assert_eq!(got.recorded_at.timestamp_subsec_nanos() % 1_000_000, 0);
}

async fn seed(log: &impl EventLog) {
    log.append(vec![
        event(
            "job-1",
            "step.started",
            json!({"step": 1, "status": "running"}),
        ),
        event(
            "job-1",
            "step.failed",
            json!({"step": 1, "status": "failed", "message": "Disk full on worker"}),
        )
        .with_correlation_id("c-1"),
        event(
            "job-2",
            "step.started",
            json!({"step": 1, "tags": ["gpu", "eu"]}),
        ),
        event(
            "job-2",
            "step.completed",
            json!({"step": 2, "message": "finished successfully"}),
        )
        .with_correlation_id("c-1"),
        event("job-3", "step.started", json!({"step": 1, "tags": ["cpu"]})),
    ])
    .await
    .expect("seed");
}

async fn types_of(log: &impl EventLog, filter: EventFilter) -> Vec<String> {
    let events = log.query(&filter, None, 100).await.expect("query");
    events
        .into_iter()
        .map(|e| format!("{}/{}", e.stream, e.event_type))
        .collect()
}

/// Equality filters select exactly the matching events, in position order.
pub async fn query_filters_by_stream_type_and_correlation_id(log: impl EventLog) {
    seed(&log).await;
    assert_eq!(
        types_of(&log, EventFilter::all().stream("job-1")).await,
        ["job-1/step.started", "job-1/step.failed"]
    );
    assert_eq!(
        types_of(&log, EventFilter::all().event_type("step.started")).await,
        [
            "job-1/step.started",
            "job-2/step.started",
            "job-3/step.started"
        ]
    );
    assert_eq!(
        types_of(&log, EventFilter::all().correlation_id("c-1")).await,
        ["job-1/step.failed", "job-2/step.completed"]
    );
    assert_eq!(
        types_of(
            &log,
            EventFilter::all()
                .stream("job-2")
                .event_type("step.started")
        )
        .await,
        ["job-2/step.started"]
    );
    assert!(
        types_of(&log, EventFilter::all().stream("nope"))
            .await
            .is_empty()
    );
}

/// JSON containment matches objects by key and arrays by element.
pub async fn query_filters_by_json_containment(log: impl EventLog) {
    seed(&log).await;
    assert_eq!(
        types_of(
            &log,
            EventFilter::all().contains(json!({"status": "failed"}))
        )
        .await,
        ["job-1/step.failed"]
    );
    assert_eq!(
        types_of(&log, EventFilter::all().contains(json!({"tags": ["eu"]}))).await,
        ["job-2/step.started"]
    );
    assert_eq!(
        types_of(&log, EventFilter::all().contains(json!({"step": 2}))).await,
        ["job-2/step.completed"]
    );
    assert!(
        types_of(&log, EventFilter::all().contains(json!({"tags": ["arm"]})))
            .await
            .is_empty()
    );
}

/// Full-text search needs every word, ignores case, and looks only at string values.
pub async fn query_filters_by_full_text(log: impl EventLog) {
    seed(&log).await;
    assert_eq!(
        types_of(&log, EventFilter::all().text("disk FULL")).await,
        ["job-1/step.failed"]
    );
    assert_eq!(
        types_of(&log, EventFilter::all().text("successfully")).await,
        ["job-2/step.completed"]
    );
    assert!(
        types_of(&log, EventFilter::all().text("disk successfully"))
            .await
            .is_empty()
    );
    assert!(
        types_of(&log, EventFilter::all().text("message"))
            .await
            .is_empty()
    );
}

/// Time bounds are `[from, before)` on `recorded_at`.
pub async fn query_filters_by_time_range(log: impl EventLog) {
    seed(&log).await;
    let all = log
        .query(&EventFilter::all(), None, 100)
        .await
        .expect("query");
    let at = all[0].recorded_at;
    let inclusive = EventFilter::all().recorded_between(Some(at), None);
    assert_eq!(log.count(&inclusive).await.expect("count"), 5);
    let exclusive = EventFilter::all().recorded_between(None, Some(at));
    assert_eq!(log.count(&exclusive).await.expect("count"), 0);
    let future = EventFilter::all().recorded_between(Some(at + ChronoDuration::hours(1)), None);
    assert_eq!(log.count(&future).await.expect("count"), 0);
}

/// `after` pages through the log; `limit` caps a page and 0 returns nothing.
pub async fn query_pages_after_a_position_and_limit_zero_returns_nothing(log: impl EventLog) {
    seed(&log).await;
    let page1 = log
        .query(&EventFilter::all(), None, 2)
        .await
        .expect("query");
    assert_eq!(page1.len(), 2);
    let page2 = log
        .query(&EventFilter::all(), Some(page1[1].position), 2)
        .await
        .expect("query");
    assert_eq!(page2.len(), 2);
    assert!(page2[0].position > page1[1].position);
    let page3 = log
        .query(&EventFilter::all(), Some(page2[1].position), 2)
        .await
        .expect("query");
    assert_eq!(page3.len(), 1);
    assert!(
        log.query(&EventFilter::all(), None, 0)
            .await
            .expect("query")
            .is_empty()
    );
}

/// Count honours filters; aggregate groups per stream with per-type counts.
pub async fn count_and_aggregate_summarise_per_stream(log: impl EventLog) {
    seed(&log).await;
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 5);
    assert_eq!(
        log.count(&EventFilter::all().stream("job-2"))
            .await
            .expect("count"),
        2
    );
    let stats = log
        .aggregate(
            &EventFilter::all()
                .event_type("step.started")
                .stream("job-1"),
        )
        .await
        .expect("aggregate");
    assert_eq!(stats.len(), 1);
    let stats = log.aggregate(&EventFilter::all()).await.expect("aggregate");
    let streams: Vec<_> = stats.iter().map(|s| (s.stream.as_str(), s.count)).collect();
    assert_eq!(streams, [("job-1", 2), ("job-2", 2), ("job-3", 1)]);
    assert_eq!(stats[0].by_type.get("step.failed"), Some(&1));
    assert_eq!(stats[0].by_type.get("step.started"), Some(&1));
    assert!(stats[0].first_recorded_at <= stats[0].last_recorded_at);
}

/// Dropping months before the month the events were stamped in keeps them; dropping through
/// the next month removes them, and appends keep working afterwards. The month is the one of
/// the events' own `recorded_at`, never a second reading of a clock.
pub async fn dropping_old_months_keeps_the_current_month(log: impl EventLog) {
    seed(&log).await;
    let stamped = log
        .query(&EventFilter::all(), None, 5)
        .await
        .expect("query");
    let first = stamped.first().expect("seeded events").recorded_at;
    let last = stamped.last().expect("seeded events").recorded_at;
    assert_eq!(log.drop_months_before(first).await.expect("drop"), 0);
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 5);
    let next_month = start_of_next_month(last);
    assert_eq!(log.drop_months_before(next_month).await.expect("drop"), 5);
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 0);
    log.append(vec![event("job-9", "after.drop", json!({}))])
        .await
        .expect("append after drop");
    assert_eq!(log.count(&EventFilter::all()).await.expect("count"), 1);
}

/// The first instant (UTC) of the month after the month of `at`: "everything up to and
/// including the month of `at`" for [`EventLog::drop_months_before`], decided from an instant
/// the caller holds (an event's `recorded_at`), never from a second reading of a clock.
pub fn start_of_next_month(at: DateTime<Utc>) -> DateTime<Utc> {
    let first = at.date_naive().with_day(1).expect("first of month");
    first
        .checked_add_months(chrono::Months::new(1))
        .expect("next month")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}
