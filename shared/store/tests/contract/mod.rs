//! The contract every storage backend passes: written once, run against each backend by
//! `contract_tests!` (see `contract_sqlite.rs`, `contract_dynamodb.rs`).

pub mod admin_tokens;
pub mod breakers;
pub mod counters;
pub mod keys;
pub mod logs;
pub mod orgs;

use gateway_core::keys::KeyEnvironment;
use gateway_store::model::api_key::{ApiKey, IssuedKey, KeySpec};
use gateway_store::model::org::{Organization, Plan};
use gateway_store::{Store, Timestamp};

/// A fixed instant the tests measure from (2026-11-26).
pub const T0: Timestamp = Timestamp(1_795_694_678_000);

/// A new organisation with a unique name, stored.
pub async fn stored_org<S: Store>(store: &S, plan: Plan) -> Organization {
    let mut org = Organization::new("placeholder", plan, T0);
    org.name = format!("org-{}", org.id);
    store.create_org(&org).await.unwrap();
    org
}

pub fn key_spec(org: &Organization, name: &str) -> KeySpec {
    KeySpec {
        org_id: org.id.clone(),
        name: name.to_owned(),
        environment: KeyEnvironment::Production,
        expires_at: None,
        rpm_limit: None,
        tpm_limit: None,
        ip_allowlist: Vec::new(),
    }
}

/// A new key for `org`, stored; returns the secret too.
pub async fn stored_key<S: Store>(store: &S, spec: KeySpec, at: Timestamp) -> IssuedKey {
    let issued = ApiKey::issue(spec, at);
    store.insert_key(&issued.key).await.unwrap();
    issued
}

/// One `#[tokio::test]` per contract test, each on a fresh store from `$make().await`.
#[macro_export]
macro_rules! contract_tests {
    ($make:path; $($module:ident::$name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                contract::$module::$name($make().await).await;
            }
        )*
    };
    ($make:path) => {
        contract_tests!($make;
            orgs::organisation_ids_and_names_are_unique,
            orgs::organisations_are_read_by_id_and_name_and_updated,
            orgs::organisations_are_listed_with_their_spend_settings,
            orgs::routing_preferences_round_trip_and_invalid_ones_are_refused,
            orgs::members_are_unique_per_organisation_and_change_role,
            keys::keys_are_found_by_hash_and_hashes_are_unique,
            keys::keys_round_trip_every_field,
            keys::key_settings_are_replaced_and_cleared,
            keys::revoked_and_expired_keys_are_still_found_and_say_why,
            keys::rotation_keeps_the_old_key_for_its_grace_period,
            keys::rotation_is_refused_without_writing_anything,
            keys::ip_allowlists_hold_v4_v6_and_cidr_after_storage,
            keys::touching_a_key_records_its_last_use_at_most_once_a_minute,
            counters::counters_admit_up_to_the_limit_and_reconcile,
            counters::counters_never_admit_more_than_the_limit_under_50_concurrent_tasks,
            counters::token_counters_hold_their_limit_under_concurrent_uneven_amounts,
            counters::expired_counter_windows_read_as_empty_and_are_purged,
            counters::adjustments_in_one_batch_apply_in_order_and_floor_at_zero,
            counters::asks_are_admitted_all_or_none,
            logs::receipts_page_newest_first_with_an_opaque_cursor,
            logs::receipts_are_searched_by_every_filter,
            logs::expired_receipts_are_never_returned_and_are_purged,
            logs::audit_events_are_searched_paged_and_exported,
            logs::audit_events_expire_after_the_organisations_retention,
            orgs::every_organisation_is_listed_once,
            admin_tokens::admin_tokens_are_found_by_hash_listed_per_member_and_revoked,
            admin_tokens::admin_token_hashes_are_unique,
            breakers::breakers_are_replaced_only_over_the_version_read,
            breakers::every_breaker_is_listed_by_model,
            breakers::probe_slots_hold_their_limit_under_30_concurrent_claims,
        );
    };
}
