//! Idempotency reservations and stored responses (one row per (scope, key), see
//! `migrations/0004_idempotency_reservations.sql`). Times come from the application clock,
//! like every other timestamp of the store.

use std::time::Duration;

use crate::domain::now_millis;
use crate::store::idempotency::expiry;
use crate::store::{Reservation, StoredResponse};
use crate::{Error, Result};

use super::db::{Db, Params};
use super::{PgEscrowStore, rows};

/// Reserves the key unless a live row holds it; otherwise returns that row. The insert and
/// the read of the existing row are one statement. `$4` is now, `$5` the end of the lease.
///
/// The read sees the statement's snapshot: when another transaction inserted the row after
/// it was taken, the insert conflicts (and waits for that commit) but the read sees no row,
/// so the statement returns nothing and is run again.
const RESERVE: &str = "\
with reserved as (
    insert into idempotency_records as existing (scope, key, request_hash, status, body,
        created_at, expires_at)
    values ($1, $2, $3, null, null, $4, $5)
    on conflict (scope, key) do update
    set request_hash = excluded.request_hash, status = null, body = null,
        created_at = excluded.created_at, expires_at = excluded.expires_at
    where existing.expires_at <= $4
    returning 1
)
select true as reserved, null::text as request_hash, null::integer as status,
    null::bytea as body, null::timestamptz as created_at
from reserved
union all
select false, request_hash, status, body, created_at
from idempotency_records
where scope = $1 and key = $2 and expires_at > $4
  and not exists (select 1 from reserved)";

/// Turns the reservation with this hash into a completed record.
const COMPLETE: &str = "\
update idempotency_records
set status = $4, body = $5, created_at = $6, expires_at = $7
where scope = $1 and key = $2 and request_hash = $3 and status is null";

/// Drops a reservation; a completed record stays.
const RELEASE: &str = "\
delete from idempotency_records
where scope = $1 and key = $2 and status is null";

/// How many times [`RESERVE`] runs when a concurrent commit hides the row from its snapshot.
const RESERVE_ATTEMPTS: usize = 5;

impl PgEscrowStore {
    pub(super) async fn reserve_key(
        &self,
        scope_key: &str,
        key: &str,
        request_hash: &str,
        lease: Duration,
    ) -> Result<Reservation> {
        let client = self.pool.get().await?;
        let db = Db::new(&client, &self.counter);
        for _ in 0..RESERVE_ATTEMPTS {
            let now = now_millis();
            let until = expiry(now, lease);
            let params: &Params<'_> = &[&scope_key, &key, &request_hash, &now, &until];
            let Some(row) = db.query_opt(RESERVE, params).await? else {
                continue;
            };
            if rows::get::<bool>(&row, "reserved")? {
                return Ok(Reservation::Reserved);
            }
            let held: String = rows::get(&row, "request_hash")?;
            let status: Option<i32> = rows::get(&row, "status")?;
            return Ok(match (held == request_hash, status) {
                (false, _) => Reservation::Mismatch,
                (true, None) => Reservation::InProgress,
                (true, Some(_)) => Reservation::Replay(rows::stored_response(&row)?),
            });
        }
        // Reachable only if the row changed under every attempt: someone else is using it.
        tracing::warn!(
            scope = scope_key,
            key,
            "idempotency reservation kept racing"
        );
        Ok(Reservation::InProgress)
    }

    pub(super) async fn complete_key(
        &self,
        scope_key: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<()> {
        let status = i32::from(response.status);
        let expires_at = response.expires_at();
        let client = self.pool.get().await?;
        let params: &Params<'_> = &[
            &scope_key,
            &key,
            &response.request_hash,
            &status,
            &response.body,
            &response.created_at,
            &expires_at,
        ];
        let written = Db::new(&client, &self.counter)
            .execute(COMPLETE, params)
            .await?;
        if written == 0 {
            return Err(Error::not_found("idempotency reservation", key));
        }
        Ok(())
    }

    pub(super) async fn release_key(&self, scope_key: &str, key: &str) -> Result<()> {
        let client = self.pool.get().await?;
        Db::new(&client, &self.counter)
            .execute(RELEASE, &[&scope_key, &key])
            .await?;
        Ok(())
    }
}
