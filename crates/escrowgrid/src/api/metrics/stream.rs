//! Metrics of the live event stream (`GET /events/stream`): connected clients, events
//! delivered, clients cut off for falling behind, and the outbox lag (how long after an event
//! was recorded it was handed to a stream client).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Upper bounds (seconds) of the lag histogram buckets.
const LAG_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Counters and gauges of the event stream; lock-free except for the lag histogram.
#[derive(Debug, Default)]
pub struct StreamMetrics {
    clients: AtomicI64,
    delivered: AtomicU64,
    overflows: AtomicU64,
    lag: Mutex<LagHistogram>,
}

#[derive(Debug, Default)]
struct LagHistogram {
    buckets: [u64; LAG_BUCKETS.len()],
    count: u64,
    sum_secs: f64,
}

impl StreamMetrics {
    /// A client connected.
    pub fn client_connected(&self) {
        self.clients.fetch_add(1, Ordering::Relaxed);
    }

    /// A client's stream ended (disconnect, overflow or shutdown).
    pub fn client_disconnected(&self) {
        self.clients.fetch_sub(1, Ordering::Relaxed);
    }

    /// Connected clients now.
    pub fn clients(&self) -> i64 {
        self.clients.load(Ordering::Relaxed)
    }

    /// A client was cut off because its queue was full.
    pub fn overflowed(&self) {
        self.overflows.fetch_add(1, Ordering::Relaxed);
    }

    /// Clients cut off so far for falling behind.
    pub fn overflows(&self) -> u64 {
        self.overflows.load(Ordering::Relaxed)
    }

    /// One event handed to a client, `lag_secs` after it was recorded.
    pub fn delivered(&self, lag_secs: f64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let mut lag = self.lag.lock().unwrap_or_else(PoisonError::into_inner);
        lag.count += 1;
        lag.sum_secs += lag_secs;
        for (slot, bound) in lag.buckets.iter_mut().zip(LAG_BUCKETS) {
            if lag_secs <= bound {
                *slot += 1;
            }
        }
    }

    /// Appends the `taas_events_stream_*` series to a Prometheus text exposition.
    pub fn render(&self, out: &mut String) {
        let simple = [
            (
                "taas_events_stream_clients",
                "Connected GET /events/stream clients",
                "gauge",
                self.clients().to_string(),
            ),
            (
                "taas_events_stream_delivered_total",
                "Events handed to stream clients",
                "counter",
                self.delivered.load(Ordering::Relaxed).to_string(),
            ),
            (
                "taas_events_stream_overflows_total",
                "Stream clients disconnected for falling behind their bounded queue",
                "counter",
                self.overflows().to_string(),
            ),
        ];
        for (name, help, kind, value) in simple {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        let name = "taas_events_stream_lag_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Outbox lag: from an event's commit (recorded_at) to its hand-over \
             to a stream client\n# TYPE {name} histogram"
        );
        let lag = self.lag.lock().unwrap_or_else(PoisonError::into_inner);
        for (bound, n) in LAG_BUCKETS.iter().zip(lag.buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", lag.count);
        let _ = writeln!(out, "{name}_sum {}", lag.sum_secs);
        let _ = writeln!(out, "{name}_count {}", lag.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_series_count_clients_deliveries_overflows_and_lag() {
        let metrics = StreamMetrics::default();
        metrics.client_connected();
        metrics.client_connected();
        metrics.client_disconnected();
        metrics.overflowed();
        metrics.delivered(0.02);
        let mut text = String::new();
        metrics.render(&mut text);
        for expected in [
            "# TYPE taas_events_stream_clients gauge",
            "taas_events_stream_clients 1",
            "taas_events_stream_delivered_total 1",
            "taas_events_stream_overflows_total 1",
            "taas_events_stream_lag_seconds_bucket{le=\"0.01\"} 0",
            "taas_events_stream_lag_seconds_bucket{le=\"0.025\"} 1",
            "taas_events_stream_lag_seconds_count 1",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}
