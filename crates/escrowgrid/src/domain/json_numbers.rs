//! Numbers in free-form JSON (asset and transition metadata, template config) in one
//! canonical text, the one PostgreSQL's `jsonb` stores: no exponent, the scale written
//! (`1e3` → `1000`, `1.50` → `1.50`, `2.5e-3` → `0.0025`, `-0` → `0`). Applied before
//! storing, so memory and PostgreSQL keep, and answer, the same metadata (issue 13's property
//! test found `1e3` read back as `1e3` on memory and `1000` on PostgreSQL).

use serde_json::{Number, Value};

/// Rewrites every number in `value` to its canonical text.
pub fn canonicalize_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(canonical) = canonical_number(&number.to_string())
                && let Ok(parsed) = canonical.parse::<Number>()
            {
                *number = parsed;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize_numbers),
        Value::Object(fields) => fields.values_mut().for_each(canonicalize_numbers),
        _ => {}
    }
}

/// The canonical text of a JSON number literal, or `None` if `text` is not one.
fn canonical_number(text: &str) -> Option<String> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (
            mantissa,
            exponent
                .strip_prefix('+')
                .unwrap_or(exponent)
                .parse::<i64>()
                .ok()?,
        ),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Keep absurd exponents as they are rather than writing millions of zeros.
    if exponent.unsigned_abs() > 1000 {
        return None;
    }
    let digits = format!("{int}{frac}");
    let frac_len = i64::try_from(frac.len()).ok()?;
    let scale = usize::try_from((frac_len - exponent).max(0)).ok()?;
    let point = i64::try_from(int.len()).ok()? + exponent;
    let (whole, fraction) = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).ok()?);
        ("0".to_owned(), format!("{zeros}{digits}"))
    } else {
        let point = usize::try_from(point).ok()?;
        if point >= digits.len() {
            (
                format!("{digits}{}", "0".repeat(point - digits.len())),
                String::new(),
            )
        } else {
            (digits[..point].to_owned(), digits[point..].to_owned())
        }
    };
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let mut fraction = fraction;
    fraction.truncate(scale);
    while fraction.len() < scale {
        fraction.push('0');
    }
    let zero = whole == "0" && fraction.bytes().all(|b| b == b'0');
    let sign = if negative && !zero { "-" } else { "" };
    Some(if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_postgresql_jsonb_writes_them() {
        for (input, canonical) in [
            ("1000", "1000"),
            ("1e3", "1000"),
            ("1E+3", "1000"),
            ("1.50", "1.50"),
            ("1.50e1", "15.0"),
            ("2.5e-3", "0.0025"),
            ("0.000001030", "0.000001030"),
            ("-0", "0"),
            ("-0.0", "0.0"),
            ("-12.5", "-12.5"),
            ("007", "7"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
        ] {
            assert_eq!(
                canonical_number(input).as_deref(),
                Some(canonical),
                "{input}"
            );
        }
        assert_eq!(canonical_number("1e99999"), None);
    }

    #[test]
    fn every_number_in_nested_json_is_rewritten() {
        let mut value: Value =
            serde_json::from_str(r#"{"a":[1e3,{"b":2.50E1}],"c":"1e3"}"#).expect("json");
        canonicalize_numbers(&mut value);
        assert_eq!(value.to_string(), r#"{"a":[1000,{"b":25.0}],"c":"1e3"}"#);
    }
}
