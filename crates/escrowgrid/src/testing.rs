//! The [`EscrowStore`](crate::store::EscrowStore) contract suite (feature `test-suite`).
//!
//! Every behaviour is one `pub async fn`, named as a sentence, that takes a fresh store and
//! panics when the backend breaks the contract. [`escrow_store_contract_tests!`] expands them
//! all into `#[tokio::test]`s for one backend:
//!
//! ```ignore
//! async fn memory_store() -> (Arc<dyn EscrowStore>, escrowgrid::testing::StoreGuard) {
//!     (Arc::new(MemoryStore::new()), Box::new(()))
//! }
//! escrowgrid::escrow_store_contract_tests!(memory_store);
//! ```
//!
//! The factory is called once per test and must return an empty store plus a guard that keeps
//! its resources (e.g. a throwaway database) alive until the test ends.
//!
//! Idempotency keys on a KV backend have their own suite, [`idempotency_contract_tests!`].
//!
//! [`escrow_store_contract_tests!`]: crate::escrow_store_contract_tests
//! [`idempotency_contract_tests!`]: crate::idempotency_contract_tests

#![allow(
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    reason = "contract tests fail by panicking"
)]

pub mod api_keys;
pub mod array_windows;
pub mod assets;
pub mod audit;
pub mod audit_filters;
pub mod fixtures;
pub mod flaky_kv;
pub mod idempotency;
pub mod institutions;
pub mod keyset;
pub mod ledger;
pub mod list_windows;
pub mod outbox;
mod outbox_order;
pub mod policies;
pub mod positions;
pub mod race;
pub mod seeded_ids;
pub mod slow_kv;
pub mod templates;
pub mod transitions;
mod webhook_deliveries;
pub mod webhooks;

/// Keeps a backend's test resources alive for the duration of one test.
pub type StoreGuard = Box<dyn std::any::Any + Send>;

