//! PostgreSQL [`Locks`]: lease rows in `gs_leases` (migration 0006), plus advisory
//! transaction locks for short critical sections.
//!
//! Leases are rows, not advisory locks: they have a TTL, survive PgBouncer transaction
//! pooling and server restarts, and carry fencing tokens (prior-art §0.3). Acquire is one
//! `insert … on conflict (key) do update … where gs_leases.expires_at <= now() or
//! gs_leases.holder = excluded.holder`; the token of a take-over is drawn with `nextval` *after*
//! the row lock is held, so it is greater than the token it replaces even when racing
//! acquirers drew theirs earlier. The grant of a free key has no row to lock, so the statement
//! first takes a transaction-scoped advisory lock on the key (released at its commit): the next
//! grant of that key can only draw its token after this one committed. Expiry is judged by the
//! database clock (`now()`).
//!
//! Tokens come from the sequence `gs_lease_tokens`, which survives clean restarts. (After a
//! crash PostgreSQL skips ahead in sequences, so tokens still increase — unless the server ran
//! with `fsync = off` and lost WAL, as throwaway test servers do.)

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::lock::{Lease, Locks, not_held, record_contention, validate_acquire, validate_ttl};
use crate::metrics::observe;
use crate::postgres::PgPool;
use crate::{Error, Result};

const PRIMITIVE: &str = "lock";
const BACKEND: &str = "postgres";

/// Grants are serialized per key by a transaction-scoped advisory lock (two-`int4` key space:
/// `hashtext('gs_leases')`, `hashtext(key)`; it never collides with the one-`bigint` keys of
/// [`with_advisory_xact_lock`]) taken before the insert path draws its token: without it, a
/// grant of a free key could draw its token, stall, and insert after a faster grant and
/// release of the same key had used a larger one.
const ACQUIRE: &str = "with serialized as (
    select pg_advisory_xact_lock(hashtext('gs_leases'), hashtext($1))
)
insert into gs_leases as l (key, holder, fencing_token, acquired_at, expires_at)
select $1, $2, nextval('gs_lease_tokens'), date_trunc('milliseconds', now()),
       date_trunc('milliseconds', now() + $3::bigint * interval '1 millisecond')
from serialized
on conflict (key) do update
set holder = excluded.holder,
    fencing_token = nextval('gs_lease_tokens'),
    acquired_at = excluded.acquired_at,
    expires_at = excluded.expires_at
where l.expires_at <= now() or l.holder = excluded.holder
returning key, holder, fencing_token, acquired_at, expires_at";

const CURRENT: &str = "select key, holder, fencing_token, acquired_at, expires_at
from gs_leases where key = $1 and expires_at > now()";

const EXTEND: &str = "update gs_leases
set expires_at = date_trunc('milliseconds', now() + $4::bigint * interval '1 millisecond')
where key = $1 and holder = $2 and fencing_token = $3 and expires_at > now()
returning key, holder, fencing_token, acquired_at, expires_at";

const RELEASE: &str = "delete from gs_leases where key = $1 and holder = $2 and fencing_token = $3";

const FORCE_RELEASE: &str = "delete from gs_leases where key = $1";

const LIST: &str = "select key, holder, fencing_token, acquired_at, expires_at
from gs_leases where expires_at > now() order by key";

/// How often acquire retries when the holder it lost to vanished before it could be named.
const ACQUIRE_ATTEMPTS: usize = 3;

/// PostgreSQL leases. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PgLocks {
    pool: PgPool,
}

impl PgLocks {
    /// Leases on `pool` (migrated with [`crate::postgres::migrations::migrate`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn acquire_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<Lease> {
        validate_acquire(key, holder, ttl)?;
        let ttl = millis(ttl)?;
        let client = self.pool.get().await?;
        let acquire = self.pool.prepare(&client, ACQUIRE).await?;
        for _ in 0..ACQUIRE_ATTEMPTS {
            if let Some(row) = acquire.query_opt(&client, &[&key, &holder, &ttl]).await? {
                return lease_from_row(&row);
            }
            if let Some(row) = self
                .pool
                .prepare(&client, CURRENT)
                .await?
                .query_opt(&client, &[&key])
                .await?
            {
                let current = lease_from_row(&row)?;
                record_contention(BACKEND);
                return Err(Error::LockHeld {
                    key: current.key,
                    holder: current.holder,
                    expires_at: current.expires_at,
                });
            }
            // The holder released or expired in between: try again.
        }
        // The lease kept changing hands under us: report a retryable conflict.
        tracing::warn!(
            lock.key = key,
            "lease changed hands during every acquire attempt"
        );
        Err(Error::SerializationFailure)
    }
}

