//! [`EventPosition`]: where an event sits in commit order.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The position of an event in commit order: `(tx_id, seq)`, compared lexicographically.
///
/// Serializes as `{"tx_id": .., "seq": ..}` and displays as `tx_id:seq` (parsable again with
/// [`FromStr`]), so it can be stored as a consumer checkpoint.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct EventPosition {
    tx_id: u64,
    seq: i64,
}

impl EventPosition {
    /// The position before every event: subscribing from here replays the whole log.
    pub const START: Self = Self { tx_id: 0, seq: 0 };

    /// Builds a position from its parts.
    pub const fn new(tx_id: u64, seq: i64) -> Self {
        Self { tx_id, seq }
    }

    /// The id of the transaction that wrote the event.
    pub const fn tx_id(self) -> u64 {
        self.tx_id
    }

    /// The event's sequence number (unique, assigned at insert time).
    pub const fn seq(self) -> i64 {
        self.seq
    }
}

impl fmt::Display for EventPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.tx_id, self.seq)
    }
}

impl FromStr for EventPosition {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidInput(format!("event position {s:?} is not tx_id:seq"));
        let (tx, seq) = s.split_once(':').ok_or_else(invalid)?;
        Ok(Self {
            tx_id: tx.parse().map_err(|_| invalid())?,
            seq: seq.parse().map_err(|_| invalid())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_transaction_then_sequence() {
        let a = EventPosition::new(5, 100);
        let b = EventPosition::new(6, 1);
        assert!(EventPosition::START < a);
        assert!(a < b);
        assert!(EventPosition::new(5, 101) > a);
    }

    #[test]
    fn positions_round_trip_through_display_and_json() {
        let pos = EventPosition::new(77, 12);
        assert_eq!(pos.to_string().parse::<EventPosition>().ok(), Some(pos));
        let json = serde_json::to_value(pos).expect("serialize");
        assert_eq!(json, serde_json::json!({"tx_id": 77, "seq": 12}));
        assert!("12".parse::<EventPosition>().is_err());
    }
}
