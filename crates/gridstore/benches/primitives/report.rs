//! Samples, percentiles and the printed results table.

use std::fmt::Write as _;
use std::time::Duration;

/// Latency percentiles of one measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub samples: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples` (sorted in place).
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        Self {
            samples: samples.len(),
            p50: nearest_rank(samples, 50.0),
            p95: nearest_rank(samples, 95.0),
            p99: nearest_rank(samples, 99.0),
            max: samples.last().copied().unwrap_or_default(),
        }
    }

    /// `p50 / p95 / p99` in milliseconds.
    pub fn describe(&self) -> String {
        format!(
            "p50 {} / p95 {} / p99 {} / max {} ms (n={})",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max),
            self.samples
        )
    }
}

/// The nearest-rank percentile `pct` of sorted `samples` (zero when empty).
fn nearest_rank(sorted: &[Duration], pct: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (NaN when empty); sorts in place.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The median duration of `values`; sorts in place.
pub fn median_duration(values: &mut [Duration]) -> Duration {
    let mut secs: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    let value = median(&mut secs);
    if value.is_finite() {
        Duration::from_secs_f64(value)
    } else {
        Duration::ZERO
    }
}

/// A duration in milliseconds with three decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1000.0)
}

/// A rate with thousands separators, e.g. `51,234/s`.
pub fn rate(per_second: f64) -> String {
    if !per_second.is_finite() {
        return "n/a".to_owned();
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = per_second.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str("/s");
    out
}

/// Whether a target is met, or not judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    Info,
}

impl Verdict {
    /// `Met` when `ok`, else `Missed`.
    pub fn from_bool(ok: bool) -> Self {
        if ok { Self::Met } else { Self::Missed }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "**missed**",
            Self::Info => "-",
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub measurement: String,
    pub gridstore: String,
    pub baseline: String,
    pub ratio: Option<f64>,
    pub target: String,
    pub verdict: Verdict,
}

/// The results, printed as a Markdown table at the end (and as each row arrives).
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
}

impl Report {
    /// Records a row and prints it at once, so progress is visible.
    pub fn push(&mut self, row: Row) {
        println!(
            "  -> {}: {} | baseline {} | {}",
            row.measurement,
            row.gridstore,
            row.baseline,
            row.verdict.label()
        );
        self.rows.push(row);
    }

    /// The table in Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "| measurement | gridstore | baseline | ratio | target | verdict |\n|---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            let ratio = row
                .ratio
                .map_or_else(|| "-".to_owned(), |r| format!("{:.0}%", r * 100.0));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.measurement,
                row.gridstore,
                row.baseline,
                ratio,
                row.target,
                row.verdict.label()
            );
        }
        out
    }
}
