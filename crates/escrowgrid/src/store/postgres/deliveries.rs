//! Webhook delivery records on PostgreSQL (`webhook_deliveries`, migrations 0006 and 0008):
//! one row per endpoint and event, upserted on every attempt; keyed by (institution, id).

use gridstore::postgres::commit;
use tokio_postgres::Row;

use crate::domain::{AuditEvent, Delivery, DeliveryId, DeliveryStatus, InstitutionId, WebhookId};
use crate::store::{Page, Paginated, Scope, SortKey, Start};
use crate::{Error, Result};

use super::db::{Db, begin};
use super::paging::{KeyValues, Keyset};
use super::{PgEscrowStore, audit, paging, rows};

const UPSERT_DELIVERY: &str = "\
insert into webhook_deliveries (id, webhook_id, institution_id, event_id, event_type, status,
    attempts, last_status_code, last_error, next_attempt_at, dlq_item_id, created_at, updated_at)
select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
where exists (select 1 from webhooks where institution_id = $3 and id = $2)
on conflict (institution_id, id) do update set status = excluded.status, attempts = excluded.attempts,
    last_status_code = excluded.last_status_code, last_error = excluded.last_error,
    next_attempt_at = excluded.next_attempt_at, dlq_item_id = excluded.dlq_item_id,
    updated_at = excluded.updated_at";

/// Replaces a record only while its status is `$8` (the row lock orders concurrent writers;
/// a loser re-reads the new status and matches nothing).
const TRANSITION_DELIVERY: &str = "\
update webhook_deliveries set status = $2, attempts = $3, last_status_code = $4,
    last_error = $5, next_attempt_at = $6, dlq_item_id = $7, updated_at = $9
where institution_id = $10 and id = $1 and status = $8";

const DELIVERY_COLUMNS: &str = "id, webhook_id, institution_id, event_id, event_type, status, \
    attempts, last_status_code, last_error, next_attempt_at, dlq_item_id, created_at, updated_at";

fn delivery(row: &Row) -> gridstore::Result<Delivery> {
    let text = |column: &str| rows::get::<String>(row, column);
    let status = text("status")?;
    let code: Option<i32> = rows::get(row, "last_status_code")?;
    let attempts: i32 = rows::get(row, "attempts")?;
    Ok(Delivery {
        id: DeliveryId::parse(&text("id")?).unwrap_or_default(),
        webhook_id: WebhookId::parse(&text("webhook_id")?).unwrap_or_default(),
        institution_id: InstitutionId::parse(&text("institution_id")?).unwrap_or_default(),
        event_id: text("event_id")?,
        event_type: text("event_type")?,
        status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Pending),
        attempts: u32::try_from(attempts).unwrap_or_default(),
        last_status_code: code.and_then(|code| u16::try_from(code).ok()),
        last_error: rows::get(row, "last_error")?,
        next_attempt_at: rows::get(row, "next_attempt_at")?,
        dlq_item_id: rows::get(row, "dlq_item_id")?,
        created_at: rows::get(row, "created_at")?,
        updated_at: rows::get(row, "updated_at")?,
    })
}

impl PgEscrowStore {
    pub(super) async fn upsert_delivery(
        &self,
        delivery: &Delivery,
        event: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let attempts = i32::try_from(delivery.attempts).unwrap_or(i32::MAX);
        let code = delivery.last_status_code.map(i32::from);
        db.execute(
            UPSERT_DELIVERY,
            &[
                &delivery.id.as_str(),
                &delivery.webhook_id.as_str(),
                &delivery.institution_id.as_str(),
                &delivery.event_id,
                &delivery.event_type,
                &delivery.status.as_str(),
                &attempts,
                &code,
                &delivery.last_error,
                &delivery.next_attempt_at,
                &delivery.dlq_item_id,
                &delivery.created_at,
                &delivery.updated_at,
            ],
        )
        .await?;
        if let Some(event) = event {
            let insert_audit = db.prepare(audit::INSERT_AUDIT).await?;
            audit::insert(&db, &insert_audit, event).await?;
        }
        commit(tx).await?;
        Ok(())
    }

