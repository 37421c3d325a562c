//! PostgreSQL [`KvStore`] on table `gs_kv` (migration 0002).
//!
//! Expiry is decided with the database clock: `expires_at` is `now() + ttl` truncated to the
//! millisecond, and every read and conditional write treats `expires_at <= now()` as absent.
//! Conditional writes are single statements (`insert ... on conflict do update ... where
//! <expired>` for `set_if_absent`, `update ... where value = $expected` for
//! `compare_and_set`, `delete ... where value = $expected` for `compare_and_delete`, and for
//! `increment` an `insert ... on conflict do update` that adds to a live row, restarts an
//! expired one and returns the sum with the time left), so racing writers are decided by row
//! locks, never lost. Expired rows
//! are deleted in batches by [`KvStore::sweep_expired`] (`ctid`-addressed, `skip locked`, so
//! several sweepers never block each other or a writer for long). Statements are not retried.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::Result;
use crate::kv::{
    Counter, KvStats, KvStore, SweeperHandle, not_a_counter, spawn_sweeper, ttl_millis,
    validate_key, validate_write,
};
use crate::metrics::observe;
use crate::postgres::PgPool;

const PRIMITIVE: &str = "kv";
const BACKEND: &str = "postgres";

/// `now() + $3 milliseconds` truncated to the millisecond, or null for no TTL.
macro_rules! expires_at {
    ($param:literal) => {
        concat!(
            "date_trunc('milliseconds', now() + ",
            $param,
            "::int8 * interval '1 millisecond')"
        )
    };
}

const SET: &str = concat!(
    "insert into gs_kv (key, value, expires_at, updated_at) values ($1, $2, ",
    expires_at!("$3"),
    ", now())
     on conflict (key) do update
        set value = excluded.value, expires_at = excluded.expires_at, updated_at = now()"
);

/// Returns a row when it inserted, or replaced an expired row.
const SET_IF_ABSENT: &str = concat!(
    "insert into gs_kv (key, value, expires_at, updated_at) values ($1, $2, ",
    expires_at!("$3"),
    ", now())
     on conflict (key) do update
        set value = excluded.value, expires_at = excluded.expires_at, updated_at = now()
      where gs_kv.expires_at is not null and gs_kv.expires_at <= now()
  returning 1"
);

const COMPARE_AND_SET: &str = concat!(
    "update gs_kv set value = $3, updated_at = now(), expires_at = ",
    expires_at!("$4"),
    " where key = $1 and value = $2 and (expires_at is null or expires_at > now())"
);

/// Deletes the row only when it is live and holds the expected value.
const COMPARE_AND_DELETE: &str = "delete from gs_kv
 where key = $1 and value = $2 and (expires_at is null or expires_at > now())";

/// Adds `$2` to a live integer row (keeping its expiry), or (re)starts the counter at `$2`
/// with expiry `now() + $3` when the row is missing or expired. Returns no row when a live
/// row holds anything but an integer or the sum leaves `int8`, and otherwise the sum and the
/// milliseconds left (rounded up), both read with the statement's one `now()`.
const INCREMENT: &str = concat!(
    "insert into gs_kv as kv (key, value, expires_at, updated_at) values ($1, to_jsonb($2::int8), ",
    expires_at!("$3"),
    ", now())
     on conflict (key) do update
        set value = case when kv.expires_at <= now() then excluded.value
                         else to_jsonb(kv.value::numeric + $2::int8) end,
            expires_at = case when kv.expires_at <= now() then excluded.expires_at
                              else kv.expires_at end,
            updated_at = now()
      where kv.expires_at <= now()
         or (jsonb_typeof(kv.value) = 'number'
             and kv.value::numeric = trunc(kv.value::numeric)
             and kv.value::numeric + $2::int8 between -9223372036854775808 and 9223372036854775807)
  returning (value::numeric)::int8,
            ceil(extract(epoch from (expires_at - now())) * 1000)::int8"
);

const GET: &str =
    "select value from gs_kv where key = $1 and (expires_at is null or expires_at > now())";

/// The live values of a list of keys; absent keys have no row.
const GET_MANY: &str = "select key, value from gs_kv
 where key = any($1) and (expires_at is null or expires_at > now())";

const HAS: &str = "select exists (select 1 from gs_kv
     where key = $1 and (expires_at is null or expires_at > now()))";

/// Deletes the row whatever its state; reports whether it was live.
const DELETE: &str = "with deleted as (delete from gs_kv where key = $1 returning expires_at)
select coalesce(bool_or(expires_at is null or expires_at > now()), false) from deleted";

const STATS: &str = "select count(*) filter (where expires_at is null or expires_at > now()),
       count(*) filter (where expires_at <= now())
  from gs_kv";

const SWEEP: &str = "delete from gs_kv
 where ctid in (select ctid from gs_kv
                 where expires_at <= now()
                 limit $1
                   for update skip locked)
   and expires_at <= now()";

