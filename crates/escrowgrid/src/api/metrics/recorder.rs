//! [`AppMetrics`]: the `taas_*` series of one application instance, on its own Prometheus
//! recorder (see [`crate::observability`]).
//!
//! Fixed series are cached handles (atomics). The per-request series (by status, by method,
//! latency by method and route) are registered once per route, method and status and then
//! kept in [`RequestSeries`]: building labelled keys and finding them in the recorder's
//! registry cost ~1 µs per request.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString,
};
use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};
use serde_json::Value;

use super::snapshot::Snapshot;
use super::stream::StreamMetrics;
use crate::observability::{self, prometheus_recorder};
use crate::store::{PoolStatus, TransitionWays};
use crate::webhooks::WebhookMetrics;
use crate::webhooks::metrics::Outcome;

pub(super) const REQUESTS: &str = "taas_requests_total";
pub(super) const ERRORS: &str = "taas_requests_errors_total";
pub(super) const BY_STATUS: &str = "taas_requests_status_total";
pub(super) const BY_METHOD: &str = "taas_requests_method_total";
pub(super) const AVERAGE_MS: &str = "taas_requests_duration_average_ms";
pub(super) const DURATION: &str = "taas_http_request_duration_seconds";
const STORE_ERRORS: &str = "taas_store_errors_total";

/// Every `taas_*` series with its help text (the `# HELP` lines).
const DESCRIPTIONS: [(&str, &str); 18] = [
    (REQUESTS, "Total number of HTTP requests"),
    (
        ERRORS,
        "Total number of HTTP requests answered with a 5xx status",
    ),
    (BY_STATUS, "HTTP requests by status code"),
    (BY_METHOD, "HTTP requests by method"),
    (AVERAGE_MS, "Average HTTP request duration in milliseconds"),
    (
        DURATION,
        "HTTP request latency by method and route template",
    ),
    (STORE_ERRORS, "Store errors by kind"),
    (
        "taas_db_pool_max_size",
        "Configured maximum number of database connections",
    ),
    ("taas_db_pool_size", "Open database connections"),
    ("taas_db_pool_idle", "Idle database connections"),
    (
        "taas_db_pool_in_use",
        "Database connections checked out of the pool",
    ),
    (
        "taas_db_pool_waiting",
        "Requests waiting for a database connection",
    ),
    (
        super::stream::CLIENTS,
        "Connected GET /events/stream clients",
    ),
    (super::stream::DELIVERED, "Events handed to stream clients"),
    (
        super::stream::OVERFLOWS,
        "Stream clients disconnected for falling behind their bounded queue",
    ),
    (
        super::stream::LAG,
        "Outbox lag: from an event's commit (recorded_at) to its hand-over to a stream client",
    ),
    (
        "taas_webhook_deliveries_total",
        "Webhook delivery steps by outcome",
    ),
    (
        "taas_webhook_dlq_depth",
        "Dead-lettered webhook deliveries not yet resolved",
    ),
];

pub(super) static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// The `taas_*` series of one application instance.
#[derive(Debug)]
pub struct AppMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: Counter,
    errors: Counter,
    series: RequestSeries,
    /// The live event stream's series.
    pub stream: StreamMetrics,
}

