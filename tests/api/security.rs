//! Black-box security checks of `/v1`: every way a key can be wrong is refused with the right
//! status and an OpenAI-shaped error, and guessing gets an address locked out.

use std::sync::Arc;

use gateway_core::keys::KeyEnvironment;
use gateway_store::Store;
use gateway_store::model::api_key::{ApiKey, KeySpec};
use gateway_store::model::org::{Organization, Plan};
use gateway_store::{Timestamp, model::query::AuditQuery};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, user};

async fn new_key(
    store: &Arc<dyn Store>,
    allow: &[&str],
    expires_at: Option<Timestamp>,
) -> (ApiKey, String) {
    let org = match store.find_org_by_name("acme").await {
        Ok(org) => org,
        Err(_) => {
            let org = Organization::new("acme", Plan::Pro, Timestamp::now());
            store.create_org(&org).await.unwrap();
            org
        }
    };
    let issued = ApiKey::issue(
        KeySpec {
            org_id: org.id.clone(),
            name: "svc".into(),
            environment: KeyEnvironment::Production,
            expires_at,
            rpm_limit: None,
            tpm_limit: None,
            ip_allowlist: allow.iter().map(|n| n.parse().unwrap()).collect(),
        },
        Timestamp::now(),
    );
    store.insert_key(&issued.key).await.unwrap();
    (issued.key, issued.secret.expose_secret().to_owned())
}

async fn chat_with(app: &crate::helpers::TestApp, key: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/v1/chat/completions", app.url))
        .json(&json!({"model": "openai/gpt-4o", "messages": user("hi")}));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn a_store_key_works_and_its_request_is_logged_with_its_receipt() {
    let app = spawn_app().await;
    let (key, secret) = new_key(&app.store, &[], None).await;
    let response = chat_with(&app, Some(&secret)).await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let store = app.store.clone();
    app.shutdown().await;
    let mut query = gateway_store::model::query::ReceiptQuery::for_org(&key.org_id);
    query.request_id = Some(request_id);
    let page = store
        .query_receipts(&query, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].model, "openai/gpt-4o");
    assert_eq!(page.items[0].key_id.as_deref(), Some(key.id.as_str()));
    assert!(page.items[0].tokens.total > 0);
}

#[tokio::test]
async fn missing_malformed_and_wrong_prefix_keys_get_401() {
    let app = spawn_app().await;
    assert_eq!(
        error_code(chat_with(&app, None).await).await,
        (401, "missing_api_key".into())
    );
    assert_eq!(
        error_code(chat_with(&app, Some("not-a-key")).await).await,
        (401, "invalid_api_key".into())
    );
    let wrong_prefix = format!("llm_gw_test_{}", "a".repeat(64));
    assert_eq!(
        error_code(chat_with(&app, Some(&wrong_prefix)).await).await,
        (401, "invalid_api_key".into())
    );
    let unknown = format!("llm_gw_prod_{}", "b".repeat(64));
    assert_eq!(
        error_code(chat_with(&app, Some(&unknown)).await).await,
        (401, "invalid_api_key".into())
    );
}

#[tokio::test]
async fn revoked_and_expired_keys_get_401_saying_why() {
    let app = spawn_app().await;
    let (key, secret) = new_key(&app.store, &[], None).await;
    app.store
        .revoke_key(&key.org_id, &key.id, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(
        error_code(chat_with(&app, Some(&secret)).await).await,
        (401, "api_key_revoked".into())
    );
    let (_, expired) = new_key(&app.store, &[], Some(Timestamp::now().plus_secs(-1))).await;
    assert_eq!(
        error_code(chat_with(&app, Some(&expired)).await).await,
        (401, "api_key_expired".into())
    );
}

#[tokio::test]
async fn a_rotated_key_works_during_its_grace_period_and_its_successor_at_once() {
    let app = spawn_app().await;
    let (key, old_secret) = new_key(&app.store, &[], None).await;
    let next = key.successor(Timestamp::now());
    app.store
        .rotate_key(
            &key.org_id,
            &key.id,
            &next.key,
            Timestamp::now().plus_secs(3600),
        )
        .await
        .unwrap();
    assert_eq!(chat_with(&app, Some(&old_secret)).await.status(), 200);
    assert_eq!(
        chat_with(&app, Some(next.secret.expose_secret()))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_key_outside_its_ip_allowlist_gets_403_and_inside_it_works() {
    let app = spawn_app().await;
    let (_, elsewhere) = new_key(&app.store, &["10.0.0.0/8", "2001:db8::/32"], None).await;
    assert_eq!(
        error_code(chat_with(&app, Some(&elsewhere)).await).await,
        (403, "ip_not_allowed".into())
    );
    let (_, here) = new_key(&app.store, &["127.0.0.0/8", "::1/128"], None).await;
    assert_eq!(chat_with(&app, Some(&here)).await.status(), 200);
}

#[tokio::test]
async fn repeated_failures_lock_the_address_out_with_retry_after_and_are_audited() {
    let app = spawn_app_with("[auth.lockout]\nmax_failures = 3\nlockout_secs = 30\n").await;
    let bad = format!("llm_gw_dev_{}", "c".repeat(64));
    for _ in 0..2 {
        assert_eq!(chat_with(&app, Some(&bad)).await.status(), 401);
    }
    let locked = chat_with(&app, Some(&bad)).await;
    assert_eq!(locked.status(), 429);
    assert!(
        locked.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 29
    );
    assert_eq!(
        error_code(locked).await.1,
        "too_many_failed_authentications"
    );
    // Locked out means locked out, even with a good key.
    let good = chat_with(&app, Some(crate::helpers::KEY)).await;
    assert_eq!(good.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut query = AuditQuery::for_org(gateway_server::access::CONFIGURED_ORG_ID);
    query.action = Some("auth.lockout".into());
    let lockouts = app
        .store
        .query_audit(&query, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(lockouts.items.len(), 1);
    query.action = Some("auth.failed".into());
    let failures = app
        .store
        .query_audit(&query, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(failures.items.len(), 3);
    assert_eq!(failures.items[0].target, "llm_gw_dev_cccccccc");
    assert!(!failures.items[0].details.to_string().contains(&bad));
}
