//! The one place where classified storage errors become domain errors.
//!
//! SQLSTATEs are classified by `gridstore::postgres::classify` (through [`super::db::Db`]);
//! [`translate`] then reads the violated constraint and names what was missing or duplicate:
//! a foreign key violation on creating an asset is the template that does not exist, a unique
//! violation is a duplicate, a check violation is invalid input. Retryable errors
//! (serialization failures, deadlocks, lost connections) pass through untouched, so the
//! transaction helper still retries them.

use crate::Error;
use crate::domain::{
    ApiKeyId, AssetId, FieldError, InstitutionId, PolicyId, PositionId, TemplateId, WebhookId,
};

/// The ids a statement refers to, so a violated constraint can name the missing or duplicate
/// thing.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Subject<'a> {
    /// The institution the row belongs to.
    pub(super) institution: Option<&'a str>,
    /// The template an asset refers to.
    pub(super) template: Option<&'a str>,
    /// The asset a position refers to.
    pub(super) asset: Option<&'a str>,
    /// The position an event refers to.
    pub(super) position: Option<&'a str>,
    /// The key of a unique row (api key id).
    pub(super) key: Option<&'a str>,
}

/// What a violated constraint means.
#[derive(Debug, Clone, Copy)]
enum Meaning {
    /// The referenced row of this resource does not exist (foreign key).
    Missing(&'static str),
    /// A row of this resource with the same key exists (unique).
    Duplicate(&'static str),
    /// The value of this field is invalid (check).
    Invalid(&'static str, &'static str),
}

/// Every named constraint of the schema whose violation a caller can provoke.
const CONSTRAINTS: &[(&str, Meaning)] = &[
    (
        "asset_templates_institution_id_fkey",
        Meaning::Missing(InstitutionId::RESOURCE),
    ),
    (
        "assets_institution_id_fkey",
        Meaning::Missing(InstitutionId::RESOURCE),
    ),
    (
        "positions_institution_id_fkey",
        Meaning::Missing(InstitutionId::RESOURCE),
    ),
    (
        "api_keys_institution_id_fkey",
        Meaning::Missing(InstitutionId::RESOURCE),
    ),
    (
        "institution_policies_institution_id_fkey",
        Meaning::Missing(InstitutionId::RESOURCE),
    ),
    (
        "assets_template_fkey",
        Meaning::Missing(TemplateId::RESOURCE),
    ),
    ("positions_asset_fkey", Meaning::Missing(AssetId::RESOURCE)),
    (
        "position_events_position_fkey",
        Meaning::Missing(PositionId::RESOURCE),
    ),
    (
        "ledger_events_position_fkey",
        Meaning::Missing(PositionId::RESOURCE),
    ),
    (
        "api_keys_key_hash_key",
        Meaning::Duplicate(ApiKeyId::RESOURCE),
    ),
    ("api_keys_pkey", Meaning::Duplicate(ApiKeyId::RESOURCE)),
    (
        "institutions_pkey",
        Meaning::Duplicate(InstitutionId::RESOURCE),
    ),
    (
        "asset_templates_pkey",
        Meaning::Duplicate(TemplateId::RESOURCE),
    ),
    ("assets_pkey", Meaning::Duplicate(AssetId::RESOURCE)),
    ("positions_pkey", Meaning::Duplicate(PositionId::RESOURCE)),
    ("webhooks_pkey", Meaning::Duplicate(WebhookId::RESOURCE)),
    (
        "institution_policies_pkey",
        Meaning::Duplicate(PolicyId::RESOURCE),
    ),
    (
        "positions_amount_check",
        Meaning::Invalid(
            "amount",
            "Amount must be positive and not exceed 1000000000000000",
        ),
    ),
    (
        "positions_currency_check",
        Meaning::Invalid("currency", "Unsupported currency code"),
    ),
    (
        "institutions_name_check",
        Meaning::Invalid("name", "Name is required"),
    ),
    (
        "asset_templates_code_vertical_check",
        Meaning::Invalid("code", "Template code does not belong to the vertical"),
    ),
];

/// Translates a storage error into the domain error it stands for; anything else is returned
/// unchanged.
pub(super) fn translate(err: Error, subject: &Subject<'_>) -> Error {
    let Some(storage) = (match &err {
        Error::Storage(cause) => cause.backend(),
        _ => None,
    }) else {
        return err;
    };
    match storage {
        gridstore::Error::ForeignKeyViolation { constraint }
        | gridstore::Error::UniqueViolation { constraint }
        | gridstore::Error::CheckViolation { constraint } => match meaning(constraint) {
            Some(meaning) => from_meaning(meaning, subject),
            None => check_fallback(storage, constraint).unwrap_or(err),
        },
        gridstore::Error::NotNullViolation { column } => Error::Validation(vec![FieldError::new(
            column.clone(),
            format!("{column} is required"),
        )]),
        _ => err,
    }
}

fn meaning(constraint: &str) -> Option<Meaning> {
    CONSTRAINTS
        .iter()
        .find(|(name, _)| *name == constraint)
        .map(|(_, meaning)| *meaning)
}

fn from_meaning(meaning: Meaning, subject: &Subject<'_>) -> Error {
    match meaning {
        Meaning::Missing(resource) => Error::not_found(resource, subject_id(resource, subject)),
        Meaning::Duplicate(resource) => Error::Duplicate {
            resource,
            key: subject.key.unwrap_or_default().to_owned(),
        },
        Meaning::Invalid(field, message) => {
            Error::Validation(vec![FieldError::new(field, message)])
        }
    }
}

/// The id of `resource` among the subject's ids.
fn subject_id<'a>(resource: &str, subject: &Subject<'a>) -> &'a str {
    let id = if resource == InstitutionId::RESOURCE {
        subject.institution
    } else if resource == TemplateId::RESOURCE {
        subject.template
    } else if resource == AssetId::RESOURCE {
        subject.asset
    } else {
        subject.position
    };
    id.unwrap_or_default()
}

