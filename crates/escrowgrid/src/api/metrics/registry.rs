//! The in-process metrics registry and its Prometheus text rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use crate::store::PoolStatus;

/// Upper bounds (seconds) of the per-route latency histogram buckets.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Request counters, per-route latency histograms and store errors by kind.
#[derive(Debug, Default)]
pub struct MetricsRegistry {
    inner: Mutex<Counters>,
    /// The live event stream's series.
    pub stream: super::stream::StreamMetrics,
}

#[derive(Debug, Default)]
struct Counters {
    total: u64,
    errors: u64,
    total_duration_ms: f64,
    by_status: BTreeMap<u16, u64>,
    by_method: BTreeMap<String, u64>,
    routes: BTreeMap<(String, String), Histogram>,
    store_errors: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_secs: f64,
}

impl MetricsRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one finished request. `route` is the matched path template.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut counters = self.lock();
        counters.total += 1;
        if status >= 500 {
            counters.errors += 1;
        }
        counters.total_duration_ms += secs * 1000.0;
        *counters.by_status.entry(status).or_default() += 1;
        *counters.by_method.entry(method.to_owned()).or_default() += 1;
        let histogram = counters
            .routes
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        histogram.count += 1;
        histogram.sum_secs += secs;
        for (slot, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *slot += 1;
            }
        }
    }

    /// Counts one store error of the given kind.
    pub fn record_store_error(&self, kind: &'static str) {
        *self.lock().store_errors.entry(kind).or_default() += 1;
    }

    /// The `/metrics` JSON document (the original's shape).
    pub fn snapshot_json(&self) -> Value {
        let counters = self.lock();
        let by_status: serde_json::Map<String, Value> = counters
            .by_status
            .iter()
            .map(|(status, n)| (status.to_string(), json!(n)))
            .collect();
        let by_method: serde_json::Map<String, Value> = counters
            .by_method
            .iter()
            .map(|(method, n)| (method.clone(), json!(n)))
            .collect();
        json!({
            "totalRequests": counters.total,
            "totalErrors": counters.errors,
            "requestsByStatus": by_status,
            "requestsByMethod": by_method,
            "averageDurationMs": average_ms(&counters),
        })
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render_prometheus(&self, pool: Option<PoolStatus>) -> String {
        let counters = self.lock();
        let mut out = String::new();
        metric_header(
            &mut out,
            "taas_requests_total",
            "Total number of HTTP requests",
            "counter",
        );
        line(&mut out, "taas_requests_total", "", counters.total);
        metric_header(
            &mut out,
            "taas_requests_errors_total",
            "Total number of HTTP requests answered with a 5xx status",
            "counter",
        );
        line(&mut out, "taas_requests_errors_total", "", counters.errors);
        metric_header(
            &mut out,
            "taas_requests_status_total",
            "HTTP requests by status code",
            "counter",
        );
        for (status, n) in &counters.by_status {
            line(
                &mut out,
                "taas_requests_status_total",
                &format!("status=\"{status}\""),
                n,
            );
        }
        metric_header(
            &mut out,
            "taas_requests_method_total",
            "HTTP requests by method",
            "counter",
        );
        for (method, n) in &counters.by_method {
            let labels = format!("method=\"{}\"", escape(method));
            line(&mut out, "taas_requests_method_total", &labels, n);
        }
        metric_header(
            &mut out,
            "taas_requests_duration_average_ms",
            "Average HTTP request duration in milliseconds",
            "gauge",
        );
        line(
            &mut out,
            "taas_requests_duration_average_ms",
            "",
            average_ms(&counters),
        );
        render_histograms(&mut out, &counters);
        metric_header(
            &mut out,
            "taas_store_errors_total",
            "Store errors by kind",
            "counter",
        );
        for (kind, n) in &counters.store_errors {
            line(
                &mut out,
                "taas_store_errors_total",
                &format!("kind=\"{kind}\""),
                n,
            );
        }
        if let Some(pool) = pool {
            render_pool(&mut out, pool);
        }
        drop(counters);
        self.stream.render(&mut out);
        out
    }
}

fn average_ms(counters: &Counters) -> f64 {
    if counters.total == 0 {
        return 0.0;
    }
    counters.total_duration_ms / counters.total as f64
}

fn render_histograms(out: &mut String, counters: &Counters) {
    let name = "taas_http_request_duration_seconds";
    metric_header(
        out,
        name,
        "HTTP request latency by method and route template",
        "histogram",
    );
    for ((method, route), histogram) in &counters.routes {
        let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
        for (bound, n) in BUCKETS.iter().zip(histogram.buckets) {
            let bucket = format!("{labels},le=\"{bound}\"");
            line(out, &format!("{name}_bucket"), &bucket, n);
        }
        line(
            out,
            &format!("{name}_bucket"),
            &format!("{labels},le=\"+Inf\""),
            histogram.count,
        );
        line(out, &format!("{name}_sum"), &labels, histogram.sum_secs);
        line(out, &format!("{name}_count"), &labels, histogram.count);
    }
}

fn render_pool(out: &mut String, pool: PoolStatus) {
    let gauges = [
        (
            "taas_db_pool_max_size",
            "Configured maximum number of database connections",
            pool.max_size,
        ),
        ("taas_db_pool_size", "Open database connections", pool.size),
        ("taas_db_pool_idle", "Idle database connections", pool.idle),
        (
            "taas_db_pool_waiting",
            "Requests waiting for a database connection",
            pool.waiting,
        ),
    ];
    for (name, help, value) in gauges {
        metric_header(out, name, help, "gauge");
        line(out, name, "", value);
    }
}

fn metric_header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn line(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_snapshot_counts_requests_errors_statuses_and_methods() {
        let registry = MetricsRegistry::default();
        registry.record_request("GET", "/health", 200, Duration::from_millis(2));
        registry.record_request("POST", "/positions", 500, Duration::from_millis(4));
        let snapshot = registry.snapshot_json();
        assert_eq!(snapshot["totalRequests"], json!(2));
        assert_eq!(snapshot["totalErrors"], json!(1));
        assert_eq!(snapshot["requestsByStatus"]["500"], json!(1));
        assert_eq!(snapshot["requestsByMethod"]["GET"], json!(1));
        assert_eq!(snapshot["averageDurationMs"].as_f64(), Some(3.0));
    }

    #[test]
    fn the_prometheus_text_has_the_original_series_and_route_histograms() {
        let registry = MetricsRegistry::default();
        registry.record_request("GET", "/positions/{id}", 200, Duration::from_millis(3));
        registry.record_store_error("not_found");
        let text = registry.render_prometheus(Some(PoolStatus {
            max_size: 16,
            size: 2,
            idle: 1,
            waiting: 0,
        }));
        for expected in [
            "# TYPE taas_requests_total counter",
            "taas_requests_total 1",
            "taas_requests_errors_total 0",
            "taas_requests_status_total{status=\"200\"} 1",
            "taas_requests_method_total{method=\"GET\"} 1",
            "# TYPE taas_requests_duration_average_ms gauge",
            "taas_http_request_duration_seconds_bucket{method=\"GET\",route=\"/positions/{id}\",le=\"0.005\"} 1",
            "taas_http_request_duration_seconds_bucket{method=\"GET\",route=\"/positions/{id}\",le=\"0.001\"} 0",
            "taas_http_request_duration_seconds_count{method=\"GET\",route=\"/positions/{id}\"} 1",
            "taas_store_errors_total{kind=\"not_found\"} 1",
            "taas_db_pool_max_size 16",
            "taas_db_pool_waiting 0",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
