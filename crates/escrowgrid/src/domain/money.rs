//! Money amounts: exact decimals, never floats.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A positive amount of money: `0 < amount ≤ 1e15` with at most 8 decimal places.
///
/// The value is kept normalized (no trailing zeros), so an amount read back from a
/// `NUMERIC(32,8)` column equals and serializes like the one written. It serializes as an exact
/// JSON number (`12345678901234.12345678`, never a float approximation) and deserializes only
/// from a JSON number (a string is rejected), read from its exact text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Amount(Decimal);

/// Why a decimal is not a valid [`Amount`]; carries every violated rule's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid amount: {}", .messages.join("; ").to_lowercase())]
pub struct InvalidAmount {
    /// The user-facing messages, as the original service words them.
    pub messages: Vec<&'static str>,
}

const NOT_POSITIVE: &str = "Amount must be positive";
const TOO_SMALL: &str = "Amount must be at least 1e-8";
const TOO_LARGE: &str = "Amount must not exceed 1000000000000000";
const TOO_PRECISE: &str = "Amount must have at most 8 decimal places";
const NOT_A_NUMBER: &str = "Invalid input: expected number";

impl Amount {
    /// The maximum number of decimal places.
    pub const MAX_SCALE: u32 = 8;

    /// The largest accepted amount, `1e15`.
    #[must_use]
    pub fn max_value() -> Decimal {
        Decimal::from(1_000_000_000_000_000_i64)
    }

    /// Validates a decimal and normalizes it.
    ///
    /// # Errors
    /// [`InvalidAmount`] listing every violated rule.
    pub fn new(value: Decimal) -> Result<Self, InvalidAmount> {
        let value = value.normalize();
        let mut messages = Vec::new();
        if value <= Decimal::ZERO {
            messages.push(NOT_POSITIVE);
            messages.push(TOO_SMALL);
        }
        if value > Self::max_value() {
            messages.push(TOO_LARGE);
        }
        if value.scale() > Self::MAX_SCALE {
            messages.push(TOO_PRECISE);
        }
        if messages.is_empty() {
            Ok(Self(value))
        } else {
            Err(InvalidAmount { messages })
        }
    }

    /// Parses an amount from a JSON value, which must be a number (strings are rejected).
    /// The number's exact text is used (serde_json `arbitrary_precision`), so no precision is
    /// lost on the way.
    ///
    /// # Errors
    /// [`InvalidAmount`] when the value is not a number or breaks a rule.
    pub fn from_json(value: &Value) -> Result<Self, InvalidAmount> {
        let Value::Number(number) = value else {
            return Err(InvalidAmount {
                messages: vec![NOT_A_NUMBER],
            });
        };
        Self::new(parse_decimal_text(&number.to_string())?)
    }

    /// The exact decimal value.
    #[must_use]
    pub const fn value(self) -> Decimal {
        self.0
    }
}

/// Parses a JSON number's text exactly, classifying values a `Decimal` cannot hold.
pub(crate) fn parse_decimal_text(text: &str) -> Result<Decimal, InvalidAmount> {
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    parsed.map_err(|_| {
        let integer_digits = text
            .trim_start_matches('-')
            .split(['.', 'e', 'E'])
            .next()
            .map_or(0, str::len);
        let message = if text.starts_with('-') {
            NOT_POSITIVE
        } else if integer_digits > 16 || text.contains(['e', 'E']) && !text.contains("e-") {
            TOO_LARGE
        } else {
            TOO_PRECISE
        };
        InvalidAmount {
            messages: vec![message],
        }
    })
}

impl TryFrom<Decimal> for Amount {
    type Error = InvalidAmount;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Amount> for Decimal {
    fn from(amount: Amount) -> Self {
        amount.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Amount {
    type Err = InvalidAmount;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(parse_decimal_text(s)?)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    #[test]
    fn the_largest_precise_amount_serializes_exactly() {
        let amount: Amount = "12345678901234.12345678".parse().unwrap();
        let json = serde_json::to_string(&amount).unwrap();
        assert_eq!(json, "12345678901234.12345678");
        assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), amount);
        let value: Value = serde_json::from_str("12345678901234.12345678").unwrap();
        assert_eq!(Amount::from_json(&value).unwrap(), amount);
    }

    #[test]
    fn amounts_are_normalized_so_numeric_columns_round_trip() {
        let stored = Amount::new(dec("100.50000000")).unwrap();
        assert_eq!(serde_json::to_string(&stored).unwrap(), "100.5");
        assert_eq!(stored, Amount::new(dec("100.5")).unwrap());
    }

    #[test]
    fn zero_and_negative_amounts_are_rejected() {
        assert_eq!(
            Amount::new(Decimal::ZERO).unwrap_err().messages,
            vec![NOT_POSITIVE, TOO_SMALL]
        );
        assert!(Amount::new(dec("-1")).is_err());
    }

    #[test]
    fn bounds_and_precision_are_enforced() {
        assert!(Amount::new(dec("0.00000001")).is_ok());
        assert!(Amount::new(dec("1000000000000000")).is_ok());
        assert_eq!(
            Amount::new(dec("1000000000000000.00000001"))
                .unwrap_err()
                .messages,
            vec![TOO_LARGE]
        );
        assert_eq!(
            Amount::new(dec("0.000000001")).unwrap_err().messages,
            vec![TOO_PRECISE]
        );
    }

    #[test]
    fn json_amounts_must_be_numbers_and_huge_ones_are_classified() {
        assert!(Amount::from_json(&Value::String("10".into())).is_err());
        let huge: Value = serde_json::from_str("1e40").unwrap();
        assert_eq!(
            Amount::from_json(&huge).unwrap_err().messages,
            vec![TOO_LARGE]
        );
        let long: Value = serde_json::from_str("123456789012345678901234567890123").unwrap();
        assert_eq!(
            Amount::from_json(&long).unwrap_err().messages,
            vec![TOO_LARGE]
        );
        let tiny: Value = serde_json::from_str("0.0000000000000000000000000000001").unwrap();
        assert_eq!(
            Amount::from_json(&tiny).unwrap_err().messages,
            vec![TOO_PRECISE]
        );
        assert!(serde_json::from_str::<Amount>("\"10\"").is_err());
        assert!(serde_json::from_str::<Amount>("0").is_err());
        let scientific: Value = serde_json::from_str("1.5e2").unwrap();
        assert_eq!(Amount::from_json(&scientific).unwrap().to_string(), "150");
    }
}
