//! Request-log tests, in their own binary: tracing caches each callsite's interest globally, so
//! a test-local subscriber can miss events while other tests hit the same callsites on other
//! threads. Alone in a process, the test sees every event its requests emit.

mod api {
    #[allow(dead_code)]
    mod helpers;

    mod logging;
}
