//! Dispatcher settings (`WEBHOOKS_*`) and the retry schedule.

use std::time::Duration;

/// The default delays between attempts: 1 s, 5 s, 30 s, 2 min, 10 min (six attempts).
pub const DEFAULT_RETRY_SCHEDULE_MS: [u64; 5] = [1_000, 5_000, 30_000, 120_000, 600_000];

/// How the dispatcher runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// This instance's name as a lease holder (unique per process).
    pub instance: String,
    /// How many endpoints this instance dispatches at once (`WEBHOOKS_CONCURRENCY`).
    pub concurrency: usize,
    /// How many positions (lanes) of one endpoint are delivered at once.
    pub endpoint_parallelism: usize,
    /// Delays before the 2nd, 3rd, ... attempt (`WEBHOOKS_RETRY_SCHEDULE_MS`).
    pub retry_schedule: Vec<Duration>,
    /// Per-attempt timeout (`WEBHOOKS_TIMEOUT_MS`, 10 s).
    pub timeout: Duration,
    /// Lease length; extended every third of it while a worker runs.
    pub lease_ttl: Duration,
    /// How often the dispatcher looks for endpoints and a worker for re-drives.
    pub refresh_interval: Duration,
    /// A worker idle this long gives its endpoint back (so others get a turn).
    pub idle_release: Duration,
    /// Events per subscription read.
    pub batch_size: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            instance: format!("escrowgrid-{}", uuid::Uuid::new_v4()),
            concurrency: 64,
            endpoint_parallelism: 8,
            retry_schedule: DEFAULT_RETRY_SCHEDULE_MS
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
            timeout: Duration::from_secs(10),
            lease_ttl: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(1),
            idle_release: Duration::from_secs(30),
            batch_size: 100,
        }
    }
}

impl WebhookSettings {
    /// The delay before attempt `attempt + 1` (after `attempt` failures, counted from 1), with
    /// jitter: the scheduled delay times a random factor in [0.5, 1.0]. `None` once the
    /// schedule is exhausted.
    #[must_use]
    pub fn retry_delay(&self, failures: u32, jitter: f64) -> Option<Duration> {
        let index = usize::try_from(failures).ok()?.checked_sub(1)?;
        let base = *self.retry_schedule.get(index)?;
        Some(base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
    }
}

/// Parses `WEBHOOKS_RETRY_SCHEDULE_MS`: a comma list of milliseconds.
///
/// # Errors
/// A message when an entry is not a number.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{part:?} is not a number of milliseconds"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_the_schedule_with_jitter_and_end_with_it() {
        let settings = WebhookSettings::default();
        assert_eq!(settings.retry_delay(1, 1.0), Some(Duration::from_secs(1)));
        assert_eq!(
            settings.retry_delay(1, 0.0),
            Some(Duration::from_millis(500))
        );
        assert_eq!(settings.retry_delay(5, 1.0), Some(Duration::from_secs(600)));
        assert_eq!(settings.retry_delay(6, 1.0), None);
        assert_eq!(settings.retry_delay(0, 1.0), None);
    }

    #[test]
    fn schedules_parse_from_comma_lists() {
        assert_eq!(
            parse_schedule("10, 20,30").unwrap(),
            vec![
                Duration::from_millis(10),
                Duration::from_millis(20),
                Duration::from_millis(30)
            ]
        );
        assert!(parse_schedule("10,x").is_err());
        assert!(parse_schedule("").unwrap().is_empty());
    }
}
