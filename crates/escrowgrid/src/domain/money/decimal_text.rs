//! Exact reading of a decimal number's text (`-12.5`, `1e-8`, `1.5E+2`), never rounding.
//!
//! `Decimal::from_scientific` silently drops digits beyond 28 significant ones
//! (`1.00000000000000000000000000001e1` becomes `10`), so amounts are read here instead: the
//! text is split into sign, significant digits and the position of the decimal point, the
//! amount rules are judged on that exact form, and only then is a `Decimal` built.

use rust_decimal::Decimal;

/// The largest exponent magnitude kept; larger ones saturate (the value is then far out of
/// every accepted range anyway).
const EXPONENT_LIMIT: i64 = 1 << 40;

/// A decimal number as written: `(-1)^negative × 0.digits × 10^point`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DecimalText {
    /// Whether a minus sign was written (`-0` is negative zero).
    pub(super) negative: bool,
    /// The significant digits, without leading or trailing zeros; empty for zero.
    digits: String,
    /// The power of ten of the decimal point, relative to the first significant digit.
    point: i64,
}

impl DecimalText {
    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]`; `None` for anything else.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, parse_exponent(exponent)?),
            None => (unsigned, 0),
        };
        let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = integer.bytes().chain(fraction.bytes());
        if integer.len() + fraction.len() == 0 || !all_digits.clone().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let written: String = all_digits.map(char::from).collect();
        let significant = written.trim_start_matches('0');
        let leading_zeros = length(&written) - length(significant);
        Some(Self {
            negative,
            digits: significant.trim_end_matches('0').to_owned(),
            point: (length(integer) - leading_zeros).saturating_add(exponent),
        })
    }

    /// Whether the number is zero (of either sign).
    pub(super) fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// The number of decimal places the value needs.
    pub(super) fn scale(&self) -> i64 {
        (length(&self.digits) - self.point).max(0)
    }

    /// Whether `|value| < 10^power` (zero included).
    pub(super) fn is_below_power_of_ten(&self, power: i64) -> bool {
        self.is_zero() || self.point <= power
    }

    /// Whether `|value| > 10^power`.
    pub(super) fn is_above_power_of_ten(&self, power: i64) -> bool {
        let at = power.saturating_add(1);
        !self.is_zero() && (self.point > at || (self.point == at && self.digits != "1"))
    }

    /// The exact `Decimal`, or `None` when it cannot hold the value without rounding.
    pub(super) fn to_decimal(&self) -> Option<Decimal> {
        if self.is_zero() {
            return Some(Decimal::ZERO);
        }
        let count = length(&self.digits);
        if self.scale() > i64::from(Decimal::MAX_SCALE) || self.point > 29 {
            return None;
        }
        let zeros = |n: i64| "0".repeat(usize::try_from(n).unwrap_or(0));
        let plain = if self.point <= 0 {
            format!("0.{}{}", zeros(-self.point), self.digits)
        } else if self.point >= count {
            format!("{}{}", self.digits, zeros(self.point - count))
        } else {
            let (integer, fraction) = self
                .digits
                .split_at(usize::try_from(self.point).unwrap_or(0));
            format!("{integer}.{fraction}")
        };
        let sign = if self.negative { "-" } else { "" };
        Decimal::from_str_exact(&format!("{sign}{plain}")).ok()
    }
}

fn length(text: &str) -> i64 {
    i64::try_from(text.len()).unwrap_or(i64::MAX)
}

/// Parses an exponent, saturating huge ones at ±[`EXPONENT_LIMIT`].
fn parse_exponent(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let limit = if text.starts_with('-') {
        -EXPONENT_LIMIT
    } else {
        EXPONENT_LIMIT
    };
    Some(
        text.parse::<i64>()
            .map_or(limit, |e| e.clamp(-EXPONENT_LIMIT, EXPONENT_LIMIT)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(text: &str) -> Option<String> {
        DecimalText::parse(text)
            .and_then(|d| d.to_decimal())
            .map(|d| d.normalize().to_string())
    }

    #[test]
    fn plain_and_scientific_texts_are_read_exactly() {
        let cases = [
            ("0.1", "0.1"),
            ("1e-8", "0.00000001"),
            ("1.5E+2", "150"),
            ("1e15", "1000000000000000"),
            ("100000000000000000000e-5", "1000000000000000"),
            ("12345678901234.12345678", "12345678901234.12345678"),
            ("0.0012300", "0.00123"),
            ("-2.50", "-2.5"),
            ("-0", "0"),
            ("0e99999999999999999999999", "0"),
        ];
        for (text, expected) in cases {
            assert_eq!(exact(text).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn digits_a_decimal_cannot_hold_are_never_rounded_away() {
        for text in [
            "1.00000000000000000000000000001e1",
            "9.99999999999999999999999999999e14",
            "1.000000000000000000000000000001",
            "1e-400",
            "1e400",
            "99999999999999999999999999999999",
        ] {
            assert_eq!(exact(text), None, "{text}");
        }
    }

    #[test]
    fn malformed_texts_are_not_numbers() {
        for text in [
            "", "-", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "1_000", " 1", "NaN",
        ] {
            assert_eq!(DecimalText::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn magnitude_and_scale_are_judged_on_the_written_digits() {
        let tiny = DecimalText::parse("1e-400").unwrap();
        assert!(tiny.is_below_power_of_ten(-8));
        assert_eq!(tiny.scale(), 400);
        let min = DecimalText::parse("0.00000001").unwrap();
        assert!(!min.is_below_power_of_ten(-8));
        assert_eq!(min.scale(), 8);
        let max = DecimalText::parse("1000000000000000.000").unwrap();
        assert!(!max.is_above_power_of_ten(15));
        assert!(
            DecimalText::parse("1.00000000000000000000000000001e15")
                .unwrap()
                .is_above_power_of_ten(15)
        );
        assert!(
            DecimalText::parse("1e99999999999999999999")
                .unwrap()
                .is_above_power_of_ten(15)
        );
    }
}
