//! Asset templates.

use serde_json::json;

use crate::Error;
use crate::domain::{
    AuditAction, InstitutionId, JsonObject, NewAssetTemplate, Region, TemplateCode, TemplateId,
    Vertical,
};
use crate::store::{AuditFilter, EscrowStore, Page, Scope, TemplateFilter};

use super::fixtures::{
    assert_invalid_fields, assert_not_found, audit, escrow_config, institution, is_list_ordered,
    page, scope, template,
};

fn new_template(
    institution_id: &InstitutionId,
    code: TemplateCode,
    config: JsonObject,
) -> NewAssetTemplate {
    NewAssetTemplate {
        institution_id: institution_id.clone(),
        code,
        name: "Template".into(),
        vertical: Vertical::Construction,
        region: Region::Us,
        config,
    }
}

/// The institution is checked before the config rules; a config error is `TemplateConfig`
/// with the exact message; failures write nothing.
pub async fn a_template_is_checked_for_its_institution_before_its_config(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let bad = new_template(
        &InstitutionId::new(),
        TemplateCode::ConstrEscrow,
        JsonObject::new(),
    );
    assert_not_found(
        store
            .create_asset_template(&Scope::Root, bad, &audit())
            .await,
        "institution",
    );
    let bad = new_template(&acme.id, TemplateCode::ConstrEscrow, JsonObject::new());
    match store
        .create_asset_template(&Scope::Root, bad, &audit())
        .await
    {
        Err(Error::TemplateConfig(err)) => {
            assert_eq!(
                err.to_string(),
                "CONSTR_ESCROW config requires a string currency"
            );
        }
        other => panic!("expected a template config error, got {other:?}"),
    }
    let mut unnamed = new_template(&acme.id, TemplateCode::ConstrEscrow, escrow_config());
    unnamed.name = String::new();
    assert_invalid_fields(
        store
            .create_asset_template(&Scope::Root, unnamed, &audit())
            .await,
        &["name"],
    );

    assert_eq!(
        store
            .list_asset_templates(&Scope::Root, &TemplateFilter::default(), Page::default())
            .await
            .unwrap()
            .total
            .unwrap(),
        0
    );
    let filter = AuditFilter {
        action: Some(AuditAction::AssetTemplateCreated),
        ..AuditFilter::default()
    };
    let events = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(events.total.unwrap(), 0);
}

/// A code that does not belong to the template's vertical is rejected.
pub async fn a_template_code_from_another_vertical_is_rejected(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let config = json!({"currency": "USD", "issuingBankCountry": "SG", "maxTenorDays": 30});
    let new = new_template(
        &acme.id,
        TemplateCode::TfLc,
        config.as_object().cloned().unwrap(),
    );
    match store
        .create_asset_template(&Scope::Root, new, &audit())
        .await
    {
        Err(Error::TemplateConfig(err)) => assert_eq!(
            err.to_string(),
            "Template code TF_LC does not belong to vertical CONSTRUCTION"
        ),
        other => panic!("expected a template config error, got {other:?}"),
    }
}

/// A tenant can neither create templates for another institution nor read its templates.
pub async fn a_tenant_cannot_create_or_read_another_tenants_template(store: &dyn EscrowStore) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    let foreign = new_template(&b.id, TemplateCode::ConstrEscrow, escrow_config());
    assert_not_found(
        store
            .create_asset_template(&scope(&a), foreign, &audit())
            .await,
        "institution",
    );
    let own = new_template(&a.id, TemplateCode::ConstrEscrow, escrow_config());
    let created = store
        .create_asset_template(&scope(&a), own, &audit())
        .await
        .unwrap();
    assert_eq!(
        store
            .get_asset_template(&scope(&a), &created.id)
            .await
            .unwrap(),
        created
    );
    assert_eq!(
        store
            .get_asset_template(&Scope::Root, &created.id)
            .await
            .unwrap(),
        created
    );
    assert_not_found(
        store.get_asset_template(&scope(&b), &created.id).await,
        "asset template",
    );
    assert_not_found(
        store
            .get_asset_template(&Scope::Root, &TemplateId::new())
            .await,
        "asset template",
    );
}

/// Lists filter by institution (intersected with the scope), page, and count the total.
pub async fn templates_are_filtered_by_institution_and_paginated_with_a_total(
    store: &dyn EscrowStore,
) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    for _ in 0..5 {
        template(store, &a.id).await;
    }
    for _ in 0..2 {
        template(store, &b.id).await;
    }
    let only_a = TemplateFilter {
        institution_id: Some(a.id.clone()),
    };
    let all_a = store
        .list_asset_templates(&Scope::Root, &only_a, page(1000, 0))
        .await
        .unwrap();
    assert_eq!(all_a.total.unwrap(), 5);
    assert!(all_a.items.iter().all(|t| t.institution_id == a.id));
    assert!(is_list_ordered(&all_a.items, |t| (
        t.created_at,
        t.id.clone()
    )));
    let window = store
        .list_asset_templates(&Scope::Root, &only_a, page(2, 1))
        .await
        .unwrap();
    assert_eq!(window.total.unwrap(), 5);
    assert_eq!(window.items, all_a.items[1..3].to_vec());
    assert!(window.has_more());
    let past_end = store
        .list_asset_templates(&Scope::Root, &only_a, page(10, 5))
        .await
        .unwrap();
    assert_eq!((past_end.items.len(), past_end.total.unwrap()), (0, 5));

    assert_eq!(
        store
            .list_asset_templates(&Scope::Root, &TemplateFilter::default(), page(100, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        7
    );

    assert_eq!(
        store
            .list_asset_templates(&scope(&b), &TemplateFilter::default(), page(100, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        2
    );
    let b_asks_for_a = store
        .list_asset_templates(&scope(&b), &only_a, page(100, 0))
        .await
        .unwrap();
    assert_eq!(b_asks_for_a.total.unwrap(), 0);
}
