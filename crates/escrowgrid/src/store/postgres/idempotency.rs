//! Stored responses for the API's Idempotency-Key: live for [`IDEMPOTENCY_TTL`] after they
//! were stored; the first writer of a live (scope, key) wins, an expired one is replaced.

use crate::domain::now_millis;
use crate::store::{IDEMPOTENCY_TTL, StoredResponse};
use crate::{Error, Result};

use super::db::{Db, Params};
use super::{PgEscrowStore, rows};

const GET_RESPONSE: &str = "\
select request_hash, status, body, created_at
from idempotency_records
where scope = $1 and key = $2 and expires_at > $3";

/// Inserts, or replaces an expired record; a live one is left alone (zero rows affected).
const PUT_RESPONSE: &str = "\
insert into idempotency_records (scope, key, request_hash, status, body, created_at,
    expires_at)
values ($1, $2, $3, $4, $5, $6, $7)
on conflict (scope, key) do update
set request_hash = excluded.request_hash, status = excluded.status, body = excluded.body,
    created_at = excluded.created_at, expires_at = excluded.expires_at
where idempotency_records.expires_at <= $8";

impl PgEscrowStore {
    pub(super) async fn stored_response(
        &self,
        scope_key: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>> {
        let now = now_millis();
        let client = self.pool.get().await?;
        let row = Db::new(&client, &self.counter)
            .query_opt(GET_RESPONSE, &[&scope_key, &key, &now])
            .await?;
        Ok(row.as_ref().map(rows::stored_response).transpose()?)
    }

    pub(super) async fn store_response(
        &self,
        scope_key: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<()> {
        let ttl = chrono::Duration::from_std(IDEMPOTENCY_TTL)
            .map_err(|err| gridstore::Error::InvalidInput(err.to_string()))?;
        let expires_at = response.created_at + ttl;
        let status = i32::from(response.status);
        let now = now_millis();
        let client = self.pool.get().await?;
        let params: &Params<'_> = &[
            &scope_key,
            &key,
            &response.request_hash,
            &status,
            &response.body,
            &response.created_at,
            &expires_at,
            &now,
        ];
        let written = Db::new(&client, &self.counter)
            .execute(PUT_RESPONSE, params)
            .await?;
        if written == 0 {
            return Err(Error::Duplicate {
                resource: "idempotency key",
                key: key.to_owned(),
            });
        }
        Ok(())
    }
}