    pub(super) async fn transition_delivery_row(
        &self,
        delivery: &Delivery,
        from: DeliveryStatus,
        event: &AuditEvent,
    ) -> Result<bool> {
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let attempts = i32::try_from(delivery.attempts).unwrap_or(i32::MAX);
        let code = delivery.last_status_code.map(i32::from);
        let changed = db
            .execute(
                TRANSITION_DELIVERY,
                &[
                    &delivery.id.as_str(),
                    &delivery.status.as_str(),
                    &attempts,
                    &code,
                    &delivery.last_error,
                    &delivery.next_attempt_at,
                    &delivery.dlq_item_id,
                    &from.as_str(),
                    &delivery.updated_at,
                    &delivery.institution_id.as_str(),
                ],
            )
            .await?;
        if changed == 0 {
            return Ok(false);
        }
        let insert_audit = db.prepare(audit::INSERT_AUDIT).await?;
        audit::insert(&db, &insert_audit, event).await?;
        commit(tx).await?;
        Ok(true)
    }

    pub(super) async fn delivery_page(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        page: &Page,
    ) -> Result<Paginated<Delivery>> {
        self.scoped_webhook(scope, webhook_id).await?;
        let client = self.pool.get().await?;
        let db = Db::new(&client, &self.counter);
        let key_of = |d: &Delivery| SortKey::created(d.created_at, &d.id);
        if let Start::After(after) = page.start() {
            let key = after.as_ref().map(KeyValues::of);
            let limit = paging::limit_plus_one(page);
            let webhook = webhook_id.as_str();
            let select = format!("select {DELIVERY_COLUMNS} from webhook_deliveries");
            let query = Keyset::new(&select).filter("webhook_id", "=", Some(&webhook));
            let query = match key.as_ref() {
                Some(KeyValues::Created(at, id)) => query.after_created_newest_first(at, id),
                // A write-order key never names a delivery: nothing follows it.
                Some(KeyValues::Seq(_)) => return Ok(Paginated::empty(page)),
                None => query,
            };
            let (sql, query) = query.finish("created_at desc, id", &limit);
            let found = db.query(&sql, query.params()).await?;
            let rows = found
                .iter()
                .map(delivery)
                .collect::<gridstore::Result<_>>()?;
            return Ok(Paginated::after_key(rows, page.limit(), key_of));
        }
        let (limit, offset) = paging::limits(page);
        let sql = format!(
            "select {DELIVERY_COLUMNS}, count(*) over () as total from webhook_deliveries \
             where webhook_id = $1 order by created_at desc, id limit $2 offset $3"
        );
        let count = "select count(*) as total from webhook_deliveries where webhook_id = $1";
        let found = db
            .query(&sql, &[&webhook_id.as_str(), &limit, &offset])
            .await?;
        let total = paging::total(&db, &found, offset, count, &[&webhook_id.as_str()]).await?;
        let items = found
            .iter()
            .map(delivery)
            .collect::<gridstore::Result<_>>()?;
        Ok(Paginated::counted(
            items,
            total,
            page.offset().unwrap_or_default(),
            key_of,
        ))
    }

    pub(super) async fn one_delivery(
        &self,
        scope: &Scope,
        webhook_id: &WebhookId,
        id: &DeliveryId,
    ) -> Result<Delivery> {
        let webhook = self.scoped_webhook(scope, webhook_id).await?;
        let sql = format!(
            "select {DELIVERY_COLUMNS} from webhook_deliveries \
             where institution_id = $3 and id = $1 and webhook_id = $2"
        );
        let client = self.pool.get().await?;
        let institution = webhook.institution_id.as_str();
        let found = Db::new(&client, &self.counter)
            .query_opt(&sql, &[&id.as_str(), &webhook_id.as_str(), &institution])
            .await?
            .ok_or_else(|| Error::not_found(DeliveryId::RESOURCE, id.as_str()))?;
        Ok(delivery(&found)?)
    }
}
