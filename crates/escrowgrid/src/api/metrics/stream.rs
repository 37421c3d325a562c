//! Metrics of the live event stream (`GET /events/stream`): connected clients, events
//! delivered, clients cut off for falling behind, and the outbox lag (how long after an event
//! was recorded it was handed to a stream client). Handles on the app's recorder: atomics,
//! no lock.

use metrics::{Counter, Gauge, Histogram, Key, Recorder};
use metrics_exporter_prometheus::PrometheusRecorder;

pub(super) const CLIENTS: &str = "taas_events_stream_clients";
pub(super) const DELIVERED: &str = "taas_events_stream_delivered_total";
pub(super) const OVERFLOWS: &str = "taas_events_stream_overflows_total";
pub(super) const LAG: &str = "taas_events_stream_lag_seconds";

/// Counters, gauge and lag histogram of the event stream.
#[derive(Debug)]
pub struct StreamMetrics {
    clients: Gauge,
    delivered: Counter,
    overflows: Counter,
    lag: Histogram,
}

impl StreamMetrics {
    pub(super) fn new(recorder: &PrometheusRecorder) -> Self {
        let metadata = &super::recorder::METADATA;
        let metrics = Self {
            clients: recorder.register_gauge(&Key::from_static_name(CLIENTS), metadata),
            delivered: recorder.register_counter(&Key::from_static_name(DELIVERED), metadata),
            overflows: recorder.register_counter(&Key::from_static_name(OVERFLOWS), metadata),
            lag: recorder.register_histogram(&Key::from_static_name(LAG), metadata),
        };
        metrics.clients.set(0.0);
        metrics
    }

    /// A client connected.
    pub fn client_connected(&self) {
        self.clients.increment(1.0);
    }

    /// A client's stream ended (disconnect, overflow or shutdown).
    pub fn client_disconnected(&self) {
        self.clients.decrement(1.0);
    }

    /// A client was cut off because its queue was full.
    pub fn overflowed(&self) {
        self.overflows.increment(1);
    }

    /// One event handed to a client, `lag_secs` after it was recorded.
    pub fn delivered(&self, lag_secs: f64) {
        self.delivered.increment(1);
        self.lag.record(lag_secs);
    }
}

#[cfg(test)]
mod tests {
    use super::super::AppMetrics;

    #[test]
    fn the_stream_series_count_clients_deliveries_overflows_and_lag() {
        let metrics = AppMetrics::new();
        metrics.stream.client_connected();
        metrics.stream.client_connected();
        metrics.stream.client_disconnected();
        metrics.stream.overflowed();
        metrics.stream.delivered(0.02);
        let text = metrics.render_prometheus(None, None);
        for expected in [
            "# TYPE taas_events_stream_clients gauge",
            "taas_events_stream_clients 1\n",
            "taas_events_stream_delivered_total 1\n",
            "taas_events_stream_overflows_total 1\n",
            "taas_events_stream_lag_seconds_bucket{le=\"0.01\"} 0\n",
            "taas_events_stream_lag_seconds_bucket{le=\"0.025\"} 1\n",
            "taas_events_stream_lag_seconds_count 1\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
