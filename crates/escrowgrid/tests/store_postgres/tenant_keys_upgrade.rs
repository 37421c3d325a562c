//! Migration 0008: the tenant keys are rebuilt on a database the previous version (0007)
//! filled, and every row, the lifecycle events' backfilled tenant, the ledger's hash chain and
//! root's tenantless audit rows come through.

use escrowgrid::domain::{
    AuditAction, AuditEventId, DeliveryId, LifecycleEventId, NewWebhook, PositionState,
    TransitionRequest, WebhookId, now_millis,
};
use escrowgrid::ledger::verify_store;
use escrowgrid::lifecycle;
use escrowgrid::store::postgres::{HISTORY_TABLE, MIGRATIONS, PgEscrowStore};
use escrowgrid::store::{AuditFilter, EscrowStore, Scope, WebhookStore, records};
use escrowgrid::testing::fixtures;
use gridstore::postgres::{PgConfig, migrate};
use testkit::TestDatabase;
use tokio_postgres::Client;

/// A database migrated up to 0007 (the previous version's schema), gridstore included.
async fn previous_version() -> (PgEscrowStore, TestDatabase) {
    let database = testkit::database().await;
    let store = PgEscrowStore::connect(&PgConfig::from_url(database.url()).unwrap())
        .await
        .unwrap();
    gridstore::postgres::migrations::migrate(store.pool())
        .await
        .unwrap();
    migrate(store.pool(), HISTORY_TABLE, &MIGRATIONS[..7])
        .await
        .unwrap();
    (store, database)
}

/// The previous version's transition statements (0007: `position_events` without a tenant).
const OLD_UPDATE: &str = "update positions set state = $3, updated_at = $4, version = version + 1
    where id = $1 and institution_id = $2 and version = $5";
const OLD_EVENT: &str = "insert into position_events (id, position_id, from_state, to_state,
    reason, at, metadata, created_at) values ($1, $2, $3, $4, $5, $6, null, $6)";
const OLD_LEDGER: &str = "insert into ledger_events (id, institution_id, kind, position_id, at,
    previous_state, new_state, payload, created_at, hash, previous_hash)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $5, $9, $10)";

/// Row counts of every tenant table, in a fixed order.
async fn counts(client: &Client) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "asset_templates",
        "assets",
        "positions",
        "position_events",
        "ledger_events",
        "api_keys",
        "audit_events",
        "institution_policies",
        "webhooks",
        "webhook_deliveries",
    ] {
        let sql = format!("select count(*) from {table}");
        counts.push(client.query_one(sql.as_str(), &[]).await.unwrap().get(0));
    }
    counts
}

#[tokio::test]
async fn upgrading_keeps_every_row_backfills_the_tenant_and_keeps_the_ledger_chain() {
    // Arrange: what the previous version wrote, including a transition in its own statements
    // and an audit row without a tenant.
    let (store, database) = previous_version().await;
    let mut client = database.connect().await;
    let (institution, _asset, position) = fixtures::position_setup(&store).await;
    let scope = fixtures::scope(&institution);
    let created = store
        .list_ledger_events(&scope, Some(&position.id))
        .await
        .unwrap();
    let applied = lifecycle::apply(
        &position,
        PositionState::Funded,
        Some("before the upgrade".into()),
        None,
        now_millis(),
        LifecycleEventId::new(),
    )
    .unwrap()
    .unwrap();
    let (ledger, _audit) =
        records::transition(&applied, &fixtures::audit(), created[0].hash.clone());
    let event = &applied.event;
    let from = event.from_state.map(|state| state.as_str());
    let tx = client.transaction().await.unwrap();
    let (id, inst) = (position.id.as_str(), institution.id.as_str());
    let to = event.to_state.as_str();
    tx.execute(OLD_UPDATE, &[&id, &inst, &to, &event.at, &position.version])
        .await
        .unwrap();
    tx.execute(
        OLD_EVENT,
        &[
            &event.id.as_str(),
            &id,
            &from,
            &to,
            &event.reason,
            &event.at,
        ],
    )
    .await
    .unwrap();
    let previous_state = ledger.previous_state.map(|state| state.as_str());
    tx.execute(
        OLD_LEDGER,
        &[
            &ledger.id.as_str(),
            &inst,
            &ledger.kind.as_str(),
            &id,
            &ledger.at,
            &previous_state,
            &ledger.new_state.as_str(),
            &ledger.payload,
            &ledger.hash,
            &ledger.previous_hash,
        ],
    )
    .await
    .unwrap();
    tx.execute(
        "insert into audit_events (id, occurred_at, created_at, method, path, action, outcome,
             status_code)
         values ($1, now(), now(), 'GET', '/positions', 'AUTH_FAILED', 'failure', 401)",
        &[&AuditEventId::new().as_str()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let webhook = store
        .create_webhook(
            &scope,
            NewWebhook {
                id: WebhookId::new(),
                institution_id: institution.id.clone(),
                url: "https://example.com/hook".into(),
                event_types: vec!["position.created".into()],
                description: None,
                enabled: true,
            },
            "whsec_test".into(),
            &fixtures::audit(),
        )
        .await
        .unwrap();
    let delivery_id = DeliveryId::derive(&webhook.id, "evt_1");
    client
        .execute(
            "insert into webhook_deliveries (id, webhook_id, institution_id, event_id,
                 event_type, status, attempts, created_at, updated_at)
             values ($1, $2, $3, 'evt_1', 'position.created', 'succeeded', 1, now(), now())",
            &[&delivery_id.as_str(), &webhook.id.as_str(), &inst],
        )
        .await
        .unwrap();
    let before = counts(&client).await;

    // Act
    let applied_versions = store.migrate().await.unwrap();

    // Assert
    // 0008, then every later migration, in order.
    assert_eq!(applied_versions.first(), Some(&8));
    assert!(
        applied_versions.windows(2).all(|w| w[1] == w[0] + 1),
        "{applied_versions:?}"
    );
    assert_eq!(counts(&client).await, before, "every row is kept");
    let tenant: String = client
        .query_one(
            "select institution_id from position_events where position_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        tenant, inst,
        "lifecycle events carry their position's tenant"
    );
    let read = store.get_position(&scope, &position.id).await.unwrap();
    assert_eq!(read.state, PositionState::Funded);
    assert_eq!(read.events.len(), 1);
    let root = store
        .list_audit_events(
            &Scope::Root,
            &AuditFilter {
                action: Some(AuditAction::AuthFailed),
                ..AuditFilter::default()
            },
            fixtures::page(10, 0),
        )
        .await
        .unwrap();
    assert_eq!(root.items.len(), 1);
    assert_eq!(root.items[0].institution_id, None, "'' reads back as none");
    let found = store
        .get_delivery(&scope, &webhook.id, &delivery_id)
        .await
        .unwrap();
    assert_eq!(found.institution_id, institution.id);

    // The new version writes on the upgraded rows, and the chain still verifies.
    let request = TransitionRequest {
        to_state: PositionState::Released,
        reason: None,
        metadata: None,
        expected_version: None,
    };
    store
        .transition_position(&scope, &position.id, request, &fixtures::audit())
        .await
        .unwrap();
    let report = verify_store(&store, &Scope::Root, |_, _| {}).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.unhashed_events, 0);
    assert_eq!(
        counts(&client).await[4],
        before[4] + 1,
        "one more ledger event"
    );
}
