//! Spend limits hold across gateway processes: two `llm-gateway serve` processes share one
//! DynamoDB table (the moto server `./tests/run.sh` starts), the daily limit is set with
//! `llm-gateway spend set-limits`, 50 requests go to both at once, and together they spend no
//! more than the limit plus the estimation error; `llm-gateway spend show` then reports what
//! they spent.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

mod process;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

const KEY: &str = "llm_gw_dev_5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
const URL_VAR: &str = "LLM_GATEWAY_TEST_DYNAMODB_URL";
const LIMIT_USD: f64 = 0.01;
const PER_PROCESS: usize = 25;
/// openai/gpt-4o's catalog price for input, USD per million tokens.
const GPT_4O_INPUT: f64 = 2.50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_dynamodb_table_spend_no_more_than_the_daily_limit_together() {
    let endpoint = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!("{URL_VAR} is not set: this test needs the moto server ./tests/run.sh starts")
    });
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("llm-gateway-spend-{nanos}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nkey_cache_secs = 0\n\n[store]\nbackend = \"dynamodb\"\n\n\
             [store.dynamodb]\ntable = \"spend-{nanos}\"\nregion = \"us-east-1\"\n\
             endpoint_url = \"{endpoint}\"\naccess_key_id = \"testing\"\n\
             secret_access_key = \"testing\"\ncreate_table = true\n"
        ),
    )
    .unwrap();
    let (_a, url_a) = process::serve(&config, &dir, Some(KEY));
    let (_b, url_b) = process::serve(&config, &dir, Some(KEY));
    // The configured organisation exists once a gateway has started.
    let limit = LIMIT_USD.to_string();
    let set = process::cli(
        &config,
        &dir,
        &[
            "spend",
            "set-limits",
            "--org",
            "org_configured",
            "--daily-usd",
            &limit,
        ],
    );
    assert!(set.contains("\"daily_usd\": 0.01"), "{set}");

    let body = json!({
        "model": "openai/gpt-4o",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "[[fake words=400]] Tell me a long story."}],
    });
    let estimated_prompt = (serde_json::to_vec(&body).unwrap().len() / 4) as u64;
    let client = reqwest::Client::new();
    let sends = [&url_a, &url_b].into_iter().flat_map(|url| {
        let client = &client;
        let body = &body;
        (0..PER_PROCESS).map(move |_| async move {
            let response = client
                .post(format!("{url}/v1/chat/completions"))
                .bearer_auth(KEY)
                .json(body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        })
    });
    let answers = futures::future::join_all(sends).await;
    let admitted: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| &body["x-llm-gateway"])
        .collect();
    let refused = answers.iter().filter(|(status, _)| *status == 402).count();
    assert_eq!(admitted.len() + refused, 2 * PER_PROCESS, "{answers:?}");
    let spent: f64 = admitted
        .iter()
        .map(|r| r["cost"]["total_usd"].as_f64().unwrap())
        .sum();
    let estimation_error: f64 = admitted
        .iter()
        .map(|r| {
            let prompt = r["tokens"]["prompt"].as_u64().unwrap();
            prompt.saturating_sub(estimated_prompt) as f64 * GPT_4O_INPUT / 1e6
        })
        .sum();
    let rounding = admitted.len() as f64 * 1e-8;
    assert!(
        spent <= LIMIT_USD + estimation_error + rounding,
        "spent ${spent} of ${LIMIT_USD} (estimation error ${estimation_error})"
    );
    assert!(
        refused > 0 && spent > LIMIT_USD * 0.8,
        "spent ${spent}, {refused} refused"
    );

    // Both processes reconcile in the background; the report converges on what was spent.
    let mut reported = 0.0;
    for _ in 0..40 {
        let shown: Value = serde_json::from_str(&process::cli(
            &config,
            &dir,
            &["spend", "show", "--org", "org_configured", "--days", "1"],
        ))
        .unwrap();
        reported = shown["report"]["periods"][0]["spent_usd"].as_f64().unwrap();
        if (reported - spent).abs() < 1e-5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        (reported - spent).abs() < 1e-5,
        "reported ${reported}, spent ${spent}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
