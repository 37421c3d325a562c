//! Builders and assertions shared by the contract tests.

use std::fmt::Debug;

use serde_json::json;

use crate::Error;
use crate::domain::{
    Amount, Asset, AssetTemplate, AuditContext, Currency, Institution, InstitutionId, JsonObject,
    NewAsset, NewAssetTemplate, NewInstitution, NewPosition, Position, Region, TemplateCode,
    Vertical,
};
use crate::store::{EscrowStore, Page, Scope};

/// An audit context as the API would pass it.
#[must_use]
pub fn audit() -> AuditContext {
    AuditContext {
        request_id: Some(uuid::Uuid::new_v4().to_string()),
        api_key_id: None,
        institution_id: None,
        method: "POST".into(),
        path: "/contract-test".into(),
        client_ip: Some("127.0.0.1".into()),
        id_seed: None,
    }
}

/// The scope of one institution.
#[must_use]
pub fn scope(institution: &Institution) -> Scope {
    Scope::Institution(institution.id.clone())
}

/// Parses an amount.
#[must_use]
pub fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

/// A page.
#[must_use]
pub fn page(limit: i64, offset: i64) -> Page {
    Page::new(limit, offset).unwrap()
}

/// A valid `CONSTR_ESCROW` config for region US.
#[must_use]
pub fn escrow_config() -> JsonObject {
    json!({"currency": "USD", "region": "US"})
        .as_object()
        .cloned()
        .unwrap()
}

/// Creates an institution operating in the US.
pub async fn institution(store: &dyn EscrowStore, name: &str) -> Institution {
    let new = NewInstitution::new(name.into(), vec![Region::Us], None);
    store.create_institution(new, &audit()).await.unwrap()
}

/// Creates a `CONSTR_ESCROW` template in region US with the given config.
pub async fn template_with(
    store: &dyn EscrowStore,
    institution_id: &InstitutionId,
    config: JsonObject,
) -> AssetTemplate {
    let new = NewAssetTemplate {
        institution_id: institution_id.clone(),
        code: TemplateCode::ConstrEscrow,
        name: "Escrow".into(),
        vertical: Vertical::Construction,
        region: Region::Us,
        config,
    };
    store
        .create_asset_template(&Scope::Root, new, &audit())
        .await
        .unwrap()
}

/// Creates a valid template.
pub async fn template(store: &dyn EscrowStore, institution_id: &InstitutionId) -> AssetTemplate {
    template_with(store, institution_id, escrow_config()).await
}

/// Creates an asset on a template.
pub async fn asset(store: &dyn EscrowStore, template: &AssetTemplate) -> Asset {
    let new = NewAsset {
        institution_id: template.institution_id.clone(),
        template_id: template.id.clone(),
        label: "Asset".into(),
        metadata: JsonObject::new(),
    };
    store
        .create_asset(&Scope::Root, new, &audit())
        .await
        .unwrap()
}

/// A new-position input on an asset.
#[must_use]
pub fn new_position(asset: &Asset, holder: &str, value: &str) -> NewPosition {
    NewPosition {
        institution_id: asset.institution_id.clone(),
        asset_id: asset.id.clone(),
        holder_reference: holder.into(),
        currency: Currency::USD,
        amount: amount(value),
        external_reference: None,
    }
}

/// Creates a position on an asset.
pub async fn position(store: &dyn EscrowStore, asset: &Asset, holder: &str) -> Position {
    let new = new_position(asset, holder, "100.25");
    store
        .create_position(&Scope::Root, new, &audit())
        .await
        .unwrap()
}

/// An institution, a template, an asset and a position on it.
pub async fn position_setup(store: &dyn EscrowStore) -> (Institution, Asset, Position) {
    let institution = institution(store, "Acme").await;
    let template = template(store, &institution.id).await;
    let asset = asset(store, &template).await;
    let position = position(store, &asset, "holder-1").await;
    (institution, asset, position)
}

/// Asserts a NotFound error for `resource`.
#[track_caller]
pub fn assert_not_found<T: Debug>(result: Result<T, Error>, resource: &str) {
    match result {
        Err(Error::NotFound { resource: got, .. }) if got == resource => {}
        other => panic!("expected {resource} not found, got {other:?}"),
    }
}

/// Asserts a validation error naming exactly these fields, in order.
#[track_caller]
pub fn assert_invalid_fields<T: Debug>(result: Result<T, Error>, fields: &[&str]) {
    match result {
        Err(Error::Validation(errors)) => {
            let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(got, fields, "invalid fields");
        }
        other => panic!("expected a validation error on {fields:?}, got {other:?}"),
    }
}

/// Whether `items` are in list order: `created_at` ascending, ties by id.
pub fn is_list_ordered<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> bool {
    items.windows(2).all(|pair| key(&pair[0]) <= key(&pair[1]))
}
