//! Webhooks end to end: the API, real HTTP receivers on 127.0.0.1, the dispatcher on memory
//! and PostgreSQL (testkit), signatures checked by the Standard Webhooks reference library.

mod webhooks {
    pub mod receiver;
    pub mod support;

    mod api;
    mod delivery;
    mod dispatch;
    mod fencing;
    mod recovery;
}
