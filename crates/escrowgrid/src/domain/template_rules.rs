//! Template config rules per vertical × code, with the original service's exact messages.
//!
//! The rules are data ([`rules_for`]: one [`FieldRule`] per config key, in check order, plus an
//! optional ordering constraint); [`validate_template_config`] interprets them and the API
//! serves the same table (`GET /asset-templates/rules`), so clients never keep a second copy.
//!
//! Fixes over the original: a code that does not belong to the vertical is rejected (instead of
//! skipping validation), the config currency must be in the whitelist, and a `minAmount` /
//! `maxAmount` a `Decimal` cannot hold exactly is rejected (it could not be enforced).

use rust_decimal::Decimal;
use serde_json::Value;

use super::money::parse_decimal_text;
use super::{Currency, JsonObject, Region, TemplateCode, Vertical};

/// A template config that breaks its code's rules; displays the exact message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateConfigError(pub String);

/// What one config key must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A currency code from the whitelist (case-insensitive).
    Currency,
    /// A string equal to the template's own region.
    TemplateRegion,
    /// A number a `Decimal` holds exactly.
    Number,
    /// A number greater than 0.
    PositiveNumber,
    /// A number from 0 to 100.
    Percentage,
    /// A non-empty string.
    Text,
}

impl FieldKind {
    /// The name on the wire (`GET /asset-templates/rules`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Currency => "currency",
            Self::TemplateRegion => "templateRegion",
            Self::Number => "number",
            Self::PositiveNumber => "positiveNumber",
            Self::Percentage => "percentage",
            Self::Text => "text",
        }
    }

    /// Whether the value is a JSON number.
    #[must_use]
    pub const fn is_numeric(self) -> bool {
        matches!(self, Self::Number | Self::PositiveNumber | Self::Percentage)
    }

    /// Inclusive lower bound of a numeric kind.
    #[must_use]
    pub const fn minimum(self) -> Option<Decimal> {
        match self {
            Self::Percentage => Some(Decimal::ZERO),
            _ => None,
        }
    }

    /// Exclusive lower bound of a numeric kind.
    #[must_use]
    pub const fn exclusive_minimum(self) -> Option<Decimal> {
        match self {
            Self::PositiveNumber => Some(Decimal::ZERO),
            _ => None,
        }
    }

    /// Inclusive upper bound of a numeric kind.
    #[must_use]
    pub const fn maximum(self) -> Option<Decimal> {
        match self {
            Self::Percentage => Some(Decimal::ONE_HUNDRED),
            _ => None,
        }
    }
}

/// One config key of a template code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRule {
    /// The key in `config`.
    pub key: &'static str,
    /// What it must hold.
    pub kind: FieldKind,
    /// Whether it must be present.
    pub required: bool,
}

/// The rules of one template code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRules {
    /// The code.
    pub code: TemplateCode,
    /// Its keys, in the order they are checked (the first violation is reported).
    pub fields: &'static [FieldRule],
    /// `(low, high)`: when both are present, `low <= high`.
    pub ordered: Option<(&'static str, &'static str)>,
}

const fn field(key: &'static str, kind: FieldKind, required: bool) -> FieldRule {
    FieldRule {
        key,
        kind,
        required,
    }
}

const CURRENCY: FieldRule = field("currency", FieldKind::Currency, true);
const CONSTR_ESCROW: [FieldRule; 4] = [
    CURRENCY,
    field("region", FieldKind::TemplateRegion, true),
    field("minAmount", FieldKind::Number, false),
    field("maxAmount", FieldKind::Number, false),
];
const CONSTR_RETAINAGE: [FieldRule; 2] = [
    CURRENCY,
    field("retainagePercentage", FieldKind::Percentage, true),
];
const TF_INVOICE: [FieldRule; 3] = [
    CURRENCY,
    field("maxTenorDays", FieldKind::PositiveNumber, true),
    field("country", FieldKind::Text, true),
];
const TF_LC: [FieldRule; 3] = [
    CURRENCY,
    field("issuingBankCountry", FieldKind::Text, true),
    field("maxTenorDays", FieldKind::PositiveNumber, true),
];

