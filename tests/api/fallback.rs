//! Fallbacks: failures and timeouts move on to the next model, streams only before their first
//! token, only retryable errors are retried, and every attempt is in the receipt.

use std::time::{Duration, Instant};

use gateway_core::catalog::Catalog;
use serde_json::{Value, json};

use crate::helpers::{KEY, TestApp, request_id, spawn_app_with, sse_chunks, user};
use crate::stub::{Mode, Stub};

/// A test app with a free model `flaky/m` (so `auto` by cost picks it first) served by a stub.
async fn app_with_flaky(routing: &str) -> (TestApp, Stub) {
    let stub = Stub::start().await;
    let toml = format!(
        "{}[routing]\n{routing}\n",
        stub.section("flaky", &["m", "m2"])
    );
    (spawn_app_with(&toml).await, stub)
}

fn receipt(body: &Value) -> &Value {
    &body["x-llm-gateway"]
}

#[tokio::test]
async fn auto_falls_back_to_another_provider_when_the_first_fails() {
    let (app, stub) = app_with_flaky("").await;
    stub.set(Mode::Status(500));
    let response = app
        .chat(&json!({"model": "auto", "messages": user("Hello")}))
        .await;
    assert_eq!(response.status(), 200);
    let header = response.headers()["x-llm-gateway"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(header.contains("fallback=true"), "{header}");
    let body: Value = response.json().await.unwrap();
    let r = receipt(&body);
    assert_eq!(r["routing"]["winner"], "flaky/m");
    assert_eq!(r["fallback_used"], true);
    assert_eq!(r["fallback"]["used"], true);
    let attempts = r["fallback"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["provider"], "flaky");
    assert_eq!(attempts[0]["model"], "flaky/m");
    assert_eq!(attempts[0]["error"], "upstream_error");
    assert!(attempts[0]["latency_ms"].is_u64());
    // The next best candidate, from another provider: the cheapest fake model.
    assert_eq!(r["model"], "groq/llama-3.1-8b-instant");
    assert_eq!(r["execution"]["provider"], "groq");
    assert_eq!(r["execution"]["model"], "llama-3.1-8b-instant");
    assert_eq!(stub.calls(), 1);
    assert_eq!(app.fake("groq").calls().len(), 1);
}

#[tokio::test]
async fn a_timeout_falls_back_after_the_attempt_limit() {
    let (app, stub) = app_with_flaky("attempt_timeout_ms = 300").await;
    stub.set(Mode::Hang);
    let started = Instant::now();
    let body: Value = app
        .chat(&json!({"model": "auto", "messages": user("Hello")}))
        .await
        .json()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let attempts = &receipt(&body)["fallback"]["attempts"];
    assert_eq!(attempts[0]["error"], "upstream_timeout");
    assert!(attempts[0]["latency_ms"].as_u64().unwrap() >= 300);
    assert_eq!(receipt(&body)["provider"], "groq");
}

#[tokio::test]
async fn a_stream_falls_back_when_its_first_token_does_not_come_in_time() {
    let (app, stub) = app_with_flaky("attempt_timeout_ms = 300").await;
    // The stub sends its role chunk at once, then nothing: no token, so no byte has reached
    // the client yet and another model may still answer.
    stub.set(Mode::RoleThenHang);
    let response = app
        .chat(&json!({"model": "auto", "stream": true, "messages": user("Hello")}))
        .await;
    assert_eq!(response.status(), 200);
    let chunks = sse_chunks(&response.text().await.unwrap());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.contains("simulated reply"), "{text}");
    let last = chunks.last().unwrap();
    let r = receipt(last);
    assert_eq!(r["fallback"]["used"], true);
    assert_eq!(r["fallback"]["attempts"][0]["model"], "flaky/m");
    assert_eq!(r["fallback"]["attempts"][0]["error"], "upstream_timeout");
    assert_eq!(r["provider"], "groq");
}

#[tokio::test]
async fn a_stream_that_started_is_not_replaced() {
    let (app, stub) = app_with_flaky("").await;
    stub.set(Mode::Answer);
    let response = app
        .chat(
            &json!({"model": "flaky/m", "stream": true, "messages": user("Hello"),
                       "x-fallback-chain": ["groq/llama-3.1-8b-instant"]}),
        )
        .await;
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert_eq!(receipt(chunks.last().unwrap())["fallback"]["used"], false);
    assert!(app.fake("groq").calls().is_empty());
}

#[tokio::test]
async fn an_error_that_is_the_requests_own_is_not_retried() {
    let (app, stub) = app_with_flaky("").await;
    stub.set(Mode::Status(400));
    let response = app
        .chat(&json!({"model": "auto", "messages": user("Hello")}))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(stub.calls(), 1);
    assert!(app.fake("groq").calls().is_empty());
}

