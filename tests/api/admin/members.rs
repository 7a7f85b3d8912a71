//! Members over the admin API: adding one returns its admin token (which works at once), roles
//! are enforced (a developer cannot manage members, an admin cannot make an owner), the last
//! owner can be neither demoted nor removed, and a removed member's token stops working.

use gateway_store::model::member::Role;
use reqwest::Method;
use serde_json::json;

use super::{add_member, assert_error, call, json, new_org};
use crate::helpers::spawn_app;

#[tokio::test]
async fn an_added_members_token_works_at_once_and_stops_when_it_is_removed() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let members = format!("/orgs/{}/members", owner.org_id);
    let (status, added) = json(
        call(
            &app,
            Some(&owner.token),
            Method::POST,
            &members,
            Some(json!({"email": "dev@example.com", "role": "developer", "user_id": "dev-1"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["member"]["role"], "developer");
    let token = added["admin_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("llm_gw_admin_"));

    let (status, me) = json(call(&app, Some(&token), Method::GET, "/me", None).await).await;
    assert_eq!((status, me["user_id"].as_str()), (200, Some("dev-1")));

    let (status, list) = json(call(&app, Some(&token), Method::GET, &members, None).await).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    // The same email again is a conflict.
    let got = json(
        call(
            &app,
            Some(&owner.token),
            Method::POST,
            &members,
            Some(json!({"email": "DEV@example.com", "role": "viewer"})),
        )
        .await,
    )
    .await;
    assert_error(&got, 409, "member_exists");

    let response = call(
        &app,
        Some(&owner.token),
        Method::DELETE,
        &format!("{members}/dev-1"),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    let got = json(call(&app, Some(&token), Method::GET, "/me", None).await).await;
    assert_error(&got, 401, "admin_token_revoked");
    app.shutdown().await;
}

#[tokio::test]
async fn a_developer_cannot_manage_members_and_an_admin_cannot_make_an_owner() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let developer = add_member(&app, &owner.org_id, Role::Developer).await;
    let admin = add_member(&app, &owner.org_id, Role::Admin).await;
    let members = format!("/orgs/{}/members", owner.org_id);
    let new = json!({"email": "x@example.com", "role": "viewer"});
    let got = json(
        call(
            &app,
            Some(&developer.token),
            Method::POST,
            &members,
            Some(new),
        )
        .await,
    )
    .await;
    let body = assert_error(&got, 403, "insufficient_role");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("manage_members")
    );
    let got = json(
        call(
            &app,
            Some(&developer.token),
            Method::DELETE,
            &format!("{members}/{}", admin.user_id),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 403, "insufficient_role");

    let got = json(
        call(
            &app,
            Some(&admin.token),
            Method::PATCH,
            &format!("{members}/{}", developer.user_id),
            Some(json!({"role": "owner"})),
        )
        .await,
    )
    .await;
    assert_error(&got, 403, "insufficient_role");
    let (status, changed) = json(
        call(
            &app,
            Some(&admin.token),
            Method::PATCH,
            &format!("{members}/{}", developer.user_id),
            Some(json!({"role": "viewer"})),
        )
        .await,
    )
    .await;
    assert_eq!((status, changed["role"].as_str()), (200, Some("viewer")));
    // The role is read on every request: the former developer is a viewer now.
    let got = json(
        call(
            &app,
            Some(&developer.token),
            Method::POST,
            &format!("/orgs/{}/keys", owner.org_id),
            Some(json!({"name": "ci"})),
        )
        .await,
    )
    .await;
    assert_error(&got, 403, "insufficient_role");
    let got = json(
        call(
            &app,
            Some(&owner.token),
            Method::PATCH,
            &format!("{members}/{}", developer.user_id),
            Some(json!({"role": "superuser"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        assert_error(&got, 400, "invalid_value")["error"]["param"],
        "role"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let me = format!("/orgs/{}/members/{}", owner.org_id, owner.user_id);
    let got = json(
        call(
            &app,
            Some(&owner.token),
            Method::PATCH,
            &me,
            Some(json!({"role": "admin"})),
        )
        .await,
    )
    .await;
    assert_error(&got, 409, "last_owner");
    let got = json(call(&app, Some(&owner.token), Method::DELETE, &me, None).await).await;
    assert_error(&got, 409, "last_owner");

    // With a second owner, the first may step down.
    let second = add_member(&app, &owner.org_id, Role::Owner).await;
    let (status, _) = json(
        call(
            &app,
            Some(&owner.token),
            Method::PATCH,
            &me,
            Some(json!({"role": "admin"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) =
        json(call(&app, Some(&second.token), Method::GET, "/me", None).await).await;
    assert_eq!((status, body["role"].as_str()), (200, Some("owner")));
    app.shutdown().await;
}

#[tokio::test]
async fn another_organisations_member_is_a_404() {
    let app = spawn_app().await;
    let mine = new_org(&app).await;
    let theirs = new_org(&app).await;
    // Their member's id, under my organisation, is unknown; under theirs, invisible.
    let got = json(
        call(
            &app,
            Some(&mine.token),
            Method::GET,
            &format!("/orgs/{}/members/{}", mine.org_id, theirs.user_id),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 404, "not_found");
    let got = json(
        call(
            &app,
            Some(&mine.token),
            Method::DELETE,
            &format!("/orgs/{}/members/{}", theirs.org_id, theirs.user_id),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 404, "organization_not_found");
    app.shutdown().await;
}

#[tokio::test]
async fn a_member_renews_its_own_token_and_the_old_one_stops() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let viewer = add_member(&app, &owner.org_id, Role::Viewer).await;
    let (status, body) = json(
        call(
            &app,
            Some(&viewer.token),
            Method::POST,
            &format!("/orgs/{}/members/{}/token", owner.org_id, viewer.user_id),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let fresh = body["admin_token"].as_str().unwrap();
    let got = json(call(&app, Some(&viewer.token), Method::GET, "/me", None).await).await;
    assert_error(&got, 401, "admin_token_revoked");
    let (status, _) = json(call(&app, Some(fresh), Method::GET, "/me", None).await).await;
    assert_eq!(status, 200);
    // A viewer cannot renew someone else's.
    let got = json(
        call(
            &app,
            Some(fresh),
            Method::POST,
            &format!("/orgs/{}/members/{}/token", owner.org_id, owner.user_id),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 403, "insufficient_role");
    app.shutdown().await;
}
