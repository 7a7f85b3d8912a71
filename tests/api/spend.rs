//! Spend limits on the request path: per-request refusals before any provider call, daily
//! budgets held under 50 concurrent requests (SQLite and DynamoDB), `auto` leaving out what the
//! budget cannot pay for, the platform fee, periods in the organisation's time zone, and answers
//! cut short after the provider was called, which are billed for what was generated.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use gateway_fakes::CallOutcome;
use gateway_server::access::CONFIGURED_ORG_ID;
use gateway_server::spend::budget::usd_to_micros;
use gateway_server::spend::keys;
use gateway_server::spend::period::{self, Period};
use gateway_store::dynamodb::{DynamoConfig, DynamoStore, StaticCredentials, create_table};
use gateway_store::model::org::Organization;
use gateway_store::model::query::ReceiptQuery;
use gateway_store::{Store, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{TestApp, request_id, spawn_app_on, spawn_app_with, sse_events, user};

/// The configured organisation is read again on every request, so settings apply at once.
const FRESH_ORG: &str = "[auth]\nkey_cache_secs = 0\n";
/// A model and its catalog prices, USD per million tokens.
struct Priced {
    model: &'static str,
    input: f64,
    output: f64,
}

const GPT_4O: Priced = Priced {
    model: "openai/gpt-4o",
    input: 2.50,
    output: 10.00,
};
const EMBEDDING_3_SMALL: Priced = Priced {
    model: "openai/text-embedding-3-small",
    input: 0.02,
    output: 0.0,
};

async fn set_org(app: &TestApp, change: impl FnOnce(&mut Organization)) {
    let mut org = app.store.get_org(CONFIGURED_ORG_ID).await.unwrap();
    change(&mut org);
    app.store.update_org(&org).await.unwrap();
}

fn story(model: &str, max_tokens: u64) -> Value {
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "messages": user("[[fake words=400]] Tell me a long story."),
    })
}

/// Waits (bounded) until the background reconciliation has brought a counter to `expected`.
async fn counter_reaches(store: &dyn Store, key: &str, window: Timestamp, expected: u64) -> u64 {
    let mut seen = 0;
    for _ in 0..200 {
        seen = store.get(key, window).await.unwrap();
        if seen == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    seen
}

#[tokio::test]
async fn a_request_over_the_per_request_limit_is_refused_before_any_provider_call() {
    let app = spawn_app_with(FRESH_ORG).await;
    set_org(&app, |org| org.spend.limits.per_request_usd = Some(0.001)).await;

    // 1,000 output tokens of gpt-4o can cost $0.01: ten times the limit.
    let response = app.chat(&story("openai/gpt-4o", 1_000)).await;
    assert_eq!(response.status(), 402);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "insufficient_quota");
    assert_eq!(body["error"]["code"], "per_request_limit_exceeded");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("per_request_usd") && message.contains("$0.001"),
        "{message}"
    );
    assert!(app.fake("openai").calls().is_empty(), "no provider call");

    // Within the limit, the same model answers.
    let response = app.chat(&story("openai/gpt-4o", 50)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.fake("openai").calls().len(), 1);
    app.shutdown().await;
}

