//! API keys over the admin API: a key created here authenticates on `/v1` at once, a revoked
//! one stops within `key_cache_secs`, rotation keeps the old one for its grace period, CIDRs
//! are validated, viewers cannot create keys and another organisation's key is a 404.

use std::time::Duration;

use gateway_store::model::member::Role;
use reqwest::Method;
use serde_json::{Value, json};

use super::{add_member, assert_error, call, json, new_org};
use crate::helpers::{TestApp, spawn_app, spawn_app_with, user};

async fn chat(app: &TestApp, secret: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(secret)
        .json(&json!({"model": "openai/gpt-4o-mini", "messages": user("hi")}))
        .send()
        .await
        .unwrap()
}

async fn create_key(app: &TestApp, token: &str, org_id: &str, body: Value) -> (u16, Value) {
    json(
        call(
            app,
            Some(token),
            Method::POST,
            &format!("/orgs/{org_id}/keys"),
            Some(body),
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn a_key_created_over_the_api_works_at_once_and_stops_within_the_cache_bound_once_revoked() {
    let app = spawn_app_with("[auth]\nkey_cache_secs = 1\n").await;
    let owner = new_org(&app).await;
    let developer = add_member(&app, &owner.org_id, Role::Developer).await;
    let (status, created) = create_key(
        &app,
        &developer.token,
        &owner.org_id,
        json!({"name": "ci", "environment": "prod", "rpm_limit": 100}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("llm_gw_prod_"));
    assert_eq!(created["key"]["status"], "active");
    assert!(secret.starts_with(created["key"]["display_prefix"].as_str().unwrap()));
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(chat(&app, &secret).await.status(), 200);

    // Listings never show a secret.
    let (status, list) = json(
        call(
            &app,
            Some(&developer.token),
            Method::GET,
            &format!("/orgs/{}/keys", owner.org_id),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(!list.to_string().contains(&secret[12..]));
    assert_eq!(list["data"][0]["id"], key_id.as_str());

    let (status, revoked) = json(
        call(
            &app,
            Some(&developer.token),
            Method::POST,
            &format!("/orgs/{}/keys/{key_id}/revoke", owner.org_id),
            None,
        )
        .await,
    )
    .await;
    assert_eq!((status, revoked["status"].as_str()), (200, Some("revoked")));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = chat(&app, &secret).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "api_key_revoked");
    app.shutdown().await;
}

#[tokio::test]
async fn a_viewer_creating_a_key_is_403() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let viewer = add_member(&app, &owner.org_id, Role::Viewer).await;
    let got = create_key(&app, &viewer.token, &owner.org_id, json!({"name": "x"})).await;
    let body = assert_error(&got, 403, "insufficient_role");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("manage_keys")
    );
    // Viewers may list keys.
    let (status, _) = json(
        call(
            &app,
            Some(&viewer.token),
            Method::GET,
            &format!("/orgs/{}/keys", owner.org_id),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_fields_are_400_naming_the_field() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let cases = [
        (
            json!({"name": "x", "ip_allowlist": ["10.0.0.0/8", "10.0.0.0/33"]}),
            "ip_allowlist[1]",
        ),
        (
            json!({"name": "x", "environment": "staging"}),
            "environment",
        ),
        (json!({"name": "x", "expires_at": "tomorrow"}), "expires_at"),
        (json!({"name": "x", "rpm_limit": 0}), "rpm_limit"),
        (json!({"name": "x", "rpm_limit": "many"}), "rpm_limit"),
        (json!({"name": "  "}), "name"),
        (json!({"environment": "dev"}), "name"),
    ];
    for (body, param) in cases {
        let got = create_key(&app, &owner.token, &owner.org_id, body.clone()).await;
        assert_eq!(got.0, 400, "{body}: {}", got.1);
        assert_eq!(got.1["error"]["param"], param, "{body}: {}", got.1);
    }
    let response = app
        .client
        .post(format!("{}/admin/v1/orgs/{}/keys", app.url, owner.org_id))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let got = json(response).await;
    assert_error(&got, 400, "invalid_json");
    app.shutdown().await;
}

#[tokio::test]
async fn updates_change_limits_and_allowlists_and_rotation_keeps_the_old_key_for_its_grace() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let (_, created) = create_key(&app, &owner.token, &owner.org_id, json!({"name": "svc"})).await;
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    let old_secret = created["secret"].as_str().unwrap().to_owned();
    let path = format!("/orgs/{}/keys/{key_id}", owner.org_id);
    let (status, updated) = json(
        call(
            &app,
            Some(&owner.token),
            Method::PATCH,
            &path,
            Some(json!({"name": "svc-2", "tpm_limit": 5000, "ip_allowlist": ["192.0.2.1", "2001:db8::/32"],
                        "expires_at": "2099-01-01T00:00:00Z"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "svc-2");
    assert_eq!(updated["tpm_limit"], 5000);
    assert_eq!(
        updated["ip_allowlist"],
        json!(["192.0.2.1/32", "2001:db8::/32"])
    );
    assert_eq!(updated["expires_at"], "2099-01-01T00:00:00.000Z");
    let (_, cleared) = json(
        call(
            &app,
            Some(&owner.token),
            Method::PATCH,
            &path,
            Some(json!({"expires_at": null, "ip_allowlist": []})),
        )
        .await,
    )
    .await;
    assert_eq!(cleared["expires_at"], Value::Null);
    assert_eq!(cleared["tpm_limit"], 5000);

    let (status, rotated) = json(
        call(
            &app,
            Some(&owner.token),
            Method::POST,
            &format!("{path}/rotate"),
            Some(json!({"grace_seconds": 3600})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{rotated}");
    assert_eq!(rotated["old_key"]["status"], "rotated");
    assert_eq!(rotated["key"]["name"], "svc-2");
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_eq!(chat(&app, new_secret).await.status(), 200);
    assert_eq!(chat(&app, &old_secret).await.status(), 200);
    // A rotated key cannot be rotated again.
    let got = json(
        call(
            &app,
            Some(&owner.token),
            Method::POST,
            &format!("{path}/rotate"),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 409, "conflict");
    app.shutdown().await;
}

#[tokio::test]
async fn another_organisations_key_is_a_404() {
    let app = spawn_app().await;
    let mine = new_org(&app).await;
    let theirs = new_org(&app).await;
    let (_, created) = create_key(
        &app,
        &theirs.token,
        &theirs.org_id,
        json!({"name": "theirs"}),
    )
    .await;
    let their_key = created["key"]["id"].as_str().unwrap();
    for method in [Method::GET, Method::PATCH] {
        let body = (method == Method::PATCH).then(|| json!({"name": "mine now"}));
        let got = json(
            call(
                &app,
                Some(&mine.token),
                method,
                &format!("/orgs/{}/keys/{their_key}", mine.org_id),
                body,
            )
            .await,
        )
        .await;
        assert_error(&got, 404, "not_found");
    }
    let got = json(
        call(
            &app,
            Some(&mine.token),
            Method::POST,
            &format!("/orgs/{}/keys/{their_key}/revoke", mine.org_id),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 404, "not_found");
    // Their key still works.
    assert_eq!(
        chat(&app, created["secret"].as_str().unwrap())
            .await
            .status(),
        200
    );
    app.shutdown().await;
}
