//! Template config rules per vertical × code, with the original service's exact messages.
//!
//! Fixes over the original: a code that does not belong to the vertical is rejected (instead of
//! skipping validation), and the config currency must be in the whitelist.

use rust_decimal::Decimal;
use serde_json::Value;

use super::money::parse_decimal_text;
use super::{Currency, JsonObject, Region, TemplateCode, Vertical};

/// A template config that breaks its code's rules; displays the exact message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateConfigError(pub String);

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
    let rules = Rules { code, config };
    rules.currency()?;
    match code {
        TemplateCode::ConstrEscrow => {
            match config.get("region") {
                Some(Value::String(value)) if value == region.as_str() => {}
                Some(Value::String(_)) => {
                    return rules.fail("config.region must match template region");
                }
                _ => return rules.fail("config requires a region"),
            }
            rules.optional_number("minAmount")?;
            rules.optional_number("maxAmount")?;
            if let (Some(min), Some(max)) = template_amount_limits(config) {
                if min > max {
                    return rules.fail("config.minAmount must be less than or equal to maxAmount");
                }
            }
        }
        TemplateCode::ConstrRetainage => {
            let percentage = config.get("retainagePercentage").and_then(number);
            if !percentage.is_some_and(|p| p >= Decimal::ZERO && p <= Decimal::ONE_HUNDRED) {
                return rules.fail("config.retainagePercentage must be a number between 0 and 100");
            }
        }
        TemplateCode::TfInvoice => {
            rules.positive_number("maxTenorDays")?;
            rules.required_string("country", "config requires a country")?;
        }
        TemplateCode::TfLc => {
            rules.required_string(
                "issuingBankCountry",
                "config requires an issuingBankCountry",
            )?;
            rules.positive_number("maxTenorDays")?;
        }
    }
    Ok(())
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

struct Rules<'a> {
    code: TemplateCode,
    config: &'a JsonObject,
}

impl Rules<'_> {
    fn fail(&self, message: &str) -> Result<(), TemplateConfigError> {
        Err(TemplateConfigError(format!("{} {message}", self.code)))
    }

    fn currency(&self) -> Result<(), TemplateConfigError> {
        match self.config.get("currency") {
            Some(Value::String(code)) if !code.is_empty() => match Currency::parse(code) {
                Ok(_) => Ok(()),
                Err(_) => self.fail(&format!(
                    "config.currency {code} is not a supported currency"
                )),
            },
            _ => self.fail("config requires a string currency"),
        }
    }

    fn required_string(&self, key: &str, message: &str) -> Result<(), TemplateConfigError> {
        match self.config.get(key) {
            Some(Value::String(value)) if !value.is_empty() => Ok(()),
            _ => self.fail(message),
        }
    }

    fn optional_number(&self, key: &str) -> Result<(), TemplateConfigError> {
        match self.config.get(key) {
            None | Some(Value::Number(_)) => Ok(()),
            Some(_) => self.fail(&format!("config.{key} must be a number when provided")),
        }
    }

    fn positive_number(&self, key: &str) -> Result<(), TemplateConfigError> {
        if self
            .config
            .get(key)
            .and_then(number)
            .is_some_and(|n| n > Decimal::ZERO)
        {
            Ok(())
        } else {
            self.fail(&format!("config.{key} must be a positive number"))
        }
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
