//! What goes on chain for a ledger event: the original's `kind` and payload shapes, and its
//! skip rules (`config.onchain.enabled`, `config.onchain.chainId`).

use serde_json::{Map, Value, json};

use crate::domain::time::format_millis;
use crate::domain::{AssetTemplate, LedgerEvent, LedgerEventKind, Position};

/// Why an event is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The template's `config.onchain.enabled` is not `true`.
    NotEnabled,
    /// The template names another chain than the configured one.
    OtherChain {
        /// The template's `config.onchain.chainId`.
        template: u64,
        /// `ONCHAIN_CHAIN_ID`.
        configured: u64,
    },
}

impl Skip {
    /// A short reason, lowercase (stored with the skipped status and logged).
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            Self::NotEnabled => "template has no config.onchain.enabled".to_owned(),
            Self::OtherChain {
                template,
                configured,
            } => format!("template chain id {template} differs from the configured {configured}"),
        }
    }
}

/// The original's skip rules: send only when the template's `config.onchain.enabled` is
/// `true`, and not when both the configured chain id and the template's are set and differ.
///
/// # Errors
///
/// The [`Skip`] that applies.
pub fn check_template(template: &AssetTemplate, configured_chain: Option<u64>) -> Result<(), Skip> {
    let onchain = template.config.get("onchain");
    let enabled = onchain
        .and_then(|o| o.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !enabled {
        return Err(Skip::NotEnabled);
    }
    let template_chain = onchain
        .and_then(|o| o.get("chainId"))
        .and_then(Value::as_u64);
    match (template_chain, configured_chain) {
        (Some(template), Some(configured)) if template != configured => Err(Skip::OtherChain {
            template,
            configured,
        }),
        _ => Ok(()),
    }
}

/// The contract call's `kind` and `payloadJson` for a ledger event of `position`:
/// created `{institutionId, assetId, currency, amount, externalReference, state, requestId}`;
/// state change `{institutionId, assetId, fromState, toState, reason, at, requestId}`
/// (absent optional fields are left out, as `JSON.stringify` did with `undefined`).
#[must_use]
pub fn build(event: &LedgerEvent, position: &Position) -> (String, String) {
    let source = event.payload.as_object().cloned().unwrap_or_default();
    let pick = |key: &str| source.get(key).filter(|v| !v.is_null()).cloned();
    let mut out = Map::new();
    out.insert("institutionId".into(), json!(event.institution_id));
    out.insert("assetId".into(), json!(position.asset_id));
    match event.kind {
        LedgerEventKind::PositionCreated => {
            out.insert(
                "currency".into(),
                pick("currency").unwrap_or_else(|| json!(position.currency)),
            );
            out.insert(
                "amount".into(),
                pick("amount").unwrap_or_else(|| json!(position.amount)),
            );
            if let Some(reference) = pick("externalReference") {
                out.insert("externalReference".into(), reference);
            }
            out.insert("state".into(), json!(event.new_state));
        }
        LedgerEventKind::PositionStateChanged => {
            if let Some(from) = &event.previous_state {
                out.insert("fromState".into(), json!(from));
            }
            out.insert("toState".into(), json!(event.new_state));
            if let Some(reason) = pick("reason") {
                out.insert("reason".into(), reason);
            }
            out.insert("at".into(), Value::String(format_millis(&event.at)));
        }
    }
    if let Some(request_id) = pick("requestId") {
        out.insert("requestId".into(), request_id);
    }
    (
        event.kind.as_str().to_owned(),
        Value::Object(out).to_string(),
    )
}
