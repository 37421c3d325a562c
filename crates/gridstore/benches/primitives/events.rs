//! Event append against `psql \copy` into the same table, and commit-to-subscriber delivery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridstore::memory::MemoryEventLog;
use gridstore::postgres::{PgEventLog, PgListener};
use gridstore::{EventFilter, EventLog, NewEvent, Subscription, SubscriptionOptions};
use serde_json::json;

use crate::BoxError;
use crate::baseline::{copy_command, psql_copy};
use crate::data::{copy_line, event};
use crate::report::{Percentiles, Report, Row, Verdict, median, ms, rate};
use crate::setup::Bench;

/// Events per timed load.
const EVENTS: usize = 50_000;
/// Events per `append` call.
const BATCH: usize = 1_000;
/// The COPY target: `gs_events` itself, with every index, the notify trigger and the defaults
/// (seq, tx_id, recorded_at) of an append.
const COPY_TARGET: &str = "gs_events (stream, event_type, correlation_id, payload)";

/// Appends [`EVENTS`] events in batches of [`BATCH`] (1 and 2 concurrent writers) and loads
/// the same events with `\copy`, each into an emptied `gs_events`.
pub async fn append(bench: &Bench, report: &mut Report) -> Result<(), BoxError> {
    let log = PgEventLog::new(bench.pool.clone());
    let events: Vec<NewEvent> = (0..EVENTS).map(event).collect();
    let file = bench.scratch.path("events.tsv");
    std::fs::write(&file, events.iter().map(copy_line).collect::<String>())?;
    let mut copy_rates = Vec::new();
    let mut one_writer = Vec::new();
    let mut two_writers = Vec::new();
    for rep in 0..bench.settings.reps {
        empty_events(bench).await?;
        let copy_time = psql_copy(bench, COPY_TARGET, &file).await?;
        copy_rates.push(per_second(EVENTS, copy_time));
        empty_events(bench).await?;
        let one = timed_append(&log, &events, 1).await?;
        one_writer.push(per_second(EVENTS, one));
        empty_events(bench).await?;
        let two = timed_append(&log, &events, 2).await?;
        two_writers.push(per_second(EVENTS, two));
        println!(
            "  rep {rep}: \\copy {} ms, append 1 writer {} ms, 2 writers {} ms",
            ms(copy_time),
            ms(one),
            ms(two)
        );
    }
    let copy = median(&mut copy_rates);
    let mut push = |name: &str, ours: f64| {
        report.push(Row {
            measurement: format!("event append, {EVENTS} events in batches of {BATCH}, {name}"),
            gridstore: rate(ours),
            baseline: format!("{} (`{}`)", rate(copy), copy_command(COPY_TARGET)),
            ratio: Some(ours / copy),
            target: "≥ 50,000/s and ≥ 90% of `\\copy`".into(),
            verdict: Verdict::from_bool(ours >= 50_000.0 && ours / copy >= 0.90),
        });
    };
    push("1 writer", median(&mut one_writer));
    push("2 concurrent writers", median(&mut two_writers));
    Ok(())
}

async fn empty_events(bench: &Bench) -> Result<(), BoxError> {
    bench.execute("truncate gs_events").await?;
    bench.execute("checkpoint").await
}

fn per_second(events: usize, elapsed: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let events = events as f64;
    events / elapsed.as_secs_f64()
}

