//! API keys: lookup by hash whatever the status, uniqueness, revocation, expiry, rotation with a
//! grace period (atomic: all or nothing), IP allowlists and last use.

use gateway_core::keys::{GatewayKeyHash, KeyEnvironment};
use gateway_store::model::api_key::{ApiKey, KeySettings, KeyStatus};
use gateway_store::model::org::Plan;
use gateway_store::ports::LAST_USED_RESOLUTION_MS;
use gateway_store::{Store, StoreError};
use secrecy::ExposeSecret;

use super::{T0, key_spec, stored_key, stored_org};

pub async fn keys_are_found_by_hash_and_hashes_are_unique<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Free).await;
    let first = stored_key(&store, key_spec(&org, "first"), T0).await;
    let second = stored_key(&store, key_spec(&org, "second"), T0.plus_secs(1)).await;

    let found = store
        .find_key_by_hash(&GatewayKeyHash::of(first.secret.expose_secret()))
        .await
        .unwrap();
    assert_eq!(found, first.key);
    assert!(
        store
            .find_key_by_hash(&GatewayKeyHash::of("llm_gw_prod_unknown"))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Another key record with a stored hash is refused, and so is a reused id.
    let mut same_hash = ApiKey::issue(key_spec(&org, "copy"), T0).key;
    same_hash.hash = first.key.hash;
    assert!(
        store
            .insert_key(&same_hash)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let mut same_id = ApiKey::issue(key_spec(&org, "copy"), T0).key;
    same_id.id = second.key.id.clone();
    assert!(store.insert_key(&same_id).await.unwrap_err().is_conflict());
    // Neither failed insert left anything behind.
    assert!(
        store
            .find_key_by_hash(&same_id.hash)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        store.get_key(&org.id, &second.key.id).await.unwrap(),
        second.key
    );

    let listed: Vec<_> = store.list_keys(&org.id).await.unwrap();
    assert_eq!(listed, [first.key.clone(), second.key.clone()]);
    let other = stored_org(&store, Plan::Free).await;
    assert!(store.list_keys(&other.id).await.unwrap().is_empty());
    assert!(
        store
            .get_key(&other.id, &first.key.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

pub async fn keys_round_trip_every_field<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Pro).await;
    let mut spec = key_spec(&org, "everything");
    spec.environment = KeyEnvironment::Development;
    spec.expires_at = Some(T0.plus_days(30));
    spec.rpm_limit = Some(42);
    spec.tpm_limit = Some(9_000);
    spec.ip_allowlist = vec![
        "192.0.2.0/24".parse().unwrap(),
        "2001:db8::/48".parse().unwrap(),
    ];
    let issued = stored_key(&store, spec, T0).await;
    assert!(issued.secret.expose_secret().starts_with("llm_gw_dev_"));
    assert!(issued.key.display_prefix.starts_with("llm_gw_dev_"));
    let found = store.get_key(&org.id, &issued.key.id).await.unwrap();
    assert_eq!(found, issued.key);
}

pub async fn key_settings_are_replaced_and_cleared<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Pro).await;
    let mut spec = key_spec(&org, "before");
    spec.expires_at = Some(T0.plus_days(30));
    spec.rpm_limit = Some(42);
    let issued = stored_key(&store, spec, T0).await;
    let settings = KeySettings {
        name: "after".to_owned(),
        expires_at: None,
        rpm_limit: None,
        tpm_limit: Some(7_000),
        ip_allowlist: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
    };
    store
        .update_key_settings(&org.id, &issued.key.id, &settings)
        .await
        .unwrap();
    let found = store.get_key(&org.id, &issued.key.id).await.unwrap();
    assert_eq!(found.settings(), settings);
    // Nothing else changed.
    assert_eq!(found.hash, issued.key.hash);
    assert_eq!(found.created_at, issued.key.created_at);
    let other = stored_org(&store, Plan::Pro).await;
    assert!(
        store
            .update_key_settings(&other.id, &issued.key.id, &settings)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

pub async fn revoked_and_expired_keys_are_still_found_and_say_why<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Free).await;
    let revoked = stored_key(&store, key_spec(&org, "revoked"), T0).await;
    store
        .revoke_key(&org.id, &revoked.key.id, T0.plus_secs(10))
        .await
        .unwrap();
    // A second revocation keeps the first time.
    store
        .revoke_key(&org.id, &revoked.key.id, T0.plus_secs(99))
        .await
        .unwrap();
    let found = store.find_key_by_hash(&revoked.key.hash).await.unwrap();
    assert_eq!(found.revoked_at, Some(T0.plus_secs(10)));
    assert_eq!(found.status(T0.plus_secs(5)), KeyStatus::Active);
    assert_eq!(found.status(T0.plus_secs(10)), KeyStatus::Revoked);

    let mut spec = key_spec(&org, "expiring");
    spec.expires_at = Some(T0.plus_secs(60));
    let expiring = stored_key(&store, spec, T0).await;
    let found = store.find_key_by_hash(&expiring.key.hash).await.unwrap();
    assert_eq!(found.status(T0.plus_secs(59)), KeyStatus::Active);
    assert_eq!(found.status(T0.plus_secs(60)), KeyStatus::Expired);

    let other = stored_org(&store, Plan::Free).await;
    let err = store
        .revoke_key(&other.id, &expiring.key.id, T0)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(
        store
            .get_key(&org.id, &expiring.key.id)
            .await
            .unwrap()
            .revoked_at,
        None
    );
}

