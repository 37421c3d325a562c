//! Values of the API's `Idempotency-Key` support: stored responses and reservations.
//!
//! One record per (scope, key) goes through two states: **reserved** (a request with this key
//! is running; the reservation expires after a short lease so that a crashed instance frees
//! it) and **completed** (its final response, replayed for [`IDEMPOTENCY_TTL`]). An expired
//! record of either kind is treated as absent and taken by the next reservation.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long a stored idempotent response is replayed: 24 hours.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The default lease of a reservation: 60 seconds. It must exceed the longest time a request
/// may run (the API's request timeout), or a slow request's key could be taken by another.
pub const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(60);

/// A response remembered for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Hash of the request it answered (a replay with another body is a client error).
    pub request_hash: String,
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
    /// When it was stored; it expires [`IDEMPOTENCY_TTL`] later.
    pub created_at: DateTime<Utc>,
}

impl StoredResponse {
    /// Whether it is still replayable at `now`.
    #[must_use]
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at() > now
    }

    /// When it stops being replayed: [`IDEMPOTENCY_TTL`] after `created_at`.
    #[must_use]
    pub fn expires_at(&self) -> DateTime<Utc> {
        expiry(self.created_at, IDEMPOTENCY_TTL)
    }
}

/// The answer to [`super::EscrowStore::idempotency_reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is now reserved for the caller, who runs the request and then calls
    /// `idempotency_complete` (final answer) or `idempotency_release` (anything else).
    Reserved,
    /// A request with the same hash completed: replay its response.
    Replay(StoredResponse),
    /// The key is held (completed, or reserved and unexpired) by a request with another hash.
    Mismatch,
    /// A request with the same hash holds an unexpired reservation: it is still running.
    InProgress,
}

/// `from + duration`, saturating at the latest representable instant, and at least one
/// millisecond after `from` (a record always expires after it was written).
#[must_use]
pub(crate) fn expiry(from: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    let duration = duration.max(Duration::from_millis(1));
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|duration| from.checked_add_signed(duration))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_is_later_than_its_start_and_saturates() {
        let now = crate::domain::now_millis();
        assert_eq!(
            expiry(now, Duration::from_secs(60)),
            now + chrono::Duration::seconds(60)
        );
        assert!(expiry(now, Duration::ZERO) > now);
        assert_eq!(expiry(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn a_response_is_live_for_twenty_four_hours() {
        let now = crate::domain::now_millis();
        let response = |age: chrono::Duration| StoredResponse {
            request_hash: "h".into(),
            status: 201,
            body: Vec::new(),
            created_at: now - age,
        };
        assert!(response(chrono::Duration::hours(23)).is_live(now));
        assert!(!response(chrono::Duration::hours(24)).is_live(now));
    }
}