/// Appends every event in [`BATCH`]-sized calls split over `writers` concurrent tasks; the
/// batches are built before the clock starts.
async fn timed_append(
    log: &PgEventLog,
    events: &[NewEvent],
    writers: usize,
) -> Result<Duration, BoxError> {
    let batches: Vec<Vec<NewEvent>> = events.chunks(BATCH).map(<[NewEvent]>::to_vec).collect();
    let mut shares: Vec<Vec<Vec<NewEvent>>> = (0..writers).map(|_| Vec::new()).collect();
    for (i, batch) in batches.into_iter().enumerate() {
        shares[i % writers].push(batch);
    }
    let started = Instant::now();
    let tasks: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let log = log.clone();
            tokio::spawn(async move {
                for batch in share {
                    log.append(batch).await?;
                }
                Ok::<_, BoxError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// Events per delivery run, and the pause between two appends.
const DELIVERED: usize = 500;
const APPEND_EVERY: Duration = Duration::from_millis(4);
/// The longest a delivery run may take before it is reported as broken.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(60);

/// Latency from an append to a live subscriber (LISTEN/NOTIFY wake-ups, 500 ms poll
/// fallback), on PostgreSQL and, for reference, on memory.
pub async fn delivery(bench: &Bench, report: &mut Report) -> Result<(), BoxError> {
    bench.execute("truncate gs_events").await?;
    let listener = PgListener::start(&bench.config).await?;
    let pg: Arc<dyn EventLog> =
        Arc::new(PgEventLog::new(bench.pool.clone()).with_listener(listener));
    let (mut from_call, mut from_return) = delivery_run(pg).await?;
    let (call, ret) = (
        Percentiles::of(&mut from_call),
        Percentiles::of(&mut from_return),
    );
    report.push(Row {
        measurement: format!(
            "commit → subscriber delivery, PostgreSQL, {DELIVERED} single-event appends every {} ms",
            APPEND_EVERY.as_millis()
        ),
        gridstore: format!(
            "from append call: {}; from append return: {}",
            call.describe(),
            ret.describe()
        ),
        baseline: "-".into(),
        ratio: None,
        target: "p95 ≤ 10 ms".into(),
        verdict: Verdict::from_bool(call.p95 <= Duration::from_millis(10)),
    });
    let (mut from_call, _) = delivery_run(Arc::new(MemoryEventLog::new())).await?;
    report.push(Row {
        measurement: "commit → subscriber delivery, memory backend".into(),
        gridstore: Percentiles::of(&mut from_call).describe(),
        baseline: "-".into(),
        ratio: None,
        target: "-".into(),
        verdict: Verdict::Info,
    });
    Ok(())
}

/// Appends [`DELIVERED`] single events, each carrying its number, while a subscription
/// receives them; returns per-event latencies measured from the start and from the return of
/// each `append` call to the subscriber's receipt.
async fn delivery_run(log: Arc<dyn EventLog>) -> Result<(Vec<Duration>, Vec<Duration>), BoxError> {
    let options = SubscriptionOptions {
        batch_size: 100,
        poll_interval: Duration::from_millis(500),
    };
    let mut subscription = Subscription::new(Arc::clone(&log), None, EventFilter::all(), options);
    let receiver = tokio::spawn(async move {
        let mut received = vec![None; DELIVERED];
        let mut count = 0;
        while count < DELIVERED {
            let batch = subscription.next_batch().await?;
            let now = Instant::now();
            for event in batch {
                let marker = event.payload["marker"]
                    .as_u64()
                    .and_then(|m| usize::try_from(m).ok())
                    .ok_or("event without a marker")?;
                received[marker] = Some(now);
                count += 1;
            }
        }
        Ok::<_, BoxError>(received)
    });
    let mut sent = Vec::with_capacity(DELIVERED);
    let mut ticks = tokio::time::interval(APPEND_EVERY);
    for marker in 0..DELIVERED {
        ticks.tick().await;
        let event = NewEvent::new("delivery", "bench.tick", json!({ "marker": marker }));
        let called = Instant::now();
        log.append(vec![event]).await?;
        sent.push((called, Instant::now()));
    }
    let received = tokio::time::timeout(DELIVERY_DEADLINE, receiver)
        .await
        .map_err(|_| "subscriber did not receive every event within the deadline")???;
    let mut from_call = Vec::with_capacity(DELIVERED);
    let mut from_return = Vec::with_capacity(DELIVERED);
    for ((called, returned), got) in sent.into_iter().zip(received) {
        let got = got.ok_or("an event was not delivered")?;
        from_call.push(got.saturating_duration_since(called));
        from_return.push(got.saturating_duration_since(returned));
    }
    Ok((from_call, from_return))
}
