//! Ledger hashing and verification throughput (pure CPU, no store): seals synthetic ledger
//! events the way the write path does, then verifies them, against a baseline measured in the
//! same run (serialising the same events to JSON, as `GET /ledger-events` does).
//!
//! `cargo run --release -p bench --bin ledger-verify -- [events] [reps]` (defaults 200000, 5);
//! prints the median of each measurement. Figures: `docs/BENCHMARKS.md`.

use std::io::Write;
use std::time::Instant;

use escrowgrid::domain::{
    InstitutionId, LedgerEvent, LedgerEventId, LedgerEventKind, PositionId, PositionState,
};
use escrowgrid::ledger::{seal, verify};

/// Chains of four events (creation, then three transitions), with realistic payloads.
fn events(count: usize) -> Vec<LedgerEvent> {
    let institution = InstitutionId::new();
    let at = chrono::DateTime::from_timestamp_millis(1_796_000_000_000).unwrap_or_default();
    let mut out = Vec::with_capacity(count);
    let mut head: Option<String> = None;
    let mut position = PositionId::new();
    for index in 0..count {
        let step = index % 4;
        if step == 0 {
            position = PositionId::new();
            head = None;
        }
        let payload = if step == 0 {
            serde_json::json!({ "institutionId": institution, "assetId": "ast_x",
                "currency": "USD", "amount": 12_345.678, "requestId": format!("req-{index}") })
        } else {
            serde_json::json!({ "reason": "milestone reached", "metadata": { "step": step } })
        };
        let event = LedgerEvent {
            id: LedgerEventId::new(),
            kind: if step == 0 {
                LedgerEventKind::PositionCreated
            } else {
                LedgerEventKind::PositionStateChanged
            },
            position_id: position.clone(),
            institution_id: institution.clone(),
            at,
            previous_state: (step > 0).then_some(PositionState::Created),
            new_state: PositionState::Funded,
            payload,
            hash: None,
            previous_hash: None,
        };
        let sealed = seal(event, head.take());
        head.clone_from(&sealed.hash);
        out.push(sealed);
    }
    out
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let (mut sealing, mut verifying, mut serialising) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let started = Instant::now();
        let ledger = events(count);
        sealing.push(count as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        let report = verify(&ledger, |_, _| {});
        verifying.push(count as f64 / started.elapsed().as_secs_f64());
        assert!(report.ok, "{report:?}");
        let started = Instant::now();
        let bytes: usize = ledger
            .iter()
            .map(|e| serde_json::to_vec(e).map_or(0, |v| v.len()))
            .sum();
        serialising.push(count as f64 / started.elapsed().as_secs_f64());
        assert!(bytes > 0);
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "events: {count}, repetitions: {reps} (medians)");
    let rows = [
        ("build + seal (write path)", sealing),
        ("verify", verifying),
        ("baseline: JSON serialise", serialising),
    ];
    for (name, samples) in rows {
        let _ = writeln!(out, "{name:<27} {:>12.0} events/s", median(samples));
    }
}