fn millis(ttl: Duration) -> Result<i64> {
    i64::try_from(ttl.as_millis()).map_err(|_| Error::InvalidInput("lock ttl is too large".into()))
}

fn token(lease: &Lease) -> Result<i64> {
    i64::try_from(lease.fencing_token)
        .map_err(|_| Error::InvalidInput("fencing token out of range".into()))
}

fn lease_from_row(row: &Row) -> Result<Lease> {
    let token: i64 = row.try_get(2)?;
    Ok(Lease {
        key: row.try_get(0)?,
        holder: row.try_get(1)?,
        fencing_token: u64::try_from(token).unwrap_or_default(),
        acquired_at: row.try_get(3)?,
        expires_at: row.try_get(4)?,
    })
}

#[async_trait]
impl Locks for PgLocks {
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration) -> Result<Lease> {
        observe(
            PRIMITIVE,
            "acquire",
            BACKEND,
            self.acquire_lease(key, holder, ttl),
        )
        .await
    }

    async fn extend(&self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        observe(PRIMITIVE, "extend", BACKEND, async {
            validate_ttl(ttl)?;
            let client = self.pool.get().await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&lease.key, &lease.holder, &token(lease)?, &millis(ttl)?];
            match self
                .pool
                .prepare(&client, EXTEND)
                .await?
                .query_opt(&client, &params)
                .await?
            {
                Some(row) => lease_from_row(&row),
                None => Err(not_held(lease)),
            }
        })
        .await
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        observe(PRIMITIVE, "release", BACKEND, async {
            let client = self.pool.get().await?;
            let deleted = self
                .pool
                .prepare(&client, RELEASE)
                .await?
                .execute(&client, &[&lease.key, &lease.holder, &token(lease)?])
                .await?;
            if deleted == 0 {
                return Err(not_held(lease));
            }
            Ok(())
        })
        .await
    }

    async fn force_release(&self, key: &str) -> Result<bool> {
        observe(PRIMITIVE, "force_release", BACKEND, async {
            let client = self.pool.get().await?;
            let deleted = self
                .pool
                .prepare(&client, FORCE_RELEASE)
                .await?
                .execute(&client, &[&key])
                .await?;
            if deleted > 0 {
                tracing::warn!(lock.key = key, "lease force-released");
            }
            Ok(deleted > 0)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Lease>> {
        observe(PRIMITIVE, "get", BACKEND, async {
            let client = self.pool.get().await?;
            let row = self
                .pool
                .prepare(&client, CURRENT)
                .await?
                .query_opt(&client, &[&key])
                .await?;
            row.as_ref().map(lease_from_row).transpose()
        })
        .await
    }

    async fn list(&self) -> Result<Vec<Lease>> {
        observe(PRIMITIVE, "list", BACKEND, async {
            let client = self.pool.get().await?;
            let rows = self
                .pool
                .prepare(&client, LIST)
                .await?
                .query(&client, &[])
                .await?;
            rows.iter().map(lease_from_row).collect()
        })
        .await
    }
}

/// Derives a stable advisory-lock key from a name (the first 8 bytes of its SHA-256).
pub fn advisory_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Takes the transaction-scoped advisory lock `key`, waiting for it; it is released when the
/// transaction ends. For short critical sections inside one transaction only: advisory locks
/// have no TTL and no fencing token (use [`PgLocks`] for leases).
///
/// # Errors
/// Classified database errors (e.g. a statement timeout while waiting).
pub async fn with_advisory_xact_lock(
    tx: &deadpool_postgres::Transaction<'_>,
    key: i64,
) -> Result<()> {
    tx.execute("select pg_advisory_xact_lock($1)", &[&key])
        .await?;
    Ok(())
}

/// Tries to take the transaction-scoped advisory lock `key` without waiting; returns whether
/// it was taken (then it is held until the transaction ends).
///
/// # Errors
/// Classified database errors.
pub async fn try_advisory_xact_lock(
    tx: &deadpool_postgres::Transaction<'_>,
    key: i64,
) -> Result<bool> {
    let row = tx
        .query_one("select pg_try_advisory_xact_lock($1)", &[&key])
        .await?;
    let taken: bool = row.try_get(0)?;
    if !taken {
        record_contention(BACKEND);
    }
    Ok(taken)
}
