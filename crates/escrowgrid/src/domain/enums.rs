//! The closed sets of the domain, each with its exact wire spelling.
//!
//! Every enum has `as_str()` (the spelling stored as text by the PostgreSQL backend and used on
//! the wire), `Display`, `FromStr` and serde impls that use the same spelling, and `ALL`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string that is not one of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownVariant {
    /// The enum's name, e.g. `"region"`.
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

macro_rules! string_enum {
    (
        $(#[$meta:meta])* $name:ident, $kind:literal {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The exact spelling on the wire and in storage.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The validation message listing every allowed spelling, e.g.
            /// `Invalid option: expected one of "US"|"EU_UK"|"SG"|"UAE"`.
            #[must_use]
            pub fn invalid_option_message() -> String {
                let options: Vec<String> =
                    Self::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect();
                format!("Invalid option: expected one of {}", options.join("|"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_enum!(
    /// A jurisdiction an institution operates in and a template / policy applies to.
    Region, "region" {
        /// United States.
        Us => "US",
        /// European Union / United Kingdom.
        EuUk => "EU_UK",
        /// Singapore.
        Sg => "SG",
        /// United Arab Emirates.
        Uae => "UAE",
    }
);

string_enum!(
    /// A business line.
    Vertical, "vertical" {
        /// Construction escrow.
        Construction => "CONSTRUCTION",
        /// Trade finance.
        TradeFinance => "TRADE_FINANCE",
    }
);

string_enum!(
    /// The state of an escrow position; see [`crate::lifecycle`] for the transitions.
    PositionState, "position state" {
        /// Created, not yet funded.
        Created => "CREATED",
        /// Funds are in escrow.
        Funded => "FUNDED",
        /// Some funds were released.
        PartiallyReleased => "PARTIALLY_RELEASED",
        /// All funds were released (terminal).
        Released => "RELEASED",
        /// Cancelled (terminal).
        Cancelled => "CANCELLED",
        /// Expired (terminal).
        Expired => "EXPIRED",
    }
);

string_enum!(
    /// The role stored with an API key.
    ApiKeyRole, "api key role" {
        /// May read and write within its institution.
        Admin => "admin",
        /// May only read within its institution.
        ReadOnly => "read_only",
    }
);

string_enum!(
    /// The kind of an asset template; each code belongs to exactly one [`Vertical`].
    TemplateCode, "template code" {
        /// Construction escrow.
        ConstrEscrow => "CONSTR_ESCROW",
        /// Construction retainage.
        ConstrRetainage => "CONSTR_RETAINAGE",
        /// Trade finance invoice.
        TfInvoice => "TF_INVOICE",
        /// Trade finance letter of credit.
        TfLc => "TF_LC",
    }
);

impl TemplateCode {
    /// The vertical this code belongs to.
    #[must_use]
    pub const fn vertical(self) -> Vertical {
        match self {
            Self::ConstrEscrow | Self::ConstrRetainage => Vertical::Construction,
            Self::TfInvoice | Self::TfLc => Vertical::TradeFinance,
        }
    }
}

string_enum!(
    /// The kind of a ledger event.
    LedgerEventKind, "ledger event kind" {
        /// A position was created.
        PositionCreated => "POSITION_CREATED",
        /// A position changed state.
        PositionStateChanged => "POSITION_STATE_CHANGED",
    }
);

string_enum!(
    /// What an audit event records.
    AuditAction, "audit action" {
        /// An institution was created.
        InstitutionCreated => "INSTITUTION_CREATED",
        /// An API key was created.
        ApiKeyCreated => "API_KEY_CREATED",
        /// An API key was revoked.
        ApiKeyRevoked => "API_KEY_REVOKED",
        /// An asset template was created.
        AssetTemplateCreated => "ASSET_TEMPLATE_CREATED",
        /// An asset was created.
        AssetCreated => "ASSET_CREATED",
        /// A position was created.
        PositionCreated => "POSITION_CREATED",
        /// A position changed state.
        PositionTransitioned => "POSITION_TRANSITIONED",
        /// A policy was created or replaced.
        PolicyUpdated => "POLICY_UPDATED",
        /// Authentication failed.
        AuthFailed => "AUTH_FAILED",
        /// An authenticated caller was forbidden.
        AuthForbidden => "AUTH_FORBIDDEN",
        /// A request failed validation.
        ValidationFailed => "VALIDATION_FAILED",
        /// A request was rate limited.
        RateLimited => "RATE_LIMITED",
        /// A resource was not found.
        ResourceNotFound => "RESOURCE_NOT_FOUND",
        /// A concurrent modification was detected.
        ConcurrencyConflict => "CONCURRENCY_CONFLICT",
        /// Writing to the on-chain ledger failed.
        OnchainLedgerFailed => "ONCHAIN_LEDGER_FAILED",
        /// Retries of an on-chain ledger write were exhausted.
        OnchainLedgerRetryExhausted => "ONCHAIN_LEDGER_RETRY_EXHAUSTED",
        /// A webhook endpoint was created.
        WebhookCreated => "WEBHOOK_CREATED",
        /// A webhook endpoint was changed.
        WebhookUpdated => "WEBHOOK_UPDATED",
        /// A webhook endpoint was deleted.
        WebhookDeleted => "WEBHOOK_DELETED",
        /// A webhook endpoint's signing secret was replaced.
        WebhookSecretRotated => "WEBHOOK_SECRET_ROTATED",
        /// A webhook delivery ran out of attempts and went to the dead-letter queue.
        WebhookDeliveryFailed => "WEBHOOK_DELIVERY_FAILED",
        /// A dead-lettered webhook delivery was re-driven.
        WebhookDeliveryRedriven => "WEBHOOK_DELIVERY_REDRIVEN",
    }
);

string_enum!(
    /// Whether an audited operation succeeded.
    AuditOutcome, "audit outcome" {
        /// It succeeded.
        Success => "success",
        /// It failed.
        Failure => "failure",
    }
);

string_enum!(
    /// The kind of resource an audit event is about.
    ResourceType, "resource type" {
        /// An institution.
        Institution => "institution",
        /// An API key.
        ApiKey => "api_key",
        /// An asset template.
        AssetTemplate => "asset_template",
        /// An asset.
        Asset => "asset",
        /// A position.
        Position => "position",
        /// An institution policy.
        Policy => "policy",
        /// A webhook endpoint.
        Webhook => "webhook",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips_through_from_str_and_serde() {
        for state in PositionState::ALL {
            assert_eq!(state.as_str().parse::<PositionState>(), Ok(*state));
            let json = serde_json::to_string(state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(
                serde_json::from_str::<PositionState>(&json).unwrap(),
                *state
            );
        }
        assert_eq!(ApiKeyRole::ReadOnly.as_str(), "read_only");
        assert_eq!(AuditOutcome::Failure.to_string(), "failure");
        assert_eq!("EU_UK".parse::<Region>(), Ok(Region::EuUk));
    }

    #[test]
    fn unknown_spellings_are_rejected_case_sensitively() {
        assert!("us".parse::<Region>().is_err());
        assert!(serde_json::from_str::<Vertical>("\"construction\"").is_err());
    }

    #[test]
    fn the_invalid_option_message_lists_every_spelling() {
        assert_eq!(
            Region::invalid_option_message(),
            "Invalid option: expected one of \"US\"|\"EU_UK\"|\"SG\"|\"UAE\""
        );
    }

    #[test]
    fn template_codes_belong_to_their_vertical() {
        assert_eq!(
            TemplateCode::ConstrRetainage.vertical(),
            Vertical::Construction
        );
        assert_eq!(TemplateCode::TfLc.vertical(), Vertical::TradeFinance);
    }
}
