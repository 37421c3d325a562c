//! Policy evaluation on position creation: the institution's policy for the template's region,
//! then the template's own `minAmount` / `maxAmount` (which the original never enforced).

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Amount, AssetTemplate, Currency, PositionPolicy, template_amount_limits};

/// Why a position may not be created. `error()` and `details()` give the API's exact
/// `{"error", "details"}` pair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// The amount is below the policy's minimum.
    #[error("amount below minimum for policy (minAmount={min_amount})")]
    BelowPolicyMinimum {
        /// The policy's minimum.
        min_amount: Decimal,
    },
    /// The amount is above the policy's maximum.
    #[error("amount above maximum for policy (maxAmount={max_amount})")]
    AbovePolicyMaximum {
        /// The policy's maximum.
        max_amount: Decimal,
    },
    /// The currency is not among the policy's allowed currencies.
    #[error("currency {currency} not allowed by policy")]
    CurrencyNotAllowed {
        /// The allowed currencies.
        allowed_currencies: Vec<Currency>,
        /// The rejected currency.
        currency: Currency,
    },
    /// The amount is below the template's `minAmount`.
    #[error("amount below minimum for template (minAmount={min_amount})")]
    BelowTemplateMinimum {
        /// The template's minimum.
        min_amount: Decimal,
    },
    /// The amount is above the template's `maxAmount`.
    #[error("amount above maximum for template (maxAmount={max_amount})")]
    AboveTemplateMaximum {
        /// The template's maximum.
        max_amount: Decimal,
    },
}

impl PolicyViolation {
    /// The API's `error` string, e.g. `Amount below minimum for policy`.
    #[must_use]
    pub const fn error(&self) -> &'static str {
        match self {
            Self::BelowPolicyMinimum { .. } => "Amount below minimum for policy",
            Self::AbovePolicyMaximum { .. } => "Amount above maximum for policy",
            Self::CurrencyNotAllowed { .. } => "Currency not allowed by policy",
            Self::BelowTemplateMinimum { .. } => "Amount below minimum for template",
            Self::AboveTemplateMaximum { .. } => "Amount above maximum for template",
        }
    }

    /// The API's `details`, e.g. `"minAmount=10"` or
    /// `{"allowedCurrencies":["EUR"],"currency":"USD"}`.
    #[must_use]
    pub fn details(&self) -> Value {
        match self {
            Self::BelowPolicyMinimum { min_amount } | Self::BelowTemplateMinimum { min_amount } => {
                Value::String(format!("minAmount={}", min_amount.normalize()))
            }
            Self::AbovePolicyMaximum { max_amount } | Self::AboveTemplateMaximum { max_amount } => {
                Value::String(format!("maxAmount={}", max_amount.normalize()))
            }
            Self::CurrencyNotAllowed {
                allowed_currencies,
                currency,
            } => {
                json!({ "allowedCurrencies": allowed_currencies, "currency": currency })
            }
        }
    }
}

