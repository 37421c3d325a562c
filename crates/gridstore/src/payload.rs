//! Rules every stored JSON payload follows, checked identically by every backend.
//!
//! PostgreSQL `jsonb` cannot hold the NUL character (`\u0000`) in a string or an object key,
//! so both backends reject such payloads with [`Error::InvalidInput`] instead of the memory
//! backend accepting what PostgreSQL would refuse.
//!
//! Numbers keep their value but not always their written form in PostgreSQL: `jsonb` stores
//! them as `numeric`, so `1e3` reads back as `1000` (while `0.1`, `1.50` and long decimals
//! keep their digits). Write numbers in plain decimal form when their text matters.

use serde_json::Value;

use crate::{Error, Result};

/// Checks that `value` can be stored by every backend (see the module docs).
pub(crate) fn check_storable(value: &Value) -> Result<()> {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(s) => reject_nul(s)?,
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                for (key, item) in map {
                    reject_nul(key)?;
                    pending.push(item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    Ok(())
}

fn reject_nul(s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::InvalidInput(
            "json payload must not contain the nul character".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_nul_character_anywhere_is_rejected() {
        assert!(check_storable(&json!({"a": ["ok", {"b": "x\u{0}y"}]})).is_err());
        assert!(check_storable(&json!({"k\u{0}": 1})).is_err());
        assert!(check_storable(&json!({"a": [1, null, true, "fine ✓"]})).is_ok());
    }
}