#[tokio::test]
async fn the_requests_fallback_chain_is_followed_in_body_and_header_form() {
    let (app, stub) = app_with_flaky("").await;
    stub.set(Mode::Status(503));
    let body: Value = app
        .chat(&json!({"model": "flaky/m", "messages": user("Hello"),
                       "x-fallback-chain": ["flaky/m2", "mistral/mistral-small-latest"]}))
        .await
        .json()
        .await
        .unwrap();
    let r = receipt(&body);
    assert_eq!(r["routing_decision"], "direct");
    assert_eq!(r["model"], "mistral/mistral-small-latest");
    let tried: Vec<&str> = r["fallback"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["model"].as_str().unwrap())
        .collect();
    assert_eq!(tried, ["flaky/m", "flaky/m2"]);
    assert_eq!(r["fallback"]["attempts"][0]["error"], "upstream_error");
    // The chain is the gateway's: it never reaches the provider.
    assert!(
        app.last_call("mistral")
            .body
            .get("x-fallback-chain")
            .is_none()
    );

    let response = app
        .client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(KEY)
        .header("x-fallback-chain", r#"["groq/llama-3.1-8b-instant"]"#)
        .json(&json!({"model": "flaky/m", "messages": user("Hello")}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(receipt(&body)["model"], "groq/llama-3.1-8b-instant");

    let response = app
        .client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(KEY)
        .header("x-fallback-chain", "groq/llama-3.1-8b-instant")
        .json(&json!({"model": "flaky/m", "messages": user("Hello")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "x-fallback-chain");
}

#[tokio::test]
async fn the_organisations_chain_applies_and_fallback_can_be_turned_off() {
    let (app, stub) = app_with_flaky("fallback_chain = [\"cohere/command-r-08-2024\"]").await;
    stub.set(Mode::Status(502));
    let body: Value = app
        .chat(&json!({"model": "flaky/m", "messages": user("Hello")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(receipt(&body)["model"], "cohere/command-r-08-2024");

    let (app, stub) = app_with_flaky("fallback_enabled = false").await;
    stub.set(Mode::Status(502));
    let response = app
        .chat(&json!({"model": "flaky/m", "messages": user("Hello"),
                       "x-fallback-chain": ["groq/llama-3.1-8b-instant"]}))
        .await;
    assert_eq!(response.status(), 502);
    let header = response.headers()["x-llm-gateway"].to_str().unwrap();
    assert!(header.contains("fallback=false"), "{header}");
    assert!(app.fake("groq").calls().is_empty());
}

#[tokio::test]
async fn the_deadline_bounds_all_attempts_together() {
    let (app, stub) = app_with_flaky("attempt_timeout_ms = 5000\ndeadline_ms = 400").await;
    stub.set(Mode::Hang);
    let started = Instant::now();
    let response = app
        .chat(&json!({"model": "flaky/m", "messages": user("Hello"),
                       "x-fallback-chain": ["flaky/m2"]}))
        .await;
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(stub.calls(), 1);
}

#[tokio::test]
async fn the_receipt_is_exact_and_readable_by_request_id() {
    let (app, _stub) = app_with_flaky("default_model = \"openai/gpt-4o\"").await;
    let response = app
        .chat(&json!({"model": "groq/llama-3.1-8b-instant", "messages": user("Hello")}))
        .await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let r = receipt(&body);
    let (prompt, completion) = (
        body["usage"]["prompt_tokens"].as_u64().unwrap(),
        body["usage"]["completion_tokens"].as_u64().unwrap(),
    );
    let catalog = Catalog::built_in().unwrap();
    let price = |id: &str| {
        let m = catalog.get(id).unwrap();
        (prompt as f64 * m.input_per_mtok + completion as f64 * m.output_per_mtok) / 1e6
    };
    let round = |v: f64| (v * 1e8).round() / 1e8;
    let cost = round(price("groq/llama-3.1-8b-instant"));
    assert_eq!(r["request_id"], request_id.as_str());
    assert_eq!(r["cost_usd"], cost);
    assert_eq!(r["cost"]["provider_cost_usd"], cost);
    assert_eq!(r["cost"]["platform_fee_usd"], 0.0);
    assert_eq!(r["cost"]["total_usd"], cost);
    assert_eq!(
        r["cost"]["savings_vs_default_usd"],
        round(price("openai/gpt-4o") - price("groq/llama-3.1-8b-instant"))
    );
    assert_eq!(
        r["routing"],
        json!({"strategy": "direct", "candidates_evaluated": 0, "candidates": [],
               "winner": "groq/llama-3.1-8b-instant", "reason": "Named by the client"})
    );
    assert_eq!(r["execution"]["tokens"]["prompt"], prompt);
    assert_eq!(r["execution"]["tokens"]["total"], prompt + completion);
    assert_eq!(r["fallback"], json!({"used": false, "attempts": []}));
    let timestamp = r["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == 24,
        "{timestamp}"
    );

    let stored: Value = app
        .get(&format!("/v1/receipts/{request_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(&stored, r);
    let missing = app.get("/v1/receipts/req_unknown").await;
    assert_eq!(missing.status(), 404);
    let anonymous = app
        .client
        .get(format!("{}/v1/receipts/{request_id}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_request_no_model_answered_has_a_receipt_listing_every_attempt() {
    let (app, stub) = app_with_flaky("").await;
    stub.set(Mode::Status(500));
    let response = app
        .chat(&json!({"model": "flaky/m", "messages": user("Hello"),
                       "x-fallback-chain": ["flaky/m2"]}))
        .await;
    assert_eq!(response.status(), 502);
    let header = response.headers()["x-llm-gateway"].to_str().unwrap();
    assert!(header.contains("fallback=true"), "{header}");
    let stored = app.stored_receipt(&request_id(&response)).await;
    let tried: Vec<&str> = stored["fallback"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["model"].as_str().unwrap())
        .collect();
    assert_eq!(tried, ["flaky/m", "flaky/m2"]);
    assert_eq!(stored["fallback"]["used"], true);
    assert_eq!(stored["error"]["status"], 502);
    assert_eq!(stored["error"]["code"], "upstream_error");
    assert_eq!(stored["cost"]["total_usd"], 0.0);
    assert_eq!(stored["tokens"]["total"], 0);
}

#[tokio::test]
async fn a_request_whose_only_attempt_failed_used_no_fallback() {
    let (app, stub) = app_with_flaky("").await;
    stub.set(Mode::Status(400));
    let response = app
        .chat(&json!({"model": "flaky/m", "messages": user("Hello")}))
        .await;
    assert_eq!(response.status(), 400);
    let header = response.headers()["x-llm-gateway"].to_str().unwrap();
    assert!(header.contains("fallback=false"), "{header}");
    let stored = app.stored_receipt(&request_id(&response)).await;
    assert_eq!(stored["fallback_used"], false, "{stored}");
    assert_eq!(stored["fallback"]["used"], false, "{stored}");
    assert_eq!(stored["fallback"]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(stored["error"]["status"], 400);
    assert_eq!(stub.calls(), 1);
}

#[tokio::test]
async fn auto_passes_over_a_model_whose_provider_cannot_take_the_request() {
    let app = spawn_app_with("").await;
    // Cheapest first, `auto` picks Groq, which serves one choice per request.
    for stream in [false, true] {
        let response = app
            .chat(&json!({"model": "auto", "n": 2, "stream": stream, "messages": user("Hello")}))
            .await;
        assert_eq!(response.status(), 200);
        let r = if stream {
            let chunks = sse_chunks(&response.text().await.unwrap());
            let choices: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["index"]).collect();
            assert!(choices.contains(&&json!(1)), "a second choice: {chunks:?}");
            chunks.last().unwrap()["x-llm-gateway"].clone()
        } else {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["choices"].as_array().unwrap().len(), 2, "{body}");
            receipt(&body).clone()
        };
        assert_eq!(r["routing"]["winner"], "groq/llama-3.1-8b-instant", "{r}");
        let attempts = r["fallback"]["attempts"].as_array().unwrap();
        assert_eq!(attempts[0]["model"], "groq/llama-3.1-8b-instant");
        assert_eq!(attempts[0]["error"], "unsupported_parameter");
        assert_ne!(r["provider"], "groq");
    }
    assert!(app.fake("groq").calls().is_empty(), "Groq was never called");
    let groq = app.model_health("groq/llama-3.1-8b-instant").await;
    assert_eq!(groq["stats"]["failures"], 0, "{groq}");
    assert_eq!(groq["breaker"], "closed");

    // A client that names the model gets its refusal.
    let named = app
        .chat(&json!({"model": "groq/llama-3.1-8b-instant", "n": 2, "messages": user("Hello")}))
        .await;
    assert_eq!(named.status(), 400);
    let error: Value = named.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unsupported_parameter");
    assert_eq!(error["error"]["param"], "n");
}

#[tokio::test]
async fn a_model_passed_over_is_no_attempt_of_the_limit() {
    let app = spawn_app_with("[routing]\nmax_attempts = 1\n").await;
    let response = app
        .chat(&json!({"model": "auto", "n": 3, "messages": user("Hello")}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"].as_array().unwrap().len(), 3, "{body}");
    let attempts = receipt(&body)["fallback"]["attempts"].as_array().unwrap();
    assert!(!attempts.is_empty());
    for attempt in attempts {
        assert_eq!(attempt["error"], "unsupported_parameter", "{attempt}");
    }
}
