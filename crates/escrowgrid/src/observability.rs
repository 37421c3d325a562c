//! Observability plumbing shared by the binary and the API: the Prometheus recorders.
//!
//! There is **one metrics pipeline**, `metrics-exporter-prometheus`, with two kinds of
//! recorder:
//!
//! - the **process-wide** recorder, installed once as the `metrics` facade's global recorder
//!   ([`global_metrics`]): gridstore reports through the facade (`gridstore_*`,
//!   `replica_lag_seconds`), and so does anything else in the process;
//! - one **per application instance** ([`prometheus_recorder`], owned by
//!   [`AppMetrics`](crate::api::metrics::AppMetrics)) for the `taas_*` series, so that tests
//!   that start several apps in one process never share request counters.
//!
//! `/metrics/prometheus` renders the app's recorder followed by the global one; the JSON
//! `/metrics` is computed from the app's recorder. Series names, labels and the alert rules
//! over them: `docs/OBSERVABILITY.md`.

#[cfg(feature = "otlp")]
pub mod otlp;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Bucket bounds (seconds) of latency histograms: HTTP requests and gridstore operations.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bucket bounds (seconds) of lag histograms (event stream hand-over after commit).
pub const LAG_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Histograms whose names end like this use [`LAG_BUCKETS`]; every other one
/// [`LATENCY_BUCKETS`].
const LAG_SUFFIX: &str = "_lag_seconds";

/// How often a server drains histogram samples into their buckets between scrapes, so memory
/// stays bounded when nobody scrapes.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A recorder with the project's histogram buckets (real Prometheus histograms, so that
/// `histogram_quantile` works; the exporter would otherwise render summaries).
#[must_use]
pub fn prometheus_recorder() -> PrometheusRecorder {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix(LAG_SUFFIX.to_owned()), &LAG_BUCKETS)
        .and_then(|builder| builder.set_buckets(&LATENCY_BUCKETS));
    match builder {
        Ok(builder) => builder.build_recorder(),
        // Unreachable: the bucket lists above are not empty.
        Err(_) => PrometheusBuilder::new().build_recorder(),
    }
}

/// The process-wide recorder's handle, installing it as the facade's global recorder on the
/// first call. `None` when another global recorder was installed first (then the `gridstore_*`
/// series go there, not to `/metrics/prometheus`).
pub fn global_metrics() -> Option<&'static PrometheusHandle> {
    static GLOBAL: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let recorder = prometheus_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(_) => {
                    tracing::warn!(
                        "another metrics recorder is installed; gridstore series will not be served"
                    );
                    None
                }
            }
        })
        .as_ref()
}
