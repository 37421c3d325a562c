//! [`WebhookStore`] on PostgreSQL: `webhooks` and `webhook_deliveries` (migration 0007). Each
//! write is one transaction with its audit row, retried like every other write.

use async_trait::async_trait;
use gridstore::postgres::{commit, retry};
use tokio_postgres::Row;

use crate::domain::{
    AuditAction, AuditContext, AuditEvent, Delivery, DeliveryId, DeliveryStatus, InstitutionId,
    NewWebhook, Webhook, WebhookId, WebhookPatch, now_millis,
};
use crate::store::webhooks::{webhook_audit, webhook_record};
use crate::store::{KeysetPage, Page, Paginated, Scope, SortKey, WebhookStore, WebhookTarget};
use crate::{Error, Result};

use super::db::{Db, begin};
use super::entities::{created_after, ensure_scope, list_institution};
use super::error::{Subject, translate};
use super::paging::{self, KeyValues, Keyset};
use super::{PgEscrowStore, audit, rows};

const COLUMNS: &str =
    "id, institution_id, url, event_types, description, enabled, created_at, updated_at";

const INSERT_WEBHOOK: &str = "\
insert into webhooks (id, institution_id, url, event_types, description, enabled, secret,
    created_at, updated_at)
select $1, $2, $3, $4, $5, $6, $7, $8, $8
where exists (select 1 from institutions where id = $2)";

const UPDATE_WEBHOOK: &str = "\
update webhooks set url = $3, event_types = $4, description = $5, enabled = $6, updated_at = $7
where id = $1 and ($2::text is null or institution_id = $2)";

const ROTATE_SECRET: &str = "\
update webhooks set secret = $3, updated_at = $4
where id = $1 and ($2::text is null or institution_id = $2)";

const DELETE_WEBHOOK: &str = "\
delete from webhooks where id = $1 and ($2::text is null or institution_id = $2)";

/// What [`PgEscrowStore::change_webhook`] writes.
enum Change {
    Update,
    Delete,
    Rotate(String),
}

fn select(filter: &str) -> String {
    format!("select {COLUMNS} from webhooks where {filter} order by created_at, id")
}

fn webhook(row: &Row) -> gridstore::Result<Webhook> {
    let id: &str = rows::get(row, "id")?;
    let institution: &str = rows::get(row, "institution_id")?;
    Ok(Webhook {
        id: WebhookId::parse(id).unwrap_or_default(),
        institution_id: InstitutionId::parse(institution).unwrap_or_default(),
        url: rows::get(row, "url")?,
        event_types: rows::get(row, "event_types")?,
        description: rows::get(row, "description")?,
        enabled: rows::get(row, "enabled")?,
        created_at: rows::get(row, "created_at")?,
        updated_at: rows::get(row, "updated_at")?,
    })
}

impl PgEscrowStore {
    async fn webhook_query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Webhook>> {
        let client = self.pool.get().await?;
        let found = Db::new(&client, &self.counter).query(sql, params).await?;
        Ok(found
            .iter()
            .map(webhook)
            .collect::<gridstore::Result<_>>()?)
    }

    pub(super) async fn scoped_webhook(&self, scope: &Scope, id: &WebhookId) -> Result<Webhook> {
        let own = scope.institution().map(InstitutionId::as_str);
        let sql = select("id = $1 and ($2::text is null or institution_id = $2)");
        self.webhook_query(&sql, &[&id.as_str(), &own])
            .await?
            .pop()
            .ok_or_else(|| Error::not_found(WebhookId::RESOURCE, id.as_str()))
    }

    async fn insert_webhook(
        &self,
        webhook: &Webhook,
        sealed: &str,
        event: &AuditEvent,
    ) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let inserted = db
            .execute(
                INSERT_WEBHOOK,
                &[
                    &webhook.id.as_str(),
                    &webhook.institution_id.as_str(),
                    &webhook.url,
                    &webhook.event_types,
                    &webhook.description,
                    &webhook.enabled,
                    &sealed,
                    &webhook.created_at,
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(Error::not_found(
                InstitutionId::RESOURCE,
                webhook.institution_id.as_str(),
            ));
        }
        let insert_audit = db.prepare(audit::INSERT_AUDIT).await?;
        audit::insert(&db, &insert_audit, event).await?;
        commit(tx).await?;
        Ok(())
    }

    /// Runs one endpoint write (`sql` returning the row, or an update of it) and its audit row.
    async fn change_webhook(
        &self,
        scope: &Scope,
        id: &WebhookId,
        action: AuditAction,
        audit_context: &AuditContext,
        write: impl Fn(&Webhook) -> (Change, Webhook),
    ) -> Result<Webhook> {
        let own = scope.institution().map(InstitutionId::as_str);
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let lock = select("id = $1 and ($2::text is null or institution_id = $2)") + " for update";
        let current = db
            .query_opt(&lock, &[&id.as_str(), &own])
            .await?
            .ok_or_else(|| Error::not_found(WebhookId::RESOURCE, id.as_str()))?;
        let (change, changed) = write(&webhook(&current)?);
        match change {
            Change::Rotate(secret) => {
                db.execute(
                    ROTATE_SECRET,
                    &[&id.as_str(), &own, &secret, &changed.updated_at],
                )
                .await?;
            }
            Change::Delete => {
                db.execute(DELETE_WEBHOOK, &[&id.as_str(), &own]).await?;
            }
            Change::Update => {
                db.execute(
                    UPDATE_WEBHOOK,
                    &[
                        &id.as_str(),
                        &own,
                        &changed.url,
                        &changed.event_types,
                        &changed.description,
                        &changed.enabled,
                        &changed.updated_at,
                    ],
                )
                .await?;
            }
        }
        let event = webhook_audit(action, &changed, audit_context, changed.updated_at);
        let insert_audit = db.prepare(audit::INSERT_AUDIT).await?;
        audit::insert(&db, &insert_audit, &event).await?;
        commit(tx).await?;
        Ok(changed)
    }
}

