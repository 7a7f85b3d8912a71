//! `auto` through the HTTP surface: every routing hint, in body and header form, the full
//! receipt that explains the choice, and live traffic feeding the ranking.

use serde_json::{Value, json};

use crate::helpers::{KEY, TestApp, spawn_app_with, user};
use crate::stub::Stub;

/// Only models the fake providers serve, so that whichever `auto` picks can answer.
const SERVED: &str = r#"[routing]
allowed_models = [
  "openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4.1", "openai/gpt-4.1-mini",
  "openai/gpt-4.1-nano", "openai/o4-mini", "groq/llama-3.3-70b-versatile",
  "groq/llama-3.1-8b-instant", "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
  "together/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", "mistral/mistral-large-latest",
  "mistral/mistral-small-latest", "anthropic/claude-sonnet-4-6", "anthropic/claude-3-haiku",
  "cohere/command-a-03-2025", "cohere/command-r-08-2024", "gemini/gemini-2.0-flash",
  "gemini/gemini-2.5-flash", "gemini/gemini-2.5-flash-lite", "gemini/gemini-2.5-pro",
]
"#;

async fn auto(app: &TestApp, hints: Value) -> Value {
    let response = app
        .chat(&json!({"model": "auto", "messages": user("Hello"), "x-routing-hints": hints}))
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["x-llm-gateway"].clone()
}

fn candidates(receipt: &Value) -> &Vec<Value> {
    receipt["routing"]["candidates"].as_array().unwrap()
}

