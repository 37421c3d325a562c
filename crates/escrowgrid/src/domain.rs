//! The EscrowGrid domain: ids, enums, money, entities, validated inputs, template config rules
//! and policy evaluation.
//!
//! Nothing here knows about SQL or HTTP. Every value a store accepts is a validated domain value
//! (or is re-validated by the store through the `validate()` methods), so bad input becomes a
//! typed error instead of a half-written row.

mod api_key;
mod audit;
mod currency;
mod entities;
mod enums;
mod ids;
mod inputs;
mod json_numbers;
mod money;
mod policy;
mod template_rules;
pub mod time;
mod validation;
mod webhook;

pub use api_key::{TOKEN_PREFIX, generate_token, hash_token};
pub use audit::{AuditContext, AuditError, AuditEvent};
pub use currency::{CURRENCIES, Currency, InvalidCurrency};
pub use entities::{
    ApiKey, Asset, AssetTemplate, Institution, InstitutionPolicy, LedgerEvent, PolicyConfig,
    Position, PositionLifecycleEvent, PositionPolicy,
};
pub use enums::{
    ApiKeyRole, AuditAction, AuditOutcome, LedgerEventKind, PositionState, Region, ResourceType,
    TemplateCode, UnknownVariant, Vertical,
};
pub use ids::{
    ApiKeyId, AssetId, AuditEventId, DeliveryId, IdSeed, InstitutionId, InvalidId, LedgerEventId,
    LifecycleEventId, PolicyId, PositionId, TemplateId, WebhookId,
};
pub use inputs::{
    NewApiKey, NewAsset, NewAssetTemplate, NewInstitution, NewPosition, TransitionRequest,
};
pub use json_numbers::canonicalize_numbers;
pub use money::{Amount, InvalidAmount};
pub use policy::{PolicyViolation, evaluate};
pub use template_rules::{
    CodeRules, FieldKind, FieldRule, TemplateConfigError, rules_for, template_amount_limits,
    validate_template_config,
};
pub use time::now_millis;
pub use validation::{
    FieldError, JsonObject, MAX_METADATA_BYTES, MAX_METADATA_DEPTH, MAX_REASON_CHARS,
    MAX_TEXT_CHARS,
};
pub use webhook::{
    ALL_EVENTS, Delivery, DeliveryStatus, EVENT_TYPES, MAX_URL_BYTES, NewWebhook, SECRET_PREFIX,
    Webhook, WebhookPatch, WebhookSecret, WebhookUrl,
};