#[async_trait]
impl WebhookStore for PgEscrowStore {
    async fn create_webhook(
        &self,
        scope: &Scope,
        new: NewWebhook,
        sealed_secret: String,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        new.validate()?;
        ensure_scope(scope, &new.institution_id)?;
        let subject = Subject {
            institution: Some(new.institution_id.as_str()),
            ..Subject::default()
        };
        let at = now_millis();
        let webhook = webhook_record(new.clone(), at);
        let event = webhook_audit(AuditAction::WebhookCreated, &webhook, audit, at);
        retry(&self.retry, || {
            self.insert_webhook(&webhook, &sealed_secret, &event)
        })
        .await
        .map_err(|err| translate(err, &subject))?;
        Ok(webhook)
    }

    async fn get_webhook(&self, scope: &Scope, id: &WebhookId) -> Result<Webhook> {
        retry(&self.retry, || self.scoped_webhook(scope, id)).await
    }

    async fn webhooks_page(
        &self,
        scope: &Scope,
        institution_id: Option<&InstitutionId>,
        page: KeysetPage,
    ) -> Result<Paginated<Webhook>> {
        let Some(institution) = list_institution(scope, institution_id) else {
            return Ok(Paginated::empty(&page.page()));
        };
        // Indexes: `idx_webhooks_institution`, `idx_webhooks_created` (migration 0010).
        let select_from = format!("select {COLUMNS} from webhooks");
        let key = page.key().map(KeyValues::of);
        let limit = paging::limit_plus_one(&page.page());
        let query = Keyset::new(&select_from).filter("institution_id", "=", institution.as_ref());
        let (sql, query) = created_after(query, key.as_ref()).finish("created_at, id", &limit);
        let found = retry(&self.retry, || self.webhook_query(&sql, query.params())).await?;
        Ok(Paginated::after_key(found, page.limit(), |w: &Webhook| {
            SortKey::created(w.created_at, &w.id)
        }))
    }

    async fn update_webhook(
        &self,
        scope: &Scope,
        id: &WebhookId,
        patch: WebhookPatch,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        patch.validate()?;
        retry(&self.retry, || {
            self.change_webhook(scope, id, AuditAction::WebhookUpdated, audit, |current| {
                let mut changed = current.clone();
                patch.clone().apply(&mut changed, now_millis());
                (Change::Update, changed)
            })
        })
        .await
    }

    async fn delete_webhook(
        &self,
        scope: &Scope,
        id: &WebhookId,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        retry(&self.retry, || {
            self.change_webhook(scope, id, AuditAction::WebhookDeleted, audit, |current| {
                let mut gone = current.clone();
                gone.updated_at = now_millis();
                (Change::Delete, gone)
            })
        })
        .await
    }

    async fn rotate_webhook_secret(
        &self,
        scope: &Scope,
        id: &WebhookId,
        sealed_secret: String,
        audit: &AuditContext,
    ) -> Result<Webhook> {
        retry(&self.retry, || {
            self.change_webhook(
                scope,
                id,
                AuditAction::WebhookSecretRotated,
                audit,
                |current| {
                    let mut changed = current.clone();
                    changed.updated_at = now_millis();
                    (Change::Rotate(sealed_secret.clone()), changed)
                },
            )
        })
        .await
    }

    async fn enabled_webhooks(&self) -> Result<Vec<Webhook>> {
        let sql = select("enabled");
        retry(&self.retry, || self.webhook_query(&sql, &[])).await
    }

    async fn webhook_target(&self, id: &WebhookId) -> Result<Option<WebhookTarget>> {
        let sql = format!("select {COLUMNS}, secret from webhooks where id = $1");
        retry(&self.retry, || async {
            let client = self.pool.get().await?;
            let found = Db::new(&client, &self.counter)
                .query_opt(&sql, &[&id.as_str()])
                .await?;
            let target = match found {
                None => None,
                Some(row) => Some(WebhookTarget {
                    webhook: webhook(&row)?,
                    sealed_secret: rows::get(&row, "secret")?,
                }),
            };
            Ok::<_, Error>(target)
        })
        .await
    }

    async fn save_delivery(&self, delivery: &Delivery) -> Result<()> {
        retry(&self.retry, || self.upsert_delivery(delivery, None)).await
    }

    async fn save_delivery_audited(&self, delivery: &Delivery, audit: AuditEvent) -> Result<()> {
        retry(&self.retry, || self.upsert_delivery(delivery, Some(&audit))).await
    }

    async fn transition_delivery(
        &self,
        delivery: &Delivery,
        from: DeliveryStatus,
        audit: AuditEvent,
    ) -> Result<bool> {
        retry(&self.retry, || {
            self.transition_delivery_row(delivery, from, &audit)
        })
        .await
    }

    async fn list_deliveries(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        page: Page,
    ) -> Result<Paginated<Delivery>> {
        retry(&self.retry, || self.delivery_page(scope, webhook_id, &page)).await
    }

    async fn get_delivery(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        id: &DeliveryId,
    ) -> Result<Delivery> {
        retry(&self.retry, || self.one_delivery(scope, webhook_id, id)).await
    }
}
