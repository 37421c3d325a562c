//! Money amounts: exact decimals, never floats.

mod decimal_text;

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use decimal_text::DecimalText;

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

/// The power of ten of the smallest accepted amount, `1e-8`.
const MIN_POWER: i64 = -8;
/// The power of ten of the largest accepted amount, `1e15`.
const MAX_POWER: i64 = 15;

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
        parse_amount_text(&value.to_string())
    }

    /// Parses an amount from a JSON value, which must be a number (strings are rejected).
    /// The number's exact text is used (serde_json `arbitrary_precision`), so no precision is
    /// lost on the way.
    ///
    /// # Errors
    /// [`InvalidAmount`] when the value is not a number or breaks a rule.
    pub fn from_json(value: &Value) -> Result<Self, InvalidAmount> {
        let received = match value {
            Value::Number(number) => return parse_amount_text(&number.to_string()),
            Value::String(_) => "Invalid input: expected number, received string",
            Value::Bool(_) => "Invalid input: expected number, received boolean",
            Value::Null => "Invalid input: expected number, received null",
            Value::Array(_) => "Invalid input: expected number, received array",
            Value::Object(_) => "Invalid input: expected number, received object",
        };
        Err(InvalidAmount {
            messages: vec![received],
        })
    }

    /// The exact decimal value.
    #[must_use]
    pub const fn value(self) -> Decimal {
        self.0
    }
}

/// Every amount rule this exactly written number breaks, in the original's order.
fn violations(text: &DecimalText) -> Vec<&'static str> {
    let mut messages = Vec::new();
    let non_positive = text.negative || text.is_zero();
    if non_positive {
        messages.push(NOT_POSITIVE);
    }
    if non_positive || text.is_below_power_of_ten(MIN_POWER) {
        messages.push(TOO_SMALL);
    }
    if !text.negative && text.is_above_power_of_ten(MAX_POWER) {
        messages.push(TOO_LARGE);
    }
    if text.scale() > i64::from(Amount::MAX_SCALE) {
        messages.push(TOO_PRECISE);
    }
    messages
}

/// Reads an amount from a number's text: the rules are judged on the digits as written, so
/// nothing is rounded before it is checked.
fn parse_amount_text(text: &str) -> Result<Amount, InvalidAmount> {
    let parsed = DecimalText::parse(text).ok_or(InvalidAmount {
        messages: vec![NOT_A_NUMBER],
    })?;
    let messages = violations(&parsed);
    match parsed.to_decimal() {
        Some(value) if messages.is_empty() => Ok(Amount(value.normalize())),
        _ if messages.is_empty() => Err(InvalidAmount {
            messages: vec![TOO_PRECISE],
        }),
        _ => Err(InvalidAmount { messages }),
    }
}

/// Parses a number's text exactly (no rounding), for decimals outside the amount rules
/// (template limits, percentages, tenors).
///
/// # Errors
/// [`InvalidAmount`] when the text is not a number or a `Decimal` cannot hold it exactly.
pub(crate) fn parse_decimal_text(text: &str) -> Result<Decimal, InvalidAmount> {
    let parsed = DecimalText::parse(text).ok_or(InvalidAmount {
        messages: vec![NOT_A_NUMBER],
    })?;
    parsed.to_decimal().ok_or_else(|| InvalidAmount {
        messages: violations(&parsed),
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
        parse_amount_text(s)
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
            vec![TOO_SMALL, TOO_PRECISE]
        );
        assert_eq!(
            Amount::new(dec("1.000000001")).unwrap_err().messages,
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
            vec![TOO_SMALL, TOO_PRECISE]
        );
        assert!(serde_json::from_str::<Amount>("\"10\"").is_err());
        assert!(serde_json::from_str::<Amount>("0").is_err());
        let scientific: Value = serde_json::from_str("1.5e2").unwrap();
        assert_eq!(Amount::from_json(&scientific).unwrap().to_string(), "150");
    }

    #[test]
    fn digits_beyond_a_decimals_precision_are_rejected_not_rounded() {
        for text in [
            "1.00000000000000000000000000001e1",
            "9.99999999999999999999999999999e14",
            "1.0000000000000000000000000000000000001e0",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                Amount::from_json(&value).unwrap_err().messages,
                vec![TOO_PRECISE],
                "{text}"
            );
        }
    }

    #[test]
    fn every_amount_rule_is_reported_like_the_original() {
        let cases: [(&str, &[&str]); 6] = [
            ("1e-9", &[TOO_SMALL, TOO_PRECISE]),
            ("-5", &[NOT_POSITIVE, TOO_SMALL]),
            ("-0", &[NOT_POSITIVE, TOO_SMALL]),
            ("-1e-400", &[NOT_POSITIVE, TOO_SMALL, TOO_PRECISE]),
            ("1E-400", &[TOO_SMALL, TOO_PRECISE]),
            ("1e400", &[TOO_LARGE]),
        ];
        for (text, messages) in cases {
            assert_eq!(
                text.parse::<Amount>().unwrap_err().messages,
                messages,
                "{text}"
            );
        }
        assert_eq!(
            "ten".parse::<Amount>().unwrap_err().messages,
            vec![NOT_A_NUMBER]
        );
        assert_eq!(
            Amount::from_json(&Value::String("10".into()))
                .unwrap_err()
                .messages,
            vec!["Invalid input: expected number, received string"]
        );
        assert_eq!(
            Amount::from_json(&Value::Null).unwrap_err().messages,
            vec!["Invalid input: expected number, received null"]
        );
    }

    #[test]
    fn accepted_amounts_serialize_as_their_exact_decimal() {
        let cases = [
            ("1e-8", "0.00000001"),
            ("0.1", "0.1"),
            ("1000000000000000", "1000000000000000"),
            ("1e15", "1000000000000000"),
            ("12345678901234.12345678", "12345678901234.12345678"),
            ("1.5E+2", "150"),
            ("0.30000000", "0.3"),
        ];
        for (text, expected) in cases {
            let value: Value = serde_json::from_str(text).unwrap();
            let amount = Amount::from_json(&value).unwrap();
            assert_eq!(serde_json::to_string(&amount).unwrap(), expected, "{text}");
            assert_eq!(amount.to_string(), expected, "{text}");
            assert_eq!(Amount::new(amount.value()), Ok(amount), "{text}");
        }
    }
}
