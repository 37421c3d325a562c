//! Integration tests of `gridstore::postgres` plumbing against a real PostgreSQL (testkit).

#[path = "plumbing/blackhole.rs"]
mod blackhole;
#[path = "plumbing/classify.rs"]
mod classify;
#[path = "plumbing/commit.rs"]
mod commit;
#[path = "plumbing/config.rs"]
mod config;
#[path = "plumbing/migrate.rs"]
mod migrate;
#[path = "plumbing/pipelined.rs"]
mod pipelined;
#[path = "plumbing/pool.rs"]
mod pool;
#[path = "plumbing/retry.rs"]
mod retry;
#[path = "shared/schema.rs"]
mod schema;
#[path = "plumbing/support.rs"]
mod support;
#[path = "plumbing/tls.rs"]
mod tls;
