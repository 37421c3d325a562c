//! Rules every stored JSON payload follows, checked identically by every backend.
//!
//! PostgreSQL `jsonb` cannot hold the NUL character (`\u0000`) in a string or an object key,
//! so both backends reject such payloads with [`Error::InvalidInput`] instead of the memory
//! backend accepting what PostgreSQL would refuse.
//!
//! Arrays and objects nest at most [`MAX_DEPTH`] (127) levels deep, the most serde_json reads
//! back from JSON text, so every stored payload can be read back.
//!
//! Numbers keep their value but not always their written form in PostgreSQL: `jsonb` stores
//! them as `numeric`, so `1e3` reads back as `1000` (while `0.1`, `1.50` and long decimals
//! keep their digits). Write numbers in plain decimal form when their text matters.

use serde::Serialize;
use serde_json::Value;

use crate::{Error, Result};

/// The deepest nesting of arrays and objects a payload may have: the most serde_json reads
/// back from JSON text (its recursion limit is 128). A deeper payload could be stored but never
/// read back.
pub const MAX_DEPTH: usize = 127;

/// Checks that `value` can be stored by every backend (see the module docs).
pub(crate) fn check_storable(value: &Value) -> Result<()> {
    let mut pending = vec![(value, 0_usize)];
    while let Some((value, depth)) = pending.pop() {
        match value {
            Value::String(s) => reject_nul(s)?,
            Value::Array(items) => {
                let depth = nested(depth)?;
                pending.extend(items.iter().map(|item| (item, depth)));
            }
            Value::Object(map) => {
                let depth = nested(depth)?;
                for (key, item) in map {
                    reject_nul(key)?;
                    pending.push((item, depth));
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    Ok(())
}

/// The depth inside one more array or object, if allowed.
fn nested(depth: usize) -> Result<usize> {
    if depth >= MAX_DEPTH {
        return Err(Error::InvalidInput(format!(
            "json payload must not nest arrays and objects more than {MAX_DEPTH} deep"
        )));
    }
    Ok(depth + 1)
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
    /// [`Error::InvalidInput`] when `value` does not serialize to JSON (a map whose keys are
    /// not strings, numbers or booleans, a failing `Serialize`), holds the NUL character or
    /// nests deeper than [`MAX_DEPTH`].
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        let text = serde_json::to_string(value)
            .map_err(|e| Error::InvalidInput(format!("payload does not serialize: {e}")))?;
        check_text(text.as_bytes())?;
        Ok(Self(Repr::Text(text.into_boxed_str())))
    }

    /// The payload as a JSON value (parsed again when it was encoded).
    ///
    /// # Panics
    /// Never: encoded text is JSON that [`Payload::encode`] checked to be readable.
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

/// Checks JSON text as serde_json writes it: no NUL character (raw or written `\u0000`; a
/// backslash always starts an escape, so escapes are skipped whole) and no nesting deeper than
/// [`MAX_DEPTH`] (brackets outside strings).
pub(crate) fn check_text(json: &[u8]) -> Result<()> {
    let (mut depth, mut in_string, mut i) = (0_usize, false, 0);
    while i < json.len() {
        match json[i] {
            0 => return Err(nul_error()),
            b'\\' => {
                if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                    return Err(nul_error());
                }
                i += 1;
            }
            b'"' => in_string = !in_string,
            b'[' | b'{' if !in_string => depth = nested(depth)?,
            b']' | b'}' if !in_string => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
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
        let has_nul = |v: &Value| check_text(&serde_json::to_vec(v).unwrap()).is_err();
        assert!(has_nul(&Value::from("a\0b")));
        assert!(!has_nul(&Value::from("a\\u0000b")));
        assert!(has_nul(&Value::from("\\\0")));
        assert!(check_text(br#"{"a":"\u0001"}"#).is_ok());
    }

    #[test]
    fn payloads_nest_exactly_as_deep_as_serde_json_reads_back() {
        for depth in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let readable = serde_json::from_str::<Value>(&text).is_ok();
            assert_eq!(
                check_text(text.as_bytes()).is_ok(),
                readable,
                "depth {depth}"
            );
            assert_eq!(readable, depth <= MAX_DEPTH, "depth {depth}");
            let quoted = format!("[\"{}\"]", "[{".repeat(depth));
            assert!(
                check_text(quoted.as_bytes()).is_ok(),
                "brackets inside strings"
            );
        }
        let mut deep = json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = json!({ "k": deep });
        }
        assert!(check_storable(&deep).is_err());
        assert!(Payload::encode(&deep).is_err());
        assert!(check_storable(&deep["k"]).is_ok());
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
