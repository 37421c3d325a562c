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