impl Default for AppMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl AppMetrics {
    /// A fresh recorder with every fixed series at zero. Also installs the process-wide
    /// recorder if nothing has yet, so gridstore's series are served too.
    #[must_use]
    pub fn new() -> Self {
        let _ = observability::global_metrics();
        let recorder = prometheus_recorder();
        for (name, help) in DESCRIPTIONS {
            recorder.describe_counter(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(help),
            );
        }
        let handle = recorder.handle();
        let requests = recorder.register_counter(&Key::from_static_name(REQUESTS), &METADATA);
        let errors = recorder.register_counter(&Key::from_static_name(ERRORS), &METADATA);
        let stream = StreamMetrics::new(&recorder);
        Self {
            recorder,
            handle,
            requests,
            errors,
            series: RequestSeries::default(),
            stream,
        }
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    /// Records one finished request. `route` is the matched path template.
    pub fn record_request(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        self.requests.increment(1);
        if status >= 500 {
            self.errors.increment(1);
        }
        let seconds = elapsed.as_secs_f64();
        if !self.series.record(route, method, status, seconds) {
            let handles = RouteSeries::register(self, route, method, status);
            handles.record(seconds);
            self.series.insert(route, handles);
        }
    }

    /// Counts one store error of the given kind.
    pub fn record_store_error(&self, kind: &'static str) {
        self.counter(STORE_ERRORS, vec![Label::from_static_parts("kind", kind)])
            .increment(1);
    }

    /// Folds buffered histogram samples into their buckets (bounded memory between scrapes).
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The `/metrics` JSON document (the original's shape), from this recorder.
    pub fn snapshot_json(&self) -> Value {
        Snapshot::parse(&self.handle.render()).to_json()
    }

    /// The Prometheus text exposition: this app's `taas_*` series (pool gauges and webhook
    /// counters read now), then the process-wide series (`gridstore_*`, ...).
    pub fn render_prometheus(
        &self,
        pool: Option<PoolStatus>,
        webhooks: Option<&WebhookMetrics>,
    ) -> String {
        if let Some(pool) = pool {
            self.set_pool(pool);
        }
        if let Some(webhooks) = webhooks {
            self.set_webhooks(webhooks);
        }
        let average = Snapshot::parse(&self.handle.render()).average_ms();
        self.gauge(AVERAGE_MS, Vec::new()).set(average);
        let mut text = self.handle.render();
        if let Some(global) = observability::global_metrics() {
            text.push_str(&global.render());
        }
        text
    }

    /// Sets `taas_position_transitions_total{way}` to the store's counts (read at scrape
    /// time, like the pool's gauges).
    pub fn set_transition_ways(&self, ways: TransitionWays) {
        for (way, count) in [
            ("kept", ways.kept),
            ("read", ways.read),
            ("locked", ways.locked),
        ] {
            let labels = vec![Label::from_static_parts("way", way)];
            self.counter("taas_position_transitions_total", labels)
                .absolute(count);
        }
    }

    #[allow(clippy::cast_precision_loss)] // pool sizes are far below 2^52
    fn set_pool(&self, pool: PoolStatus) {
        let in_use = pool.size.saturating_sub(pool.idle);
        for (name, value) in [
            ("taas_db_pool_max_size", pool.max_size),
            ("taas_db_pool_size", pool.size),
            ("taas_db_pool_idle", pool.idle),
            ("taas_db_pool_in_use", in_use),
            ("taas_db_pool_waiting", pool.waiting),
        ] {
            self.gauge(name, Vec::new()).set(value as f64);
        }
    }

    #[allow(clippy::cast_precision_loss)] // a queue depth far below 2^52
    fn set_webhooks(&self, webhooks: &WebhookMetrics) {
        for (label, outcome) in [
            ("succeeded", Outcome::Succeeded),
            ("retried", Outcome::Retried),
            ("dead_lettered", Outcome::DeadLettered),
            ("redriven", Outcome::Redriven),
        ] {
            let labels = vec![Label::from_static_parts("outcome", label)];
            self.counter("taas_webhook_deliveries_total", labels)
                .absolute(webhooks.count(outcome));
        }
        self.gauge("taas_webhook_dlq_depth", Vec::new())
            .set(webhooks.dlq_depth() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_transition_ways_are_counters_by_way() {
        let metrics = AppMetrics::new();
        metrics.set_transition_ways(TransitionWays {
            kept: 5,
            read: 2,
            locked: 1,
        });
        let text = metrics.render_prometheus(None, None);
        for expected in [
            "# TYPE taas_position_transitions_total counter",
            "taas_position_transitions_total{way=\"kept\"} 5",
            "taas_position_transitions_total{way=\"read\"} 2",
            "taas_position_transitions_total{way=\"locked\"} 1",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
    }

    #[test]
    fn the_prometheus_text_has_the_original_series_and_route_histograms() {
        let metrics = AppMetrics::new();
        metrics.record_request("GET", "/positions/{id}", 200, Duration::from_millis(3));
        metrics.record_store_error("not_found");
        let text = metrics.render_prometheus(
            Some(PoolStatus {
                max_size: 16,
                size: 2,
                idle: 1,
                waiting: 0,
            }),
            None,
        );
        for expected in [
            "# TYPE taas_requests_total counter",
            "taas_requests_total 1",
            "taas_requests_errors_total 0",
            "taas_requests_status_total{status=\"200\"} 1",
            "taas_requests_method_total{method=\"GET\"} 1",
            "# TYPE taas_requests_duration_average_ms gauge",
            "taas_requests_duration_average_ms 3",
            "taas_http_request_duration_seconds_bucket{method=\"GET\",route=\"/positions/{id}\",le=\"0.005\"} 1",
            "taas_http_request_duration_seconds_bucket{method=\"GET\",route=\"/positions/{id}\",le=\"0.001\"} 0",
            "taas_http_request_duration_seconds_count{method=\"GET\",route=\"/positions/{id}\"} 1",
            "taas_store_errors_total{kind=\"not_found\"} 1",
            "taas_db_pool_max_size 16",
            "taas_db_pool_in_use 1",
            "taas_db_pool_waiting 0",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn two_apps_in_one_process_do_not_share_counters() {
        let first = AppMetrics::new();
        let second = AppMetrics::new();
        first.record_request("GET", "/health", 200, Duration::from_millis(1));
        first.record_request("GET", "/health", 503, Duration::from_millis(1));
        assert_eq!(first.snapshot_json()["totalRequests"], 2);
        assert_eq!(first.snapshot_json()["totalErrors"], 1);
        assert_eq!(second.snapshot_json()["totalRequests"], 0);
        assert!(
            second
                .render_prometheus(None, None)
                .contains("taas_requests_total 0\n")
        );
    }

    #[test]
    fn webhook_counters_are_published_at_scrape_time() {
        let metrics = AppMetrics::new();
        let webhooks = WebhookMetrics::default();
        webhooks.record(Outcome::Succeeded);
        webhooks.record(Outcome::Succeeded);
        webhooks.set_dlq_depth(3);
        let text = metrics.render_prometheus(None, Some(&webhooks));
        assert!(
            text.contains("taas_webhook_deliveries_total{outcome=\"succeeded\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("taas_webhook_deliveries_total{outcome=\"retried\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("taas_webhook_dlq_depth 3\n"), "{text}");
    }
}

/// The per-request series' handles by route template, then method and status (see the module
/// docs). Bounded: route templates and methods are fixed sets, statuses three digits.
#[derive(Debug, Default)]
struct RequestSeries(RwLock<HashMap<String, Vec<RouteSeries>>>);

impl RequestSeries {
    /// Records one request in its series; `false` when they are not registered yet.
    fn record(&self, route: &str, method: &'static str, status: u16, seconds: f64) -> bool {
        let routes = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let found = routes.get(route).and_then(|series| {
            series
                .iter()
                .find(|s| s.method == method && s.status == status)
        });
        found.map(|series| series.record(seconds)).is_some()
    }

    fn insert(&self, route: &str, series: RouteSeries) {
        let mut routes = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let list = routes.entry(route.to_owned()).or_default();
        if !list
            .iter()
            .any(|s| s.method == series.method && s.status == series.status)
        {
            list.push(series);
        }
    }
}

/// The handles one request of a route, method and status updates.
#[derive(Debug)]
struct RouteSeries {
    method: &'static str,
    status: u16,
    by_status: Counter,
    by_method: Counter,
    duration: Histogram,
}

impl RouteSeries {
    fn register(metrics: &AppMetrics, route: &str, method: &'static str, status: u16) -> Self {
        let labels = vec![
            Label::from_static_parts("method", method),
            Label::new("route", route.to_owned()),
        ];
        Self {
            method,
            status,
            by_status: metrics.counter(BY_STATUS, vec![Label::new("status", status.to_string())]),
            by_method: metrics.counter(BY_METHOD, vec![Label::from_static_parts("method", method)]),
            duration: metrics
                .recorder
                .register_histogram(&Key::from_parts(DURATION, labels), &METADATA),
        }
    }

    fn record(&self, seconds: f64) {
        self.by_status.increment(1);
        self.by_method.increment(1);
        self.duration.record(seconds);
    }
}
