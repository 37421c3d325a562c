//! Raw JSON bodies → validated domain inputs, listing **every** bad field.
//!
//! This module only checks JSON *types* and parses enums, ids, currencies and amounts through
//! the domain's own parsers; the field rules (lengths, sizes, ranges, `min <= max`) are the
//! domain's `validate()` methods. A field that already failed its type check is not reported a
//! second time by `validate()`. Unknown keys are ignored (the original stripped them).

use std::str::FromStr;

use serde_json::Value;

use crate::domain::{
    Amount, ApiKeyRole, AssetId, Currency, FieldError, InstitutionId, JsonObject, NewApiKey,
    NewAsset, NewAssetTemplate, NewInstitution, NewPosition, PositionPolicy, PositionState, Region,
    TemplateCode, TemplateId, TransitionRequest, Vertical,
};

use super::error::ApiError;

/// A validated input whose institution is still to be decided by the handler (root names it in
/// the body; other callers act for their own institution).
#[derive(Debug)]
pub struct Draft<T> {
    /// The body's `institutionId`, if any.
    pub institution_id: Option<String>,
    /// The input, with a placeholder institution until the handler sets it.
    pub input: T,
}

/// Collects field errors while reading a JSON object.
struct Reader<'a> {
    body: &'a JsonObject,
    errors: Vec<FieldError>,
}

