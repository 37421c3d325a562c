//! Per-region institution policies: an upsert (`on conflict (institution_id, region) do
//! update`) audited as `POLICY_UPDATED` in the same transaction.

use gridstore::postgres::PgTransaction;
use tokio_postgres::types::Json;

use crate::domain::{
    AuditContext, InstitutionId, InstitutionPolicy, PolicyId, PositionPolicy, Region, now_millis,
};
use crate::store::{KeysetPage, Paginated, Scope, SortKey, outbox, records};
use crate::{Error, Result};

use super::db::{Db, Params};
use super::entities::{created_after, ensure_scope};
use super::paging::{self, KeyValues, Keyset};
use super::{PgEscrowStore, audit, rows};

/// Replaces the whole config of an existing policy, keeping its id and `created_at`.
const UPSERT_POLICY: &str = "\
insert into institution_policies (id, institution_id, region, config, created_at, updated_at)
values ($1, $2, $3, $4, $5, $6)
on conflict (institution_id, region) do update
set config = excluded.config, updated_at = excluded.updated_at
returning id, institution_id, region, config, created_at, updated_at";

/// The institution row is always returned when it exists, so an unknown institution is told
/// apart from a missing policy in a single statement.
const GET_POLICY: &str = "\
select i.id as institution_found, p.id, p.institution_id, p.region, p.config, p.created_at,
    p.updated_at
from institutions i
left join institution_policies p on p.institution_id = i.id and p.region = $2
where i.id = $1";

/// A keyset page of an institution's policies, under its institution row
/// ([`Keyset::finish_under`]). An institution has at most one policy per region, so the
/// primary key's `institution_id` prefix finds them all and the sort is of a handful of rows.
const POLICY_KEYSET: &str = "\
select id, institution_id, region, config, created_at, updated_at
from institution_policies";

impl PgEscrowStore {
    pub(super) async fn write_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
        position: PositionPolicy,
        audit_context: &AuditContext,
    ) -> Result<InstitutionPolicy> {
        ensure_scope(scope, institution_id)?;
        let at = now_millis();
        let (candidate, _) = records::policy(
            None,
            institution_id,
            region,
            position.clone(),
            audit_context,
            at,
        );
        let tx = PgTransaction::new(self.pool.get().await?);
        let db = Db::new(&tx, &self.counter);
        let params: &Params<'_> = &[
            &candidate.id.as_str(),
            &institution_id.as_str(),
            &region.as_str(),
            &Json(&candidate.config),
            &candidate.created_at,
            &candidate.updated_at,
        ];
        let (row, insert_audit) = db
            .begin_with(async {
                tokio::try_join!(
                    db.query_opt(UPSERT_POLICY, params),
                    db.prepare(audit::INSERT_AUDIT),
                )
            })
            .await?;
        let stored = row
            .as_ref()
            .map(rows::policy)
            .transpose()?
            .ok_or_else(|| Error::not_found(PolicyId::RESOURCE, region.as_str()))?;
        // Built again from the stored row: an update keeps the existing id and created_at.
        let (policy, event) = records::policy(
            Some(&stored),
            institution_id,
            region,
            position,
            audit_context,
            at,
        );
        let events = outbox::policy_updated(&policy)?;
        db.commit_with(vec![
            Box::pin(audit::insert(&db, &insert_audit, &event)),
            Box::pin(db.append_events(&events)),
        ])
        .await?;
        // This instance's creates read the new policy at once; other instances' creates find
        // it changed through their guard (`store/postgres/create.rs`).
        self.contexts.forget_institution(institution_id);
        Ok(policy)
    }

    pub(super) async fn select_policy(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        region: Region,
    ) -> Result<InstitutionPolicy> {
        ensure_scope(scope, institution_id)?;
        let client = self.pool.get().await?;
        let row = Db::new(&client, &self.counter)
            .query_opt(GET_POLICY, &[&institution_id.as_str(), &region.as_str()])
            .await?
            .ok_or_else(|| Error::not_found(InstitutionId::RESOURCE, institution_id.as_str()))?;
        if !rows::present(&row, "id")? {
            return Err(Error::not_found(PolicyId::RESOURCE, region.as_str()));
        }
        Ok(rows::policy(&row)?)
    }

    pub(super) async fn select_policies(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: &KeysetPage,
    ) -> Result<Paginated<InstitutionPolicy>> {
        ensure_scope(scope, institution_id)?;
        let institution = institution_id.as_str();
        let key = page.key().map(KeyValues::of);
        let limit = paging::limit_plus_one(&page.page());
        let query = Keyset::new(POLICY_KEYSET).filter("institution_id", "=", Some(&institution));
        let (sql, query) = created_after(query, key.as_ref()).finish_under(
            "institutions",
            None::<&&str>,
            "created_at, id",
            &limit,
        );
        let client = self.pool.get().await?;
        let found = Db::new(&client, &self.counter)
            .query(&sql, query.params())
            .await?;
        let policies =
            paging::under_parent(&found, InstitutionId::RESOURCE, institution, rows::policy)?;
        Ok(Paginated::after_key(
            policies,
            page.limit(),
            |p: &InstitutionPolicy| SortKey::created(p.created_at, &p.id),
        ))
    }
}
