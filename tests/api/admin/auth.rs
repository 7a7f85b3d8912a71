//! Admin authentication: tokens that are missing, malformed, unknown or revoked are 401; a
//! member sees only its own organisation (any other id is the same 404); roles are enforced
//! with a 403 naming the action; guessing locks the address out like API keys do.

use gateway_server::admin::membership;
use gateway_store::Timestamp;
use gateway_store::model::member::Role;
use gateway_store::model::query::AuditQuery;
use reqwest::Method;
use serde_json::json;

use super::{Admin, add_member, assert_error, call, json, new_org};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn me_names_the_member_its_organisation_and_what_its_role_allows() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let (status, me) = json(call(&app, Some(&owner.token), Method::GET, "/me", None).await).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user_id"], owner.user_id.as_str());
    assert_eq!(me["org_id"], owner.org_id.as_str());
    assert_eq!(me["role"], "owner");
    assert!(
        me["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("manage_organization"))
    );
    app.shutdown().await;
}

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_admin_tokens_are_401() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let path = format!("/orgs/{}", owner.org_id);
    let got = json(call(&app, None, Method::GET, &path, None).await).await;
    assert_error(&got, 401, "missing_admin_token");
    // An API key is not an admin token.
    let got = json(call(&app, Some(crate::helpers::KEY), Method::GET, &path, None).await).await;
    assert_error(&got, 401, "invalid_admin_token");
    let unknown = format!("llm_gw_admin_{}", "0".repeat(64));
    let got = json(call(&app, Some(&unknown), Method::GET, &path, None).await).await;
    assert_error(&got, 401, "invalid_admin_token");

    let issued = membership::rotate_token(
        app.store.as_ref(),
        &owner.org_id,
        &owner.user_id,
        Timestamp::now(),
    )
    .await
    .unwrap();
    let got = json(call(&app, Some(&owner.token), Method::GET, &path, None).await).await;
    assert_error(&got, 401, "admin_token_revoked");
    let fresh = secrecy::ExposeSecret::expose_secret(&issued.secret).to_owned();
    let (status, _) = json(call(&app, Some(&fresh), Method::GET, &path, None).await).await;
    assert_eq!(status, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn another_organisations_id_is_the_same_404_whether_it_exists_or_not() {
    let app = spawn_app().await;
    let mine = new_org(&app).await;
    let theirs = new_org(&app).await;
    let existing = json(
        call(
            &app,
            Some(&mine.token),
            Method::GET,
            &format!("/orgs/{}", theirs.org_id),
            None,
        )
        .await,
    )
    .await;
    let missing = json(
        call(
            &app,
            Some(&mine.token),
            Method::GET,
            "/orgs/org_00000000000000000000000000000000",
            None,
        )
        .await,
    )
    .await;
    assert_error(&existing, 404, "organization_not_found");
    assert_error(&missing, 404, "organization_not_found");
    let mask = |body: &serde_json::Value, id: &str| body.to_string().replace(id, "<id>");
    assert_eq!(
        mask(&existing.1, &theirs.org_id),
        mask(&missing.1, "org_00000000000000000000000000000000")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn only_owners_change_the_organisation_and_refusals_are_audited() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let admin: Admin = add_member(&app, &owner.org_id, Role::Admin).await;
    let path = format!("/orgs/{}", owner.org_id);
    let got = json(
        call(
            &app,
            Some(&admin.token),
            Method::PATCH,
            &path,
            Some(json!({"audit_retention_days": 30})),
        )
        .await,
    )
    .await;
    let body = assert_error(&got, 403, "insufficient_role");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("manage_organization")
    );

    let (status, org) = json(
        call(
            &app,
            Some(&owner.token),
            Method::PATCH,
            &path,
            Some(json!({"audit_retention_days": 30, "time_zone": "Europe/Paris"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["audit_retention_days"], 30);
    assert_eq!(org["time_zone"], "Europe/Paris");

    let got = json(
        call(
            &app,
            Some(&owner.token),
            Method::PATCH,
            &path,
            Some(json!({"audit_retention_days": 400})),
        )
        .await,
    )
    .await;
    let body = assert_error(&got, 400, "invalid_value");
    assert_eq!(body["error"]["param"], "audit_retention_days");
    let got = json(
        call(
            &app,
            Some(&owner.token),
            Method::PATCH,
            &path,
            Some(json!({"plan": "platinum"})),
        )
        .await,
    )
    .await;
    let body = assert_error(&got, 400, "invalid_value");
    assert_eq!(body["error"]["param"], "plan");

    // The audit is written in the background: wait for it.
    let mut actions = Vec::new();
    for _ in 0..50 {
        let page = app
            .store
            .query_audit(&AuditQuery::for_org(&owner.org_id), Timestamp::now())
            .await
            .unwrap();
        actions = page
            .items
            .iter()
            .map(|e| (e.action.clone(), e.actor.clone(), e.outcome.as_str()))
            .collect();
        if actions.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(actions.contains(&("permission.denied".into(), admin.user_id.clone(), "denied")));
    assert!(actions.contains(&("org.update".into(), owner.user_id.clone(), "success")));
    app.shutdown().await;
}

#[tokio::test]
async fn guessing_admin_tokens_locks_the_address_out() {
    let app = spawn_app_with("[auth.lockout]\nmax_failures = 3\nlockout_secs = 30\n").await;
    let owner = new_org(&app).await;
    let path = format!("/orgs/{}", owner.org_id);
    let mut last = (0, serde_json::Value::Null);
    for i in 0..3 {
        let guess = format!("llm_gw_admin_{i:064}");
        last = json(call(&app, Some(&guess), Method::GET, &path, None).await).await;
    }
    assert_error(&last, 429, "too_many_failed_authentications");
    // Even the right token is refused while the address is locked out.
    let got = json(call(&app, Some(&owner.token), Method::GET, &path, None).await).await;
    assert_error(&got, 429, "too_many_failed_authentications");
    app.shutdown().await;
}
