//! Inputs of the store's writes. Typed fields (ids, enums, [`Amount`], [`Currency`]) are valid
//! by construction; `validate()` checks the rest (lengths, sizes). Stores call `validate()`
//! themselves, so an invalid input is always rejected with `Error::Validation`.

use super::validation::Errors;
use super::{
    Amount, ApiKeyRole, AssetId, Currency, FieldError, InstitutionId, JsonObject, MAX_REASON_CHARS,
    MAX_TEXT_CHARS, PositionPolicy, PositionState, Region, TemplateCode, TemplateId, Vertical,
};

/// The most regions an institution may list.
const MAX_REGIONS: usize = 10;

/// A new institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstitution {
    /// Name, 1..=255 characters.
    pub name: String,
    /// Regions, 1..=10 entries (duplicates allowed).
    pub regions: Vec<Region>,
    /// Verticals.
    pub verticals: Vec<Vertical>,
}

impl NewInstitution {
    /// Builds the input; `verticals` defaults to every vertical when `None`.
    #[must_use]
    pub fn new(name: String, regions: Vec<Region>, verticals: Option<Vec<Vertical>>) -> Self {
        Self {
            name,
            regions,
            verticals: verticals.unwrap_or_else(|| Vertical::ALL.to_vec()),
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.required_text("name", "Name", &self.name, MAX_TEXT_CHARS);
        if self.regions.is_empty() {
            errors.push("regions", "At least one region is required");
        }
        if self.regions.len() > MAX_REGIONS {
            errors.push("regions", "Too many regions");
        }
        errors.finish()
    }
}

/// A new asset template. Its config rules are checked by the store after the institution
/// exists (see [`super::validate_template_config`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAssetTemplate {
    /// The owning institution.
    pub institution_id: InstitutionId,
    /// The code; must belong to `vertical`.
    pub code: TemplateCode,
    /// Name, 1..=255 characters.
    pub name: String,
    /// The vertical.
    pub vertical: Vertical,
    /// The region.
    pub region: Region,
    /// Code-specific configuration (`{}` by default).
    pub config: JsonObject,
}

impl NewAssetTemplate {
    /// Checks every field except the code-specific config rules.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.required_text("name", "Name", &self.name, MAX_TEXT_CHARS);
        errors.json_object("config", "Config", &self.config);
        errors.finish()
    }
}

/// A new asset.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAsset {
    /// The owning institution.
    pub institution_id: InstitutionId,
    /// The template (must belong to the same institution).
    pub template_id: TemplateId,
    /// Label, 1..=255 characters.
    pub label: String,
    /// Metadata (`{}` by default), at most 64 KiB and 10 levels deep.
    pub metadata: JsonObject,
}

impl NewAsset {
    /// Checks every field.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.required_text("label", "Label", &self.label, MAX_TEXT_CHARS);
        errors.json_object("metadata", "Metadata", &self.metadata);
        errors.finish()
    }
}

/// A new position (always created in state `CREATED` with no events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPosition {
    /// The owning institution.
    pub institution_id: InstitutionId,
    /// The asset (must belong to the same institution).
    pub asset_id: AssetId,
    /// Holder reference, 1..=255 characters.
    pub holder_reference: String,
    /// The currency.
    pub currency: Currency,
    /// The amount.
    pub amount: Amount,
    /// Optional external reference, at most 255 characters (may be empty).
    pub external_reference: Option<String>,
}

impl NewPosition {
    /// Checks every field.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.required_text(
            "holderReference",
            "Holder reference",
            &self.holder_reference,
            MAX_TEXT_CHARS,
        );
        if let Some(reference) = &self.external_reference {
            errors.optional_text(
                "externalReference",
                "External reference",
                reference,
                MAX_TEXT_CHARS,
            );
        }
        errors.finish()
    }
}

/// A new API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The institution it acts for.
    pub institution_id: InstitutionId,
    /// Label, 1..=255 characters.
    pub label: String,
    /// Its role.
    pub role: ApiKeyRole,
}

impl NewApiKey {
    /// Checks every field.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        errors.required_text("label", "Label", &self.label, MAX_TEXT_CHARS);
        errors.finish()
    }
}

/// A requested state change of a position.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRequest {
    /// The target state.
    pub to_state: PositionState,
    /// Why, at most 1000 characters.
    pub reason: Option<String>,
    /// Metadata, at most 64 KiB and 10 levels deep.
    pub metadata: Option<JsonObject>,
    /// When set, the transition only applies if the position still has this version;
    /// otherwise the version read at the start of the store's transaction is used.
    pub expected_version: Option<i64>,
}

impl TransitionRequest {
    /// A request with no reason, metadata or expected version.
    #[must_use]
    pub fn to(to_state: PositionState) -> Self {
        Self {
            to_state,
            reason: None,
            metadata: None,
            expected_version: None,
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        if let Some(reason) = &self.reason {
            errors.optional_text("reason", "Reason", reason, MAX_REASON_CHARS);
        }
        if let Some(metadata) = &self.metadata {
            errors.json_object("metadata", "Metadata", metadata);
        }
        errors.finish()
    }
}

impl PositionPolicy {
    /// Checks that `minAmount <= maxAmount` when both are set.
    ///
    /// # Errors
    /// `{field: "position", message: "minAmount must be less than or equal to maxAmount"}`.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        if let (Some(min), Some(max)) = (self.min_amount, self.max_amount) {
            if min > max {
                errors.push(
                    "position",
                    "minAmount must be less than or equal to maxAmount",
                );
            }
        }
        errors.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verticals_default_to_both() {
        let new = NewInstitution::new("Acme".into(), vec![Region::Us], None);
        assert_eq!(
            new.verticals,
            vec![Vertical::Construction, Vertical::TradeFinance]
        );
        assert!(new.validate().is_ok());
    }

    #[test]
    fn every_bad_institution_field_is_listed() {
        let new = NewInstitution::new(String::new(), Vec::new(), Some(Vec::new()));
        assert_eq!(
            new.validate().unwrap_err(),
            vec![
                FieldError::new("name", "Name is required"),
                FieldError::new("regions", "At least one region is required"),
            ]
        );
        let many = NewInstitution::new("x".into(), vec![Region::Us; 11], None);
        assert_eq!(
            many.validate().unwrap_err(),
            vec![FieldError::new("regions", "Too many regions")]
        );
    }

    #[test]
    fn a_long_reason_is_rejected() {
        let mut request = TransitionRequest::to(PositionState::Funded);
        request.reason = Some("r".repeat(1001));
        assert_eq!(
            request.validate().unwrap_err(),
            vec![FieldError::new(
                "reason",
                "Reason must not exceed 1000 characters"
            )]
        );
    }
}
