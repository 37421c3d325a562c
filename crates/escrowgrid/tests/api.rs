//! HTTP API tests: the whole router (every middleware layer) on the memory store, driven with
//! `Router::oneshot`. One integration binary; the modules live in `tests/api/`.
//! `backends_agree` also runs the router on PostgreSQL (testkit) to compare the backends.

#[path = "support/sse.rs"]
mod sse;

mod api {
    mod helpers;

    mod api_keys;
    mod array_cursors;
    mod auth;
    mod backends_agree;
    mod concurrency;
    mod console;
    mod cursors;
    mod events;
    mod framework;
    mod hardening;
    mod idempotency;
    mod idempotency_reservations;
    mod institutions;
    mod ledger_audit;
    mod lost_answers;
    mod metrics_docs;
    mod outages;
    mod policies;
    mod positions;
    mod rate_limits;
    mod templates_assets;
    mod tenancy;
}
