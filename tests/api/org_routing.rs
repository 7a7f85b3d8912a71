//! Each organisation routes by its own stored preferences: its priority, its allowed and
//! blocked providers, its fallback switch, and savings measured against its default model.
//! Organisations without stored preferences keep the configured `[routing]` ones.

use gateway_core::catalog::Catalog;
use gateway_core::keys::KeyEnvironment;
use gateway_core::receipt::round_usd;
use gateway_core::routing::OrgRoutingPreferences;
use gateway_core::wire::Usage;
use gateway_store::Timestamp;
use gateway_store::model::api_key::{ApiKey, KeySpec};
use gateway_store::model::org::{Organization, Plan};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{KEY, TestApp, spawn_app_with, user};
use crate::stub::{Mode, Stub};

/// Configured preferences: the cheapest-first default, the self-hosted-free baseline.
const CONFIGURED: &str = r#"[routing]
default_model = "openai/gpt-4.1-nano"
allowed_providers = ["openai", "groq", "anthropic"]
"#;

/// An organisation with `preferences` stored, and one of its keys.
async fn org_with(app: &TestApp, name: &str, preferences: Option<OrgRoutingPreferences>) -> String {
    let mut org = Organization::new(name, Plan::Pro, Timestamp::now());
    org.routing = preferences;
    app.store.create_org(&org).await.unwrap();
    let issued = ApiKey::issue(
        KeySpec {
            org_id: org.id.clone(),
            name: "routing".into(),
            environment: KeyEnvironment::Development,
            expires_at: None,
            rpm_limit: None,
            tpm_limit: None,
            ip_allowlist: Vec::new(),
        },
        Timestamp::now(),
    );
    app.store.insert_key(&issued.key).await.unwrap();
    issued.secret.expose_secret().to_owned()
}

async fn chat_as(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn providers_of(receipt: &Value) -> Vec<String> {
    receipt["routing"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_organisation_routes_by_its_own_preferences_and_saves_against_its_default_model() {
    let app = spawn_app_with(CONFIGURED).await;
    let own = org_with(
        &app,
        "own-preferences",
        Some(OrgRoutingPreferences {
            default_priority: gateway_core::routing::Priority::Quality,
            allowed_providers: vec!["openai".into()],
            blocked_models: vec!["openai/o4-mini".into()],
            default_model: Some("openai/gpt-4o".into()),
            ..OrgRoutingPreferences::default()
        }),
    )
    .await;
    let configured = org_with(&app, "configured-preferences", None).await;
    let body = json!({"model": "auto", "messages": user("Hello")});

    let response = chat_as(&app, &own, body.clone()).await;
    assert_eq!(response.status(), 200);
    let receipt = response.json::<Value>().await.unwrap()["x-llm-gateway"].clone();
    assert_eq!(receipt["routing"]["strategy"], "quality_optimized");
    let providers = providers_of(&receipt);
    assert!(providers.iter().all(|p| p == "openai"), "{providers:?}");
    let models: Vec<&str> = receipt["routing"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["model"].as_str().unwrap())
        .collect();
    assert!(!models.contains(&"openai/o4-mini"), "{models:?}");
    // Savings against the organisation's default model, exactly, for the tokens used.
    let catalog = Catalog::built_in().unwrap();
    let usage = Usage::new(
        receipt["execution"]["tokens"]["prompt"].as_u64().unwrap(),
        receipt["execution"]["tokens"]["completion"]
            .as_u64()
            .unwrap(),
    );
    let winner = receipt["model"].as_str().unwrap();
    let expected = round_usd(
        catalog.get("openai/gpt-4o").unwrap().cost_usd(&usage)
            - catalog.get(winner).unwrap().cost_usd(&usage),
    );
    assert_eq!(
        receipt["cost"]["savings_vs_default_usd"].as_f64().unwrap(),
        expected
    );

    let response = chat_as(&app, &configured, body).await;
    assert_eq!(response.status(), 200);
    let receipt = response.json::<Value>().await.unwrap()["x-llm-gateway"].clone();
    assert_eq!(receipt["routing"]["strategy"], "cost_optimized");
    let providers = providers_of(&receipt);
    assert!(providers.iter().any(|p| p != "openai"), "{providers:?}");
    assert!(
        providers
            .iter()
            .all(|p| ["openai", "groq", "anthropic"].contains(&p.as_str()))
    );
    let usage = Usage::new(
        receipt["execution"]["tokens"]["prompt"].as_u64().unwrap(),
        receipt["execution"]["tokens"]["completion"]
            .as_u64()
            .unwrap(),
    );
    let winner = receipt["model"].as_str().unwrap();
    let expected = round_usd(
        catalog.get("openai/gpt-4.1-nano").unwrap().cost_usd(&usage)
            - catalog.get(winner).unwrap().cost_usd(&usage),
    );
    assert_eq!(
        receipt["cost"]["savings_vs_default_usd"].as_f64().unwrap(),
        expected
    );
}

#[tokio::test]
async fn an_organisations_blocked_provider_is_refused_by_name_and_its_fallbacks_follow_it() {
    let stub = Stub::start().await;
    let app = spawn_app_with(&stub.section("flaky", &["m"])).await;
    let key = org_with(
        &app,
        "no-groq",
        Some(OrgRoutingPreferences {
            blocked_providers: vec!["groq".into()],
            fallback_enabled: false,
            ..OrgRoutingPreferences::default()
        }),
    )
    .await;
    let response = chat_as(
        &app,
        &key,
        json!({"model": "groq/llama-3.1-8b-instant", "messages": user("Hello")}),
    )
    .await;
    assert_eq!(response.status(), 403);
    let error = response.json::<Value>().await.unwrap();
    assert_eq!(error["error"]["code"], "provider_not_allowed");
    assert_eq!(error["error"]["param"], "model");

    // Fallback is off for this organisation: the failing model's error is the answer, even
    // with a chain in the request. The configured preferences would have fallen back.
    stub.set(Mode::Status(502));
    let body = json!({"model": "flaky/m", "messages": user("Hello"),
                      "x-fallback-chain": ["openai/gpt-4o-mini"]});
    let response = chat_as(&app, &key, body.clone()).await;
    assert_eq!(response.status(), 502);
    assert_eq!(stub.calls(), 1);
    assert!(app.fake("openai").calls().is_empty());
    let response = chat_as(&app, KEY, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.fake("openai").calls().len(), 1);
}