/// Checks a new position's currency and amount against the policy (if any) and the template.
/// Bounds are inclusive; checks run in order and stop at the first failure: policy minimum,
/// policy maximum, policy currencies (an empty list rejects everything), template minimum,
/// template maximum.
///
/// # Errors
/// The first [`PolicyViolation`].
pub fn evaluate(
    policy: Option<&PositionPolicy>,
    template: &AssetTemplate,
    currency: Currency,
    amount: Amount,
) -> Result<(), PolicyViolation> {
    let value = amount.value();
    if let Some(policy) = policy {
        if let Some(min) = policy.min_amount.filter(|min| value < min.value()) {
            return Err(PolicyViolation::BelowPolicyMinimum {
                min_amount: min.value(),
            });
        }
        if let Some(max) = policy.max_amount.filter(|max| value > max.value()) {
            return Err(PolicyViolation::AbovePolicyMaximum {
                max_amount: max.value(),
            });
        }
        if let Some(allowed) = &policy.allowed_currencies {
            if !allowed.contains(&currency) {
                return Err(PolicyViolation::CurrencyNotAllowed {
                    allowed_currencies: allowed.clone(),
                    currency,
                });
            }
        }
    }
    let (min, max) = template_amount_limits(&template.config);
    if let Some(min_amount) = min.filter(|min| value < *min) {
        return Err(PolicyViolation::BelowTemplateMinimum { min_amount });
    }
    if let Some(max_amount) = max.filter(|max| value > *max) {
        return Err(PolicyViolation::AboveTemplateMaximum { max_amount });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        InstitutionId, JsonObject, Region, TemplateCode, TemplateId, Vertical, now_millis,
    };

    fn template(config: &Value) -> AssetTemplate {
        AssetTemplate {
            id: TemplateId::new(),
            institution_id: InstitutionId::new(),
            code: TemplateCode::ConstrEscrow,
            name: "t".into(),
            vertical: Vertical::Construction,
            region: Region::Us,
            config: config.as_object().cloned().unwrap_or_else(JsonObject::new),
            created_at: now_millis(),
            updated_at: now_millis(),
        }
    }

    fn amount(text: &str) -> Amount {
        text.parse().unwrap()
    }

    fn policy(
        min: Option<&str>,
        max: Option<&str>,
        currencies: Option<Vec<Currency>>,
    ) -> PositionPolicy {
        PositionPolicy {
            min_amount: min.map(amount),
            max_amount: max.map(amount),
            allowed_currencies: currencies,
        }
    }

    #[test]
    fn no_policy_and_no_template_limits_allow_everything() {
        assert_eq!(
            evaluate(None, &template(&json!({})), Currency::USD, amount("1")),
            Ok(())
        );
        let empty = PositionPolicy::default();
        assert_eq!(
            evaluate(
                Some(&empty),
                &template(&json!({})),
                Currency::EUR,
                amount("5")
            ),
            Ok(())
        );
    }

    #[test]
    fn policy_bounds_are_inclusive_and_exact() {
        let p = policy(Some("10.00000001"), Some("100"), None);
        let t = template(&json!({}));
        assert_eq!(
            evaluate(Some(&p), &t, Currency::USD, amount("10.00000001")),
            Ok(())
        );
        assert_eq!(evaluate(Some(&p), &t, Currency::USD, amount("100")), Ok(()));
        let below = evaluate(Some(&p), &t, Currency::USD, amount("10")).unwrap_err();
        assert_eq!(below.error(), "Amount below minimum for policy");
        assert_eq!(below.details(), json!("minAmount=10.00000001"));
        let above = evaluate(Some(&p), &t, Currency::USD, amount("100.00000001")).unwrap_err();
        assert_eq!(above.error(), "Amount above maximum for policy");
        assert_eq!(above.details(), json!("maxAmount=100"));
    }

    #[test]
    fn currencies_outside_the_allowed_list_are_rejected() {
        let t = template(&json!({}));
        let p = policy(None, None, Some(vec![Currency::EUR]));
        let err = evaluate(Some(&p), &t, Currency::USD, amount("1")).unwrap_err();
        assert_eq!(err.error(), "Currency not allowed by policy");
        assert_eq!(
            err.details(),
            json!({"allowedCurrencies": ["EUR"], "currency": "USD"})
        );
        let none_allowed = policy(None, None, Some(Vec::new()));
        assert!(evaluate(Some(&none_allowed), &t, Currency::EUR, amount("1")).is_err());
    }

    #[test]
    fn the_minimum_is_checked_before_the_currency() {
        let p = policy(Some("5"), None, Some(Vec::new()));
        let err =
            evaluate(Some(&p), &template(&json!({})), Currency::USD, amount("1")).unwrap_err();
        assert!(matches!(err, PolicyViolation::BelowPolicyMinimum { .. }));
    }

    #[test]
    fn template_limits_are_enforced_after_the_policy() {
        let t = template(&json!({"minAmount": 100, "maxAmount": 1000.5}));
        assert_eq!(evaluate(None, &t, Currency::USD, amount("1000.5")), Ok(()));
        let below = evaluate(None, &t, Currency::USD, amount("99.99")).unwrap_err();
        assert_eq!(below.error(), "Amount below minimum for template");
        assert_eq!(below.details(), json!("minAmount=100"));
        let above = evaluate(None, &t, Currency::USD, amount("1000.50000001")).unwrap_err();
        assert_eq!(above.details(), json!("maxAmount=1000.5"));
    }
}
