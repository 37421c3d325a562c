//! One run of the load levels: each level's HTTP load and, on PostgreSQL, the pgbench baseline
//! of the same transactions at the same client count, right after it.
//!
//! With `--slices n` each level's HTTP load and its baseline alternate in `n` slices of
//! `--duration-secs / n` whole seconds, summed: a drift of the machine (the disk's fsync
//! latency, a neighbour's load) then falls on both sides of the share instead of on one.

use std::time::Duration;

use crate::args::{Args, Load};
use crate::load::{self, Fixture, LevelOutcome};
use crate::pgbench::{self, BaselineOutcome};
use crate::report::{self, Row};
use crate::{BoxError, progress, stats};

/// pgbench needs one server connection per client; testkit servers allow 200 in total.
const PGBENCH_MAX_CLIENTS: usize = 150;

/// A pgbench variant: (with the outbox, with the hash chain, row name).
type Variant = (bool, bool, &'static str);

/// Measures every load at every client count on `fixture`; with `database_url`, the pgbench
/// baseline too (beside the pairs load, or the first load when pairs are not measured). HTTP
/// rows first, then the baseline's, each in the order of the levels.
pub(crate) async fn measure(
    args: &Args,
    backend: &'static str,
    fixture: &Fixture,
    database_url: Option<&str>,
) -> Result<Vec<Row>, BoxError> {
    let slices = args.slices.max(1);
    let slice_secs = args.duration_secs / u64::try_from(slices)?;
    if slice_secs == 0 {
        return Err("--duration-secs must be at least --slices (whole seconds per slice)".into());
    }
    let slice = Duration::from_secs(slice_secs);
    let baseline = match (database_url, args.no_pgbench) {
        (Some(url), false) => Some(Baseline {
            url,
            pgbench: pgbench::find()
                .ok_or("pgbench not found; install postgresql-client or pass --no-pgbench")?,
            ids: pgbench::BaselineIds::of(fixture),
            variants: variants(args),
        }),
        _ => None,
    };
    let with_baseline = args
        .loads
        .iter()
        .position(|load| *load == Load::Pairs)
        .unwrap_or(0);
    let (mut rows, mut baseline_rows) = (Vec::new(), Vec::new());
    for (index, load) in args.loads.iter().enumerate() {
        let pairs = *load == Load::Pairs;
        let name = if pairs { "pairs" } else { "creates" };
        for &clients in &args.clients {
            let baseline = baseline
                .as_ref()
                .filter(|_| index == with_baseline && clients <= PGBENCH_MAX_CLIENTS);
            let variants = baseline.map_or(&[][..], |b| &b.variants[..]);
            let mut http: Option<LevelOutcome> = None;
            let mut bases: Vec<Option<Measured>> = variants.iter().map(|_| None).collect();
            for _ in 0..slices {
                progress(&format!("{backend}: {name} with {clients} clients"));
                let outcome = load::run_level(fixture, clients, slice, pairs).await?;
                add(&mut http, outcome, LevelOutcome::absorb);
                let Some(b) = baseline else { continue };
                for (variant, sum) in variants.iter().zip(&mut bases) {
                    progress(&format!("{backend}: {} with {clients} clients", variant.2));
                    let measured = b.run(fixture, clients, slice, *variant).await?;
                    add(sum, measured, Measured::absorb);
                }
            }
            let http = http.ok_or("no slice measured")?;
            rows.push(report::http_row(backend, name, clients, pairs, http));
            for (variant, measured) in variants.iter().zip(bases) {
                let measured = measured.ok_or("no slice measured")?;
                baseline_rows.push(measured.row(backend, variant.2, clients));
            }
        }
    }
    rows.extend(baseline_rows);
    Ok(rows)
}

/// Adds a slice's `next` to the `sum` of the slices before it (the first slice is the sum).
fn add<T>(sum: &mut Option<T>, next: T, absorb: fn(&mut T, T)) {
    match sum {
        Some(sum) => absorb(sum, next),
        None => *sum = Some(next),
    }
}

/// The store's transactions, then what they cost without the outbox or without the hash
/// chain, as asked.
fn variants(args: &Args) -> Vec<Variant> {
    let mut variants = vec![(true, true, "pgbench")];
    if args.outbox_cost {
        variants.push((false, true, "pgbench-no-outbox"));
    }
    if args.hash_cost {
        variants.push((true, false, "pgbench-no-hash"));
    }
    variants
}

/// Where and how the baseline runs.
struct Baseline<'a> {
    url: &'a str,
    pgbench: std::path::PathBuf,
    ids: pgbench::BaselineIds,
    variants: Vec<Variant>,
}

impl Baseline<'_> {
    /// One pgbench run of `variant` for `duration`, with the cluster's CPU meanwhile.
    async fn run(
        &self,
        fixture: &Fixture,
        clients: usize,
        duration: Duration,
        (outbox, hashing, _): Variant,
    ) -> Result<Measured, BoxError> {
        let db_before = fixture.db_pid.and_then(stats::cluster_cpu);
        let (url, ids, pgbench) = (self.url.to_owned(), self.ids.clone(), self.pgbench.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            pgbench::run(
                &pgbench,
                &url,
                &ids,
                clients,
                pgbench::Limit::Duration(duration),
                outbox,
                hashing,
            )
        })
        .await??;
        let db_cpu = fixture
            .db_pid
            .and_then(stats::cluster_cpu)
            .zip(db_before)
            .map(|(after, before)| after.saturating_sub(before));
        Ok(Measured { outcome, db_cpu })
    }
}

/// A baseline's outcome and the cluster's CPU meanwhile, summed over slices.
struct Measured {
    outcome: BaselineOutcome,
    db_cpu: Option<Duration>,
}

impl Measured {
    fn absorb(&mut self, other: Self) {
        self.outcome.absorb(other.outcome);
        self.db_cpu = self.db_cpu.zip(other.db_cpu).map(|(a, b)| a + b);
    }

    fn row(mut self, backend: &'static str, load: &'static str, clients: usize) -> Row {
        let b = &mut self.outcome;
        Row {
            backend,
            load,
            clients,
            pairs_per_s: Some(b.tps),
            creates_per_s: b.tps,
            create_ms: None,
            transition_ms: None,
            pair_ms: report::quantiles(&mut b.pair_latency),
            cpu_us_per_request: None,
            db_cpu_us_per_op: self.db_cpu.and_then(|cpu| report::per_op(cpu, b.pairs)),
            errors: b.failed,
        }
    }
}
