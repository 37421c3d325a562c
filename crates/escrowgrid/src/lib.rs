//! EscrowGrid: escrow / tokenization-as-a-service over a REST API.
//!
//! Layers, top to bottom (arrows only point down):
//!
//! | layer | module |
//! |---|---|
//! | HTTP API (axum router, auth, rate limits, error mapping, OpenAPI) | [`api`] |
//! | the `escrowgrid` command line (serve, migrate, ledger verify, print-config) and log setup | [`cli`] |
//! | running the server: store + router + graceful shutdown | [`server`] |
//! | typed configuration | [`config`] |
//! | idempotency keys on the gridstore KV port (reserve, complete, release; cancellation-safe) | [`idempotency`] |
//! | fixed-window rate limits on the gridstore KV port (shared across instances on PostgreSQL) | [`rate_limit`] |
//! | the tamper-evident ledger: hash chains per position and their verification | [`ledger`] |
//! | the `EscrowStore` trait and its memory / PostgreSQL backends | [`store`] |
//! | webhook delivery: signing, SSRF checks, dispatcher, retries, DLQ | [`webhooks`] |
//! | the on-chain ledger: contract bindings, payloads, sender | [`onchain`] |
//! | the leased-worker loop the sender and the webhook dispatcher share (lease, checkpoint, next batch) | `worker` |
//! | metrics pipeline (metrics-exporter-prometheus) and the optional OTLP exporter | [`observability`] |
//! | the pure position state machine | [`lifecycle`] |
//! | entities, ids, money, validation, template rules, policy evaluation | [`domain`] |
//! | the crate's one error type | [`error`] |
//! | store contract suites (feature `test-suite`) | `testing` |

pub mod api;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod idempotency;
pub mod ledger;
pub mod lifecycle;
pub mod observability;
pub mod onchain;
pub mod rate_limit;
pub mod server;
pub mod store;
#[cfg(feature = "test-suite")]
pub mod testing;
pub mod webhooks;
mod worker;

pub use error::{Error, Result, StorageCause};
