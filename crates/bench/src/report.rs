//! Result rows, medians over runs, and the printed table.

use std::fmt::Write as _;
use std::time::Duration;

/// One measured configuration (medians over runs once [`Row::median_of`] is applied).
#[derive(Debug, Clone)]
pub struct Row {
    /// `memory` or `postgres`.
    pub backend: &'static str,
    /// `pairs`, `creates` or `pgbench`.
    pub load: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// Complete create + transition pairs per second (pairs and pgbench loads).
    pub pairs_per_s: Option<f64>,
    /// Successful creates per second.
    pub creates_per_s: f64,
    /// Create latency p50 / p99 in ms.
    pub create_ms: Option<(f64, f64)>,
    /// Transition latency p50 / p99 in ms.
    pub transition_ms: Option<(f64, f64)>,
    /// Pair latency p50 / p99 in ms.
    pub pair_ms: Option<(f64, f64)>,
    /// CPU microseconds of this process (load generator + in-process server) per request.
    pub cpu_us_per_request: Option<f64>,
    /// CPU microseconds of the PostgreSQL cluster per pair (per create for the creates load),
    /// when the run started the cluster.
    pub db_cpu_us_per_op: Option<f64>,
    /// Unexpected responses or failed pgbench transactions.
    pub errors: u64,
}

impl Row {
    /// The field-wise median of the same configuration measured in several runs.
    pub fn median_of(runs: &[Row]) -> Option<Row> {
        let first = runs.first()?;
        let med = |f: &dyn Fn(&Row) -> Option<f64>| {
            let mut v: Vec<f64> = runs.iter().filter_map(f).collect();
            crate::stats::median(&mut v)
        };
        let pair = |f: &dyn Fn(&Row) -> Option<(f64, f64)>| {
            Some((med(&|r| f(r).map(|p| p.0))?, med(&|r| f(r).map(|p| p.1))?))
        };
        Some(Row {
            backend: first.backend,
            load: first.load,
            clients: first.clients,
            pairs_per_s: med(&|r| r.pairs_per_s),
            creates_per_s: med(&|r| Some(r.creates_per_s)).unwrap_or(0.0),
            create_ms: pair(&|r| r.create_ms),
            transition_ms: pair(&|r| r.transition_ms),
            pair_ms: pair(&|r| r.pair_ms),
            cpu_us_per_request: med(&|r| r.cpu_us_per_request),
            db_cpu_us_per_op: med(&|r| r.db_cpu_us_per_op),
            errors: runs.iter().map(|r| r.errors).sum(),
        })
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

fn lat(v: Option<(f64, f64)>) -> String {
    v.map_or_else(
        || "-".to_owned(),
        |(p50, p99)| format!("{p50:.2} / {p99:.2}"),
    )
}

/// Renders rows as a Markdown table, followed by HTTP/pgbench ratios for PostgreSQL.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| backend | load | clients | pairs/s | creates/s | create p50 / p99 ms | \
         transition p50 / p99 ms | pair p50 / p99 ms | CPU µs/request | PostgreSQL CPU µs/pair | \
         errors |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.backend,
            r.load,
            r.clients,
            num(r.pairs_per_s),
            num(Some(r.creates_per_s)),
            lat(r.create_ms),
            lat(r.transition_ms),
            lat(r.pair_ms),
            num(r.cpu_us_per_request),
            num(r.db_cpu_us_per_op),
            r.errors
        );
    }
    let ratios: Vec<String> = rows
        .iter()
        .filter(|r| r.backend == "postgres" && r.load == "pairs")
        .filter_map(|http| {
            let base = rows
                .iter()
                .find(|b| b.load == "pgbench" && b.clients == http.clients)?;
            let ratio = http.pairs_per_s? / base.pairs_per_s?;
            Some(format!("{} clients: {:.0}%", http.clients, ratio * 100.0))
        })
        .collect();
    let outbox: Vec<String> = rows
        .iter()
        .filter(|r| r.load == "pgbench")
        .filter_map(|with| {
            let without = rows
                .iter()
                .find(|b| b.load == "pgbench-no-outbox" && b.clients == with.clients)?;
            let ratio = with.pairs_per_s? / without.pairs_per_s?;
            Some(format!("{} clients: {:.0}%", with.clients, ratio * 100.0))
        })
        .collect();
    if !outbox.is_empty() {
        let _ = writeln!(
            out,
            "\npgbench pairs/s with the outbox append as a share of without it: {}",
            outbox.join(", ")
        );
    }
    if !ratios.is_empty() {
        let _ = writeln!(
            out,
            "\nPostgreSQL HTTP pairs/s as a share of the pgbench baseline: {}",
            ratios.join(", ")
        );
    }
    out
}

/// The row of one HTTP level.
pub fn http_row(
    backend: &'static str,
    load: &'static str,
    clients: usize,
    pairs: bool,
    mut o: crate::load::LevelOutcome,
) -> Row {
    let secs = o.elapsed.as_secs_f64().max(1e-9);
    #[allow(clippy::cast_precision_loss)]
    let per_s = |n: u64| n as f64 / secs;
    Row {
        backend,
        load,
        clients,
        pairs_per_s: pairs.then(|| per_s(o.transitions)),
        creates_per_s: per_s(o.creates),
        create_ms: quantiles(&mut o.create_latency),
        transition_ms: quantiles(&mut o.transition_latency),
        pair_ms: quantiles(&mut o.pair_latency),
        #[allow(clippy::cast_precision_loss)]
        cpu_us_per_request: o
            .cpu
            .filter(|_| o.creates + o.transitions > 0)
            .map(|cpu| cpu.as_secs_f64() * 1e6 / (o.creates + o.transitions) as f64),
        db_cpu_us_per_op: o
            .db_cpu
            .and_then(|cpu| per_op(cpu, if pairs { o.transitions } else { o.creates })),
        errors: o.errors.values().sum(),
    }
}

/// Microseconds of `cpu` per operation (a pair, or a create), `None` without operations.
pub fn per_op(cpu: Duration, ops: u64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (ops > 0).then(|| cpu.as_secs_f64() * 1e6 / ops as f64)
}

/// p50 and p99 in ms, `None` without samples.
pub fn quantiles(s: &mut crate::stats::Samples) -> Option<(f64, f64)> {
    Some((s.quantile_ms(0.5)?, s.quantile_ms(0.99)?))
}