/// The rules of `code`.
#[must_use]
pub const fn rules_for(code: TemplateCode) -> CodeRules {
    let (fields, ordered): (&'static [FieldRule], _) = match code {
        TemplateCode::ConstrEscrow => (&CONSTR_ESCROW, Some(("minAmount", "maxAmount"))),
        TemplateCode::ConstrRetainage => (&CONSTR_RETAINAGE, None),
        TemplateCode::TfInvoice => (&TF_INVOICE, None),
        TemplateCode::TfLc => (&TF_LC, None),
    };
    CodeRules {
        code,
        fields,
        ordered,
    }
}

/// Checks a template's config against the rules of its vertical and code.
///
/// # Errors
/// The first violated rule, e.g. `CONSTR_ESCROW config requires a string currency`.
pub fn validate_template_config(
    vertical: Vertical,
    code: TemplateCode,
    region: Region,
    config: &JsonObject,
) -> Result<(), TemplateConfigError> {
    if code.vertical() != vertical {
        return Err(TemplateConfigError(format!(
            "Template code {code} does not belong to vertical {vertical}"
        )));
    }
    let rules = rules_for(code);
    let fail = |message: String| Err(TemplateConfigError(format!("{code} {message}")));
    for rule in rules.fields {
        if let Some(message) = check_field(rule, region, config.get(rule.key)) {
            return fail(message);
        }
    }
    if let Some((low, high)) = rules.ordered {
        if let (Some(min), Some(max)) = (
            config.get(low).and_then(number),
            config.get(high).and_then(number),
        ) {
            if min > max {
                return fail(format!("config.{low} must be less than or equal to {high}"));
            }
        }
    }
    Ok(())
}

/// The message of the first problem with one key's value, if any.
fn check_field(rule: &FieldRule, region: Region, value: Option<&Value>) -> Option<String> {
    let key = rule.key;
    match (rule.kind, value) {
        (_, None) if !rule.required => None,
        (FieldKind::Currency, Some(Value::String(code))) if !code.is_empty() => {
            Currency::parse(code)
                .err()
                .map(|_| format!("config.{key} {code} is not a supported currency"))
        }
        (FieldKind::Currency, _) => Some(format!("config requires a string {key}")),
        (FieldKind::TemplateRegion, Some(Value::String(value))) => {
            (value != region.as_str()).then(|| format!("config.{key} must match template region"))
        }
        (FieldKind::TemplateRegion, _) => Some(format!("config requires a {key}")),
        (FieldKind::Text, Some(Value::String(value))) if !value.is_empty() => None,
        (FieldKind::Text, _) => {
            let article = if key.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            Some(format!("config requires {article} {key}"))
        }
        (FieldKind::Number, Some(value @ Value::Number(_))) => number(value)
            .is_none()
            .then(|| format!("config.{key} is out of range")),
        (FieldKind::Number, _) => Some(format!("config.{key} must be a number when provided")),
        (kind, value) => {
            let n = value.and_then(number);
            let within = n.is_some_and(|n| {
                kind.minimum().is_none_or(|min| n >= min)
                    && kind.exclusive_minimum().is_none_or(|min| n > min)
                    && kind.maximum().is_none_or(|max| n <= max)
            });
            let wanted = match (kind.minimum(), kind.maximum()) {
                (Some(min), Some(max)) => format!("a number between {min} and {max}"),
                _ => "a positive number".to_owned(),
            };
            (!within).then(|| format!("config.{key} must be {wanted}"))
        }
    }
}

/// The template's own `minAmount` / `maxAmount`, when present as numbers. They are enforced on
/// position creation by [`super::evaluate`].
#[must_use]
pub fn template_amount_limits(config: &JsonObject) -> (Option<Decimal>, Option<Decimal>) {
    (
        config.get("minAmount").and_then(number),
        config.get("maxAmount").and_then(number),
    )
}

