//! API keys: only the SHA-256 hex of a token is stored (`key_hash`, unique); revoking is an
//! update of active keys only, so a second revoke finds nothing (NotFound on both backends).
//! Lookups go through the API-key cache when it is enabled (`key_cache.rs`); a revoke notifies
//! every instance's cache in its transaction.

use std::time::Instant;

use gridstore::postgres::commit;

use crate::domain::{
    ApiKey, ApiKeyId, AuditContext, InstitutionId, NewApiKey, hash_token, now_millis,
};
use crate::store::{CreatedApiKey, KeysetPage, Paginated, Scope, SortKey, outbox, records};
use crate::{Error, Result};

use super::db::{Db, Params, begin};
use super::entities::{created_after, ensure_scope};
use super::paging::{self, KeyValues, Keyset};
use super::{API_KEYS_CHANNEL, PgEscrowStore, audit, rows};

const INSERT_KEY: &str = "\
insert into api_keys (id, institution_id, key_hash, label, role, created_at, revoked_at)
values ($1, $2, $3, $4, $5, $6, $7)";

const FIND_BY_HASH: &str = "\
select id, institution_id, key_hash, label, role, created_at, revoked_at
from api_keys
where key_hash = $1 and revoked_at is null";

/// A keyset page of an institution's active keys, under its institution row
/// ([`Keyset::finish_under`]: an unknown institution is told apart from one without keys in a
/// single statement; index `idx_api_keys_institution`).
const KEY_KEYSET: &str = "\
select id, institution_id, key_hash, label, role, created_at, revoked_at
from api_keys";

const REVOKE_KEY: &str = "\
update api_keys
set revoked_at = $3
where id = $1 and institution_id = $2 and revoked_at is null
returning id, institution_id, key_hash, label, role, created_at, revoked_at";

const INSTITUTION_EXISTS: &str = "select id from institutions where id = $1";

/// Tells every instance's API-key cache (`$1`: the channel) that key `$2` is revoked; sent at
/// commit, so only for a revoke that happened.
const NOTIFY_REVOKED: &str = "select pg_notify($1, $2)";

impl PgEscrowStore {
    pub(super) async fn insert_api_key(
        &self,
        scope: &Scope,
        new: NewApiKey,
        audit_context: &AuditContext,
    ) -> Result<CreatedApiKey> {
        ensure_scope(scope, &new.institution_id)?;
        let (api_key, token, event) = records::api_key(new, audit_context, now_millis());
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let params: &Params<'_> = &[
            &api_key.id.as_str(),
            &api_key.institution_id.as_str(),
            &api_key.key_hash,
            &api_key.label,
            &api_key.role.as_str(),
            &api_key.created_at,
            &api_key.revoked_at,
        ];
        let events = outbox::api_key_created(&api_key)?;
        audit::insert_entity_with_audit(&db, INSERT_KEY, params, &event, &events).await?;
        commit(tx).await?;
        Ok(CreatedApiKey { api_key, token })
    }

    /// The active key of `token` as of `now`: from the cache if it was read less than the
    /// cache's TTL before `now`, else from the database (then cached).
    pub(super) async fn api_key_by_token(
        &self,
        token: &str,
        now: Instant,
    ) -> Result<Option<ApiKey>> {
        let hash = hash_token(token);
        let ticket = match self.keys.as_deref().map(|cache| cache.get(&hash, now)) {
            Some(Ok(key)) => return Ok(Some(key)),
            Some(Err(ticket)) => Some(ticket),
            None => None,
        };
        let client = self.pool.get().await?;
        let row = Db::new(&client, &self.counter)
            .query_opt(FIND_BY_HASH, &[&hash])
            .await?;
        let key = row.as_ref().map(rows::api_key).transpose()?;
        if let (Some(cache), Some(ticket), Some(key)) = (&self.keys, ticket, &key) {
            cache.fill(hash, key.clone(), ticket);
        }
        Ok(key)
    }

    pub(super) async fn active_api_keys(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        page: &KeysetPage,
    ) -> Result<Paginated<ApiKey>> {
        ensure_scope(scope, institution_id)?;
        let institution = institution_id.as_str();
        let key = page.key().map(KeyValues::of);
        let limit = paging::limit_plus_one(&page.page());
        let query = Keyset::new(KEY_KEYSET)
            .filter("institution_id", "=", Some(&institution))
            .constant("revoked_at is null");
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
        let keys =
            paging::under_parent(&found, InstitutionId::RESOURCE, institution, rows::api_key)?;
        Ok(Paginated::after_key(keys, page.limit(), |k: &ApiKey| {
            SortKey::created(k.created_at, &k.id)
        }))
    }

    pub(super) async fn revoke(
        &self,
        scope: &Scope,
        institution_id: &InstitutionId,
        id: &ApiKeyId,
        audit_context: &AuditContext,
    ) -> Result<ApiKey> {
        ensure_scope(scope, institution_id)?;
        let at = now_millis();
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let row = db
            .query_opt(REVOKE_KEY, &[&id.as_str(), &institution_id.as_str(), &at])
            .await?;
        let Some(row) = row else {
            let institution = db
                .query_opt(INSTITUTION_EXISTS, &[&institution_id.as_str()])
                .await?;
            return Err(match institution {
                None => Error::not_found(InstitutionId::RESOURCE, institution_id.as_str()),
                Some(_) => Error::not_found(ApiKeyId::RESOURCE, id.as_str()),
            });
        };
        let (revoked, event) = records::revoked_api_key(&rows::api_key(&row)?, audit_context, at);
        let events = outbox::api_key_revoked(&revoked)?;
        let revoked_id = revoked.id.as_str();
        let notify: &Params<'_> = &[&API_KEYS_CHANNEL, &revoked_id];
        tokio::try_join!(
            audit::insert_with_events(&db, &event, &events),
            db.execute(NOTIFY_REVOKED, notify),
        )?;
        commit(tx).await?;
        if let Some(cache) = &self.keys {
            cache.invalidate(revoked.id.as_str());
        }
        Ok(revoked)
    }
}
