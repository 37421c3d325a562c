//! Reads the few `taas_*` values the JSON `/metrics` needs back out of the recorder's own
//! Prometheus text, so the JSON and the text always agree (one source of truth).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::recorder::{BY_METHOD, BY_STATUS, DURATION, ERRORS, REQUESTS};

/// The values of one rendering that `/metrics` reports.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Snapshot {
    total: f64,
    errors: f64,
    by_status: BTreeMap<String, f64>,
    by_method: BTreeMap<String, f64>,
    duration_sum_secs: f64,
    duration_count: f64,
}

impl Snapshot {
    /// Parses a text exposition (format 0.0.4), keeping only the series it reports.
    pub(super) fn parse(text: &str) -> Self {
        let mut snapshot = Self::default();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}').unwrap_or(rest)),
                None => (series, ""),
            };
            match name {
                REQUESTS => snapshot.total = value,
                ERRORS => snapshot.errors = value,
                BY_STATUS => {
                    if let Some(status) = label(labels, "status") {
                        snapshot.by_status.insert(status, value);
                    }
                }
                BY_METHOD => {
                    if let Some(method) = label(labels, "method") {
                        snapshot.by_method.insert(method, value);
                    }
                }
                _ if name.strip_prefix(DURATION) == Some("_sum") => {
                    snapshot.duration_sum_secs += value;
                }
                _ if name.strip_prefix(DURATION) == Some("_count") => {
                    snapshot.duration_count += value;
                }
                _ => {}
            }
        }
        snapshot
    }

    /// The mean request duration in milliseconds (0 before the first request).
    pub(super) fn average_ms(&self) -> f64 {
        if self.duration_count == 0.0 {
            0.0
        } else {
            self.duration_sum_secs * 1000.0 / self.duration_count
        }
    }

    /// The original service's `/metrics` document.
    pub(super) fn to_json(&self) -> Value {
        let counts = |map: &BTreeMap<String, f64>| -> Map<String, Value> {
            map.iter()
                .map(|(key, n)| (key.clone(), json!(whole(*n))))
                .collect()
        };
        json!({
            "totalRequests": whole(self.total),
            "totalErrors": whole(self.errors),
            "requestsByStatus": counts(&self.by_status),
            "requestsByMethod": counts(&self.by_method),
            "averageDurationMs": self.average_ms(),
        })
    }
}

/// A counter value as the integer it is.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // counters are whole, >= 0
fn whole(value: f64) -> u64 {
    value as u64
}

/// The value of label `key` in `k="v",...` (the values this module reads need no unescaping:
/// status codes and method names).
fn label(labels: &str, key: &str) -> Option<String> {
    labels.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendering_becomes_the_original_json_document() {
        let text = "\
# TYPE taas_requests_total counter
taas_requests_total 3
taas_requests_errors_total 1
taas_requests_status_total{status=\"200\"} 2
taas_requests_status_total{status=\"500\"} 1
taas_requests_method_total{method=\"GET\"} 3
taas_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"+Inf\"} 2
taas_http_request_duration_seconds_sum{method=\"GET\",route=\"/a\"} 0.004
taas_http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 2
taas_http_request_duration_seconds_sum{method=\"GET\",route=\"/b\"} 0.002
taas_http_request_duration_seconds_count{method=\"GET\",route=\"/b\"} 1
";
        let json = Snapshot::parse(text).to_json();
        assert_eq!(json["totalRequests"], 3);
        assert_eq!(json["totalErrors"], 1);
        assert_eq!(json["requestsByStatus"], json!({ "200": 2, "500": 1 }));
        assert_eq!(json["requestsByMethod"], json!({ "GET": 3 }));
        let average = json["averageDurationMs"].as_f64().unwrap_or_default();
        assert!((average - 2.0).abs() < 1e-9, "{average}");
    }

    #[test]
    fn an_empty_rendering_reports_zeros() {
        let json = Snapshot::parse("").to_json();
        assert_eq!(json["totalRequests"], 0);
        assert_eq!(json["averageDurationMs"].as_f64(), Some(0.0));
    }
}
