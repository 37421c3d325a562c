//! Keyset pages (`Page::after`): walking a list by its pages' `next` keys yields exactly the
//! offset walk (no gap, no duplicate) for every filter and scope, counts nothing, and rows
//! created while a walk is under way appear once or not at all without shifting the others.

use std::collections::HashSet;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Mutex;

use chrono::Duration;

use crate::domain::{
    Asset, AuditAction, AuditContext, AuditOutcome, Delivery, DeliveryId, DeliveryStatus,
    Institution, ResourceType, now_millis,
};
use crate::store::{
    AssetFilter, AuditFilter, EscrowStore, Page, Paginated, PositionFilter, Scope, SortKey,
    TemplateFilter, WebhookStore,
};

use super::fixtures::{asset, audit, institution, page, position, scope, template};

/// The most pages a walk may take before the test calls it endless.
const MAX_PAGES: usize = 1_000;

/// Walks a list by keys: the first keyset page, then the page after each page's `next`, until
/// a page has none. Checks that a keyset page counts nothing and that only the last page is
/// short.
pub(super) async fn walk<T: Clone, F, Fut>(limit: i64, mut fetch: F) -> Vec<T>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = Paginated<T>>,
{
    let mut after: Option<SortKey> = None;
    let mut all = Vec::new();
    for _ in 0..MAX_PAGES {
        let got = fetch(Page::after(limit, after.clone()).unwrap()).await;
        assert_eq!(got.total, None, "a keyset page counts nothing");
        assert!(got.items.len() <= usize::try_from(limit).unwrap());
        all.extend(got.items.iter().cloned());
        match got.next {
            Some(next) => {
                assert_eq!(
                    got.items.len(),
                    usize::try_from(limit).unwrap(),
                    "short page"
                );
                assert!(
                    after.as_ref().is_none_or(|after| next > *after),
                    "keys advance"
                );
                after = Some(next);
            }
            None => return all,
        }
    }
    panic!("a walk of more than {MAX_PAGES} pages");
}

fn ids<T, I: Debug>(items: &[T], id: impl Fn(&T) -> I) -> Vec<String> {
    items.iter().map(|item| format!("{:?}", id(item))).collect()
}

/// Two institutions, their templates and assets, and nine positions across them and two
/// holders (several created within one millisecond, so ties on `created_at` are broken by id).
async fn seed(store: &dyn EscrowStore) -> (Institution, Institution, Vec<Asset>) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    let a_template = template(store, &a.id).await;
    let b_template = template(store, &b.id).await;
    let assets = vec![
        asset(store, &a_template).await,
        asset(store, &a_template).await,
        asset(store, &b_template).await,
    ];
    for (n, target) in [0, 1, 2, 0, 2, 1, 0, 0, 2].into_iter().enumerate() {
        let holder = if n % 3 == 0 { "alice" } else { "bob" };
        position(store, &assets[target], holder).await;
    }
    (a, b, assets)
}

