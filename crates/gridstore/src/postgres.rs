//! PostgreSQL plumbing shared by every PostgreSQL backend (config, pool, migrations, SQLSTATE
//! mapping, retrying transactions) and the PostgreSQL backends of the primitives.
//!
//! | concern | module |
//! |---|---|
//! | typed settings, password-redacting `Debug` | [`config`] |
//! | deadpool pool, connections verified after idling | [`pool`] |
//! | TLS (rustls): libpq's `sslmode` and `sslrootcert` | [`tls`] |
//! | named or unnamed statements (PgBouncer's transaction mode) | [`statements`] |
//! | read replicas: lag-checked pools, fallback to the primary | [`replicas`] |
//! | numbered migrations under an advisory lock | [`migrate`](mod@migrate) |
//! | SQLSTATE classification into [`Error`](crate::Error) | [`error`] |
//! | retrying transactions, commit with unknown outcome | [`retry`](mod@retry) |
//! | transactions whose `BEGIN` and `COMMIT` share round trips | [`pipelined`] |
//! | gridstore's migrations (`gridstore_migrations`) | [`migrations`] |
//! | sessions backend | [`session`] |
//! | key-value backend | [`kv`] |
//! | checkpoints backend | [`checkpoint`] |
//! | event log backend, monthly partitions | [`event_log`] |
//! | dead-letter queue backend | [`dlq`] |
//! | leases backend, advisory transaction locks | [`lock`] |
//! | the per-process LISTEN connection | [`listener`] |
//! | health report | [`health`] |
//!
//! ```no_run
//! use gridstore::postgres::{Migration, PgConfig, PgPool, RetryPolicy, migrate, transaction};
//!
//! const MIGRATIONS: &[Migration] = &[Migration {
//!     version: 1,
//!     name: "create_notes",
//!     sql: "create table notes (id bigint primary key, body text not null)",
//! }];
//!
//! # async fn demo() -> gridstore::Result<()> {
//! let pool = PgPool::connect(&PgConfig::from_url("postgres://app@localhost/app")?).await?;
//! migrate(&pool, "notes_migrations", MIGRATIONS).await?;
//! transaction(&pool, &RetryPolicy::default(), |tx| {
//!     Box::pin(async move {
//!         tx.execute("insert into notes values (1, 'hello')", &[]).await?;
//!         Ok::<_, gridstore::Error>(())
//!     })
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```

pub mod checkpoint;
pub mod config;
pub mod dlq;
pub mod error;
pub mod event_log;
pub mod health;
pub mod kv;
pub mod listener;
pub mod lock;
pub mod migrate;
pub mod migrations;
pub mod pipelined;
pub mod pool;
pub mod replicas;
pub mod retry;
pub mod session;
pub mod statements;
pub mod tls;

pub use checkpoint::PgCheckpointStore;
pub use config::{PgConfig, SslMode};
pub use dlq::PgDeadLetterQueue;
pub use error::classify;
pub use event_log::PgEventLog;
pub use health::HealthReport;
pub use kv::PgKvStore;
pub use listener::{ChannelNotice, ListenerOptions, PgListener};
pub use lock::{PgLocks, advisory_key, try_advisory_xact_lock, with_advisory_xact_lock};
pub use migrate::{Migration, migrate};
pub use pipelined::{PgTransaction, PgWrite};
pub use pool::{PgClient, PgPool, PoolStatus};
pub use replicas::{PgReadPools, ReplicaOptions};
pub use retry::{RetryPolicy, commit, retry, transaction, transaction_with};
pub use session::PgSessionStore;
pub use statements::{PgConnection, PgStatement};
pub use tls::PgTls;
