//! Keyset pages of the lists answered as plain arrays (`*_page` with a [`KeysetPage`]):
//! institutions, API keys, policies, ledger events and webhooks. Walking each by its pages'
//! `next` keys, for every filter and scope and several page sizes, yields exactly its whole
//! list (`list_*`, the order the API always answered); a page after a key of a parent that is
//! unknown or out of scope is NotFound like the whole list.

use crate::domain::{
    ApiKeyRole, Institution, NewApiKey, PositionPolicy, PositionState, Region, TransitionRequest,
};
use crate::store::{EscrowStore, KeysetPage, Page, Scope, SortKey, Start, WebhookStore};

use super::fixtures::{assert_not_found, audit, institution, position, scope, template};
use super::keyset::walk;

/// The keyset request of a walk's page.
fn keyset(page: &Page) -> KeysetPage {
    let key = match page.start() {
        Start::After(key) => key.clone(),
        Start::Offset(_) => None,
    };
    KeysetPage::after(i64::from(page.limit()), key).unwrap()
}

/// Three institutions; A and B with API keys (one of A's revoked), policies and positions
/// with one or two ledger events each. C has none of them.
async fn seed(store: &dyn EscrowStore) -> [Institution; 3] {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    let c = institution(store, "C").await;
    for (n, owner) in [&a, &b, &a, &a, &b].into_iter().enumerate() {
        let new = NewApiKey {
            institution_id: owner.id.clone(),
            label: format!("key {n}"),
            role: ApiKeyRole::ReadOnly,
        };
        let created = store
            .create_api_key(&scope(owner), new, &audit())
            .await
            .unwrap();
        if n == 2 {
            store
                .revoke_api_key(&Scope::Root, &a.id, &created.api_key.id, &audit())
                .await
                .unwrap();
        }
    }
    for (owner, region) in [(&a, Region::Us), (&b, Region::Sg), (&a, Region::EuUk)] {
        let rules = PositionPolicy::default();
        store
            .upsert_policy(&Scope::Root, &owner.id, region, rules, &audit())
            .await
            .unwrap();
    }
    for (n, owner) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        let on = super::fixtures::asset(store, &template(store, &owner.id).await).await;
        let opened = position(store, &on, "holder").await;
        if n % 2 == 0 {
            let funded = TransitionRequest::to(PositionState::Funded);
            store
                .transition_position(&Scope::Root, &opened.id, funded, &audit())
                .await
                .unwrap();
        }
    }
    [a, b, c]
}

