//! Institution policies.

use crate::domain::{AuditAction, Currency, InstitutionId, PositionPolicy, Region};
use crate::store::{AuditFilter, EscrowStore, Page, Scope};

use super::fixtures::{amount, assert_invalid_fields, assert_not_found, audit, institution, scope};

/// An upsert creates, then replaces the whole config keeping id and `created_at`; each is
/// audited as `POLICY_UPDATED`.
pub async fn upserting_a_policy_keeps_its_id_and_replaces_its_config(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let first_rules = PositionPolicy {
        min_amount: Some(amount("12345678901234.12345678")),
        max_amount: Some(amount("1000000000000000")),
        allowed_currencies: Some(vec![Currency::USD, Currency::EUR]),
    };
    let first = store
        .upsert_policy(
            &scope(&acme),
            &acme.id,
            Region::Sg,
            first_rules.clone(),
            &audit(),
        )
        .await
        .unwrap();
    assert!(first.id.as_str().starts_with("pol_"));
    assert_eq!(
        (first.region, first.config.region),
        (Region::Sg, Region::Sg)
    );
    assert_eq!(first.config.position, first_rules);
    let second_rules = PositionPolicy {
        max_amount: Some(amount("99")),
        ..PositionPolicy::default()
    };
    let second = store
        .upsert_policy(
            &Scope::Root,
            &acme.id,
            Region::Sg,
            second_rules.clone(),
            &audit(),
        )
        .await
        .unwrap();
    assert_eq!(
        (&second.id, second.created_at),
        (&first.id, first.created_at)
    );
    assert!(second.updated_at >= first.updated_at);
    assert_eq!(second.config.position, second_rules);
    assert_eq!(
        store
            .get_policy(&scope(&acme), &acme.id, Region::Sg)
            .await
            .unwrap(),
        second
    );
    assert_eq!(
        store.list_policies(&Scope::Root, &acme.id).await.unwrap(),
        vec![second]
    );
    let filter = AuditFilter {
        action: Some(AuditAction::PolicyUpdated),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .list_audit_events(&Scope::Root, &filter, Page::default())
            .await
            .unwrap()
            .total
            .unwrap(),
        2
    );
}

/// A region without a policy is NotFound `"policy"`; policies are scoped by institution.
pub async fn a_missing_policy_is_not_found_and_policies_are_scoped(store: &dyn EscrowStore) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    assert_not_found(
        store.get_policy(&Scope::Root, &a.id, Region::Us).await,
        "policy",
    );
    let everything = PositionPolicy::default();
    let us = store
        .upsert_policy(
            &Scope::Root,
            &a.id,
            Region::Us,
            everything.clone(),
            &audit(),
        )
        .await
        .unwrap();
    let eu = store
        .upsert_policy(
            &Scope::Root,
            &a.id,
            Region::EuUk,
            everything.clone(),
            &audit(),
        )
        .await
        .unwrap();
    let mut expected = vec![us, eu];
    expected.sort_by_key(|policy| (policy.created_at, policy.id.clone()));
    assert_eq!(
        store.list_policies(&scope(&a), &a.id).await.unwrap(),
        expected
    );
    assert!(
        store
            .list_policies(&scope(&b), &b.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(
        store.get_policy(&scope(&b), &a.id, Region::Us).await,
        "institution",
    );
    assert_not_found(store.list_policies(&scope(&b), &a.id).await, "institution");

    assert_not_found(
        store
            .upsert_policy(&scope(&b), &a.id, Region::Us, everything.clone(), &audit())
            .await,
        "institution",
    );

    assert_not_found(
        store
            .upsert_policy(
                &Scope::Root,
                &InstitutionId::new(),
                Region::Us,
                everything,
                &audit(),
            )
            .await,
        "institution",
    );
}

/// `minAmount > maxAmount` is a validation error on `position`.
pub async fn a_policy_with_its_minimum_above_its_maximum_is_rejected(store: &dyn EscrowStore) {
    let acme = institution(store, "Acme").await;
    let rules = PositionPolicy {
        min_amount: Some(amount("100")),
        max_amount: Some(amount("99.99999999")),
        allowed_currencies: None,
    };
    let result = store
        .upsert_policy(&Scope::Root, &acme.id, Region::Us, rules, &audit())
        .await;
    assert_invalid_fields(result, &["position"]);
    assert!(
        store
            .list_policies(&Scope::Root, &acme.id)
            .await
            .unwrap()
            .is_empty()
    );
}