fn number(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => parse_decimal_text(&n.to_string()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(vertical: Vertical, code: TemplateCode, config: &Value) -> Result<(), String> {
        let object = config.as_object().cloned().unwrap();
        validate_template_config(vertical, code, Region::Us, &object).map_err(|e| e.0)
    }

    const C: Vertical = Vertical::Construction;
    const T: Vertical = Vertical::TradeFinance;

    #[test]
    fn constr_escrow_rules_use_the_exact_messages() {
        use TemplateCode::ConstrEscrow as E;
        let cases = [
            (json!({}), "CONSTR_ESCROW config requires a string currency"),
            (
                json!({"currency": 5}),
                "CONSTR_ESCROW config requires a string currency",
            ),
            (
                json!({"currency": "USD"}),
                "CONSTR_ESCROW config requires a region",
            ),
            (
                json!({"currency": "USD", "region": "SG"}),
                "CONSTR_ESCROW config.region must match template region",
            ),
            (
                json!({"currency": "USD", "region": "US", "minAmount": "1"}),
                "CONSTR_ESCROW config.minAmount must be a number when provided",
            ),
            (
                json!({"currency": "USD", "region": "US", "maxAmount": null}),
                "CONSTR_ESCROW config.maxAmount must be a number when provided",
            ),
            (
                json!({"currency": "USD", "region": "US", "minAmount": 10, "maxAmount": 5}),
                "CONSTR_ESCROW config.minAmount must be less than or equal to maxAmount",
            ),
            (
                json!({"currency": "USD", "region": "US", "minAmount": 1e40}),
                "CONSTR_ESCROW config.minAmount is out of range",
            ),
            (
                json!({"currency": "XYZ", "region": "US"}),
                "CONSTR_ESCROW config.currency XYZ is not a supported currency",
            ),
        ];
        for (config, message) in cases {
            assert_eq!(check(C, E, &config), Err(message.to_owned()));
        }
        let ok = json!({"currency": "USD", "region": "US", "minAmount": 1, "maxAmount": 1e6});
        assert_eq!(check(C, E, &ok), Ok(()));
    }

    #[test]
    fn constr_retainage_needs_a_percentage_between_0_and_100() {
        use TemplateCode::ConstrRetainage as R;
        let message =
            "CONSTR_RETAINAGE config.retainagePercentage must be a number between 0 and 100";
        assert_eq!(
            check(C, R, &json!({"currency": "EUR"})),
            Err(message.to_owned())
        );
        assert_eq!(
            check(
                C,
                R,
                &json!({"currency": "EUR", "retainagePercentage": 100.5})
            ),
            Err(message.to_owned())
        );
        assert_eq!(
            check(C, R, &json!({"currency": "EUR", "retainagePercentage": 0})),
            Ok(())
        );
        assert_eq!(
            check(
                C,
                R,
                &json!({"currency": "EUR", "retainagePercentage": 100})
            ),
            Ok(())
        );
    }

    #[test]
    fn trade_finance_codes_need_tenor_and_countries() {
        use TemplateCode::{TfInvoice, TfLc};
        assert_eq!(
            check(
                T,
                TfInvoice,
                &json!({"currency": "USD", "maxTenorDays": 0, "country": "DE"})
            ),
            Err("TF_INVOICE config.maxTenorDays must be a positive number".to_owned())
        );
        assert_eq!(
            check(
                T,
                TfInvoice,
                &json!({"currency": "USD", "maxTenorDays": 90})
            ),
            Err("TF_INVOICE config requires a country".to_owned())
        );
        assert_eq!(
            check(T, TfLc, &json!({"currency": "USD", "maxTenorDays": 90})),
            Err("TF_LC config requires an issuingBankCountry".to_owned())
        );
        assert_eq!(
            check(
                T,
                TfLc,
                &json!({"currency": "USD", "issuingBankCountry": "SG"})
            ),
            Err("TF_LC config.maxTenorDays must be a positive number".to_owned())
        );
        assert_eq!(
            check(
                T,
                TfLc,
                &json!({"currency": "usd", "issuingBankCountry": "SG", "maxTenorDays": 30})
            ),
            Ok(())
        );
    }

    #[test]
    fn a_code_from_another_vertical_is_rejected() {
        assert_eq!(
            check(C, TemplateCode::TfLc, &json!({})),
            Err("Template code TF_LC does not belong to vertical CONSTRUCTION".to_owned())
        );
        assert_eq!(
            check(T, TemplateCode::ConstrEscrow, &json!({})),
            Err("Template code CONSTR_ESCROW does not belong to vertical TRADE_FINANCE".to_owned())
        );
    }
}
