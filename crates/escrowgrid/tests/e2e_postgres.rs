//! End-to-end tests: the real server (in-process `serve`, or the `escrowgrid` binary) over a
//! real socket on PostgreSQL from testkit.

mod e2e {
    pub mod client;
    pub mod flows;
    pub mod server;

    mod cli;
    mod concurrency;
    mod failover;
    mod idempotency;
    pub mod lifecycle;
    mod pgbouncer;
    mod pitr;
    mod readiness;
    mod replicas;
    mod restart;
    mod shutdown;
    mod tls;
}
