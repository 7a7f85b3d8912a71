//! Members' admin tokens: found by hash whatever their status, unique hashes, listed per
//! member, revoked once.

use gateway_core::keys::GatewayKeyHash;
use gateway_store::model::admin_token::AdminToken;
use gateway_store::model::org::Plan;
use gateway_store::{Store, Timestamp};
use secrecy::ExposeSecret;

use super::{T0, stored_org};

pub async fn admin_tokens_are_found_by_hash_listed_per_member_and_revoked<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Free).await;
    let first = AdminToken::issue(&org.id, "alice", T0);
    let second = AdminToken::issue(&org.id, "alice", T0.plus_secs(1));
    let other = AdminToken::issue(&org.id, "alice#2", T0);
    for issued in [&first, &second, &other] {
        store.insert_admin_token(&issued.token).await.unwrap();
    }

    let found = store
        .find_admin_token_by_hash(&GatewayKeyHash::of(first.secret.expose_secret()))
        .await
        .unwrap();
    assert_eq!(found, first.token);
    assert!(
        store
            .find_admin_token_by_hash(&GatewayKeyHash::of("llm_gw_admin_unknown"))
            .await
            .unwrap_err()
            .is_not_found()
    );

    let listed = store.list_admin_tokens(&org.id, "alice").await.unwrap();
    assert_eq!(listed, vec![first.token.clone(), second.token.clone()]);
    assert!(
        store
            .list_admin_tokens("org_other", "alice")
            .await
            .unwrap()
            .is_empty()
    );

    let at = Timestamp(T0.millis() + 5_000);
    store
        .revoke_admin_token(&org.id, "alice", &first.token.id, at)
        .await
        .unwrap();
    store
        .revoke_admin_token(&org.id, "alice", &first.token.id, at.plus_secs(60))
        .await
        .unwrap();
    let revoked = store
        .find_admin_token_by_hash(&first.token.hash)
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert!(
        store
            .revoke_admin_token(&org.id, "bob", &first.token.id, at)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

pub async fn admin_token_hashes_are_unique<S: Store>(store: S) {
    let org = stored_org(&store, Plan::Free).await;
    let issued = AdminToken::issue(&org.id, "alice", T0);
    store.insert_admin_token(&issued.token).await.unwrap();
    let mut same_hash = AdminToken::issue(&org.id, "bob", T0).token;
    same_hash.hash = issued.token.hash;
    assert!(
        store
            .insert_admin_token(&same_hash)
            .await
            .unwrap_err()
            .is_conflict()
    );
    // Nothing of the refused token was written.
    assert!(
        store
            .list_admin_tokens(&org.id, "bob")
            .await
            .unwrap()
            .is_empty()
    );
}