/// For every list, filter, scope and page size: the keyset walk is the offset walk, and an
/// offset page's `next` continues it by key.
pub async fn walking_every_list_by_cursor_yields_its_offset_walk_for_every_filter(
    store: &dyn EscrowStore,
) {
    let (a, b, assets) = seed(store).await;
    let scopes = [Scope::Root, scope(&a), scope(&b)];
    let position_filters = [
        PositionFilter::default(),
        PositionFilter {
            institution_id: Some(a.id.clone()),
            ..PositionFilter::default()
        },
        PositionFilter {
            asset_id: Some(assets[0].id.clone()),
            ..PositionFilter::default()
        },
        PositionFilter {
            holder_reference: Some("alice".into()),
            ..PositionFilter::default()
        },
        PositionFilter {
            institution_id: Some(a.id.clone()),
            asset_id: Some(assets[1].id.clone()),
            holder_reference: Some("bob".into()),
        },
        PositionFilter {
            asset_id: Some(assets[2].id.clone()),
            holder_reference: Some("alice".into()),
            ..PositionFilter::default()
        },
    ];
    for in_scope in &scopes {
        for filter in &position_filters {
            let list =
                |page| async move { store.list_positions(in_scope, filter, page).await.unwrap() };
            let full = list(page(1000, 0)).await.items;
            let expected = ids(&full, |p| p.id.clone());
            for limit in [1, 2, 4] {
                let walked = walk(limit, list).await;
                assert_eq!(
                    ids(&walked, |p| p.id.clone()),
                    expected,
                    "{in_scope:?} {filter:?}"
                );
            }
            let first = list(page(2, 0)).await;
            if let Some(next) = first.next {
                let rest = list(Page::after(1000, Some(next)).unwrap()).await;
                let joined: Vec<_> = first.items.into_iter().chain(rest.items).collect();
                assert_eq!(ids(&joined, |p| p.id.clone()), expected, "{filter:?}");
            }
        }
        let asset_filters = [
            AssetFilter::default(),
            AssetFilter {
                institution_id: Some(a.id.clone()),
                ..AssetFilter::default()
            },
            AssetFilter {
                template_id: Some(assets[0].template_id.clone()),
                ..AssetFilter::default()
            },
        ];
        for filter in &asset_filters {
            let list =
                |page| async move { store.list_assets(in_scope, filter, page).await.unwrap() };
            let expected = ids(&list(page(1000, 0)).await.items, |x| x.id.clone());
            let walked = walk(1, list).await;
            assert_eq!(ids(&walked, |x| x.id.clone()), expected, "{filter:?}");
        }
        let filter = &TemplateFilter::default();
        let list = |page| async move {
            store
                .list_asset_templates(in_scope, filter, page)
                .await
                .unwrap()
        };
        let expected = ids(&list(page(1000, 0)).await.items, |t| t.id.clone());
        assert_eq!(ids(&walk(1, list).await, |t| t.id.clone()), expected);
        let audit_filters = [
            AuditFilter::default(),
            AuditFilter {
                institution_id: Some(a.id.clone()),
                ..AuditFilter::default()
            },
            AuditFilter {
                action: Some(AuditAction::PositionCreated),
                ..AuditFilter::default()
            },
            AuditFilter {
                resource_type: Some(ResourceType::Asset),
                institution_id: Some(a.id.clone()),
                ..AuditFilter::default()
            },
        ];
        for filter in &audit_filters {
            let list = |page| async move {
                store
                    .list_audit_events(in_scope, filter, page)
                    .await
                    .unwrap()
            };
            let expected = ids(&list(page(1000, 0)).await.items, |e| e.id.clone());
            for limit in [1, 3] {
                let walked = walk(limit, list).await;
                assert_eq!(ids(&walked, |e| e.id.clone()), expected, "{filter:?}");
            }
        }
    }
}

/// Positions and audit events created between the pages of a walk appear at most once and
/// never make the walk skip or repeat a row that existed when it began.
pub async fn rows_created_during_a_cursor_walk_appear_once_or_not_at_all_and_shift_nothing(
    store: &dyn EscrowStore,
) {
    let (a, _, assets) = seed(store).await;
    let before = store
        .list_positions(&Scope::Root, &PositionFilter::default(), page(1000, 0))
        .await
        .unwrap()
        .items;
    let created = Mutex::new(HashSet::new());
    let walked = walk(2, |page| {
        let (created, target) = (&created, &assets[0]);
        async move {
            let got = store
                .list_positions(&Scope::Root, &PositionFilter::default(), page)
                .await
                .unwrap();
            let new = position(store, target, "carol").await;
            created.lock().unwrap().insert(format!("{:?}", new.id));
            got
        }
    })
    .await;
    assert_walk_keeps_order(
        &ids(&before, |p| p.id.clone()),
        &ids(&walked, |p| p.id.clone()),
        &created.into_inner().unwrap(),
    );

    let in_scope = scope(&a);
    let filter = AuditFilter::default();
    let before = store
        .list_audit_events(&in_scope, &filter, page(1000, 0))
        .await
        .unwrap()
        .items;
    let recorded = Mutex::new(HashSet::new());
    let walked = walk(3, |page| {
        let (recorded, in_scope, filter, a) = (&recorded, &in_scope, &filter, &a);
        async move {
            let got = store
                .list_audit_events(in_scope, filter, page)
                .await
                .unwrap();
            let context = AuditContext {
                institution_id: Some(a.id.clone()),
                ..audit()
            };
            let event = context.event(
                AuditAction::AssetCreated,
                AuditOutcome::Success,
                None,
                None,
                now_millis(),
            );
            recorded.lock().unwrap().insert(format!("{:?}", event.id));
            store.record_audit(event).await.unwrap();
            got
        }
    })
    .await;
    assert_walk_keeps_order(
        &ids(&before, |e| e.id.clone()),
        &ids(&walked, |e| e.id.clone()),
        &recorded.into_inner().unwrap(),
    );
}

