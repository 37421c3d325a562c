//! Throwaway PostgreSQL servers for tests and benchmarks (dev-only).
//!
//! Every test gets a real PostgreSQL, never a mock:
//!
//! * [`database`] gives a test a fresh database, dropped when the handle drops. By default it
//!   lives on one throwaway server per test binary, started on first use; when
//!   `TEST_DATABASE_URL` is set it is created on that server instead (e.g. in CI).
//! * [`TestPostgres`] is an owned server for fault tests: [`stop`](TestPostgres::stop),
//!   [`kill`](TestPostgres::kill) (SIGKILL) and [`restart`](TestPostgres::restart).
//!
//! ```no_run
//! # async fn example() {
//! let db = testkit::database().await;
//! let client = db.connect().await;
//! let row = client.query_one("select 1 + 1", &[]).await.expect("query");
//! assert_eq!(row.get::<_, i32>(0), 2);
//! # }
//! ```
//!
//! # How servers are run
//!
//! `initdb` and `pg_ctl` come from `PATH` or else the newest `/usr/lib/postgresql/*/bin`;
//! when none is found, tests fail with a message naming the package to install. As root
//! (`initdb` refuses to run as root) they run as the `postgres` OS user via `runuser`, and
//! the server directory is handed to that user. Each server has a private temporary directory
//! (data, Unix socket, log), listens on `127.0.0.1` on a random free port (retrying on a
//! clash), runs with durability off (`fsync`, `synchronous_commit`, `full_page_writes`) and
//! `max_connections = 200`, and trusts the `postgres` role. Readiness is a connect loop with a
//! 30 s deadline, never a fixed sleep; a timeout reports the server log. A small watchdog
//! process stops and removes a server whose test process is gone, since the shared server
//! lives in a `static` that is never dropped.
//!
//! `TESTKIT_KEEP=1` keeps server directories and test databases for debugging.
//!
//! Linux only (it reads `/proc`). The async functions must run inside a tokio runtime (they spawn the connection task).
//! Connections use no TLS, also to a `TEST_DATABASE_URL` server. Database names come from
//! the current thread's name, which libtest sets to the test's path.
//!
//! # Why not `pgtemp`
//!
//! The `pgtemp` crate has the right handle shape (and inspired this one), but it runs the
//! server as the current user (so not as root, which is how our CI runs), cannot kill -9 or
//! restart a server (its shutdown consumes the handle), and needs `libc`. A focused
//! implementation on `std::process` covers what we need without `unsafe`.

mod binaries;
mod database;
mod error;
mod process;
mod runtime;
mod server;
mod shared;

pub use database::TestDatabase;
pub use error::TestkitError;
pub use server::{TestPostgres, TestPostgresBuilder};
pub use shared::{TEST_DATABASE_URL, database, database_at};
