//! `admin`: the admin API behind a buffered Function URL, on an SQLite store.

use gateway_server::admin::membership;
use gateway_store::model::member::Role;
use gateway_store::model::org::{Organization, Plan};
use gateway_store::sqlite::SqliteStore;
use gateway_store::{OrgStore, Timestamp};
use gateway_tests::runtime_api::Outcome;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::harness::{self, TempPath};

fn buffered(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response(response) => {
            assert!(!response.streaming, "the admin URL is buffered");
            response.json().unwrap()
        }
        Outcome::Error { error_type, body } => panic!("function error {error_type:?}: {body}"),
    }
}

#[tokio::test]
async fn a_member_reads_itself_with_its_admin_token_and_no_token_is_a_401() {
    let dir = TempPath(std::env::temp_dir().join(harness::unique("admin")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let db = dir.0.join("gateway.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let org = Organization::new("acme", Plan::Pro, Timestamp::now());
    store.create_org(&org).await.unwrap();
    let (member, issued) = membership::add_member(
        &store,
        &org.id,
        "owner@example.com",
        Role::Owner,
        None,
        Timestamp::now(),
    )
    .await
    .unwrap();

    let function = harness::start(
        "admin",
        &[("LLM_GATEWAY__STORE__PATH", db.display().to_string())],
    )
    .await;
    let mut event = harness::event("function-url-admin.json");
    event["headers"]["authorization"] = json!(format!("Bearer {}", issued.secret.expose_secret()));
    let answer = buffered(function.invoke(event.clone()).await);
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert!(answer["headers"]["x-request-id"].is_string(), "{answer}");
    let me: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(me["user_id"], json!(member.user_id));
    assert_eq!(me["org_id"], json!(org.id));
    assert_eq!(me["role"], "owner");

    event["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    let answer = buffered(function.invoke(event).await);
    assert_eq!(answer["statusCode"], 401, "{answer}");
    let error: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert!(error["error"]["message"].is_string(), "{error}");
}
