//! Deterministic test data: ~1 KB session payloads and ~200 B event payloads (the shapes
//! pg-limits.md measured).

use gridstore::NewEvent;
use serde_json::{Value, json};

use crate::load::mix;

/// How many sessions the session benchmarks use.
pub const SESSIONS: usize = 10_000;

/// The id of session `i`; the pgbench scripts build the same ids with `'s-' || :i`.
pub fn session_id(i: usize) -> String {
    format!("s-{i}")
}

/// `len` lowercase hex digits derived from `seed`.
fn hex(seed: u64, len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    let mut n = 0;
    while out.len() < len {
        out.push_str(&format!("{:016x}", mix(seed, n)));
        n += 1;
    }
    out.truncate(len);
    out
}

/// A session payload of about 1 KB of JSON text (about 990 B as jsonb).
pub fn session_payload(i: usize) -> Value {
    let i = i as u64;
    json!({
        "job_id": format!("job-{i}"),
        "status": "running",
        "owner": format!("worker-{}", i % 16),
        "attempt": i % 5,
        "tags": ["alpha", "beta", "gamma", "delta"],
        "blob": hex(i, 832),
    })
}

/// A small session payload (about 60 B), for the memory backend.
pub fn small_payload(i: usize) -> Value {
    json!({ "user": format!("u-{i}"), "cart": [1, 2, 3] })
}

const EVENT_TYPES: [&str; 5] = [
    "step.started",
    "step.completed",
    "step.failed",
    "job.created",
    "job.finished",
];
const STATUSES: [&str; 4] = ["completed", "failed", "started", "retrying"];

/// Event `i` of the append benchmark: a random one of 10,000 jobs, one of five types, a
/// correlation id and a ~200 B payload.
pub fn event(i: usize) -> NewEvent {
    let i = i as u64;
    let r = |k: u64| mix(i, k);
    let pick = |k: u64, n: usize| {
        #[allow(clippy::cast_possible_truncation)]
        let index = (r(k) % n as u64) as usize;
        index
    };
    let payload = json!({
        "step": r(1) % 50 + 1,
        "status": STATUSES[pick(2, STATUSES.len())],
        "attempt": r(3) % 3 + 1,
        "worker": format!("worker-{:02}", r(4) % 16 + 1),
        "duration_ms": r(5) % 100_000 + 1,
        "message": "step finished successfully",
        "output": { "hash": hex(r(6), 32), "items": r(7) % 1000 },
    });
    NewEvent::new(
        format!("job-{}", r(8) % 10_000 + 1),
        EVENT_TYPES[pick(9, EVENT_TYPES.len())],
        payload,
    )
    .with_correlation_id(uuid_like(r(10), r(11)))
}

fn uuid_like(a: u64, b: u64) -> String {
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// One line of PostgreSQL COPY text format for `event` (columns stream, event_type,
/// correlation_id, payload). The generated values contain no tab, newline or backslash.
pub fn copy_line(event: &NewEvent) -> String {
    format!(
        "{}\t{}\t{}\t{}\n",
        event.stream,
        event.event_type,
        event.correlation_id.as_deref().unwrap_or("\\N"),
        event.payload.to_value()
    )
}
