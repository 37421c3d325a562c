//! List pages across filter combinations: every page is exactly the matching window of the
//! full filtered list, and filters that contradict the scope (another tenant's asset or
//! template, another institution) give an empty list. The memory backend answers these from
//! ordered per-filter lists, so this pins them to the reference semantics.

use crate::domain::{Asset, AuditAction, AuditContext, AuditOutcome, Position, now_millis};
use crate::store::{AssetFilter, AuditFilter, EscrowStore, PositionFilter, Scope};

use super::fixtures::{asset, audit, institution, page, position, scope, template};

/// Windows of every filter combination match the full list; contradicting filters match
/// nothing.
pub async fn position_pages_are_windows_of_the_filtered_list_for_every_filter_combination(
    store: &dyn EscrowStore,
) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    let a_template = template(store, &a.id).await;
    let (a1, a2) = (
        asset(store, &a_template).await,
        asset(store, &a_template).await,
    );
    let b1 = asset(store, &template(store, &b.id).await).await;
    for (n, target) in [&a1, &a2, &b1, &a1, &b1, &a2, &a1, &a1]
        .into_iter()
        .enumerate()
    {
        let holder = if n % 2 == 0 { "alice" } else { "bob" };
        position(store, target, holder).await;
    }
    let full = store
        .list_positions(&Scope::Root, &PositionFilter::default(), page(1000, 0))
        .await
        .unwrap()
        .items;
    assert_eq!(full.len(), 8);
    let filters = [
        (None, None, None),
        (Some(&a), None, None),
        (None, Some(&a1), None),
        (Some(&a), Some(&a1), None),
        (None, None, Some("alice")),
        (Some(&a), None, Some("alice")),
        (None, Some(&a1), Some("alice")),
        (Some(&b), Some(&b1), Some("alice")),
    ];
    for (institution, target, holder) in filters {
        let filter = PositionFilter {
            institution_id: institution.map(|i| i.id.clone()),
            asset_id: target.map(|t: &Asset| t.id.clone()),
            holder_reference: holder.map(str::to_owned),
        };
        let expected: Vec<&Position> = full
            .iter()
            .filter(|p| {
                filter
                    .institution_id
                    .as_ref()
                    .is_none_or(|i| *i == p.institution_id)
            })
            .filter(|p| filter.asset_id.as_ref().is_none_or(|t| *t == p.asset_id))
            .filter(|p| holder.is_none_or(|h| h == p.holder_reference))
            .collect();
        assert!(!expected.is_empty(), "{filter:?}");
        let scopes = [Scope::Root, scope(institution.unwrap_or(&a))];
        for in_scope in scopes
            .iter()
            .filter(|s| institution.is_some() || target.is_none_or(|t| s.allows(&t.institution_id)))
        {
            let visible: Vec<&&Position> = expected
                .iter()
                .filter(|p| in_scope.allows(&p.institution_id))
                .collect();
            for offset in 0..=visible.len() {
                let got = store
                    .list_positions(in_scope, &filter, page(2, i64::try_from(offset).unwrap()))
                    .await
                    .unwrap();
                let window: Vec<&Position> =
                    visible.iter().skip(offset).take(2).map(|p| **p).collect();
                assert_eq!(
                    got.total.unwrap(),
                    visible.len() as u64,
                    "{filter:?} {in_scope:?}"
                );
                assert_eq!(got.items.iter().collect::<Vec<_>>(), window, "{filter:?}");
            }
        }
    }
    let contradictions = [
        (
            scope(&a),
            PositionFilter {
                asset_id: Some(b1.id.clone()),
                ..Default::default()
            },
        ),
        (
            Scope::Root,
            PositionFilter {
                institution_id: Some(a.id.clone()),
                asset_id: Some(b1.id.clone()),
                ..Default::default()
            },
        ),
        (
            scope(&a),
            PositionFilter {
                institution_id: Some(b.id.clone()),
                ..Default::default()
            },
        ),
        (
            scope(&b),
            PositionFilter {
                holder_reference: Some("alice".into()),
                asset_id: Some(a1.id.clone()),
                ..Default::default()
            },
        ),
    ];
    for (in_scope, filter) in contradictions {
        let got = store
            .list_positions(&in_scope, &filter, page(10, 0))
            .await
            .unwrap();
        assert_eq!((got.total.unwrap(), got.items.len()), (0, 0), "{filter:?}");
    }
}

/// A template filter naming another tenant's template lists no assets; audit pages of one
/// institution are windows of its events.
pub async fn asset_and_audit_pages_respect_scope_and_filters_together(store: &dyn EscrowStore) {
    let a = institution(store, "A").await;
    let b = institution(store, "B").await;
    let a_template = template(store, &a.id).await;
    let b_template = template(store, &b.id).await;
    let a1 = asset(store, &a_template).await;
    asset(store, &b_template).await;
    let a2 = asset(store, &a_template).await;
    let foreign = AssetFilter {
        template_id: Some(b_template.id.clone()),
        ..AssetFilter::default()
    };
    let got = store
        .list_assets(&scope(&a), &foreign, page(10, 0))
        .await
        .unwrap();
    assert_eq!((got.total.unwrap(), got.items.len()), (0, 0));
    let own = AssetFilter {
        template_id: Some(a_template.id.clone()),
        institution_id: Some(a.id.clone()),
    };
    let got = store
        .list_assets(&Scope::Root, &own, page(1, 1))
        .await
        .unwrap();
    let mut own_assets = [a1, a2];
    own_assets.sort_by(|x, y| (x.created_at, &x.id).cmp(&(y.created_at, &y.id)));
    assert_eq!(
        (got.total.unwrap(), got.items),
        (2, vec![own_assets[1].clone()])
    );
    let got = store
        .list_assets(&scope(&b), &own, page(10, 0))
        .await
        .unwrap();
    assert_eq!(got.total.unwrap(), 0);
    for (n, acting) in [&a, &b, &a, &a].into_iter().enumerate() {
        let context = AuditContext {
            institution_id: Some(acting.id.clone()),
            ..audit()
        };
        let action = if n % 2 == 0 {
            AuditAction::PositionCreated
        } else {
            AuditAction::AssetCreated
        };
        let event = context.event(action, AuditOutcome::Success, None, None, now_millis());
        store.record_audit(event).await.unwrap();
    }
    let all = store
        .list_audit_events(&scope(&a), &AuditFilter::default(), page(1000, 0))
        .await
        .unwrap();
    assert_eq!(all.total.unwrap(), 3);
    assert!(
        all.items
            .iter()
            .all(|e| e.institution_id.as_ref() == Some(&a.id))
    );
    for offset in 0..all.items.len() {
        let got = store
            .list_audit_events(
                &scope(&a),
                &AuditFilter::default(),
                page(1, i64::try_from(offset).unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(
            (got.total.unwrap(), &got.items[..]),
            (all.total.unwrap(), &all.items[offset..=offset])
        );
    }
    let other = AuditFilter {
        institution_id: Some(b.id.clone()),
        ..AuditFilter::default()
    };
    let got = store
        .list_audit_events(&scope(&a), &other, page(10, 0))
        .await
        .unwrap();
    assert_eq!(got.total.unwrap(), 0);
    let created = AuditFilter {
        action: Some(AuditAction::PositionCreated),
        ..AuditFilter::default()
    };
    let got = store
        .list_audit_events(&scope(&a), &created, page(1, 1))
        .await
        .unwrap();
    assert_eq!((got.total.unwrap(), got.items.len()), (2, 1));
    assert_eq!(got.items[0].action, AuditAction::PositionCreated);
}
