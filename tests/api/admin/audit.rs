//! The audit log over the admin API: admin actions are recorded with actor, target and
//! outcome, searched by action, and exported as JSON and as RFC 4180 CSV with a
//! `Content-Disposition`; viewers cannot read it.

use std::time::Duration;

use gateway_store::model::member::Role;
use reqwest::Method;
use serde_json::{Value, json};

use super::{add_member, assert_error, call, json, new_org};
use crate::helpers::spawn_app;

#[tokio::test]
async fn admin_actions_are_audited_and_exported_as_json_and_csv() {
    let app = spawn_app().await;
    let owner = new_org(&app).await;
    let org = owner.org_id.clone();
    let (_, created) = json(
        call(
            &app,
            Some(&owner.token),
            Method::POST,
            &format!("/orgs/{org}/keys"),
            Some(json!({"name": "billing, \"main\"\nline"})),
        )
        .await,
    )
    .await;
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    call(
        &app,
        Some(&owner.token),
        Method::POST,
        &format!("/orgs/{org}/keys/{key_id}/revoke"),
        None,
    )
    .await;
    let viewer = add_member(&app, &org, Role::Viewer).await;
    let got = json(
        call(
            &app,
            Some(&viewer.token),
            Method::GET,
            &format!("/orgs/{org}/audit"),
            None,
        )
        .await,
    )
    .await;
    assert_error(&got, 403, "insufficient_role");

    // Events are written in the background.
    let mut events = Value::Null;
    for _ in 0..100 {
        let (status, page) = json(
            call(
                &app,
                Some(&owner.token),
                Method::GET,
                &format!("/orgs/{org}/audit"),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        if page["data"].as_array().unwrap().len() >= 3 {
            events = page;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let data = events["data"].as_array().expect("three events");
    let find = |action: &str| {
        data.iter()
            .find(|e| e["action"] == action)
            .cloned()
            .unwrap()
    };
    let create = find("key.create");
    assert_eq!(create["actor"], owner.user_id.as_str());
    assert_eq!(create["target"], key_id.as_str());
    assert_eq!(create["outcome"], "success");
    assert!(
        !create
            .to_string()
            .contains(created["secret"].as_str().unwrap())
    );
    assert_eq!(find("key.revoke")["target"], key_id.as_str());
    assert_eq!(find("permission.denied")["actor"], viewer.user_id.as_str());

    let (status, page) = json(
        call(
            &app,
            Some(&owner.token),
            Method::GET,
            &format!("/orgs/{org}/audit?action=key.revoke"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);

    let response = call(
        &app,
        Some(&owner.token),
        Method::GET,
        &format!("/orgs/{org}/audit/export?format=json"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"audit-")
            && disposition.ends_with(".json\""),
        "{disposition}"
    );
    let exported: Value = response.json().await.unwrap();
    let exported = exported.as_array().unwrap();
    assert!(
        exported
            .iter()
            .any(|e| e["action"] == "key.create"
                && e["details"]["name"] == "billing, \"main\"\nline")
    );

    let response = call(
        &app,
        Some(&owner.token),
        Method::GET,
        &format!("/orgs/{org}/audit/export?format=csv&action=key.create"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".csv\"")
    );
    let csv = response.text().await.unwrap();
    let (header, rows) = csv.split_once("\r\n").unwrap();
    assert_eq!(
        header,
        "id,org_id,at,actor,action,target,outcome,ip,details"
    );
    // One record; the details field is quoted, its quotes doubled, its newline kept inside.
    assert!(rows.ends_with("\r\n"));
    assert_eq!(rows.matches(",key.create,").count(), 1);
    assert!(rows.contains(r#","{"""#), "{rows}");
    assert!(rows.contains(r#"billing, \""main\""\nline"#), "{rows}");

    let got = json(
        call(
            &app,
            Some(&owner.token),
            Method::GET,
            &format!("/orgs/{org}/audit/export?format=xml"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        assert_error(&got, 400, "invalid_value")["error"]["param"],
        "format"
    );
    app.shutdown().await;
}