/// Expands the whole contract suite into `#[tokio::test]` functions for one backend.
///
/// `$factory` is an async fn (or closure) returning
/// `(Arc<dyn EscrowStore>, escrowgrid::testing::StoreGuard)` with a fresh, empty store.
#[macro_export]
macro_rules! escrow_store_contract_tests {
    ($factory:expr) => {
        $crate::escrow_store_contract_tests!(@each $factory;
            institutions::a_fresh_store_is_healthy,
            institutions::creating_an_institution_returns_it_and_records_an_audit_row,
            institutions::an_invalid_institution_is_rejected_and_nothing_is_written,
            institutions::an_unknown_or_malformed_institution_is_not_found,
            institutions::a_tenant_sees_only_its_own_institution,
            institutions::institutions_are_listed_by_creation_time_then_id,
            templates::a_template_is_checked_for_its_institution_before_its_config,
            templates::a_template_code_from_another_vertical_is_rejected,
            templates::a_tenant_cannot_create_or_read_another_tenants_template,
            templates::templates_are_filtered_by_institution_and_paginated_with_a_total,
            assets::an_asset_needs_a_template_of_the_same_institution,
            assets::assets_are_filtered_by_template_and_keep_their_metadata,
            assets::assets_are_listed_in_creation_order_and_paginated_with_a_total,
            assets::oversized_or_too_deep_asset_metadata_is_rejected,
            positions::creating_a_position_writes_its_ledger_event_and_audit_row,
            positions::a_position_amount_round_trips_exactly,
            positions::a_position_on_another_institutions_asset_is_not_found,
            positions::a_policy_violation_rejects_the_position_and_writes_nothing,
            positions::template_limits_are_enforced_on_positions,
            positions::invalid_position_input_is_rejected_with_every_bad_field,
            positions::positions_are_filtered_by_institution_asset_and_holder_with_a_total,
            list_windows::position_pages_are_windows_of_the_filtered_list_for_every_filter_combination,
            list_windows::asset_and_audit_pages_respect_scope_and_filters_together,
            keyset::walking_every_list_by_cursor_yields_its_offset_walk_for_every_filter,
            keyset::rows_created_during_a_cursor_walk_appear_once_or_not_at_all_and_shift_nothing,
            array_windows::array_lists_walked_by_key_are_their_whole_lists_for_every_scope_and_filter,
            array_windows::a_page_of_an_unknown_or_foreign_parent_is_not_found,
            transitions::a_valid_transition_writes_the_event_the_ledger_entry_and_the_audit_row,
            transitions::a_same_state_transition_is_a_no_op_that_writes_nothing,
            transitions::an_invalid_transition_is_rejected_and_writes_nothing,
            transitions::a_stale_expected_version_is_a_conflict_and_writes_nothing,
            transitions::a_tenant_cannot_transition_another_tenants_position,
            transitions::lifecycle_and_ledger_events_keep_their_order,
            api_keys::an_api_key_is_found_by_its_token_and_only_its_hash_is_stored,
            api_keys::revoking_an_api_key_hides_it_and_a_second_revoke_is_not_found,
            api_keys::another_institutions_keys_cannot_be_revoked_or_listed,
            policies::upserting_a_policy_keeps_its_id_and_replaces_its_config,
            policies::a_missing_policy_is_not_found_and_policies_are_scoped,
            policies::a_policy_with_its_minimum_above_its_maximum_is_rejected,
            audit::audit_events_are_listed_with_filters_and_pages_in_write_order,
            audit::a_tenant_sees_only_its_own_audit_events,
            audit_filters::audit_events_are_filtered_by_resource_type_and_id,
            audit_filters::audit_events_are_filtered_by_an_inclusive_time_range,
            ledger::ledger_events_are_scoped_to_the_tenant,
            ledger::ledger_events_are_hash_chained_per_position_and_verify,
            ledger::checkpoints_cover_every_event_once_and_chain,
            outbox::every_write_appends_exactly_its_events_with_the_documented_payload,
            outbox::failed_writes_and_no_ops_append_no_event,
            seeded_ids::a_seeded_create_takes_the_seeds_id_and_a_second_one_is_a_duplicate,
            seeded_ids::unseeded_creates_get_fresh_ids,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_writers_events_reach_a_subscriber_once_in_commit_order() {
            let (store, _guard) = ($factory)().await;
            $crate::testing::outbox::concurrent_writers_events_reach_a_subscriber_once_in_commit_order(
                store,
            )
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn thirty_two_concurrent_transitions_have_one_winner_per_version() {
            let (store, _guard) = ($factory)().await;
            $crate::testing::race::thirty_two_concurrent_transitions_have_one_winner_per_version(
                store,
            )
            .await;
        }
    };
    (@each $factory:expr; $($module:ident :: $name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = ($factory)().await;
                $crate::testing::$module::$name(&*store).await;
            }
        )+
    };
}

/// Expands the idempotency-key suite ([`idempotency`]) into `#[tokio::test]` functions for
/// one KV backend. `$factory` is an async fn returning
/// `(Arc<dyn gridstore::KvStore>, escrowgrid::testing::StoreGuard)` with an empty store.
#[macro_export]
macro_rules! idempotency_contract_tests {
    ($factory:expr) => {
        $crate::idempotency_contract_tests!(@each $factory;
            a_reserved_key_is_in_progress_until_completed_then_replayed,
            a_released_or_dropped_reservation_frees_the_key,
            an_expired_reservation_is_taken_over_and_its_old_holder_changes_nothing,
            an_expired_response_is_gone_and_its_key_can_be_reserved_again,
            eight_concurrent_reservations_of_one_key_have_one_winner,
            a_reservation_written_after_its_caller_gave_up_is_released,
            a_release_that_fails_is_retried_until_the_key_is_free,
            a_completion_that_fails_releases_the_key_even_when_the_release_fails_too,
        );
    };
    (@each $factory:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (kv, _guard) = ($factory)().await;
                $crate::testing::idempotency::$name(kv).await;
            }
        )+
    };
}
