//! Assets.

use serde_json::json;

use crate::domain::{AssetId, MAX_METADATA_BYTES, NewAsset};
use crate::store::{AssetFilter, EscrowStore, Scope};

use super::fixtures::{
    assert_invalid_fields, assert_not_found, asset, audit, institution, is_list_ordered, page,
    scope, template,
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
            .total
            .unwrap(),
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
    assert_eq!(listed.total.unwrap(), 2);
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
            .total
            .unwrap(),
        0
    );
}

/// Asset lists are ordered by creation time then id, paged with a total of the whole filtered
/// list, and intersected with the scope.
pub async fn assets_are_listed_in_creation_order_and_paginated_with_a_total(
    store: &dyn EscrowStore,
) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    let a_template = template(store, &a.id).await;
    for _ in 0..5 {
        asset(store, &a_template).await;
    }
    asset(store, &template(store, &b.id).await).await;
    let only_a = AssetFilter {
        institution_id: Some(a.id.clone()),
        ..AssetFilter::default()
    };
    let all = store
        .list_assets(&Scope::Root, &only_a, page(100, 0))
        .await
        .unwrap();
    assert_eq!((all.total.unwrap(), all.items.len()), (5, 5));
    assert!(is_list_ordered(&all.items, |x| (
        x.created_at,
        x.id.clone()
    )));
    let window = store
        .list_assets(&scope(&a), &AssetFilter::default(), page(2, 2))
        .await
        .unwrap();
    assert_eq!(window.total.unwrap(), 5);
    assert_eq!(window.items, all.items[2..4].to_vec());
    let past_the_end = store
        .list_assets(&Scope::Root, &only_a, page(10, 7))
        .await
        .unwrap();
    assert_eq!(
        (past_the_end.total.unwrap(), past_the_end.items.len()),
        (5, 0)
    );
    let everything = store
        .list_assets(&Scope::Root, &AssetFilter::default(), page(1000, 0))
        .await
        .unwrap();
    assert_eq!(everything.total.unwrap(), 6);
    assert_eq!(
        store
            .list_assets(&scope(&b), &only_a, page(10, 0))
            .await
            .unwrap()
            .total
            .unwrap(),
        0,
        "a filter cannot widen the scope"
    );
}

/// Metadata deeper than 10 levels or larger than 64 KiB is a validation error on `metadata`;
/// nothing is written.
pub async fn oversized_or_too_deep_asset_metadata_is_rejected(store: &dyn EscrowStore) {
    let a = institution(store, "A").await;
    let a_template = template(store, &a.id).await;
    let new = |metadata: serde_json::Value| NewAsset {
        institution_id: a.id.clone(),
        template_id: a_template.id.clone(),
        label: "x".into(),
        metadata: metadata.as_object().cloned().unwrap(),
    };
    // `{}` is level 1; nine wraps make the deepest accepted object, ten levels.
    let mut deep = json!({});
    for _ in 1..10 {
        deep = json!({ "a": deep });
    }
    let too_deep = json!({ "a": deep.clone() });
    store
        .create_asset(&Scope::Root, new(deep.clone()), &audit())
        .await
        .unwrap();
    assert_invalid_fields(
        store
            .create_asset(&Scope::Root, new(too_deep), &audit())
            .await,
        &["metadata"],
    );
    let big = json!({ "blob": "x".repeat(MAX_METADATA_BYTES) });
    assert_invalid_fields(
        store.create_asset(&Scope::Root, new(big), &audit()).await,
        &["metadata"],
    );
    let listed = store
        .list_assets(&Scope::Root, &AssetFilter::default(), page(10, 0))
        .await
        .unwrap();
    assert_eq!(listed.total.unwrap(), 1);
    assert_eq!(
        serde_json::Value::Object(listed.items[0].metadata.clone()),
        deep
    );
}
