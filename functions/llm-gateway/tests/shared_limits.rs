//! Rate limits hold across gateway processes: two `llm-gateway serve` processes share one
//! DynamoDB table (the moto server `./tests/run.sh` starts), a burst is sent to both at once,
//! and together they admit no more than the limit.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is that test failing"
)]

mod process;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEY: &str = "llm_gw_dev_0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d";
/// Where `./tests/run.sh` puts the moto server's URL.
const URL_VAR: &str = "LLM_GATEWAY_TEST_DYNAMODB_URL";
const LIMIT: usize = 10;
const PER_PROCESS: usize = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_dynamodb_table_admit_no_more_than_the_limit_together() {
    let endpoint = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!("{URL_VAR} is not set: this test needs the moto server ./tests/run.sh starts")
    });
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("llm-gateway-shared-{nanos}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[limits]\nrequests_per_minute = {LIMIT}\n\n[store]\nbackend = \"dynamodb\"\n\n\
             [store.dynamodb]\ntable = \"limits-{nanos}\"\nregion = \"us-east-1\"\n\
             endpoint_url = \"{endpoint}\"\naccess_key_id = \"testing\"\n\
             secret_access_key = \"testing\"\ncreate_table = true\n"
        ),
    )
    .unwrap();
    // Both start before either is sent anything; the second finds the table made.
    let (_a, url_a) = process::serve(&config, &dir, Some(KEY));
    let (_b, url_b) = process::serve(&config, &dir, Some(KEY));

    // The burst must fall in one minute window: start it early in a minute.
    let into_minute = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if into_minute > 40 {
        tokio::time::sleep(Duration::from_secs(61 - into_minute)).await;
    }
    let client = reqwest::Client::new();
    let body = serde_json::json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let sends = [&url_a, &url_b].into_iter().flat_map(|url| {
        let client = &client;
        let body = &body;
        (0..PER_PROCESS).map(move |_| async move {
            client
                .post(format!("{url}/v1/chat/completions"))
                .bearer_auth(KEY)
                .json(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    let statuses = futures::future::join_all(sends).await;
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(admitted + refused, 2 * PER_PROCESS, "{statuses:?}");
    assert!(
        admitted <= LIMIT,
        "admitted {admitted} of a limit of {LIMIT}"
    );
    assert_eq!(
        admitted, LIMIT,
        "the limit is spent, not more: {statuses:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
