//! The ledger's hash chain: every ledger event is sealed with SHA-256 over a canonical
//! encoding of its fields and the hash of the previous event of the same position (one chain
//! per position, so the write path takes no global lock: the position's version check already
//! serialises writes to one position). The encoding is specified in `docs/LEDGER.md`; an
//! auditor's script in another language (`scripts/verify_ledger.py`) reproduces it.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::LedgerEvent;
use crate::domain::time::format_millis;

/// The domain-separation tag that starts every encoded event.
pub const TAG: &str = "escrowgrid-ledger-v1";

/// The hash of `event` chained to `previous` (lowercase hex SHA-256; `None` for the first event
/// of a position). The event's own `hash` and `previous_hash` fields are not read.
#[must_use]
pub fn event_hash(event: &LedgerEvent, previous: Option<&str>) -> String {
    digest([
        TAG,
        previous.unwrap_or(""),
        event.id.as_str(),
        event.kind.as_str(),
        event.position_id.as_str(),
        event.institution_id.as_str(),
        &format_millis(&event.at),
        event.previous_state.map_or("", |state| state.as_str()),
        event.new_state.as_str(),
        &canonical_json(&event.payload),
    ])
}

/// Lowercase hex SHA-256 of `fields`, each as a 4-byte big-endian length and its UTF-8 bytes
/// (the framing of every hash of the ledger).
pub(crate) fn digest<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for field in fields {
        let length = u32::try_from(field.len()).unwrap_or(u32::MAX);
        hasher.update(length.to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Seals `event` as the successor of `previous`: sets its `previous_hash` and `hash`.
#[must_use]
pub fn seal(mut event: LedgerEvent, previous: Option<String>) -> LedgerEvent {
    event.hash = Some(event_hash(&event, previous.as_deref()));
    event.previous_hash = previous;
    event
}

/// Canonical JSON: no whitespace, object keys sorted by code point, strings escaped as
/// `docs/LEDGER.md` says, numbers as canonical decimals ([`canonical_number`]).
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&canonical_number(&number.to_string())),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_json(&fields[key], out);
            }
            out.push('}');
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON number's canonical form: `0` for zero, otherwise an optional `-`, the significant
/// digits without leading or trailing zeros, `e` and the decimal exponent (`100.50` →
/// `1005e-1`, `100` → `1e2`, `7` → `7e0`). Exact for any precision, bounded in length.
#[must_use]
pub fn canonical_number(text: &str) -> String {
    let (negative, rest) = text
        .strip_prefix('-')
        .map_or((false, text), |rest| (true, rest));
    let (mantissa, exponent) = rest
        .split_once(['e', 'E'])
        .map_or((rest, "0"), |(m, e)| (m, e));
    let exponent: i64 = exponent.trim_start_matches('+').parse().unwrap_or(0);
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let fraction_len = i64::try_from(fraction.len()).unwrap_or(0);
    let significant = digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        return "0".to_owned();
    }
    let trailing = i64::try_from(significant.len() - trimmed.len()).unwrap_or(0);
    let exponent = exponent - fraction_len + trailing;
    format!("{}{trimmed}e{exponent}", if negative { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_one_canonical_form_whatever_their_spelling() {
        assert_eq!(canonical_number("100.50"), "1005e-1");
        assert_eq!(canonical_number("100"), "1e2");
        assert_eq!(canonical_number("1e2"), "1e2");
        assert_eq!(canonical_number("7"), "7e0");
        assert_eq!(canonical_number("0.00"), "0");
        assert_eq!(canonical_number("-0"), "0");
        assert_eq!(canonical_number("-0.0012"), "-12e-4");
        assert_eq!(canonical_number("12.5E+3"), "125e2");
    }

    #[test]
    fn canonical_json_sorts_keys_and_escapes_like_the_auditor_script() {
        let value: Value =
            serde_json::from_str(r#"{"b": [1.50, "x\ny\u0001é"], "a": {"d": null, "c": true}}"#)
                .expect("json");
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":true,"d":null},"b":[15e-1,"x\ny\u0001é"]}"#
        );
    }
}
