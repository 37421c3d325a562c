//! Institutions, asset templates and assets: create (entity + audit row in one transaction,
//! pipelined), get and list within a scope.

use gridstore::postgres::commit;
use tokio_postgres::types::Json;

use crate::domain::{
    Asset, AssetId, AssetTemplate, AuditContext, Institution, InstitutionId, NewAsset,
    NewAssetTemplate, NewInstitution, TemplateId, now_millis, validate_template_config,
};
use crate::store::{
    AssetFilter, KeysetPage, Page, Paginated, Scope, SortKey, Start, TemplateFilter, outbox,
    records,
};
use crate::{Error, Result};

use super::db::{Db, Params, begin};
use super::paging::{KeyValues, Keyset};
use super::{PgEscrowStore, audit, paging, rows};

const INSERT_INSTITUTION: &str = "\
insert into institutions (id, name, regions, verticals, created_at, updated_at)
values ($1, $2, $3, $4, $5, $6)";

const GET_INSTITUTION: &str = "\
select id, name, regions, verticals, created_at, updated_at
from institutions
where id = $1 and ($2::text is null or id = $2)";

/// A keyset page of institutions (index: `idx_institutions_created`; a tenant's list is its
/// own row, by primary key).
const INSTITUTION_KEYSET: &str = "\
select id, name, regions, verticals, created_at, updated_at
from institutions";

const INSERT_TEMPLATE: &str = "\
insert into asset_templates (id, institution_id, code, name, vertical, region, config,
    created_at, updated_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

const GET_TEMPLATE: &str = "\
select id, institution_id, code, name, vertical, region, config, created_at, updated_at
from asset_templates
where id = $1 and ($2::text is null or institution_id = $2)";

const LIST_TEMPLATES: &str = "\
select id, institution_id, code, name, vertical, region, config, created_at, updated_at,
    count(*) over () as total
from asset_templates
where ($1::text is null or institution_id = $1)
order by created_at, id
limit $2 offset $3";

/// A keyset page of templates: [`Keyset`] adds the filters, the key and the order
/// (index: `idx_asset_templates_institution`, `idx_asset_templates_created`).
const TEMPLATE_KEYSET: &str = "\
select id, institution_id, code, name, vertical, region, config, created_at, updated_at
from asset_templates";

const COUNT_TEMPLATES: &str = "\
select count(*) as total from asset_templates where ($1::text is null or institution_id = $1)";

const INSERT_ASSET: &str = "\
insert into assets (id, institution_id, template_id, label, metadata, created_at, updated_at)
values ($1, $2, $3, $4, $5, $6, $7)";

const GET_ASSET: &str = "\
select id, institution_id, template_id, label, metadata, created_at, updated_at
from assets
where id = $1 and ($2::text is null or institution_id = $2)";

const LIST_ASSETS: &str = "\
select id, institution_id, template_id, label, metadata, created_at, updated_at,
    count(*) over () as total
from assets
where ($1::text is null or institution_id = $1)
  and ($2::text is null or template_id = $2)
order by created_at, id
limit $3 offset $4";

/// A keyset page of assets (indexes: `idx_assets_institution`, `idx_assets_template_created` from
/// migration 0009, `idx_assets_created`).
const ASSET_KEYSET: &str = "\
select id, institution_id, template_id, label, metadata, created_at, updated_at
from assets";

const COUNT_ASSETS: &str = "\
select count(*) as total
from assets
where ($1::text is null or institution_id = $1)
  and ($2::text is null or template_id = $2)";

/// The institution a list may cover: the scope's own, narrowed by the filter. `None` when
/// the filter names another tenant (the list is then empty without asking the database);
/// `Some(None)` means every institution.
pub(super) fn list_institution<'a>(
    scope: &'a Scope,
    filter: Option<&'a InstitutionId>,
) -> Option<Option<&'a str>> {
    match (scope.institution(), filter) {
        (Some(own), Some(wanted)) if own != wanted => None,
        (own, wanted) => Some(own.or(wanted).map(InstitutionId::as_str)),
    }
}

/// Fails with NotFound `"institution"` unless the scope may act for `id`.
pub(super) fn ensure_scope(scope: &Scope, id: &InstitutionId) -> Result<()> {
    if scope.allows(id) {
        Ok(())
    } else {
        Err(Error::not_found(InstitutionId::RESOURCE, id.as_str()))
    }
}