/// `walked` is `before` in order, with some of `created` interleaved, each at most once.
fn assert_walk_keeps_order(before: &[String], walked: &[String], created: &HashSet<String>) {
    let old: Vec<&String> = walked.iter().filter(|id| !created.contains(*id)).collect();
    assert_eq!(old, before.iter().collect::<Vec<_>>(), "no gap, no repeat");
    let mut seen = HashSet::new();
    assert!(
        walked.iter().all(|id| seen.insert(id)),
        "a row appeared twice"
    );
}

/// Deliveries (newest first) walked by key: the offset walk, ties on `created_at` included.
pub async fn deliveries_walked_by_cursor_are_the_offset_walk_newest_first(
    store: &dyn EscrowStore,
    webhooks: &dyn WebhookStore,
) {
    let acme = institution(store, "Acme").await;
    let endpoint =
        super::webhooks::create(webhooks, &Scope::Root, &acme.id, "https://a.example/", "s").await;
    let start = now_millis();
    // Three instants, several deliveries on each: the order is created_at desc, then id asc.
    for (n, offset) in [0, 5, 5, 0, 9, 5, 0].into_iter().enumerate() {
        let event = format!("evt_{n}");
        let delivery = Delivery {
            id: DeliveryId::derive(&endpoint.id, &event),
            webhook_id: endpoint.id.clone(),
            institution_id: acme.id.clone(),
            event_id: event,
            event_type: "position.created".into(),
            status: DeliveryStatus::Pending,
            attempts: 1,
            last_status_code: None,
            last_error: None,
            next_attempt_at: Some(start + Duration::seconds(5)),
            dlq_item_id: None,
            created_at: start + Duration::milliseconds(offset),
            updated_at: start + Duration::milliseconds(offset),
        };
        webhooks.save_delivery(&delivery).await.unwrap();
    }
    let list = |page| {
        let endpoint = &endpoint.id;
        async move {
            webhooks
                .list_deliveries(&Scope::Root, endpoint, page)
                .await
                .unwrap()
        }
    };
    let full = list(page(1000, 0)).await.items;
    assert_eq!(full.len(), 7);
    let expected = ids(&full, |d| d.id.clone());
    for limit in [1, 2, 3] {
        let walked: Vec<Delivery> = walk_newest_first(limit, list).await;
        assert_eq!(ids(&walked, |d| d.id.clone()), expected, "limit {limit}");
    }
}

/// [`walk`] for a newest-first list, whose keys decrease in time.
async fn walk_newest_first<T: Clone, F, Fut>(limit: i64, mut fetch: F) -> Vec<T>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = Paginated<T>>,
{
    let mut after = None;
    let mut all = Vec::new();
    for _ in 0..MAX_PAGES {
        let got = fetch(Page::after(limit, after.clone()).unwrap()).await;
        assert_eq!(got.total, None);
        all.extend(got.items.iter().cloned());
        match got.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
    panic!("a walk of more than {MAX_PAGES} pages");
}
