//! Rate limits through the running gateway: headers on every answer, 429 with `Retry-After`
//! once a limit is spent, at organisation, key and IP level.

use gateway_core::keys::KeyEnvironment;
use gateway_store::Timestamp;
use gateway_store::model::api_key::{ApiKey, KeySpec};
use gateway_store::model::org::{Organization, Plan};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, user};

fn body() -> serde_json::Value {
    json!({"model": "openai/gpt-4o", "messages": user("hi")})
}

#[tokio::test]
async fn the_configured_organisation_is_unlimited_by_default_and_sends_no_limit_headers() {
    let app = spawn_app().await;
    let response = app.chat(&body()).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn a_burst_past_the_configured_rpm_gets_429_with_retry_after_and_headers() {
    let app = spawn_app_with("[limits]\nrequests_per_minute = 5\n").await;
    let mut statuses = Vec::new();
    let mut remaining = Vec::new();
    let mut last = None;
    for _ in 0..8 {
        let response = app.chat(&body()).await;
        statuses.push(response.status().as_u16());
        let h = response.headers();
        assert_eq!(h["x-ratelimit-limit"], "5");
        assert!(
            h["x-ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                <= 60
        );
        remaining.push(h["x-ratelimit-remaining"].to_str().unwrap().to_owned());
        last = Some(response);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(&remaining[..5], ["4", "3", "2", "1", "0"]);
    let refused = last.unwrap();
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "rate_limit_exceeded");
    assert_eq!(error["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn a_concurrent_burst_admits_exactly_the_limit() {
    let app = spawn_app_with("[limits]\nrequests_per_minute = 7\n").await;
    let request = body();
    let sends = (0..20).map(|_| app.chat(&request));
    let statuses: Vec<u16> = futures::future::join_all(sends)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 7);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 13);
}

#[tokio::test]
async fn a_keys_tpm_override_refuses_a_request_whose_estimate_does_not_fit() {
    let app = spawn_app().await;
    let org = Organization::new("acme", Plan::Free, Timestamp::now());
    app.store.create_org(&org).await.unwrap();
    let issued = ApiKey::issue(
        KeySpec {
            org_id: org.id.clone(),
            name: "small".into(),
            environment: KeyEnvironment::Development,
            expires_at: None,
            rpm_limit: Some(3),
            tpm_limit: Some(500),
            ip_allowlist: Vec::new(),
        },
        Timestamp::now(),
    );
    app.store.insert_key(&issued.key).await.unwrap();
    let send = |body: serde_json::Value| {
        app.client
            .post(format!("{}/v1/chat/completions", app.url))
            .bearer_auth(issued.secret.expose_secret())
            .json(&body)
            .send()
    };
    let mut big = body();
    big["max_tokens"] = json!(1000);
    let refused = send(big).await.unwrap();
    assert_eq!(refused.status(), 429);
    let mut small = body();
    small["max_tokens"] = json!(20);
    let ok = send(small).await.unwrap();
    assert_eq!(ok.status(), 200);
    // The key's 3 requests per minute is tighter than the free plan's 20.
    assert_eq!(ok.headers()["x-ratelimit-limit"], "3");
    assert_eq!(ok.headers()["x-ratelimit-remaining"], "2");
}

#[tokio::test]
async fn the_per_ip_limit_applies_whatever_the_key() {
    let app = spawn_app_with("[limits]\nip_requests_per_minute = 2\n").await;
    assert_eq!(app.chat(&body()).await.status(), 200);
    assert_eq!(app.get("/v1/models").await.status(), 200);
    assert_eq!(app.chat(&body()).await.status(), 429);
}