pub async fn rotation_keeps_the_old_key_for_its_grace_period<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Starter).await;
    let mut spec = key_spec(&org, "rotating");
    spec.rpm_limit = Some(7);
    spec.ip_allowlist = vec!["10.0.0.0/8".parse().unwrap()];
    let old = stored_key(&store, spec, T0).await;
    let new = old.key.successor(T0.plus_secs(100));
    let grace_end = T0.plus_secs(100 + 3600);
    store
        .rotate_key(&org.id, &old.key.id, &new.key, grace_end)
        .await
        .unwrap();

    let old_found = store
        .find_key_by_hash(&GatewayKeyHash::of(old.secret.expose_secret()))
        .await
        .unwrap();
    assert_eq!(old_found.replaced_by.as_deref(), Some(new.key.id.as_str()));
    assert_eq!(old_found.valid_until, Some(grace_end));
    assert_eq!(
        old_found.status(T0.plus_secs(200)),
        KeyStatus::ActiveUntilReplaced
    );
    assert_eq!(old_found.status(grace_end), KeyStatus::Replaced);

    let new_found = store
        .find_key_by_hash(&GatewayKeyHash::of(new.secret.expose_secret()))
        .await
        .unwrap();
    assert_eq!(new_found, new.key);
    assert_eq!(new_found.status(grace_end), KeyStatus::Active);
    assert_eq!(
        (new_found.rpm_limit, new_found.ip_allowlist.clone()),
        (Some(7), old.key.ip_allowlist.clone())
    );
    assert_eq!(store.list_keys(&org.id).await.unwrap().len(), 2);
}

