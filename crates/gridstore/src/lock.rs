//! Leases: distributed locks with a TTL and a fencing token.
//!
//! A [`Lease`] is granted to one holder for a key until `expires_at`. Each grant carries a
//! fencing token that is strictly greater than every token granted before it (for any key):
//! pass it to the protected resource so it can reject writes from a holder that lost the
//! lease without noticing.
//!
//! # Semantic choices
//!
//! - Expiry is decided by the backend's clock (the database clock on PostgreSQL), never by the
//!   caller's. A lease is held while `now < expires_at`.
//! - [`Locks::acquire`] succeeds when the key is free or its lease expired, and also when the
//!   same holder asks again (a re-grant: new token, new expiry; the old token stops working).
//!   Otherwise it fails with [`Error::LockHeld`] naming the holder and
//!   the expiry.
//! - [`Locks::extend`] and [`Locks::release`] identify the lease by key, holder and token.
//!   Extending needs an unexpired lease. Releasing works as long as the lease was not granted to
//!   anyone since (its token is still the stored one), even if it expired. Otherwise both fail
//!   with [`Error::LockNotHeld`]: a holder whose lease expired and
//!   was taken over can never extend or release the new holder's lease.
//! - [`Locks::force_release`] is the administrator's override: it removes any lease on the key.
//! - [`Locks::get`] and [`Locks::list`] return live (unexpired) leases only.
//! - Timestamps have millisecond precision.
//! - The PostgreSQL backend draws tokens from a sequence, so they keep increasing across a
//!   clean server restart.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use gridstore::memory::MemoryLocks;
//! use gridstore::{Error, Locks};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> gridstore::Result<()> {
//! let locks = MemoryLocks::new();
//! let lease = locks.acquire("leader:reconciler", "node-a", Duration::from_secs(30)).await?;
//! // Pass lease.fencing_token along with every write the lease protects.
//! match locks.acquire("leader:reconciler", "node-b", Duration::from_secs(30)).await {
//!     Err(Error::LockHeld { holder, .. }) => assert_eq!(holder, "node-a"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! let lease = locks.extend(&lease, Duration::from_secs(30)).await?;
//! locks.release(&lease).await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A granted lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The locked key.
    pub key: String,
    /// Who holds it.
    pub holder: String,
    /// Strictly increasing across grants; pass it to the protected resource.
    pub fencing_token: u64,
    /// When this grant was made.
    pub acquired_at: DateTime<Utc>,
    /// When it expires unless extended.
    pub expires_at: DateTime<Utc>,
}

/// Leases on keys. See the [module docs](self) for the semantics.
#[async_trait]
pub trait Locks: Send + Sync + fmt::Debug + 'static {
    /// Grants `key` to `holder` for `ttl`.
    ///
    /// # Errors
    /// [`Error::LockHeld`] when another holder has a live lease; [`Error::InvalidInput`] for an
    /// empty key or holder or a zero TTL.
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration) -> Result<Lease>;

    /// Moves the expiry of a live lease to `now + ttl` and returns the updated lease (same
    /// token).
    ///
    /// # Errors
    /// [`Error::LockNotHeld`] when the lease expired or was granted to someone since.
    async fn extend(&self, lease: &Lease, ttl: Duration) -> Result<Lease>;

    /// Gives a lease back.
    ///
    /// # Errors
    /// [`Error::LockNotHeld`] when the lease was granted to someone since (or already released).
    async fn release(&self, lease: &Lease) -> Result<()>;

    /// Removes any lease on `key`; returns whether there was one (expired or not).
    async fn force_release(&self, key: &str) -> Result<bool>;

    /// The live lease on `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Lease>>;

    /// All live leases, ordered by key.
    async fn list(&self) -> Result<Vec<Lease>>;
}

/// Validates acquire arguments.
pub(crate) fn validate_acquire(key: &str, holder: &str, ttl: Duration) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidInput("lock key must not be empty".into()));
    }
    if holder.is_empty() {
        return Err(Error::InvalidInput("lock holder must not be empty".into()));
    }
    if key.contains('\0') || holder.contains('\0') {
        return Err(Error::InvalidInput(
            "lock key and holder must not contain the nul character".into(),
        ));
    }
    validate_ttl(ttl)
}

/// Validates a TTL: positive and representable as a chrono duration.
pub(crate) fn validate_ttl(ttl: Duration) -> Result<()> {
    if ttl.is_zero() {
        return Err(Error::InvalidInput("lock ttl must be positive".into()));
    }
    if chrono::Duration::from_std(ttl).is_err() {
        return Err(Error::InvalidInput("lock ttl is too large".into()));
    }
    Ok(())
}

/// The error for a lease its caller does not hold.
pub(crate) fn not_held(lease: &Lease) -> Error {
    Error::LockNotHeld {
        key: lease.key.clone(),
        holder: lease.holder.clone(),
    }
}

/// Counts one lost acquire race for the `gridstore_lock_contentions_total` counter.
pub(crate) fn record_contention(backend: &'static str) {
    metrics::counter!("gridstore_lock_contentions_total", "backend" => backend).increment(1);
}
