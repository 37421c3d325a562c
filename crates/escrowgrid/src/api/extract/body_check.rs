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
//!
//! A clean body costs no allocation beyond the keys that contain escapes: keys are borrowed
//! from the body, an object's keys are compared in a small vector (a hash set past
//! [`LINEAR_KEYS`] keys), and a field's path is built only when a defect is found.

use std::borrow::Cow;
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

/// Objects with at most this many keys are checked for duplicates by comparing them in a
/// vector; larger ones move to a hash set, so a body of many keys stays linear.
const LINEAR_KEYS: usize = 16;

/// Checks `bytes`: `Ok` when the document is free of duplicate keys and NUL characters (or is
/// not JSON at all: the real parse reports that), `Err(Some(field error))` for the first defect.
pub fn check(bytes: &[u8]) -> Result<(), Option<FieldError>> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let seed = Check {
        parent: None,
        segment: Segment::Root,
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

/// Where a value sits in its parent.
#[derive(Clone, Copy)]
enum Segment<'k> {
    Root,
    Key(&'k str),
    Index(usize),
}

/// The check of one value: its place (a chain of parents, turned into a dotted path only for
/// an error) and where the first defect is reported.
struct Check<'p, 'k> {
    parent: Option<&'p Check<'p, 'k>>,
    segment: Segment<'k>,
    found: &'p RefCell<Option<FieldError>>,
}

impl Check<'_, '_> {
    /// The dotted path of this value (`position.minAmount`, `m.1.k`), keys made printable.
    fn path(&self) -> String {
        let mut segments = Vec::new();
        let mut at = Some(self);
        while let Some(check) = at {
            match check.segment {
                Segment::Root => {}
                Segment::Key(key) => segments.push(printable(key)),
                Segment::Index(index) => segments.push(index.to_string()),
            }
            at = check.parent;
        }
        segments.reverse();
        segments.join(".")
    }

    fn fail<E: serde::de::Error>(&self, message: &str) -> E {
        *self.found.borrow_mut() = Some(FieldError::new(self.path(), message));
        E::custom("body check")
    }
}

impl<'de> DeserializeSeed<'de> for Check<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// An object key, borrowed from the body unless it contains escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }
}

/// The keys of one object seen so far.
enum Seen<'de> {
    Few(Vec<Cow<'de, str>>),
    Many(HashSet<Cow<'de, str>>),
}

impl<'de> Seen<'de> {
    fn contains(&self, key: &str) -> bool {
        match self {
            Seen::Few(keys) => keys.iter().any(|k| k == key),
            Seen::Many(set) => set.contains(key),
        }
    }

    /// Records `key` (not seen before: see [`Seen::contains`]).
    fn insert(&mut self, key: Cow<'de, str>) {
        match self {
            Seen::Few(keys) if keys.len() < LINEAR_KEYS => keys.push(key),
            Seen::Few(keys) => {
                let mut set: HashSet<_> = keys.drain(..).collect();
                set.insert(key);
                *self = Seen::Many(set);
            }
            Seen::Many(set) => {
                set.insert(key);
            }
        }
    }
}

impl<'de> Visitor<'de> for Check<'_, '_> {
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
            return Err(self.fail(NUL_MESSAGE));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0_usize;
        loop {
            let element = Check {
                parent: Some(&self),
                segment: Segment::Index(index),
                found: self.found,
            };
            if seq.next_element_seed(element)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::Few(Vec::new());
        while let Some(key) = map.next_key_seed(Key)? {
            if key == NUMBER_TOKEN {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let field = Check {
                parent: Some(&self),
                segment: Segment::Key(&key),
                found: self.found,
            };
            if key.contains('\0') {
                return Err(field.fail(NUL_MESSAGE));
            }
            // The object's keys are compared as text: `{"a":1,"\u0061":2}` is a duplicate.
            if seen.contains(&key) {
                return Err(field.fail(DUPLICATE_MESSAGE));
            }
            map.next_value_seed(field)?;
            seen.insert(key);
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
    fn duplicate_keys_are_found_in_objects_past_the_linear_scan() {
        let keys: Vec<String> = (0..LINEAR_KEYS * 3)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect();
        let clean = format!("{{{}}}", keys.join(","));
        assert_eq!(check(clean.as_bytes()), Ok(()));
        for duplicate in ["k0", "k16", "k47"] {
            let body = format!("{{{},\"{duplicate}\":0}}", keys.join(","));
            assert_eq!(
                defect(&body),
                Some((duplicate.into(), DUPLICATE_MESSAGE.into())),
                "{duplicate}"
            );
        }
        let nested = format!(r#"{{"outer":[{{}},{{{},"k5":1}}]}}"#, keys.join(","));
        assert_eq!(
            defect(&nested),
            Some(("outer.1.k5".into(), DUPLICATE_MESSAGE.into()))
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
