//! Rules every stored JSON payload follows, checked identically by every backend.
//!
//! PostgreSQL `jsonb` cannot hold the NUL character (`\u0000`) in a string or an object key,
//! so both backends reject such payloads with [`Error::InvalidInput`] instead of the memory
//! backend accepting what PostgreSQL would refuse.
//!
//! Numbers keep their value but not always their written form in PostgreSQL: `jsonb` stores
//! them as `numeric`, so `1e3` reads back as `1000` (while `0.1`, `1.50` and long decimals
//! keep their digits). Write numbers in plain decimal form when their text matters.

use serde::Serialize;
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
        return Err(nul_error());
    }
    Ok(())
}

/// An event's payload as it is appended: a JSON [`Value`], or the JSON text of a serializable
/// value encoded once ([`Payload::encode`]).
///
/// Encoding skips the `Value` tree a payload would otherwise be built as and then encoded
/// again: the text goes to the backend as it is (PostgreSQL `jsonb` input, the memory log's
/// stored text). Both forms follow the [payload rules](self) and compare by their JSON value.
///
/// ```
/// use gridstore::Payload;
/// use serde_json::json;
///
/// #[derive(serde::Serialize)]
/// struct Step { step: u32 }
///
/// let encoded = Payload::encode(&Step { step: 1 })?;
/// assert_eq!(encoded, Payload::from(json!({"step": 1})));
/// assert!(Payload::encode(&json!({"a": "x\u{0}y"})).is_err());
/// # Ok::<(), gridstore::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Payload(Repr);

#[derive(Clone, Debug)]
enum Repr {
    Value(Value),
    Text(Box<str>),
}

impl Payload {
    /// Encodes `value` as compact JSON text, once.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `value` does not serialize to JSON (a map with non-string
    /// keys, a failing `Serialize`) or holds the NUL character.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        let text = serde_json::to_string(value)
            .map_err(|e| Error::InvalidInput(format!("payload does not serialize: {e}")))?;
        if text_has_nul(text.as_bytes()) {
            return Err(nul_error());
        }
        Ok(Self(Repr::Text(text.into_boxed_str())))
    }

    /// The payload as a JSON value (parsed again when it was encoded).
    ///
    /// # Panics
    /// Never: encoded text is always JSON.
    #[must_use]
    pub fn to_value(&self) -> Value {
        match &self.0 {
            Repr::Value(value) => value.clone(),
            Repr::Text(text) => serde_json::from_str(text).expect("encoded payloads are json"),
        }
    }

    /// The value, or the encoded text.
    pub(crate) fn as_json(&self) -> Json<'_> {
        match &self.0 {
            Repr::Value(value) => Json::Value(value),
            Repr::Text(text) => Json::Text(text),
        }
    }

    /// The compact JSON text (encoding a value now).
    pub(crate) fn to_text(&self) -> Result<Box<str>> {
        match &self.0 {
            Repr::Text(text) => Ok(text.clone()),
            Repr::Value(value) => Ok(serde_json::to_string(value)
                .map_err(|e| Error::InvalidInput(format!("payload does not serialize: {e}")))?
                .into_boxed_str()),
        }
    }

    /// Checks the [payload rules](self); encoded text was checked by [`Payload::encode`].
    pub(crate) fn check_storable(&self) -> Result<()> {
        match &self.0 {
            Repr::Value(value) => check_storable(value),
            Repr::Text(_) => Ok(()),
        }
    }
}

/// A borrowed view of a [`Payload`].
pub(crate) enum Json<'a> {
    Value(&'a Value),
    Text(&'a str),
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Self(Repr::Value(value))
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Value(a), Repr::Value(b)) => a == b,
            (Repr::Text(a), Repr::Text(b)) if a == b => true,
            _ => self.to_value() == other.to_value(),
        }
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        match &self.0 {
            Repr::Value(value) => value == other,
            Repr::Text(_) => &self.to_value() == other,
        }
    }
}

/// Whether JSON text (as serde_json writes it) holds the NUL character, raw or written
/// `\u0000`; a backslash always starts an escape, so escapes are skipped whole.
pub(crate) fn text_has_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            0 => return true,
            b'\\' => {
                if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                    return true;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    false
}

fn nul_error() -> Error {
    Error::InvalidInput("json payload must not contain the nul character".into())
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

    #[test]
    fn a_nul_is_found_in_text_but_not_in_an_escaped_backslash() {
        let nul = serde_json::to_vec(&Value::from("a\0b")).unwrap();
        assert!(text_has_nul(&nul));
        let backslash_u = serde_json::to_vec(&Value::from("a\\u0000b")).unwrap();
        assert!(!text_has_nul(&backslash_u));
        let both = serde_json::to_vec(&Value::from("\\\0")).unwrap();
        assert!(text_has_nul(&both));
        assert!(!text_has_nul(br#"{"a":"\u0001"}"#));
    }

    #[test]
    fn an_encoded_payload_equals_the_value_it_encodes() {
        let encoded = Payload::encode(&json!({"b": [1, "x"], "a": 1.50})).unwrap();
        assert_eq!(encoded, json!({"a": 1.50, "b": [1, "x"]}));
        assert_eq!(encoded, Payload::from(json!({"b": [1, "x"], "a": 1.50})));
        assert_ne!(encoded, json!({"a": 1.50}));
        assert!(Payload::encode(&json!({"k\u{0}": 1})).is_err());
    }
}