pub async fn rotation_is_refused_without_writing_anything<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Starter).await;
    let old = stored_key(&store, key_spec(&org, "old"), T0).await;
    let first = old.key.successor(T0);
    store
        .rotate_key(&org.id, &old.key.id, &first.key, T0.plus_secs(60))
        .await
        .unwrap();

    // Already rotated.
    let second = old.key.successor(T0);
    let err = store
        .rotate_key(&org.id, &old.key.id, &second.key, T0)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(
        store
            .find_key_by_hash(&second.key.hash)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Revoked.
    let revoked = stored_key(&store, key_spec(&org, "revoked"), T0).await;
    store
        .revoke_key(&org.id, &revoked.key.id, T0)
        .await
        .unwrap();
    let successor = revoked.key.successor(T0);
    assert!(
        store
            .rotate_key(&org.id, &revoked.key.id, &successor.key, T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(
        store
            .find_key_by_hash(&successor.key.hash)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // The new key's hash is taken: the old key is left as it was.
    let fresh = stored_key(&store, key_spec(&org, "fresh"), T0).await;
    let mut clash = fresh.key.successor(T0).key;
    clash.hash = old.key.hash;
    assert!(
        store
            .rotate_key(&org.id, &fresh.key.id, &clash, T0)
            .await
            .unwrap_err()
            .is_conflict()
    );
    let unchanged = store.get_key(&org.id, &fresh.key.id).await.unwrap();
    assert_eq!((unchanged.replaced_by, unchanged.valid_until), (None, None));

    // Unknown key, or another organisation's.
    let other = stored_org(&store, Plan::Free).await;
    let stray = ApiKey::issue(super::key_spec(&other, "stray"), T0).key;
    assert!(
        store
            .rotate_key(&other.id, &fresh.key.id, &stray, T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .rotate_key(&other.id, "key_missing", &stray, T0)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // A new key of another organisation is refused before anything is written.
    assert!(matches!(
        store.rotate_key(&org.id, &fresh.key.id, &stray, T0).await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn ip_allowlists_hold_v4_v6_and_cidr_after_storage<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Free).await;
    let mut spec = key_spec(&org, "office");
    spec.ip_allowlist = vec![
        "203.0.113.7/32".parse().unwrap(),
        "10.20.0.0/16".parse().unwrap(),
        "2001:db8:abcd::/48".parse().unwrap(),
        "::1/128".parse().unwrap(),
    ];
    let issued = stored_key(&store, spec, T0).await;
    let key = store.find_key_by_hash(&issued.key.hash).await.unwrap();
    for allowed in [
        "203.0.113.7",
        "10.20.255.1",
        "2001:db8:abcd:12::1",
        "::1",
        "::ffff:10.20.0.9",
    ] {
        assert!(
            key.allows(allowed.parse().unwrap()),
            "{allowed} should be allowed"
        );
    }
    for refused in [
        "203.0.113.8",
        "10.21.0.1",
        "2001:db8:abce::1",
        "::2",
        "192.0.2.1",
    ] {
        assert!(
            !key.allows(refused.parse().unwrap()),
            "{refused} should be refused"
        );
    }
    let open = stored_key(&store, key_spec(&org, "anywhere"), T0).await;
    let open = store.find_key_by_hash(&open.key.hash).await.unwrap();
    assert!(open.ip_allowlist.is_empty());
    assert!(open.allows("198.51.100.1".parse().unwrap()));
}

pub async fn touching_a_key_records_its_last_use_at_most_once_a_minute<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Free).await;
    let issued = stored_key(&store, key_spec(&org, "busy"), T0).await;
    store
        .touch_key(&issued.key.id, T0.plus_secs(1))
        .await
        .unwrap();
    assert_eq!(
        last_used(&store, &org.id, &issued.key.id).await,
        Some(T0.plus_secs(1))
    );
    // Within the resolution: coalesced.
    store
        .touch_key(&issued.key.id, T0.plus_secs(30))
        .await
        .unwrap();
    assert_eq!(
        last_used(&store, &org.id, &issued.key.id).await,
        Some(T0.plus_secs(1))
    );
    let later = T0.plus_secs(1).plus_millis(LAST_USED_RESOLUTION_MS);
    store.touch_key(&issued.key.id, later).await.unwrap();
    assert_eq!(
        last_used(&store, &org.id, &issued.key.id).await,
        Some(later)
    );
    // An older time never moves it back; an unknown key is ignored.
    store.touch_key(&issued.key.id, T0).await.unwrap();
    assert_eq!(
        last_used(&store, &org.id, &issued.key.id).await,
        Some(later)
    );
    store.touch_key("key_missing", T0).await.unwrap();
}

async fn last_used<S: Store>(
    store: &S,
    org_id: &str,
    key_id: &str,
) -> Option<gateway_store::Timestamp> {
    store.get_key(org_id, key_id).await.unwrap().last_used_at
}
