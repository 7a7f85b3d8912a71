//! Black-box tests of the admin API (`/admin/v1`): members authenticated by admin tokens,
//! roles enforced server-side, other organisations invisible, every error OpenAI-shaped.

mod auth;

use gateway_server::admin::membership;
use gateway_store::Timestamp;
use gateway_store::model::member::Role;
use gateway_store::model::org::{Organization, Plan};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::TestApp;

/// A member of an organisation, with its admin token.
pub struct Admin {
    pub org_id: String,
    pub user_id: String,
    pub token: String,
}

/// A new organisation (unique name) with an owner.
pub async fn new_org(app: &TestApp) -> Admin {
    let mut org = Organization::new("placeholder", Plan::Pro, Timestamp::now());
    org.name = format!("org-{}", org.id);
    app.store.create_org(&org).await.unwrap();
    add_member(app, &org.id, Role::Owner).await
}

/// A new member of `org_id` with `role`, added through the store as the CLI does.
pub async fn add_member(app: &TestApp, org_id: &str, role: Role) -> Admin {
    let email = format!("{}@example.com", gateway_store::model::id::new_id("u"));
    let (member, issued) = membership::add_member(
        app.store.as_ref(),
        org_id,
        &email,
        role,
        None,
        Timestamp::now(),
    )
    .await
    .unwrap();
    Admin {
        org_id: org_id.to_owned(),
        user_id: member.user_id,
        token: issued.secret.expose_secret().to_owned(),
    }
}

/// Sends `method path` under `/admin/v1` with `token` and an optional JSON body.
pub async fn call(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, format!("{}/admin/v1{path}", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Status and JSON body.
pub async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Asserts an OpenAI-shaped error with `status` and `code`; returns the body.
pub fn assert_error(got: &(u16, Value), status: u16, code: &str) -> Value {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    assert!(got.1["error"]["message"].is_string(), "{}", got.1);
    assert!(got.1["error"]["type"].is_string(), "{}", got.1);
    got.1.clone()
}