/// Keys in PostgreSQL with TTLs on the database clock. Cheap to clone (it holds a pool
/// handle).
#[derive(Debug, Clone)]
pub struct PgKvStore {
    pool: PgPool,
}

impl PgKvStore {
    /// A store on `pool`; run [`crate::postgres::migrations::migrate`] first.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Starts a background sweeper on this store (see [`spawn_sweeper`]); it stops when the
    /// handle is dropped.
    pub fn spawn_sweeper(&self, interval: Duration, batch: usize) -> SweeperHandle {
        spawn_sweeper(Arc::new(self.clone()), interval, batch)
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, sql).await?;
        Ok(statement.execute(&client, params).await?)
    }

    async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row> {
        let client = self.pool.get().await?;
        let statement = self.pool.prepare(&client, sql).await?;
        Ok(statement.query_one(&client, params).await?)
    }
}

#[async_trait::async_trait]
impl KvStore for PgKvStore {
    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<()> {
        observe(PRIMITIVE, "set", BACKEND, async {
            validate_write(key, &value)?;
            let ttl = ttl_millis(ttl)?;
            self.execute(SET, &[&key, &value, &ttl]).await?;
            Ok(())
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        observe(PRIMITIVE, "get", BACKEND, async {
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, GET).await?;
            let row = statement.query_opt(&client, &[&key]).await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
        .await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>> {
        observe(PRIMITIVE, "get_many", BACKEND, async {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, GET_MANY).await?;
            let rows = statement.query(&client, &[&keys]).await?;
            let mut found = std::collections::HashMap::with_capacity(rows.len());
            for row in rows {
                let key: String = row.try_get(0)?;
                let value: Value = row.try_get(1)?;
                found.insert(key, value);
            }
            Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
        })
        .await
    }

    async fn has(&self, key: &str) -> Result<bool> {
        observe(PRIMITIVE, "has", BACKEND, async {
            Ok(self.query_one(HAS, &[&key]).await?.try_get(0)?)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        observe(PRIMITIVE, "delete", BACKEND, async {
            Ok(self.query_one(DELETE, &[&key]).await?.try_get(0)?)
        })
        .await
    }

    async fn set_if_absent(&self, key: &str, value: Value, ttl: Option<Duration>) -> Result<bool> {
        observe(PRIMITIVE, "set_if_absent", BACKEND, async {
            validate_write(key, &value)?;
            let ttl = ttl_millis(ttl)?;
            Ok(self.execute(SET_IF_ABSENT, &[&key, &value, &ttl]).await? > 0)
        })
        .await
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: &Value,
        new: Value,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        observe(PRIMITIVE, "compare_and_set", BACKEND, async {
            validate_write(key, &new)?;
            let ttl = ttl_millis(ttl)?;
            let swapped = self
                .execute(COMPARE_AND_SET, &[&key, expected, &new, &ttl])
                .await?;
            Ok(swapped > 0)
        })
        .await
    }

    async fn compare_and_delete(&self, key: &str, expected: &Value) -> Result<bool> {
        observe(PRIMITIVE, "compare_and_delete", BACKEND, async {
            Ok(self.execute(COMPARE_AND_DELETE, &[&key, expected]).await? > 0)
        })
        .await
    }

    async fn increment(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<Counter> {
        observe(PRIMITIVE, "increment", BACKEND, async {
            validate_key(key)?;
            let ttl = ttl_millis(ttl)?;
            let client = self.pool.get().await?;
            let statement = self.pool.prepare(&client, INCREMENT).await?;
            let row = statement
                .query_opt(&client, &[&key, &by, &ttl])
                .await?
                .ok_or_else(|| not_a_counter(key))?;
            let left: Option<i64> = row.try_get(1)?;
            Ok(Counter {
                value: row.try_get(0)?,
                expires_in: left.map(|ms| Duration::from_millis(ms.max(0).unsigned_abs())),
            })
        })
        .await
    }

    async fn stats(&self) -> Result<KvStats> {
        observe(PRIMITIVE, "stats", BACKEND, async {
            let row = self.query_one(STATS, &[]).await?;
            Ok(KvStats {
                keys: row.try_get::<_, i64>(0)?.unsigned_abs(),
                expired_pending: row.try_get::<_, i64>(1)?.unsigned_abs(),
            })
        })
        .await
    }

    async fn sweep_expired(&self, batch: usize) -> Result<u64> {
        observe(PRIMITIVE, "sweep_expired", BACKEND, async {
            if batch == 0 {
                return Ok(0);
            }
            let limit = i64::try_from(batch).unwrap_or(i64::MAX);
            self.execute(SWEEP, &[&limit]).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_expression_reads_its_parameter_as_milliseconds() {
        assert!(SET.contains("now() + $3::int8 * interval '1 millisecond'"));
        assert!(COMPARE_AND_SET.contains("$4::int8"));
        assert!(SET_IF_ABSENT.contains("now() + $3::int8"));
        assert!(INCREMENT.contains("now() + $3::int8"));
    }
}
