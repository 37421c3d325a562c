//! Field-level validation shared by the input types.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON object (free-form config and metadata).
pub type JsonObject = serde_json::Map<String, Value>;

/// The longest accepted name, label or reference, in characters.
pub const MAX_TEXT_CHARS: usize = 255;
/// The longest accepted transition reason, in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// The largest accepted metadata / config object, in bytes of compact JSON.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// The deepest accepted nesting of metadata / config (the object itself is level 1).
pub const MAX_METADATA_DEPTH: usize = 10;

/// One invalid field: a dotted path and a user-facing message. The API lists these as
/// `{"error":"Validation failed","details":[{"field":..,"message":..}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The dotted path of the field, e.g. `regions.0`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    #[must_use]
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors, then turns them into a `Result`.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    pub(crate) fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Checks a required text: non-empty and at most `max` characters.
    pub(crate) fn required_text(&mut self, field: &str, label: &str, value: &str, max: usize) {
        if value.is_empty() {
            self.push(field, format!("{label} is required"));
        }
        self.optional_text(field, label, value, max);
    }

    /// Checks an optional text: at most `max` characters (the empty string is allowed).
    pub(crate) fn optional_text(&mut self, field: &str, label: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.push(field, format!("{label} must not exceed {max} characters"));
        }
    }

    /// Checks a metadata / config object's size and nesting depth.
    pub(crate) fn json_object(&mut self, field: &str, label: &str, value: &JsonObject) {
        let size = serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len());
        if size > MAX_METADATA_BYTES {
            self.push(field, format!("{label} must not exceed 64KB"));
        }
        if object_depth(value) > MAX_METADATA_DEPTH {
            self.push(
                field,
                format!("{label} nesting depth must not exceed {MAX_METADATA_DEPTH} levels"),
            );
        }
    }

    pub(crate) fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

fn object_depth(object: &JsonObject) -> usize {
    1 + object.values().map(value_depth).max().unwrap_or(0)
}

fn value_depth(value: &Value) -> usize {
    match value {
        Value::Object(object) => object_depth(object),
        Value::Array(items) => 1 + items.iter().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> JsonObject {
        let mut value = json!({});
        for _ in 1..levels {
            value = json!({ "a": value });
        }
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn metadata_up_to_ten_levels_is_accepted() {
        let mut errors = Errors::default();
        errors.json_object("metadata", "Metadata", &nested(10));
        assert!(errors.finish().is_ok());
        let mut errors = Errors::default();
        errors.json_object("metadata", "Metadata", &nested(11));
        assert_eq!(
            errors.finish().unwrap_err()[0].message,
            "Metadata nesting depth must not exceed 10 levels"
        );
    }

    #[test]
    fn metadata_over_64_kib_is_rejected() {
        let mut object = JsonObject::new();
        object.insert("blob".into(), Value::String("x".repeat(MAX_METADATA_BYTES)));
        let mut errors = Errors::default();
        errors.json_object("metadata", "Metadata", &object);
        assert_eq!(
            errors.finish().unwrap_err()[0].message,
            "Metadata must not exceed 64KB"
        );
    }

    #[test]
    fn text_length_is_counted_in_characters() {
        let mut errors = Errors::default();
        errors.required_text("name", "Name", &"é".repeat(255), MAX_TEXT_CHARS);
        assert!(errors.finish().is_ok());
        let mut errors = Errors::default();
        errors.required_text("name", "Name", "", MAX_TEXT_CHARS);
        assert_eq!(
            errors.finish().unwrap_err(),
            vec![FieldError::new("name", "Name is required")]
        );
    }
}