impl PgEscrowStore {
    pub(super) async fn insert_institution(
        &self,
        new: NewInstitution,
        audit_context: &AuditContext,
    ) -> Result<Institution> {
        let (institution, event) = records::institution(new, audit_context, now_millis());
        let regions: Vec<&str> = institution.regions.iter().map(|r| r.as_str()).collect();
        let verticals: Vec<&str> = institution.verticals.iter().map(|v| v.as_str()).collect();
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let params: &Params<'_> = &[
            &institution.id.as_str(),
            &institution.name,
            &regions,
            &verticals,
            &institution.created_at,
            &institution.updated_at,
        ];
        let events = outbox::institution_created(&institution)?;
        audit::insert_entity_with_audit(&db, INSERT_INSTITUTION, params, &event, &events).await?;
        commit(tx).await?;
        Ok(institution)
    }

    pub(super) async fn select_institution(
        &self,
        scope: &Scope,
        id: &InstitutionId,
    ) -> Result<Institution> {
        let own = scope.institution().map(InstitutionId::as_str);
        let client = self.pool.get().await?;
        let row = Db::new(&client, &self.counter)
            .query_opt(GET_INSTITUTION, &[&id.as_str(), &own])
            .await?
            .ok_or_else(|| Error::not_found(InstitutionId::RESOURCE, id.as_str()))?;
        Ok(rows::institution(&row)?)
    }

    pub(super) async fn select_institutions(
        &self,
        scope: &Scope,
        page: &KeysetPage,
    ) -> Result<Paginated<Institution>> {
        let own = scope.institution().map(InstitutionId::as_str);
        let key = page.key().map(KeyValues::of);
        let limit = paging::limit_plus_one(&page.page());
        let query = Keyset::new(INSTITUTION_KEYSET).filter("id", "=", own.as_ref());
        let (sql, query) = created_after(query, key.as_ref()).finish("created_at, id", &limit);
        let client = self.pool.get().await?;
        let found = Db::new(&client, &self.counter)
            .query(&sql, query.params())
            .await?;
        let rows = found
            .iter()
            .map(rows::institution)
            .collect::<gridstore::Result<_>>()?;
        Ok(Paginated::after_key(
            rows,
            page.limit(),
            |i: &Institution| SortKey::created(i.created_at, &i.id),
        ))
    }

    pub(super) async fn insert_template(
        &self,
        scope: &Scope,
        new: NewAssetTemplate,
        audit_context: &AuditContext,
    ) -> Result<AssetTemplate> {
        ensure_scope(scope, &new.institution_id)?;
        if let Err(err) = validate_template_config(new.vertical, new.code, new.region, &new.config)
        {
            // The institution is checked first: a missing one is NotFound, not a config error.
            self.select_institution(scope, &new.institution_id).await?;
            return Err(err.into());
        }
        let (template, event) = records::asset_template(new, audit_context, now_millis());
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let params: &Params<'_> = &[
            &template.id.as_str(),
            &template.institution_id.as_str(),
            &template.code.as_str(),
            &template.name,
            &template.vertical.as_str(),
            &template.region.as_str(),
            &Json(&template.config),
            &template.created_at,
            &template.updated_at,
        ];
        let events = outbox::asset_template_created(&template)?;
        audit::insert_entity_with_audit(&db, INSERT_TEMPLATE, params, &event, &events).await?;
        commit(tx).await?;
        Ok(template)
    }

    pub(super) async fn select_template(
        &self,
        scope: &Scope,
        id: &TemplateId,
    ) -> Result<AssetTemplate> {
        let own = scope.institution().map(InstitutionId::as_str);
        let client = self.pool.get().await?;
        let row = Db::new(&client, &self.counter)
            .query_opt(GET_TEMPLATE, &[&id.as_str(), &own])
            .await?
            .ok_or_else(|| Error::not_found(TemplateId::RESOURCE, id.as_str()))?;
        Ok(rows::template(&row)?)
    }

    pub(super) async fn template_page(
        &self,
        scope: &Scope,
        filter: &TemplateFilter,
        page: &Page,
    ) -> Result<Paginated<AssetTemplate>> {
        let Some(institution) = list_institution(scope, filter.institution_id.as_ref()) else {
            return Ok(Paginated::empty(page));
        };
        let client = self.reads.get().await?;
        let db = Db::new(&client, &self.counter);
        if let Start::After(after) = page.start() {
            let key = after.as_ref().map(KeyValues::of);
            let limit = paging::limit_plus_one(page);
            let query =
                Keyset::new(TEMPLATE_KEYSET).filter("institution_id", "=", institution.as_ref());
            let (sql, query) = created_after(query, key.as_ref()).finish("created_at, id", &limit);
            let found = db.query(&sql, query.params()).await?;
            let rows = found
                .iter()
                .map(rows::template)
                .collect::<gridstore::Result<_>>()?;
            return Ok(Paginated::after_key(
                rows,
                page.limit(),
                |t: &AssetTemplate| SortKey::created(t.created_at, &t.id),
            ));
        }
        let (limit, offset) = paging::limits(page);
        let found = db
            .query(LIST_TEMPLATES, &[&institution, &limit, &offset])
            .await?;
        let total = paging::total(&db, &found, offset, COUNT_TEMPLATES, &[&institution]).await?;
        let items = found
            .iter()
            .map(rows::template)
            .collect::<gridstore::Result<_>>()?;
        Ok(Paginated::counted(
            items,
            total,
            page.offset().unwrap_or_default(),
            |t| SortKey::created(t.created_at, &t.id),
        ))
    }

    pub(super) async fn insert_asset(
        &self,
        scope: &Scope,
        new: NewAsset,
        audit_context: &AuditContext,
    ) -> Result<Asset> {
        ensure_scope(scope, &new.institution_id)?;
        let (asset, event) = records::asset(new, audit_context, now_millis());
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let params: &Params<'_> = &[
            &asset.id.as_str(),
            &asset.institution_id.as_str(),
            &asset.template_id.as_str(),
            &asset.label,
            &Json(&asset.metadata),
            &asset.created_at,
            &asset.updated_at,
        ];
        let events = outbox::asset_created(&asset)?;
        audit::insert_entity_with_audit(&db, INSERT_ASSET, params, &event, &events).await?;
        commit(tx).await?;
        Ok(asset)
    }

    pub(super) async fn select_asset(&self, scope: &Scope, id: &AssetId) -> Result<Asset> {
        let own = scope.institution().map(InstitutionId::as_str);
        let client = self.pool.get().await?;
        let row = Db::new(&client, &self.counter)
            .query_opt(GET_ASSET, &[&id.as_str(), &own])
            .await?
            .ok_or_else(|| Error::not_found(AssetId::RESOURCE, id.as_str()))?;
        Ok(rows::asset(&row)?)
    }

    pub(super) async fn asset_page(
        &self,
        scope: &Scope,
        filter: &AssetFilter,
        page: &Page,
    ) -> Result<Paginated<Asset>> {
        let Some(institution) = list_institution(scope, filter.institution_id.as_ref()) else {
            return Ok(Paginated::empty(page));
        };
        let template = filter.template_id.as_ref().map(TemplateId::as_str);
        let client = self.reads.get().await?;
        let db = Db::new(&client, &self.counter);
        let key_of = |a: &Asset| SortKey::created(a.created_at, &a.id);
        if let Start::After(after) = page.start() {
            let key = after.as_ref().map(KeyValues::of);
            let limit = paging::limit_plus_one(page);
            let query = Keyset::new(ASSET_KEYSET)
                .filter("institution_id", "=", institution.as_ref())
                .filter("template_id", "=", template.as_ref());
            let (sql, query) = created_after(query, key.as_ref()).finish("created_at, id", &limit);
            let found = db.query(&sql, query.params()).await?;
            let rows = found
                .iter()
                .map(rows::asset)
                .collect::<gridstore::Result<_>>()?;
            return Ok(Paginated::after_key(rows, page.limit(), key_of));
        }
        let (limit, offset) = paging::limits(page);
        let found = db
            .query(LIST_ASSETS, &[&institution, &template, &limit, &offset])
            .await?;
        let filters: &Params<'_> = &[&institution, &template];
        let total = paging::total(&db, &found, offset, COUNT_ASSETS, filters).await?;
        let items = found
            .iter()
            .map(rows::asset)
            .collect::<gridstore::Result<_>>()?;
        Ok(Paginated::counted(
            items,
            total,
            page.offset().unwrap_or_default(),
            key_of,
        ))
    }
}

/// Adds "after `key`" (entity order) to a keyset statement; nothing for the first page. A
/// write-order key names no entity row (a cursor can be forged: it is not signed), so no row
/// follows it.
pub(super) fn created_after<'a>(query: Keyset<'a>, key: Option<&'a KeyValues>) -> Keyset<'a> {
    match key {
        Some(KeyValues::Created(at, id)) => query.after_created(at, id),
        Some(KeyValues::Seq(_)) => query.constant("false"),
        None => query,
    }
}

/// Adds "after `key`" (write order) to a keyset statement; nothing for the first page. An
/// entity key names no row of a write-ordered list, so no row follows it.
pub(super) fn seq_after<'a>(query: Keyset<'a>, key: Option<&'a KeyValues>) -> Keyset<'a> {
    match key {
        Some(KeyValues::Seq(seq)) => query.after_seq(seq),
        Some(KeyValues::Created(..)) => query.constant("false"),
        None => query,
    }
}