fn type_name(value: Option<&Value>) -> &'static str {
    match value {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// The message for a field of the wrong JSON type (the original's wording).
pub(super) fn expected(kind: &str, value: Option<&Value>) -> String {
    format!(
        "Invalid input: expected {kind}, received {}",
        type_name(value)
    )
}

impl<'a> Reader<'a> {
    fn new(body: &'a JsonObject) -> Self {
        Self {
            body,
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    fn string(&mut self, field: &str) -> Option<String> {
        match self.body.get(field) {
            Some(Value::String(text)) => Some(text.clone()),
            other => {
                self.fail(field, expected("string", other));
                None
            }
        }
    }

    fn optional_string(&mut self, field: &str) -> Option<String> {
        match self.body.get(field) {
            None => None,
            Some(Value::String(text)) => Some(text.clone()),
            other => {
                self.fail(field, expected("string", other));
                None
            }
        }
    }

    fn optional_object(&mut self, field: &str) -> Option<JsonObject> {
        match self.body.get(field) {
            None => None,
            Some(Value::Object(object)) => {
                // Free-form JSON: numbers as PostgreSQL's jsonb keeps them, on every backend.
                let mut object = Value::Object(object.clone());
                crate::domain::canonicalize_numbers(&mut object);
                match object {
                    Value::Object(object) => Some(object),
                    _ => None,
                }
            }
            other => {
                self.fail(field, expected("object", other));
                None
            }
        }
    }

    fn parsed<T: FromStr>(&mut self, field: &str, options: fn() -> String) -> Option<T> {
        match self.body.get(field) {
            Some(Value::String(text)) => text.parse().ok().or_else(|| {
                self.fail(field, options());
                None
            }),
            _ => {
                self.fail(field, options());
                None
            }
        }
    }

    fn parsed_list<T: FromStr>(&mut self, field: &str, options: fn() -> String) -> Option<Vec<T>> {
        let Some(Value::Array(items)) = self.body.get(field) else {
            let message = expected("array", self.body.get(field));
            self.fail(field, message);
            return None;
        };
        let mut values = Vec::new();
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            match item.as_str().and_then(|text| text.parse().ok()) {
                Some(value) => values.push(value),
                None => {
                    ok = false;
                    self.fail(&format!("{field}.{index}"), options());
                }
            }
        }
        ok.then_some(values)
    }

    fn required_id_text(&mut self, field: &str, label: &str) -> Option<String> {
        let text = self.string(field)?;
        if text.is_empty() {
            self.fail(field, format!("{label} is required"));
            return None;
        }
        Some(text)
    }

    /// Merges the domain's rule violations, skipping fields that already failed a type check
    /// (the input holds placeholders there), and fails if anything is wrong.
    fn finish<T>(
        mut self,
        value: T,
        rules: impl FnOnce(&T) -> Result<(), Vec<FieldError>>,
    ) -> Result<T, ApiError> {
        if let Err(violations) = rules(&value) {
            for violation in violations {
                let already = self.errors.iter().any(|e| {
                    e.field == violation.field
                        || e.field.starts_with(&format!("{}.", violation.field))
                });
                if !already {
                    self.errors.push(violation);
                }
            }
        }
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

fn placeholder_institution() -> InstitutionId {
    InstitutionId::new()
}

fn placeholder_amount() -> Amount {
    Amount::new(rust_decimal::Decimal::ONE).unwrap_or_else(|_| unreachable!("1 is a valid amount"))
}

/// `POST /institutions`.
pub fn new_institution(body: &JsonObject) -> Result<NewInstitution, ApiError> {
    let mut r = Reader::new(body);
    let name = r.string("name");
    let regions = r.parsed_list::<Region>("regions", Region::invalid_option_message);
    let verticals = if body.contains_key("verticals") {
        r.parsed_list::<Vertical>("verticals", Vertical::invalid_option_message)
    } else {
        None
    };
    let input = NewInstitution::new(
        name.unwrap_or_default(),
        regions.unwrap_or_default(),
        verticals,
    );
    r.finish(input, NewInstitution::validate)
}

/// `POST /institutions/{id}/api-keys` (the institution comes from the path).
pub fn new_api_key(
    body: &JsonObject,
    institution_id: InstitutionId,
) -> Result<NewApiKey, ApiError> {
    let mut r = Reader::new(body);
    let label = r.string("label");
    let role = r.parsed::<ApiKeyRole>("role", ApiKeyRole::invalid_option_message);
    let input = NewApiKey {
        institution_id,
        label: label.unwrap_or_default(),
        role: role.unwrap_or(ApiKeyRole::ReadOnly),
    };
    r.finish(input, NewApiKey::validate)
}

/// `POST /asset-templates`.
pub fn new_asset_template(body: &JsonObject) -> Result<Draft<NewAssetTemplate>, ApiError> {
    let mut r = Reader::new(body);
    let institution_id = r.optional_string("institutionId");
    let code = r.parsed::<TemplateCode>("code", TemplateCode::invalid_option_message);
    let name = r.string("name");
    let vertical = r.parsed::<Vertical>("vertical", Vertical::invalid_option_message);
    let region = r.parsed::<Region>("region", Region::invalid_option_message);
    let config = r.optional_object("config").unwrap_or_default();
    let input = NewAssetTemplate {
        institution_id: placeholder_institution(),
        code: code.unwrap_or(TemplateCode::ConstrEscrow),
        name: name.unwrap_or_default(),
        vertical: vertical.unwrap_or(Vertical::Construction),
        region: region.unwrap_or(Region::Us),
        config,
    };
    let input = r.finish(input, NewAssetTemplate::validate)?;
    Ok(Draft {
        institution_id,
        input,
    })
}

/// A well-typed but malformed id becomes a fresh random id, which matches no row: the store
/// then reports it exactly like an unknown id.
fn id_or_unknown<T: FromStr + Default>(text: &str) -> T {
    text.parse().unwrap_or_default()
}

/// `POST /assets`.
pub fn new_asset(body: &JsonObject) -> Result<Draft<NewAsset>, ApiError> {
    let mut r = Reader::new(body);
    let institution_id = r.optional_string("institutionId");
    let template_id = r.required_id_text("templateId", "Template ID");
    let label = r.string("label");
    let metadata = r.optional_object("metadata").unwrap_or_default();
    let input = NewAsset {
        institution_id: placeholder_institution(),
        template_id: id_or_unknown::<TemplateId>(template_id.as_deref().unwrap_or_default()),
        label: label.unwrap_or_default(),
        metadata,
    };
    let input = r.finish(input, NewAsset::validate)?;
    Ok(Draft {
        institution_id,
        input,
    })
}

/// `POST /positions`.
pub fn new_position(body: &JsonObject) -> Result<Draft<NewPosition>, ApiError> {
    let mut r = Reader::new(body);
    let institution_id = r.optional_string("institutionId");
    let asset_id = r.required_id_text("assetId", "Asset ID");
    let holder_reference = r.string("holderReference");
    let currency = r
        .string("currency")
        .and_then(|code| match Currency::parse(&code) {
            Ok(currency) => Some(currency),
            Err(invalid) => {
                r.fail("currency", invalid.message());
                None
            }
        });
    let amount = amount(&mut r, "amount", body.get("amount"));
    let external_reference = r.optional_string("externalReference");
    let input = NewPosition {
        institution_id: placeholder_institution(),
        asset_id: id_or_unknown::<AssetId>(asset_id.as_deref().unwrap_or_default()),
        holder_reference: holder_reference.unwrap_or_default(),
        currency: currency.unwrap_or(Currency::USD),
        amount: amount.unwrap_or_else(placeholder_amount),
        external_reference,
    };
    let input = r.finish(input, NewPosition::validate)?;
    Ok(Draft {
        institution_id,
        input,
    })
}

fn amount(r: &mut Reader<'_>, field: &str, value: Option<&Value>) -> Option<Amount> {
    if !matches!(value, Some(Value::Number(_))) {
        r.fail(field, expected("number", value));
        return None;
    }
    match Amount::from_json(value.unwrap_or(&Value::Null)) {
        Ok(amount) => Some(amount),
        Err(invalid) => {
            for message in invalid.messages {
                r.fail(field, message);
            }
            None
        }
    }
}

/// `POST /positions/{id}/transition`.
pub fn transition(body: &JsonObject) -> Result<TransitionRequest, ApiError> {
    let mut r = Reader::new(body);
    let to_state = r.parsed::<PositionState>("toState", PositionState::invalid_option_message);
    let reason = r.optional_string("reason");
    let metadata = r.optional_object("metadata");
    let input = TransitionRequest {
        to_state: to_state.unwrap_or(PositionState::Created),
        reason,
        metadata,
        expected_version: None,
    };
    r.finish(input, TransitionRequest::validate)
}

/// `PUT /institutions/{id}/policies/{region}`: the `position` rules.
pub fn policy(body: &JsonObject) -> Result<PositionPolicy, ApiError> {
    let mut r = Reader::new(body);
    let Some(Value::Object(position)) = body.get("position") else {
        r.fail("position", expected("object", body.get("position")));
        return r.finish(PositionPolicy::default(), |_| Ok(()));
    };
    let min_amount = optional_amount(&mut r, "position.minAmount", position.get("minAmount"));
    let max_amount = optional_amount(&mut r, "position.maxAmount", position.get("maxAmount"));
    let allowed_currencies = match position.get("allowedCurrencies") {
        None => None,
        Some(Value::Array(items)) => Some(currencies(&mut r, items)),
        other => {
            r.fail("position.allowedCurrencies", expected("array", other));
            None
        }
    };
    let input = PositionPolicy {
        min_amount,
        max_amount,
        allowed_currencies,
    };
    r.finish(input, PositionPolicy::validate)
}

fn optional_amount(r: &mut Reader<'_>, field: &str, value: Option<&Value>) -> Option<Amount> {
    value.and_then(|value| amount(r, field, Some(value)))
}

fn currencies(r: &mut Reader<'_>, items: &[Value]) -> Vec<Currency> {
    let mut parsed = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let field = format!("position.allowedCurrencies.{index}");
        match item.as_str().map(Currency::parse) {
            Some(Ok(currency)) => parsed.push(currency),
            Some(Err(invalid)) => r.fail(&field, invalid.message()),
            None => r.fail(&field, expected("string", Some(item))),
        }
    }
    parsed
}
