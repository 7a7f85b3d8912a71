//! Spend in the admin API: limits and alerts in the documented shape (owners and admins
//! only, the webhook secret shown once), and spend and savings by day, model and key.

use gateway_core::keys::KeyEnvironment;
use gateway_store::Timestamp;
use gateway_store::model::api_key::{ApiKey, KeySpec};
use gateway_store::model::member::Role;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{add_member, assert_error, call, json, new_org};
use crate::helpers::{spawn_app_with, user};

#[tokio::test]
async fn owners_set_limits_and_alerts_and_the_secret_is_shown_once() {
    let app = spawn_app_with("").await;
    let owner = new_org(&app).await;
    let path = format!("/orgs/{}/spend/settings", owner.org_id);
    let documented = json!({
        "limits": {"daily_usd": 100, "monthly_usd": 2500, "per_request_usd": 0.50},
        "alerts": {"threshold_percent": 80, "webhook_url": "https://your-app.com/webhook/spend-alert"},
    });
    let (status, set) = json(
        call(
            &app,
            Some(&owner.token),
            Method::PUT,
            &path,
            Some(documented),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["limits"]["daily_usd"], 100.0);
    assert_eq!(set["alerts"]["threshold_percent"], 80);
    let secret = set["webhook_secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );

    let (status, read) = json(call(&app, Some(&owner.token), Method::GET, &path, None).await).await;
    assert_eq!(status, 200);
    assert_eq!(read["limits"], set["limits"]);
    assert!(read.get("webhook_secret").is_none() && !read.to_string().contains(secret));
    let stored = app.store.get_org(&owner.org_id).await.unwrap();
    assert_eq!(stored.spend.alerts.unwrap().secret, secret);

    // Limits alone leave the alert; `null` removes it.
    let body = json!({"limits": {"weekly_usd": 700}});
    let (_, set) = json(call(&app, Some(&owner.token), Method::PUT, &path, Some(body)).await).await;
    assert_eq!(set["limits"], json!({"weekly_usd": 700.0}));
    assert_eq!(set["alerts"]["threshold_percent"], 80);
    let body = json!({"alerts": null});
    let (_, set) = json(call(&app, Some(&owner.token), Method::PUT, &path, Some(body)).await).await;
    assert!(set["alerts"].is_null());

    // Bad values are 400s; members who may not manage settings get a 403.
    let bad = json!({"limits": {"daily_usd": -1}});
    let got = json(call(&app, Some(&owner.token), Method::PUT, &path, Some(bad)).await).await;
    assert_eq!(got.0, 400, "{}", got.1);
    assert_eq!(got.1["error"]["type"], "invalid_request_error");
    assert!(
        got.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("daily_usd")
    );
    let bad = json!({"alerts": {"threshold_percent": 150, "webhook_url": "https://x.example"}});
    let got = json(call(&app, Some(&owner.token), Method::PUT, &path, Some(bad)).await).await;
    assert_eq!(got.0, 400, "{}", got.1);
    let viewer = add_member(&app, &owner.org_id, Role::Viewer).await;
    let got = json(call(&app, Some(&viewer.token), Method::GET, &path, None).await).await;
    assert_eq!(got.0, 403, "{}", got.1);
    app.shutdown().await;
}

#[tokio::test]
async fn spend_and_savings_are_reported_by_day_model_and_key() {
    let app = spawn_app_with("[routing]\ndefault_model = \"openai/gpt-4o\"\n").await;
    let owner = new_org(&app).await;
    let issued = ApiKey::issue(
        KeySpec {
            org_id: owner.org_id.clone(),
            name: "reporting".to_owned(),
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
        .json(&json!({"model": "openai/gpt-4o-mini", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().await.unwrap();
    let cost = receipt["x-llm-gateway"]["cost"]["total_usd"]
        .as_f64()
        .unwrap();
    let savings = receipt["x-llm-gateway"]["cost"]["savings_vs_default_usd"]
        .as_f64()
        .unwrap();
    assert!(savings > 0.0);

    let path = format!("/orgs/{}/spend?days=7", owner.org_id);
    let viewer = add_member(&app, &owner.org_id, Role::Viewer).await;
    let mut report = Value::Null;
    for _ in 0..100 {
        let got = json(call(&app, Some(&viewer.token), Method::GET, &path, None).await).await;
        assert_eq!(got.0, 200, "{}", got.1);
        report = got.1;
        if report["total"]["requests"] == 1 && report["periods"][0]["spent_usd"] != 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(report["total"]["requests"], 1, "{report}");
    assert_eq!(report["total"]["cost_usd"], cost);
    assert_eq!(report["total"]["savings_usd"], savings);
    assert_eq!(report["by_model"][0]["key"], "openai/gpt-4o-mini");
    assert_eq!(report["by_key"][0]["key"], issued.key.id.as_str());
    assert_eq!(report["by_day"].as_array().unwrap().len(), 1);
    assert_eq!(report["periods"][0]["period"], "day");
    assert!((report["periods"][0]["spent_usd"].as_f64().unwrap() - cost).abs() < 1e-6);

    let got = json(
        call(
            &app,
            Some(&viewer.token),
            Method::GET,
            &format!("/orgs/{}/spend?days=0", owner.org_id),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 400, "invalid_value");
    app.shutdown().await;
}
