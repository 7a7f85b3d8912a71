//! The admin API on DynamoDB: the CLI bootstraps an organisation and its owner on a table of
//! the moto server `./tests/run.sh` starts, then a gateway on that table serves the admin flow
//! (a member added, a key created, used on `/v1`, listed, revoked; the audit log read back).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

mod process;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Where `./tests/run.sh` puts the moto server's URL.
const URL_VAR: &str = "LLM_GATEWAY_TEST_DYNAMODB_URL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_flow_runs_on_a_dynamodb_table() {
    let endpoint = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!("{URL_VAR} is not set: this test needs the moto server ./tests/run.sh starts")
    });
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("llm-gateway-admin-dynamodb-{nanos}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nkey_cache_secs = 1\n\n[store]\nbackend = \"dynamodb\"\n\n\
             [store.dynamodb]\ntable = \"admin-{nanos}\"\nregion = \"us-east-1\"\n\
             endpoint_url = \"{endpoint}\"\naccess_key_id = \"testing\"\n\
             secret_access_key = \"testing\"\ncreate_table = true\n"
        ),
    )
    .unwrap();
    // The gateway makes the table; the CLI then bootstraps on it.
    let (_gateway, url) = process::serve(&config, &dir, None);
    process::cli(
        &config,
        &dir,
        &["org", "create", "--name", "acme", "--plan", "pro"],
    );
    let created = process::cli(
        &config,
        &dir,
        &[
            "member",
            "create",
            "--org",
            "acme",
            "--email",
            "ops@example.com",
            "--role",
            "owner",
        ],
    );
    let token = created
        .lines()
        .find_map(|l| l.strip_prefix("admin token: "))
        .expect("the token is printed")
        .to_owned();

    let client = reqwest::Client::new();
    let admin = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, format!("{url}/admin/v1{path}"))
            .bearer_auth(&token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, me) = admin(reqwest::Method::GET, "/me", None).await;
    assert_eq!(status, 200, "{me}");
    let org = me["org_id"].as_str().unwrap().to_owned();

    let (status, added) = admin(
        reqwest::Method::POST,
        &format!("/orgs/{org}/members"),
        Some(json!({"email": "dev@example.com", "role": "developer"})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let (status, members) =
        admin(reqwest::Method::GET, &format!("/orgs/{org}/members"), None).await;
    assert_eq!(
        (status, members["data"].as_array().unwrap().len()),
        (200, 2)
    );

    let (status, key) = admin(
        reqwest::Method::POST,
        &format!("/orgs/{org}/keys"),
        Some(json!({"name": "ci", "ip_allowlist": ["127.0.0.0/8", "::1/128"]})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let key_id = key["key"]["id"].as_str().unwrap().to_owned();
    let chat = || {
        client
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(&secret)
            .json(
                &json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
    };
    assert_eq!(chat().await.unwrap().status(), 200);

    let (status, keys) = admin(reqwest::Method::GET, &format!("/orgs/{org}/keys"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        keys["data"][0]["ip_allowlist"],
        json!(["127.0.0.0/8", "::1/128"])
    );
    let (status, _) = admin(
        reqwest::Method::POST,
        &format!("/orgs/{org}/keys/{key_id}/revoke"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(chat().await.unwrap().status(), 401);

    let mut actions = Vec::new();
    for _ in 0..100 {
        let (_, page) = admin(reqwest::Method::GET, &format!("/orgs/{org}/audit"), None).await;
        actions = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        if ["member.add", "key.create", "key.revoke"]
            .iter()
            .all(|a| actions.iter().filter(|x| x == a).count() >= 1)
            && actions.len() >= 4
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The CLI's member.add (actor `cli`), the API's member.add, key.create, key.revoke.
    for action in ["member.add", "key.create", "key.revoke"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    assert_eq!(
        actions.iter().filter(|a| *a == "member.add").count(),
        2,
        "{actions:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
