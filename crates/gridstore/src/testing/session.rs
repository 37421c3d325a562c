//! Contract suite for [`SessionStore`](crate::session::SessionStore).
//!
//! Expand it for a backend with [`session_contract_tests!`](crate::session_contract_tests),
//! giving an async factory that returns the store and a guard kept alive for the test:
//!
//! ```ignore
//! async fn store() -> (gridstore::memory::MemorySessionStore, ()) {
//!     (gridstore::memory::MemorySessionStore::new(), ())
//! }
//! gridstore::session_contract_tests!(store);
//! ```
//!
//! # SmallTalk's 48 cases and where they went
//!
//! | SmallTalk case | here |
//! |---|---|
//! | 1–7 lifecycle (`initialize`, `healthCheck`, `close`) | not a trait concern: stores are built from a ready pool; pool health is `PgPool::ping` |
//! | 8 save and get by UUID | [`basics::a_saved_session_is_read_back_with_every_field`] |
//! | 9, 10 history and agent states | [`basics::a_nested_payload_round_trips_unchanged`] |
//! | 11 dates | [`basics::dates_round_trip_to_the_millisecond`] |
//! | 12 version (happy path) | [`basics::saving_with_the_version_read_increments_the_version`] |
//! | 13, 14 save / get p95 | [`performance::save_p95_is_under_50_ms`], [`performance::get_p95_is_under_100_ms`] |
//! | 15–17 list filter, pages, order | [`listing`] |
//! | 18–21 delete, has | [`basics`] |
//! | 22–24 batch save | [`batches`] |
//! | 25–29 batch get, batch delete | [`batches`] |
//! | 30–36 key-value | the KV suite, [`crate::testing::kv`] |
//! | 37 large session | [`performance::a_large_session_saves_and_loads_within_the_targets`] |
//! | 38 concurrent distinct saves | [`concurrency::concurrent_saves_of_distinct_sessions_all_land`] |
//! | 39 batch vs sequential | a ratio of two timings, so a benchmark, not a test: `crates/gridstore/benches/primitives/batch.rs` (figures in `docs/BENCHMARKS.md`) |
//! | 40–42 stats | [`maintenance::stats_count_sessions_by_state_and_size`] |
//! | 43–45 clear | [`maintenance`] |
//! | 46–48 serialization | unit tests of [`crate::session::Session`] (serde) |
//!
//! Their gaps, covered here:
//!
//! - stale-version conflicts ([`basics`]);
//! - an atomic batch that conflicts
//!   ([`batches::a_batch_with_one_stale_version_writes_nothing_and_names_it`]);
//! - 16 writers racing one session
//!   ([`concurrency::sixteen_writers_racing_one_session_lose_no_update`]);
//! - batches racing over the same sessions
//!   ([`concurrency::racing_batches_over_the_same_sessions_apply_all_or_nothing`]) and
//!   creating the same new sessions
//!   ([`concurrency::racing_batches_creating_the_same_sessions_apply_all_or_nothing`]);
//! - data surviving a reopen
//!   ([`concurrency::sessions_written_through_one_store_are_read_through_another`], which
//!   takes two stores and is called by each backend's test file);
//! - `clear` leaving KV alone ([`maintenance::clearing_sessions_leaves_kv_untouched`], called
//!   by each backend's test file with a session store and a KV store on the same storage);
//! - `update_state`, `limit = 0`, invalid ids and payloads.

pub mod basics;
pub mod batches;
pub mod concurrency;
pub mod fixtures;
pub mod listing;
pub mod maintenance;
pub mod performance;

pub use fixtures::{conversation, session, session_at};

/// Expands the session contract suite as `#[tokio::test]`s for the store built by `$factory`,
/// an async fn returning `(store, guard)`.
#[macro_export]
macro_rules! session_contract_tests {
    ($factory:path) => {
        $crate::session_contract_tests!(@expand $factory;
            basics: [
                a_saved_session_is_read_back_with_every_field,
                a_nested_payload_round_trips_unchanged,
                dates_round_trip_to_the_millisecond,
                saving_with_the_version_read_increments_the_version,
                saving_with_a_stale_version_is_a_conflict_and_writes_nothing,
                saving_a_new_session_over_an_existing_one_is_a_conflict,
                saving_a_missing_session_with_a_nonzero_version_is_a_conflict,
                deleting_an_existing_session_returns_true_and_removes_it,
                deleting_a_missing_session_returns_false,
                has_tells_whether_a_session_exists,
                updating_the_state_stamps_updated_at_and_bumps_the_version,
                updating_the_state_of_a_missing_session_is_not_found,
                an_invalid_id_or_payload_is_invalid_input,
            ],
            listing: [
                listing_filters_by_state,
                listing_pages_do_not_overlap,
                listing_is_ordered_by_updated_at_descending_then_id,
                a_zero_limit_lists_nothing_and_no_limit_lists_everything,
            ],
            batches: [
                saving_a_batch_saves_every_session_and_returns_their_versions,
                saving_an_empty_batch_returns_nothing,
                a_batch_with_one_stale_version_writes_nothing_and_names_it,
                a_batch_with_a_duplicate_id_is_invalid_input,
                getting_a_batch_returns_the_existing_sessions_by_id,
                deleting_a_batch_returns_how_many_existed,
            ],
            concurrency: [
                concurrent_saves_of_distinct_sessions_all_land,
                sixteen_writers_racing_one_session_lose_no_update,
                racing_batches_over_the_same_sessions_apply_all_or_nothing,
                racing_batches_creating_the_same_sessions_apply_all_or_nothing,
            ],
            maintenance: [
                stats_count_sessions_by_state_and_size,
                clearing_without_a_cutoff_deletes_every_session,
                clearing_with_a_cutoff_deletes_only_strictly_older_sessions,
                a_clear_cutoff_is_read_to_the_microsecond,
            ],
            performance: [
                save_p95_is_under_50_ms,
                get_p95_is_under_100_ms,
                a_large_session_saves_and_loads_within_the_targets,
            ],
        );
    };
    (@expand $factory:path; $($module:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        $($(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $factory().await;
                $crate::testing::session::$module::$name(&store).await;
            }
        )*)*
    };
}
