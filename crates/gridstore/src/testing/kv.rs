//! Contract suite for [`KvStore`](crate::kv::KvStore).
//!
//! Expand it with [`kv_contract_tests!`](crate::kv_contract_tests) and an async factory
//! returning `(store, guard)`; the store must be `Clone` (handles to the same keys) so the
//! background sweeper can be tested.
//!
//! SmallTalk cases 30–36 are in [`basics`]; TTL expiry (their gap) is in [`expiry`], using
//! short real TTLs and polling with a deadline, since the PostgreSQL backend reads the
//! database clock. Conditional writes and racing writers are in [`conditional`]. Data
//! surviving a reopen is [`basics::keys_written_through_one_store_are_read_through_another`],
//! called by each backend's test file with two stores. Counters (`increment`) and
//! `compare_and_delete` are in [`counters`].

pub mod basics;
pub mod conditional;
pub mod counters;
pub mod expiry;

/// Expands the KV contract suite as `#[tokio::test]`s for the store built by `$factory`, an
/// async fn returning `(store, guard)`.
#[macro_export]
macro_rules! kv_contract_tests {
    ($factory:path) => {
        $crate::kv_contract_tests!(@expand $factory;
            basics: [
                primitives_round_trip_and_a_stored_null_is_not_a_missing_key,
                a_nested_object_round_trips,
                a_missing_key_reads_as_none,
                get_many_reads_every_key_in_order,
                deleting_returns_whether_the_key_existed,
                has_tells_whether_a_key_exists,
                setting_again_replaces_the_value,
                an_invalid_key_ttl_or_value_is_invalid_input,
            ],
            conditional: [
                set_if_absent_writes_only_when_the_key_is_absent,
                compare_and_set_replaces_only_the_expected_value,
                racing_set_if_absent_calls_have_exactly_one_winner,
                racing_compare_and_set_increments_lose_no_update,
            ],
            counters: [
                increment_counts_from_zero_and_keeps_the_first_expiry,
                incrementing_anything_but_an_integer_is_invalid_input,
                concurrent_increments_sum_exactly,
                an_expired_counter_restarts_with_a_new_window,
                compare_and_delete_removes_only_the_expected_value,
            ],
            expiry: [
                a_key_is_visible_until_its_ttl_and_invisible_at_once_after,
                an_expired_key_counts_as_absent_for_every_operation,
                setting_again_replaces_the_ttl,
                sweeping_deletes_expired_keys_in_batches,
                the_background_sweeper_deletes_expired_keys,
            ],
        );
    };
    (@expand $factory:path; $($module:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        $($(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $factory().await;
                $crate::testing::kv::$module::$name(&store).await;
            }
        )*)*
    };
}
