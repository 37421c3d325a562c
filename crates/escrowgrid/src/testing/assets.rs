//! Assets.

use serde_json::json;

use crate::domain::{AssetId, NewAsset};
use crate::store::{AssetFilter, EscrowStore, Scope};

use super::fixtures::{
    assert_invalid_fields, assert_not_found, asset, audit, institution, page, scope, template,
};

/// An asset's template must exist and belong to the asset's institution.
pub async fn an_asset_needs_a_template_of_the_same_institution(store: &dyn EscrowStore) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    let b_template = template(store, &b.id).await;
    let cross = NewAsset {
        institution_id: a.id.clone(),
        template_id: b_template.id.clone(),
        label: "x".into(),
        metadata: serde_json::Map::new(),
    };
    assert_not_found(
        store
            .create_asset(&Scope::Root, cross.clone(), &audit())
            .await,
        "asset template",
    );
    assert_not_found(
        store
            .create_asset(&scope(&b), cross.clone(), &audit())
            .await,
        "institution",
    );
    let mut unlabeled = cross;
    unlabeled.label = String::new();
    assert_invalid_fields(
        store.create_asset(&Scope::Root, unlabeled, &audit()).await,
        &["label"],
    );

    assert_eq!(
        store
            .list_assets(&Scope::Root, &AssetFilter::default(), page(10, 0))
            .await
            .unwrap()
            .total,
        0
    );
    assert_not_found(
        store.get_asset(&Scope::Root, &AssetId::new()).await,
        "asset",
    );
}

/// Assets filter by template, keep their metadata exactly, and are scoped.
pub async fn assets_are_filtered_by_template_and_keep_their_metadata(store: &dyn EscrowStore) {
    let a = institution(store, "A").await;
    let first = template(store, &a.id).await;
    let second = template(store, &a.id).await;
    let metadata = json!({"site": "Lot 7", "nested": {"depth": [1, 2.5, "x"]}, "big": 12345678901234567890_u64});
    let new = NewAsset {
        institution_id: a.id.clone(),
        template_id: first.id.clone(),
        label: "Tower".into(),
        metadata: metadata.as_object().cloned().unwrap(),
    };
    let created = store.create_asset(&scope(&a), new, &audit()).await.unwrap();
    assert_eq!(
        serde_json::Value::Object(created.metadata.clone()),
        metadata
    );
    asset(store, &second).await;
    asset(store, &second).await;
    let loaded = store.get_asset(&scope(&a), &created.id).await.unwrap();
    assert_eq!(loaded, created);
    let filter = AssetFilter {
        template_id: Some(second.id.clone()),
        ..AssetFilter::default()
    };
    let listed = store
        .list_assets(&Scope::Root, &filter, page(10, 0))
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    assert!(
        listed
            .items
            .iter()
            .all(|asset| asset.template_id == second.id)
    );
    let b = institution(store, "B").await;
    assert_not_found(store.get_asset(&scope(&b), &created.id).await, "asset");

    assert_eq!(
        store
            .list_assets(&scope(&b), &AssetFilter::default(), page(10, 0))
            .await
            .unwrap()
            .total,
        0
    );
}