/// Any other check constraint (every enum column has one) is invalid input in the column the
/// constraint is named after (`<table>_<column>_check`).
fn check_fallback(storage: &gridstore::Error, constraint: &str) -> Option<Error> {
    if !matches!(storage, gridstore::Error::CheckViolation { .. }) {
        return None;
    }
    let field = constraint.strip_suffix("_check").unwrap_or(constraint);
    Some(Error::Validation(vec![FieldError::new(
        field,
        "Invalid value",
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(err: gridstore::Error) -> Error {
        Error::from(err)
    }

    #[test]
    fn a_missing_template_on_asset_creation_is_not_found() {
        let subject = Subject {
            institution: Some("inst_1"),
            template: Some("tmpl_1"),
            ..Subject::default()
        };
        let err = translate(
            storage(gridstore::Error::ForeignKeyViolation {
                constraint: "assets_template_fkey".into(),
            }),
            &subject,
        );
        assert!(
            matches!(err, Error::NotFound { resource: "asset template", ref id } if id == "tmpl_1")
        );
    }

    #[test]
    fn a_unique_violation_is_a_duplicate() {
        let subject = Subject {
            key: Some("k"),
            ..Subject::default()
        };
        let err = translate(
            storage(gridstore::Error::UniqueViolation {
                constraint: "api_keys_key_hash_key".into(),
            }),
            &subject,
        );
        assert!(matches!(err, Error::Duplicate { resource: "api key", ref key } if key == "k"));
    }

    #[test]
    fn a_check_violation_is_a_validation_error() {
        let err = translate(
            storage(gridstore::Error::CheckViolation {
                constraint: "positions_state_check".into(),
            }),
            &Subject::default(),
        );
        assert!(
            matches!(err, Error::Validation(ref fields) if fields[0].field == "positions_state")
        );
    }

    #[test]
    fn retryable_errors_pass_through() {
        let err = translate(
            storage(gridstore::Error::SerializationFailure),
            &Subject::default(),
        );
        assert!(matches!(err, Error::Contention(_)));
    }
}
