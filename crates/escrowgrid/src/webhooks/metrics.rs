//! Webhook counters, published into the app's recorder when `/metrics/prometheus` is scraped.

use std::sync::atomic::{AtomicU64, Ordering};

/// Outcomes of delivery attempts and the dead-letter depth.
#[derive(Debug, Default)]
pub struct WebhookMetrics {
    succeeded: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    redriven: AtomicU64,
    dlq_depth: AtomicU64,
}

/// How one delivery step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A receiver answered 2xx.
    Succeeded,
    /// An attempt failed and another one is scheduled.
    Retried,
    /// The last attempt failed: the delivery went to the DLQ.
    DeadLettered,
    /// A re-drive from the DLQ was attempted.
    Redriven,
}

impl WebhookMetrics {
    /// Counts one outcome.
    pub fn record(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Succeeded => &self.succeeded,
            Outcome::Retried => &self.retried,
            Outcome::DeadLettered => &self.dead_lettered,
            Outcome::Redriven => &self.redriven,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the number of unresolved dead-lettered deliveries.
    pub fn set_dlq_depth(&self, depth: u64) {
        self.dlq_depth.store(depth, Ordering::Relaxed);
    }

    /// How many deliveries ended with `outcome` so far.
    #[must_use]
    pub fn count(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Succeeded => &self.succeeded,
            Outcome::Retried => &self.retried,
            Outcome::DeadLettered => &self.dead_lettered,
            Outcome::Redriven => &self.redriven,
        }
        .load(Ordering::Relaxed)
    }

    /// The number of unresolved dead-lettered deliveries last seen.
    #[must_use]
    pub fn dlq_depth(&self) -> u64 {
        self.dlq_depth.load(Ordering::Relaxed)
    }
}
