//! One pass over a JSON body before it is parsed: refuses what would be ambiguous or what the
//! PostgreSQL backend could not store, so that both backends answer alike.
//!
//! - A **duplicate key** in any object, nested too (`{"amount":1,"amount":1000000}`): serde
//!   would keep the last one silently; for a money API an ambiguous body is refused.
//! - A **NUL character** (`\u0000`) in any string or key: PostgreSQL `text` cannot store it
//!   (SQLSTATE 22021) nor `jsonb` (22P05). It is the only such character: serde_json already
//!   refuses lone surrogates, and every other Unicode scalar value is storable in UTF-8.
//!
//! Numbers are not touched (with `arbitrary_precision` they arrive as their exact text), so the
//! exactness of amounts is unaffected. Syntax errors are left to the real parse, which reports
//! them with the parser's position.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::domain::FieldError;

/// The message for a NUL character in a string, key or query parameter.
pub const NUL_MESSAGE: &str = "Invalid input: text must not contain NUL (\\u0000) characters";
/// The message for a key that appears twice in one object.
pub const DUPLICATE_MESSAGE: &str = "Invalid input: duplicate key in JSON object";

/// The key under which serde_json hands out a number's text with `arbitrary_precision`.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Checks `bytes`: `Ok` when the document is free of duplicate keys and NUL characters (or is
/// not JSON at all: the real parse reports that), `Err(Some(field error))` for the first defect.
pub fn check(bytes: &[u8]) -> Result<(), Option<FieldError>> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let seed = Check {
        path: String::new(),
        found: &found,
    };
    match seed.deserialize(&mut deserializer) {
        Ok(()) => Ok(()),
        Err(_) => Err(found.into_inner()),
    }
}

/// `text` with NUL characters written as `\u0000`, for field names in error details.
pub fn printable(text: &str) -> String {
    text.replace('\0', "\\u0000")
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}.{segment}")
    }
}

struct Check<'a> {
    path: String,
    found: &'a RefCell<Option<FieldError>>,
}

impl Check<'_> {
    fn fail<E: serde::de::Error>(&self, field: String, message: &str) -> E {
        *self.found.borrow_mut() = Some(FieldError::new(field, message));
        E::custom("body check")
    }

    fn child(&self, segment: &str) -> Check<'_> {
        Check {
            path: join(&self.path, segment),
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        if text.contains('\0') {
            return Err(self.fail(self.path.clone(), NUL_MESSAGE));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0_usize;
        while seq
            .next_element_seed(self.child(&index.to_string()))?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == NUMBER_TOKEN {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let field = join(&self.path, &printable(&key));
            if key.contains('\0') {
                return Err(self.fail(field, NUL_MESSAGE));
            }
            if !seen.insert(key.clone()) {
                return Err(self.fail(field, DUPLICATE_MESSAGE));
            }
            map.next_value_seed(self.child(&key))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defect(body: &str) -> Option<(String, String)> {
        check(body.as_bytes())
            .err()
            .flatten()
            .map(|e| (e.field, e.message))
    }

    #[test]
    fn a_clean_body_passes_with_exact_numbers_untouched() {
        assert_eq!(
            check(br#"{"a":12345678901234.12345678,"b":[1,{"c":"x"}],"d":null}"#),
            Ok(())
        );
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        assert_eq!(
            defect(r#"{"amount":1,"amount":1000000}"#),
            Some(("amount".into(), DUPLICATE_MESSAGE.into()))
        );
        assert_eq!(
            defect(r#"{"position":{"minAmount":1,"minAmount":2}}"#),
            Some(("position.minAmount".into(), DUPLICATE_MESSAGE.into()))
        );
        assert_eq!(
            defect(r#"{"m":[{"k":1},{"k":1,"k":2}]}"#),
            Some(("m.1.k".into(), DUPLICATE_MESSAGE.into()))
        );
        assert_eq!(
            defect(r#"{"a":"x","\u0061":"y"}"#),
            Some(("a".into(), DUPLICATE_MESSAGE.into()))
        );
    }

    #[test]
    fn nul_characters_are_found_in_values_and_keys() {
        assert_eq!(
            defect(r#"{"name":"a\u0000b"}"#),
            Some(("name".into(), NUL_MESSAGE.into()))
        );
        assert_eq!(
            defect(r#"{"metadata":{"k\u0000":1}}"#),
            Some(("metadata.k\\u0000".into(), NUL_MESSAGE.into()))
        );
        assert_eq!(
            defect(r#"{"config":{"list":["ok","\u0000"]}}"#),
            Some(("config.list.1".into(), NUL_MESSAGE.into()))
        );
    }

    #[test]
    fn syntax_errors_are_left_to_the_real_parse() {
        assert_eq!(check(b"{\"a\":"), Err(None));
    }
}