/// 50 requests at once against a daily limit that pays for about nine: together they never
/// spend more than the limit plus the estimation error, and the counter ends at what they
/// actually cost.
async fn fifty_concurrent_requests_stay_within_the_daily_limit(store: Arc<dyn Store>) {
    const LIMIT_USD: f64 = 0.01;
    let app = spawn_app_on(store, FRESH_ORG).await;
    set_org(&app, |org| org.spend.limits.daily_usd = Some(LIMIT_USD)).await;
    let body = story("openai/gpt-4o", 100);
    let estimated_prompt = (serde_json::to_vec(&body).unwrap().len() / 4) as u64;

    let sends = (0..50).map(|_| app.chat(&body));
    let responses = futures::future::join_all(sends).await;
    let mut admitted = Vec::new();
    let mut refused = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => admitted.push(response.json::<Value>().await.unwrap()["x-llm-gateway"].clone()),
            402 => {
                let error: Value = response.json().await.unwrap();
                assert_eq!(error["error"]["code"], "spend_limit_exceeded");
                let message = error["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains("daily_usd") && message.contains("day "),
                    "{message}"
                );
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    let spent: f64 = admitted
        .iter()
        .map(|r| r["cost"]["total_usd"].as_f64().unwrap())
        .sum();
    // The worst case reserved covers each answer unless the provider counted more prompt
    // tokens than the estimate (body bytes / 4): that excess is the estimation error.
    let estimation_error: f64 = admitted
        .iter()
        .map(|r| {
            let prompt = r["tokens"]["prompt"].as_u64().unwrap();
            prompt.saturating_sub(estimated_prompt) as f64 * GPT_4O.input / 1e6
        })
        .sum();
    let rounding = admitted.len() as f64 * 1e-8;
    assert!(
        spent <= LIMIT_USD + estimation_error + rounding,
        "spent ${spent} of ${LIMIT_USD} (estimation error ${estimation_error})"
    );
    assert!(
        !admitted.is_empty() && refused > 0,
        "{} admitted",
        admitted.len()
    );
    assert_eq!(admitted.len() + refused, 50);
    // Each admitted request reserved about $0.00107: nearly the whole budget is used.
    assert!(spent > LIMIT_USD * 0.8, "spent only ${spent}");
    assert_eq!(app.fake("openai").calls().len(), admitted.len());

    let expected: u64 = admitted
        .iter()
        .map(|r| usd_to_micros(r["cost"]["total_usd"].as_f64().unwrap()))
        .sum();
    let day = period::window(Period::Day, period::time_zone("UTC"), Timestamp::now());
    let key = keys::spend(Period::Day, CONFIGURED_ORG_ID);
    let counted = counter_reaches(app.store.as_ref(), &key, day.start, expected).await;
    assert_eq!(counted, expected, "the counter holds the actual spend");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_stay_within_the_daily_limit_on_sqlite() {
    let store = gateway_store::sqlite::SqliteStore::in_memory()
        .await
        .unwrap();
    fifty_concurrent_requests_stay_within_the_daily_limit(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_stay_within_the_daily_limit_on_dynamodb() {
    const URL_VAR: &str = "LLM_GATEWAY_TEST_DYNAMODB_URL";
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!("{URL_VAR} is not set: this test needs the moto server ./tests/run.sh starts")
    });
    let config = DynamoConfig {
        table: gateway_store::model::id::new_id("spend"),
        endpoint_url: Some(url),
        region: Some("us-east-1".to_owned()),
        credentials: Some(StaticCredentials {
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".to_owned(),
        }),
    };
    let store = DynamoStore::connect(&config).await.unwrap();
    create_table(store.client(), store.table()).await.unwrap();
    fifty_concurrent_requests_stay_within_the_daily_limit(Arc::new(store)).await;
}

#[tokio::test]
async fn auto_leaves_out_models_the_budget_cannot_pay_for() {
    let app = spawn_app_with(FRESH_ORG).await;
    let request = json!({
        "model": "auto",
        "max_tokens": 200,
        "messages": user("Prove that there are infinitely many primes, step by step."),
        // Among the fake's OpenAI models, all served here.
        "x-routing-hints": {
            "priority": "quality",
            "exclude_providers": ["groq", "together", "mistral", "anthropic", "cohere", "gemini", "bedrock"],
        },
    });
    let unlimited: Value = app.chat(&request).await.json().await.unwrap();
    let favourite = unlimited["x-llm-gateway"]["model"]
        .as_str()
        .unwrap_or_else(|| panic!("{unlimited}"))
        .to_owned();
    let catalog = gateway_core::catalog::Catalog::built_in().unwrap();
    let output_price = catalog.get(&favourite).unwrap().output_per_mtok;

    // Half of what the favourite's 200 output tokens alone can cost.
    let limit = 200.0 * output_price / 1e6 / 2.0;
    set_org(&app, |org| org.spend.limits.per_request_usd = Some(limit)).await;
    let limited: Value = app.chat(&request).await.json().await.unwrap();
    let receipt = &limited["x-llm-gateway"];
    assert_ne!(receipt["model"], favourite.as_str(), "{receipt}");
    assert!(
        receipt["routing"]["filtered_out"]["budget"]
            .as_u64()
            .unwrap()
            >= 1,
        "{receipt}"
    );
    assert!(receipt["cost"]["total_usd"].as_f64().unwrap() <= limit);

    // A budget that pays for no model at all is a 402, not "no capable model".
    set_org(&app, |org| org.spend.limits.per_request_usd = Some(0.0)).await;
    let response = app.chat(&request).await;
    assert_eq!(response.status(), 402);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "per_request_limit_exceeded");
    app.shutdown().await;
}

#[tokio::test]
async fn the_platform_fee_is_added_to_the_cost_and_to_spend() {
    let app = spawn_app_with(&format!(
        "{FRESH_ORG}\n[spend]\nplatform_fee_percent = 10\n"
    ))
    .await;
    let receipt: Value = app
        .chat(&story("openai/gpt-4o", 20))
        .await
        .json()
        .await
        .unwrap();
    let cost = &receipt["x-llm-gateway"]["cost"];
    let provider = cost["provider_cost_usd"].as_f64().unwrap();
    let fee = cost["platform_fee_usd"].as_f64().unwrap();
    assert!(provider > 0.0);
    assert!((fee - provider * 0.1).abs() < 1e-8, "{cost}");
    assert!((cost["total_usd"].as_f64().unwrap() - (provider + fee)).abs() < 1e-8);
    assert_eq!(receipt["x-llm-gateway"]["cost_usd"], cost["total_usd"]);
    app.shutdown().await;
}

#[tokio::test]
async fn spend_is_counted_in_the_organisations_own_day() {
    let app = spawn_app_with(FRESH_ORG).await;
    set_org(&app, |org| org.time_zone = "Asia/Tokyo".to_owned()).await;
    let receipt: Value = app
        .chat(&story("openai/gpt-4o", 20))
        .await
        .json()
        .await
        .unwrap();
    let cost = usd_to_micros(
        receipt["x-llm-gateway"]["cost"]["total_usd"]
            .as_f64()
            .unwrap(),
    );

    let now = Timestamp::now();
    let tokyo = period::window(Period::Day, period::time_zone("Asia/Tokyo"), now);
    // Tokyo's day starts at 15:00 UTC.
    assert_eq!(tokyo.start.millis() % 86_400_000, 15 * 3_600_000);
    let key = keys::spend(Period::Day, CONFIGURED_ORG_ID);
    assert_eq!(
        counter_reaches(app.store.as_ref(), &key, tokyo.start, cost).await,
        cost
    );
    let utc_day = period::window(Period::Day, period::time_zone("UTC"), now);
    assert_eq!(app.store.get(&key, utc_day.start).await.unwrap(), 0);
    app.shutdown().await;
}

/// A streamed gpt-4o request whose fake provider follows `directive`.
fn streamed_story(directive: &str) -> Value {
    json!({
        "model": "openai/gpt-4o",
        "messages": user(&format!("{directive} Tell me a story.")),
        "stream": true,
    })
}

/// Checks the stored receipt of an answer cut short (priced on the prompt and what was
/// generated, counted by the gateway, with the reason it ended) and that today's spend counts
/// it. Returns the completion tokens it was billed for.
async fn billed_for_what_was_generated(
    app: &TestApp,
    priced: &Priced,
    request_id: &str,
    code: &str,
    status: u16,
) -> u64 {
    let stored = app.stored_receipt(request_id).await;
    assert_eq!(stored["error"]["code"], code, "{stored}");
    assert_eq!(stored["error"]["status"], status);
    assert_eq!(stored["model"], priced.model);
    let tokens = &stored["tokens"];
    assert_eq!(tokens["counted_by"], "gateway");
    let prompt = tokens["prompt"].as_u64().unwrap();
    let completion = tokens["completion"].as_u64().unwrap();
    assert!(prompt > 0, "{tokens}");
    let cost = stored["cost"]["total_usd"].as_f64().unwrap();
    let expected = (prompt as f64 * priced.input + completion as f64 * priced.output) / 1e6;
    assert!((cost - expected).abs() < 1e-8, "{cost} against {expected}");
    assert!(cost > 0.0);

    let day = period::window(Period::Day, period::time_zone("UTC"), Timestamp::now());
    let key = keys::spend(Period::Day, CONFIGURED_ORG_ID);
    let micros = usd_to_micros(cost);
    assert_eq!(
        counter_reaches(app.store.as_ref(), &key, day.start, micros).await,
        micros
    );
    completion
}

#[tokio::test]
async fn a_stream_its_provider_cuts_short_is_billed_for_what_was_generated() {
    let app = spawn_app_with(FRESH_ORG).await;
    let response = app
        .chat(&streamed_story("[[fake disconnect_after=4]]"))
        .await;
    let id = request_id(&response);
    let body = response.text().await.unwrap();
    let last: Value = serde_json::from_str(sse_events(&body).last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{body}");
    let completion =
        billed_for_what_was_generated(&app, &GPT_4O, &id, "stream_interrupted", 502).await;
    assert!(completion > 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_stream_its_client_leaves_is_billed_for_what_was_generated() {
    let app = spawn_app_with(FRESH_ORG).await;
    let response = app
        .chat(&streamed_story("[[fake words=200 chunk_delay_ms=20]]"))
        .await;
    let id = request_id(&response);
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("content") {
        received.extend_from_slice(&body.next().await.unwrap().unwrap());
    }
    drop(body);
    let completion =
        billed_for_what_was_generated(&app, &GPT_4O, &id, "client_closed_request", 499).await;
    assert!(completion > 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_request_its_client_leaves_is_billed_for_its_prompt() {
    let app = spawn_app_with(FRESH_ORG).await;
    let request = json!({
        "model": "openai/gpt-4o",
        "messages": user("[[fake latency_ms=20000]] Tell me a story."),
    });
    // The client leaves once the provider has the request.
    tokio::select! {
        answered = app.chat(&request) => panic!("answered: {:?}", answered.status()),
        () = app.wait_for_calls("openai", 1) => {}
    }
    let completion = billed_for_leaving(&app, &GPT_4O).await;
    assert_eq!(completion, 0, "nothing was generated that the gateway saw");
    app.shutdown().await;
}

#[tokio::test]
async fn an_embeddings_request_its_client_leaves_is_billed_for_its_input() {
    let app = spawn_app_with(FRESH_ORG).await;
    // Long enough that its price is whole micro-dollars.
    let input = format!(
        "[[fake latency_ms=20000]] {}",
        "Embed these words. ".repeat(3000)
    );
    let request = json!({"model": "openai/text-embedding-3-small", "input": [input, "And this."]});
    tokio::select! {
        answered = app.post("/v1/embeddings", &request) => panic!("answered: {:?}", answered.status()),
        () = app.wait_for_calls("openai", 1) => {}
    }
    billed_for_leaving(&app, &EMBEDDING_3_SMALL).await;
    app.shutdown().await;
}

/// Asserts that the one request sent, whose client left once the provider had it, is logged
/// with status 499 and billed; returns the completion tokens it was billed for.
async fn billed_for_leaving(app: &TestApp, priced: &Priced) -> u64 {
    assert_eq!(
        app.last_outcome("openai").await,
        CallOutcome::ClientDisconnected
    );
    let left = ReceiptQuery {
        status: Some(499),
        ..ReceiptQuery::for_org(CONFIGURED_ORG_ID)
    };
    let mut logged = Vec::new();
    for _ in 0..200 {
        logged = app
            .store
            .query_receipts(&left, Timestamp::now())
            .await
            .unwrap()
            .items;
        if !logged.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let [record] = logged.as_slice() else {
        panic!("one request logged with status 499: {logged:?}");
    };
    assert_eq!(record.model, priced.model);
    billed_for_what_was_generated(
        app,
        priced,
        &record.request_id,
        "client_closed_request",
        499,
    )
    .await
}