#[tokio::test]
async fn every_routing_hint_is_respected() {
    let app = spawn_app_with(SERVED).await;

    let r = auto(&app, json!({"priority": "quality"})).await;
    assert_eq!(r["routing_decision"], "quality_optimized");
    assert_eq!(r["model"], "anthropic/claude-sonnet-4-6");
    let best = candidates(&r)
        .iter()
        .map(|c| c["predicted_quality"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(
        candidates(&r)[0]["predicted_quality"].as_f64().unwrap(),
        best
    );

    let r = auto(&app, json!({"priority": "latency"})).await;
    assert_eq!(r["routing_decision"], "latency_optimized");
    assert_eq!(r["model"], "groq/llama-3.1-8b-instant");
    let fastest = candidates(&r)
        .iter()
        .map(|c| c["estimated_latency_ms"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert_eq!(
        candidates(&r)[0]["estimated_latency_ms"].as_f64().unwrap(),
        fastest
    );

    let r = auto(
        &app,
        json!({"priority": "latency", "exclude_providers": ["groq"]}),
    )
    .await;
    assert_ne!(r["provider"], "groq");
    assert!(candidates(&r).iter().all(|c| c["provider"] != "groq"));
    assert_eq!(r["routing"]["filtered_out"]["provider_excluded"], 2);

    let r = auto(&app, json!({"prefer_providers": ["anthropic"]})).await;
    assert_eq!(r["provider"], "anthropic");
    assert_eq!(r["model"], "anthropic/claude-3-haiku");

    let r = auto(&app, json!({"min_quality_score": 0.85})).await;
    assert_eq!(r["routing_decision"], "cost_optimized");
    // The cheapest of the two models predicted above 0.85.
    assert_eq!(r["model"], "gemini/gemini-2.5-pro");
    for c in candidates(&r) {
        let meets = c["predicted_quality"].as_f64().unwrap() >= 0.85;
        assert_eq!(c["meets_bar"], meets, "{c}");
    }

    let r = auto(&app, json!({"priority": "quality", "max_latency_ms": 1500})).await;
    let winner = &candidates(&r)[0];
    assert_eq!(winner["model"], r["model"]);
    assert!(winner["estimated_latency_ms"].as_f64().unwrap() <= 1500.0);
    assert_eq!(
        r["routing"]["reason"],
        "Highest predicted quality meeting quality >= 0 and latency <= 1500 ms"
    );
}

#[tokio::test]
async fn hints_in_a_header_work_like_the_body_field() {
    let app = spawn_app_with(SERVED).await;
    let response = app
        .client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(KEY)
        .header("x-routing-hints", r#"{"priority": "latency"}"#)
        .json(&json!({"model": "auto", "messages": user("Hello")}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["x-llm-gateway"]["routing_decision"],
        "latency_optimized"
    );
    // The hints are the gateway's: they never reach the provider.
    assert!(app.last_call("groq").body.get("x-routing-hints").is_none());
}

#[tokio::test]
async fn a_malformed_hint_is_a_400_naming_the_field() {
    let app = spawn_app_with(SERVED).await;
    for (hints, param) in [
        (json!({"priority": "fast"}), "x-routing-hints.priority"),
        (
            json!({"min_quality_score": "high"}),
            "x-routing-hints.min_quality_score",
        ),
        (
            json!({"max_latency_ms": 0}),
            "x-routing-hints.max_latency_ms",
        ),
        (
            json!({"exclude_providers": "groq"}),
            "x-routing-hints.exclude_providers",
        ),
        (json!("cost"), "x-routing-hints"),
    ] {
        let response = app
            .chat(&json!({"model": "auto", "messages": user("Hi"), "x-routing-hints": hints}))
            .await;
        assert_eq!(response.status(), 400, "{hints}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["param"], param);
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
    let response = app
        .client
        .post(format!("{}/v1/chat/completions", app.url))
        .bearer_auth(KEY)
        .header("x-routing-hints", "priority=cost")
        .json(&json!({"model": "auto", "messages": user("Hello")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_auto_receipt_explains_the_choice() {
    let app = spawn_app_with(&format!("{SERVED}default_model = \"openai/gpt-4o\"\n")).await;
    let r = auto(&app, json!({})).await;
    let routing = &r["routing"];
    assert_eq!(routing["strategy"], "cost_optimized");
    assert_eq!(routing["winner"], r["model"]);
    assert_eq!(
        routing["candidates_evaluated"].as_u64().unwrap() as usize,
        candidates(&r).len()
    );
    assert_eq!(
        routing["reason"],
        "Lowest estimated cost meeting quality >= 0"
    );
    let first = &candidates(&r)[0];
    for field in [
        "predicted_quality",
        "estimated_cost_usd",
        "estimated_latency_ms",
    ] {
        assert!(first[field].is_number(), "{field}");
    }
    // Sorted by estimated cost.
    let costs: Vec<f64> = candidates(&r)
        .iter()
        .map(|c| c["estimated_cost_usd"].as_f64().unwrap())
        .collect();
    assert!(costs.windows(2).all(|w| w[0] <= w[1]), "{costs:?}");
    assert!(r["cost"]["savings_vs_default_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(r["fallback"], json!({"used": false, "attempts": []}));
}

#[tokio::test]
async fn live_latency_from_real_traffic_feeds_the_ranking() {
    let stub = Stub::start().await;
    // A self-hosted model with no latency priors: assumed slow until traffic shows otherwise.
    let app = spawn_app_with(&stub.section("local", &["fast"])).await;
    let latency = json!({"priority": "latency"});
    assert_ne!(auto(&app, latency.clone()).await["model"], "local/fast");
    for _ in 0..5 {
        let response = app
            .chat(&json!({"model": "local/fast", "stream": true, "messages": user("Hi")}))
            .await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap();
    }
    assert_eq!(auto(&app, latency).await["model"], "local/fast");
    let local = app.model_health("local/fast").await;
    // The five streams and the `auto` request they won.
    assert_eq!(local["stats"]["requests"], 6);
    assert_eq!(local["stats"]["ttft_ms"]["samples"], 5);
    assert!(local["stats"]["ttft_ms"]["p50"].is_number());
    assert_eq!(local["breaker"], "closed");
}

/// A long prompt (its size estimated, not counted, when no window is near) against a model
/// whose context window it just fits, then just misses: `max_tokens` moves the boundary by one
/// token at a time, and the estimate's margin makes the gateway count exactly.
#[tokio::test]
async fn a_long_prompt_one_token_over_a_window_leaves_the_model_out() {
    // A self-hosted model of unknown limits serves whatever the catalog model cannot.
    let stub = Stub::start().await;
    let app = spawn_app_with(&format!(
        "{}[routing]\nallowed_models = [\"groq/llama-3.1-8b-instant\", \"local/any\"]\n",
        stub.section("local", &["any"])
    ))
    .await;
    let text: String = (0..600)
        .map(|i| {
            format!(
                "Line {i}: the breaker opened after {} failures within {} ms; probe {}.\n",
                i % 7,
                i * 13,
                i % 3
            )
        })
        .collect();
    assert!(text.len() > 32 * 1024);
    let body = |max_tokens: u64| json!({"model": "auto", "messages": user(&text), "max_tokens": max_tokens});
    let request: gateway_core::wire::ChatRequest =
        gateway_core::wire::parse_json_body(body(1).to_string().as_bytes()).unwrap();
    let prompt_tokens = gateway_core::tokens::count_prompt(&request.messages);
    // groq/llama-3.1-8b-instant: a 131,072-token window and as many output tokens.
    let room = 131_072 - prompt_tokens;

    let mut left_out = Vec::new();
    for (max_tokens, fits) in [(room, true), (room + 1, false), (room - 1, true)] {
        let response = app.chat(&body(max_tokens)).await;
        let status = response.status();
        let receipt = response.json::<Value>().await.unwrap();
        assert_eq!(status, 200, "max_tokens {max_tokens}: {receipt}");
        let receipt = receipt["x-llm-gateway"].clone();
        let models: Vec<&str> = candidates(&receipt)
            .iter()
            .map(|c| c["model"].as_str().unwrap())
            .collect();
        assert_eq!(
            models.contains(&"groq/llama-3.1-8b-instant"),
            fits,
            "max_tokens {max_tokens}: {models:?}"
        );
        left_out.push(receipt["routing"]["filtered_out"]["context_window"].as_u64());
    }
    // Models with smaller windows are left out each time; those with this one (all 131,072
    // tokens) only the second time.
    assert_eq!(left_out[0], left_out[2]);
    assert!(left_out[1] > left_out[0], "{left_out:?}");
}
