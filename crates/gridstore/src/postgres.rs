//! PostgreSQL plumbing shared by every PostgreSQL backend (config, pool, migrations, SQLSTATE
//! mapping, retrying transactions) and the PostgreSQL backends of the primitives.
//!
//! | concern | module |
//! |---|---|
//! | typed settings, password-redacting `Debug` | [`config`] |
//! | deadpool pool with verified recycling | [`pool`] |
//! | numbered migrations under an advisory lock | [`migrate`](mod@migrate) |
//! | SQLSTATE classification into [`Error`](crate::Error) | [`error`] |
//! | retrying transactions, commit with unknown outcome | [`retry`](mod@retry) |
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

pub mod config;
pub mod error;
pub mod migrate;
pub mod pool;
pub mod retry;

pub use config::{PgConfig, SslMode};
pub use error::classify;
pub use migrate::{Migration, migrate};
pub use pool::{PgClient, PgPool, PoolStatus};
pub use retry::{RetryPolicy, commit, retry, transaction, transaction_with};
