//! Creates under an `Idempotency-Key` (issue 13 item 4): the entity takes the id its
//! [`IdSeed`] derives, and a second create with the same seed never makes a second entity.

use crate::Error;
use crate::domain::{
    ApiKeyId, ApiKeyRole, AssetId, AuditContext, IdSeed, InstitutionId, LifecycleEventId,
    NewApiKey, NewAsset, NewAssetTemplate, NewInstitution, PositionId, PositionState, Region,
    TemplateId, TransitionRequest,
};
use crate::store::{AuditFilter, EscrowStore, Page, PositionFilter, Scope};

use super::fixtures::{asset, audit, escrow_config, institution, new_position, scope, template};

fn seeded(key: &str) -> AuditContext {
    AuditContext {
        id_seed: Some(IdSeed::derive("root", key, "request hash")),
        ..audit()
    }
}

fn assert_duplicate<T: std::fmt::Debug>(result: Result<T, Error>, resource: &str) {
    match result {
        Err(Error::Duplicate {
            resource: found, ..
        }) => assert_eq!(found, resource),
        other => panic!("expected a duplicate {resource}, got {other:?}"),
    }
}

/// Every create with a seed gives its entity the seed's id; the same create again with the
/// same seed is [`Error::Duplicate`] and leaves the first entity (and its ledger and audit
/// rows) alone, so exactly one exists. A seeded transition's lifecycle event takes the seed's
/// id too.
pub async fn a_seeded_create_takes_the_seeds_id_and_a_second_one_is_a_duplicate(
    store: &dyn EscrowStore,
) {
    let context = seeded("k-inst");
    let seed = context.id_seed.clone().unwrap();
    let new = || NewInstitution::new("Acme".into(), vec![Region::Us], None);
    let acme = store.create_institution(new(), &context).await.unwrap();
    assert_eq!(acme.id, InstitutionId::from_seed(&seed));
    assert_duplicate(
        store.create_institution(new(), &context).await,
        InstitutionId::RESOURCE,
    );
    assert_eq!(
        store.list_institutions(&Scope::Root).await.unwrap(),
        std::slice::from_ref(&acme)
    );

    let context = seeded("k-tmpl");
    let seed = context.id_seed.clone().unwrap();
    let new = || NewAssetTemplate {
        institution_id: acme.id.clone(),
        code: crate::domain::TemplateCode::ConstrEscrow,
        name: "Escrow".into(),
        vertical: crate::domain::Vertical::Construction,
        region: Region::Us,
        config: escrow_config(),
    };
    let template = store
        .create_asset_template(&Scope::Root, new(), &context)
        .await
        .unwrap();
    assert_eq!(template.id, TemplateId::from_seed(&seed));
    assert_duplicate(
        store
            .create_asset_template(&Scope::Root, new(), &context)
            .await,
        TemplateId::RESOURCE,
    );

    let context = seeded("k-asset");
    let seed = context.id_seed.clone().unwrap();
    let new = || NewAsset {
        institution_id: acme.id.clone(),
        template_id: template.id.clone(),
        label: "Asset".into(),
        metadata: crate::domain::JsonObject::new(),
    };
    let created = store
        .create_asset(&Scope::Root, new(), &context)
        .await
        .unwrap();
    assert_eq!(created.id, AssetId::from_seed(&seed));
    assert_duplicate(
        store.create_asset(&Scope::Root, new(), &context).await,
        AssetId::RESOURCE,
    );

    let context = seeded("k-pos");
    let seed = context.id_seed.clone().unwrap();
    let position = store
        .create_position(&scope(&acme), new_position(&created, "h", "10"), &context)
        .await
        .unwrap();
    assert_eq!(position.id, PositionId::from_seed(&seed));
    assert_duplicate(
        store
            .create_position(&scope(&acme), new_position(&created, "h", "10"), &context)
            .await,
        PositionId::RESOURCE,
    );
    let positions = store
        .list_positions(&scope(&acme), &PositionFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(positions.total.unwrap(), 1);
    let context = seeded("k-fund");
    let seed = context.id_seed.clone().unwrap();
    let fund = TransitionRequest {
        to_state: PositionState::Funded,
        reason: None,
        metadata: None,
        expected_version: None,
    };
    let funded = store
        .transition_position(&scope(&acme), &position.id, fund, &context)
        .await
        .unwrap();
    let event = funded.events.last().unwrap();
    assert_eq!(event.id, LifecycleEventId::from_seed(&seed));
    let ledger = store
        .list_ledger_events(&scope(&acme), Some(&position.id))
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2, "created and funded: {ledger:?}");

    let context = seeded("k-key");
    let seed = context.id_seed.clone().unwrap();
    let new = || NewApiKey {
        institution_id: acme.id.clone(),
        label: "ops".into(),
        role: ApiKeyRole::Admin,
    };
    let key = store
        .create_api_key(&Scope::Root, new(), &context)
        .await
        .unwrap();
    assert_eq!(key.api_key.id, ApiKeyId::from_seed(&seed));
    assert_duplicate(
        store.create_api_key(&Scope::Root, new(), &context).await,
        ApiKeyId::RESOURCE,
    );
    assert_eq!(
        store
            .list_api_keys(&Scope::Root, &acme.id)
            .await
            .unwrap()
            .len(),
        1
    );

    // Only the five first creates and the transition wrote audit rows.
    let audit_rows = store
        .list_audit_events(&Scope::Root, &AuditFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(audit_rows.total.unwrap(), 6, "{:?}", audit_rows.items);
}

/// Without a seed ids are random: the same create twice makes two entities.
pub async fn unseeded_creates_get_fresh_ids(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let template = template(store, &acme.id).await;
    let first = asset(store, &template).await;
    let second = asset(store, &template).await;
    assert_ne!(first.id, second.id);
}
