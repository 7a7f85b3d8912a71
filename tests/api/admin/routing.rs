//! The routing part of the admin API: routing preferences (read by members, replaced by those
//! who manage settings, validated field by field, audited, in force for the organisation's
//! next requests) and provider health (breakers and live statistics, a reset for owners and
//! admins).

use gateway_core::keys::KeyEnvironment;
use gateway_store::Timestamp;
use gateway_store::model::api_key::{ApiKey, KeySpec};
use gateway_store::model::member::Role;
use gateway_store::model::query::AuditQuery;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{add_member, assert_error, call, json, new_org};
use crate::helpers::{TestApp, spawn_app_with, user};
use crate::stub::{Mode, Stub};

async fn audited_actions(app: &TestApp, org_id: &str, at_least: usize) -> Vec<(String, String)> {
    let mut actions = Vec::new();
    for _ in 0..50 {
        let page = app
            .store
            .query_audit(&AuditQuery::for_org(org_id), Timestamp::now())
            .await
            .unwrap();
        actions = page
            .items
            .iter()
            .map(|e| (e.action.clone(), e.outcome.as_str().to_owned()))
            .collect();
        if actions.len() >= at_least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    actions
}

#[tokio::test]
async fn routing_preferences_are_read_replaced_validated_and_then_in_force() {
    let app = spawn_app_with("[routing]\ndefault_priority = \"latency\"\n").await;
    let owner = new_org(&app).await;
    let developer = add_member(&app, &owner.org_id, Role::Developer).await;
    let path = format!("/orgs/{}/routing", owner.org_id);

    // Nothing stored: the configured preferences.
    let got = json(call(&app, Some(&developer.token), Method::GET, &path, None).await).await;
    assert_eq!(got.0, 200, "{}", got.1);
    assert_eq!(got.1["default_priority"], "latency");
    assert_eq!(got.1["fallback_enabled"], true);

    let preferences = json!({
        "default_priority": "quality", "quality_threshold": 0.5, "max_latency_ms": 30000,
        "allowed_providers": ["openai"], "blocked_providers": [], "allowed_models": [],
        "blocked_models": ["openai/o4-mini"], "fallback_enabled": true,
        "fallback_chain": ["openai/gpt-4o-mini"], "default_model": "openai/gpt-4o"
    });
    let got = json(
        call(
            &app,
            Some(&developer.token),
            Method::PUT,
            &path,
            Some(preferences.clone()),
        )
        .await,
    )
    .await;
    assert_error(&got, 403, "insufficient_role");

    for (body, field) in [
        (json!({"quality_threshold": 1.2}), "quality_threshold"),
        (json!({"default_priority": "speed"}), "default_priority"),
        (
            json!({"fallback_chain": ["openai/gpt-4o", "nope/model"]}),
            "fallback_chain[1]",
        ),
        (
            json!({"allowed_providers": ["openai", "acme"]}),
            "allowed_providers[1]",
        ),
        (json!({"default_model": "openai/gpt-9"}), "default_model"),
        (json!({"quality_treshold": 0.5}), "quality_treshold"),
    ] {
        let got = json(call(&app, Some(&owner.token), Method::PUT, &path, Some(body)).await).await;
        let error = assert_error(&got, 400, "invalid_value");
        assert_eq!(error["error"]["param"], field, "{error}");
    }

    let got = json(
        call(
            &app,
            Some(&owner.token),
            Method::PUT,
            &path,
            Some(preferences.clone()),
        )
        .await,
    )
    .await;
    assert_eq!(got, (200, preferences.clone()));
    let got = json(call(&app, Some(&developer.token), Method::GET, &path, None).await).await;
    assert_eq!(got, (200, preferences));

    // The organisation's next requests route by them.
    let issued = ApiKey::issue(
        KeySpec {
            org_id: owner.org_id.clone(),
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
    let response = app
        .client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(issued.secret.expose_secret())
        .json(&json!({"model": "auto", "messages": user("Hello")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt = response.json::<Value>().await.unwrap()["x-llm-gateway"].clone();
    assert_eq!(receipt["routing"]["strategy"], "quality_optimized");
    for candidate in receipt["routing"]["candidates"].as_array().unwrap() {
        assert_eq!(candidate["provider"], "openai", "{candidate}");
        assert_ne!(candidate["model"], "openai/o4-mini");
    }

    let actions = audited_actions(&app, &owner.org_id, 2).await;
    assert!(
        actions.contains(&("routing.update".into(), "success".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("permission.denied".into(), "denied".into())),
        "{actions:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn breakers_and_live_statistics_are_shown_and_owners_and_admins_reset_them() {
    let stub = Stub::start().await;
    let app = spawn_app_with(&format!(
        "{}[routing]\nfallback_enabled = false\n[routing.breaker]\nconsecutive_failures = 2\n",
        stub.section("flaky", &["m"])
    ))
    .await;
    let owner = new_org(&app).await;
    let admin = add_member(&app, &owner.org_id, Role::Admin).await;
    let viewer = add_member(&app, &owner.org_id, Role::Viewer).await;
    stub.set(Mode::Status(502));
    for _ in 0..2 {
        let response = app
            .chat(&json!({"model": "flaky/m", "messages": user("Hello")}))
            .await;
        assert_eq!(response.status(), 502);
    }

    let health = format!("/orgs/{}/routing/health", owner.org_id);
    let got = json(call(&app, Some(&viewer.token), Method::GET, &health, None).await).await;
    assert_eq!(got.0, 200, "{}", got.1);
    let models = got.1["models"].as_array().unwrap();
    let flaky = models.iter().find(|m| m["model"] == "flaky/m").unwrap();
    assert_eq!(flaky["breaker"], "open");
    assert_eq!(flaky["consecutive_failures"], 2);
    assert_eq!(flaky["stats"]["requests"], 2);
    assert_eq!(flaky["stats"]["failures"], 2);

    let reset = format!("/orgs/{}/routing/breakers/reset", owner.org_id);
    let body = json!({"model": "flaky/m"});
    let got = json(
        call(
            &app,
            Some(&viewer.token),
            Method::POST,
            &reset,
            Some(body.clone()),
        )
        .await,
    )
    .await;
    assert_error(&got, 403, "insufficient_role");
    let got = json(
        call(
            &app,
            Some(&admin.token),
            Method::POST,
            &reset,
            Some(json!({"model": "nope/x"})),
        )
        .await,
    )
    .await;
    assert_error(&got, 404, "not_found");
    let got = json(call(&app, Some(&admin.token), Method::POST, &reset, Some(body)).await).await;
    assert_eq!(got, (200, json!({"model": "flaky/m", "breaker": "closed"})));

    // Closed again: the next request reaches the provider.
    stub.set(Mode::Answer);
    let response = app
        .chat(&json!({"model": "flaky/m", "messages": user("Hello")}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(stub.calls(), 3);
    let actions = audited_actions(&app, &owner.org_id, 2).await;
    assert!(
        actions.contains(&("routing.breaker_reset".into(), "success".into())),
        "{actions:?}"
    );
    app.shutdown().await;
}