/// Every array list, walked by key with pages of 1, 2 and 3, is its whole list, for every
/// scope and filter; revoked keys stay out of the walk as they stay out of the list.
pub async fn array_lists_walked_by_key_are_their_whole_lists_for_every_scope_and_filter(
    store: &dyn EscrowStore,
) {
    let [a, b, c] = seed(store).await;
    let everyone = store.list_institutions(&Scope::Root).await.unwrap();
    assert_eq!(everyone.len(), 3);
    for in_scope in [Scope::Root, scope(&a), scope(&b)] {
        let whole = store.list_institutions(&in_scope).await.unwrap();
        for limit in [1, 2, 3] {
            let walked = walk(limit, |page| {
                let in_scope = &in_scope;
                async move {
                    let page = keyset(&page);
                    store.institutions_page(in_scope, page).await.unwrap()
                }
            })
            .await;
            assert_eq!(walked, whole, "{in_scope:?}");
        }
        let ledger = store.list_ledger_events(&in_scope, None).await.unwrap();
        for limit in [1, 2, 3] {
            let walked = walk(limit, |page| {
                let in_scope = &in_scope;
                async move {
                    let page = keyset(&page);
                    store
                        .ledger_events_page(in_scope, None, page)
                        .await
                        .unwrap()
                }
            })
            .await;
            assert_eq!(walked, ledger, "{in_scope:?}");
        }
    }
    for owner in [&a, &b, &c] {
        let keys = store.list_api_keys(&Scope::Root, &owner.id).await.unwrap();
        let policies = store.list_policies(&scope(owner), &owner.id).await.unwrap();
        for limit in [1, 2] {
            let walked = walk(limit, |page| async move {
                let page = keyset(&page);
                store
                    .api_keys_page(&Scope::Root, &owner.id, page)
                    .await
                    .unwrap()
            })
            .await;
            assert_eq!(walked, keys, "{}", owner.name);
            assert!(walked.iter().all(|key| key.revoked_at.is_none()));
            let walked = walk(limit, |page| async move {
                let page = keyset(&page);
                store
                    .policies_page(&scope(owner), &owner.id, page)
                    .await
                    .unwrap()
            })
            .await;
            assert_eq!(walked, policies, "{}", owner.name);
        }
    }
    let a_keys = store.list_api_keys(&Scope::Root, &a.id).await.unwrap();
    assert_eq!(a_keys.len(), 2, "A's revoked key is not listed");
    let ledger = store.list_ledger_events(&Scope::Root, None).await.unwrap();
    assert_eq!(ledger.len(), 8);
    for event in &ledger {
        let of_position = store
            .list_ledger_events(&Scope::Root, Some(&event.position_id))
            .await
            .unwrap();
        let walked = walk(1, |page| async move {
            let page = keyset(&page);
            let owner = Scope::Institution(event.institution_id.clone());
            let position = Some(&event.position_id);
            store
                .ledger_events_page(&owner, position, page)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(walked, of_position);
    }
}

/// A page after a key is NotFound for an unknown or out-of-scope parent, exactly like the
/// whole list, even where the page itself would be empty.
pub async fn a_page_of_an_unknown_or_foreign_parent_is_not_found(store: &dyn EscrowStore) {
    let [a, b, _] = seed(store).await;
    let far = KeysetPage::after(5, Some(SortKey::Seq(u64::MAX >> 2))).unwrap();
    let b_position = store.list_ledger_events(&scope(&b), None).await.unwrap()[0]
        .position_id
        .clone();
    assert_not_found(
        store
            .ledger_events_page(&scope(&a), Some(&b_position), far.clone())
            .await,
        "position",
    );
    let own = store
        .ledger_events_page(&scope(&b), Some(&b_position), far)
        .await
        .unwrap();
    assert_eq!((own.items.len(), own.next), (0, None));
    let first = KeysetPage::after(1, None).unwrap();
    assert_not_found(
        store.api_keys_page(&scope(&a), &b.id, first.clone()).await,
        "institution",
    );
    let ghost = crate::domain::InstitutionId::new();
    assert_not_found(
        store
            .api_keys_page(&Scope::Root, &ghost, first.clone())
            .await,
        "institution",
    );
    assert_not_found(
        store
            .policies_page(&Scope::Root, &ghost, first.clone())
            .await,
        "institution",
    );
    let none = store
        .institutions_page(&Scope::Institution(ghost), first)
        .await
        .unwrap();
    assert!(none.items.is_empty());
    // A key of the other kind (cursors are not signed) names no row: nothing follows it.
    let seq = KeysetPage::after(5, Some(SortKey::Seq(0))).unwrap();
    let after_seq = store.institutions_page(&Scope::Root, seq).await.unwrap();
    assert_eq!((after_seq.items.len(), after_seq.next), (0, None));
    let created = SortKey::created(a.created_at, a.id.as_str());
    let entity = KeysetPage::after(5, Some(created)).unwrap();
    let ledger = store.ledger_events_page(&Scope::Root, None, entity);
    assert!(ledger.await.unwrap().items.is_empty());
    let keys = store.api_keys_page(
        &Scope::Root,
        &a.id,
        KeysetPage::after(5, Some(SortKey::Seq(0))).unwrap(),
    );
    assert!(keys.await.unwrap().items.is_empty());
}

/// Webhook endpoints walked by key are the whole list, for every scope and institution
/// filter; a filter naming another tenant is an empty list.
pub async fn webhook_pages_walked_by_key_are_the_whole_list_for_every_filter(
    store: &dyn EscrowStore,
    webhooks: &dyn WebhookStore,
) {
    let [a, b, _] = seed(store).await;
    for (n, owner) in [&a, &b, &a, &a, &b].into_iter().enumerate() {
        let url = format!("https://hooks{n}.example/");
        super::webhooks::create(webhooks, &Scope::Root, &owner.id, &url, "s").await;
    }
    let filters = [None, Some(&a.id), Some(&b.id)];
    for in_scope in [Scope::Root, scope(&a), scope(&b)] {
        for filter in filters {
            let whole = webhooks.list_webhooks(&in_scope, filter).await.unwrap();
            let foreign = filter.is_some_and(|wanted| !in_scope.allows(wanted));
            assert_eq!(whole.is_empty(), foreign, "{in_scope:?} {filter:?}");
            for limit in [1, 2] {
                let walked = walk(limit, |page| {
                    let in_scope = &in_scope;
                    async move {
                        let page = keyset(&page);
                        webhooks
                            .webhooks_page(in_scope, filter, page)
                            .await
                            .unwrap()
                    }
                })
                .await;
                assert_eq!(walked, whole, "{in_scope:?} {filter:?}");
            }
        }
    }
}
