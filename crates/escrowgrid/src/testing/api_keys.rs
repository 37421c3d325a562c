//! API keys.

use crate::domain::{ApiKeyId, ApiKeyRole, AuditAction, InstitutionId, NewApiKey, hash_token};
use crate::store::{AuditFilter, EscrowStore, Page, Scope};

use super::fixtures::{assert_invalid_fields, assert_not_found, audit, institution, scope};

fn new_key(institution_id: &InstitutionId, label: &str, role: ApiKeyRole) -> NewApiKey {
    NewApiKey {
        institution_id: institution_id.clone(),
        label: label.into(),
        role,
    }
}

/// The token is `ak_` + 48 hex, returned once; the key is found by it; only its SHA-256 is
/// kept.
pub async fn an_api_key_is_found_by_its_token_and_only_its_hash_is_stored(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let new = new_key(&acme.id, "ops", ApiKeyRole::Admin);
    let created = store
        .create_api_key(&scope(&acme), new, &audit())
        .await
        .unwrap();
    let token = &created.token;
    assert_eq!(token.len(), 51);
    assert!(
        token.starts_with("ak_")
            && token[3..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert!(created.api_key.id.as_str().starts_with("ak_"));
    assert_ne!(created.api_key.id.as_str(), token);
    assert_eq!(created.api_key.key_hash, hash_token(token));
    assert_eq!(created.api_key.revoked_at, None);
    let found = store.find_api_key_by_token(token).await.unwrap().unwrap();
    assert_eq!(found, created.api_key);
    assert_eq!(store.find_api_key_by_token("ak_0000").await.unwrap(), None);
    assert_eq!(
        store
            .find_api_key_by_token(&created.api_key.key_hash)
            .await
            .unwrap(),
        None
    );
    let unlabeled = new_key(&acme.id, "", ApiKeyRole::ReadOnly);
    assert_invalid_fields(
        store
            .create_api_key(&Scope::Root, unlabeled, &audit())
            .await,
        &["label"],
    );
    let ghost = new_key(&InstitutionId::new(), "x", ApiKeyRole::ReadOnly);
    assert_not_found(
        store.create_api_key(&Scope::Root, ghost, &audit()).await,
        "institution",
    );
    let filter = AuditFilter {
        action: Some(AuditAction::ApiKeyCreated),
        ..AuditFilter::default()
    };
    let events = store
        .list_audit_events(&Scope::Root, &filter, Page::default())
        .await
        .unwrap();
    assert_eq!(events.total.unwrap(), 1);
    assert_eq!(events.items[0].payload.as_ref().unwrap()["role"], "admin");
}

/// Revoking sets `revokedAt`, hides the key from lists and token lookup; a second revoke is
/// NotFound.
pub async fn revoking_an_api_key_hides_it_and_a_second_revoke_is_not_found(
    store: &dyn EscrowStore,
) {
    let acme = institution(store, "Acme").await;
    let first = store
        .create_api_key(
            &Scope::Root,
            new_key(&acme.id, "a", ApiKeyRole::Admin),
            &audit(),
        )
        .await
        .unwrap();
    let second = store
        .create_api_key(
            &Scope::Root,
            new_key(&acme.id, "b", ApiKeyRole::ReadOnly),
            &audit(),
        )
        .await
        .unwrap();
    let listed = store.list_api_keys(&scope(&acme), &acme.id).await.unwrap();
    let mut expected = vec![first.api_key.clone(), second.api_key.clone()];
    expected.sort_by_key(|key| (key.created_at, key.id.clone()));
    assert_eq!(listed, expected, "ordered by created_at, then id");
    let revoked = store
        .revoke_api_key(&scope(&acme), &acme.id, &first.api_key.id, &audit())
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.id, first.api_key.id);
    assert_eq!(
        store.find_api_key_by_token(&first.token).await.unwrap(),
        None
    );
    assert!(
        store
            .find_api_key_by_token(&second.token)
            .await
            .unwrap()
            .is_some()
    );
    let listed = store.list_api_keys(&Scope::Root, &acme.id).await.unwrap();
    assert_eq!(listed, vec![second.api_key.clone()]);
    let again = store
        .revoke_api_key(&Scope::Root, &acme.id, &first.api_key.id, &audit())
        .await;
    assert_not_found(again, "api key");
    let unknown = store
        .revoke_api_key(&Scope::Root, &acme.id, &ApiKeyId::new(), &audit())
        .await;
    assert_not_found(unknown, "api key");
    let filter = AuditFilter {
        action: Some(AuditAction::ApiKeyRevoked),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .list_audit_events(&Scope::Root, &filter, Page::default())
            .await
            .unwrap()
            .total
            .unwrap(),
        1
    );
}

/// Keys are scoped: another institution's key cannot be revoked through yours, and a tenant
/// cannot list another's keys.
pub async fn another_institutions_keys_cannot_be_revoked_or_listed(store: &dyn EscrowStore) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    let b_key = store
        .create_api_key(
            &Scope::Root,
            new_key(&b.id, "b", ApiKeyRole::Admin),
            &audit(),
        )
        .await
        .unwrap();
    let through_a = store
        .revoke_api_key(&Scope::Root, &a.id, &b_key.api_key.id, &audit())
        .await;
    assert_not_found(through_a, "api key");
    let as_a = store
        .revoke_api_key(&scope(&a), &b.id, &b_key.api_key.id, &audit())
        .await;
    assert_not_found(as_a, "institution");
    assert_not_found(store.list_api_keys(&scope(&a), &b.id).await, "institution");
    assert_not_found(
        store
            .list_api_keys(&Scope::Root, &InstitutionId::new())
            .await,
        "institution",
    );
    assert!(
        store
            .list_api_keys(&scope(&a), &a.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .find_api_key_by_token(&b_key.token)
            .await
            .unwrap()
            .is_some()
    );
}
