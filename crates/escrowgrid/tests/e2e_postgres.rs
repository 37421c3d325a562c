//! End-to-end tests: the real server (in-process `serve`, or the `escrowgrid` binary) over a
//! real socket on PostgreSQL from testkit.

#[path = "support/sse.rs"]
mod sse;

mod e2e {
    pub mod client;
    pub mod flows;
    pub mod server;

    mod api_key_cache;
    mod cli;
    mod concurrency;
    mod events;
    mod failover;
    mod hardening;
    mod idempotency;
    mod ledger;
    pub mod lifecycle;
    mod load_shedding;
    pub mod metrics;
    mod onchain;
    mod pgbouncer;
    mod pitr;
    mod rate_limits;
    mod raw_http;
    mod readiness;
    mod replicas;
    mod restart;
    mod shutdown;
    mod slow_clients;
    mod tls;
}
