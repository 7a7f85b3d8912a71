//! Circuit breakers seen from outside: a failing model is cut off, probed after its cooldown,
//! restored on success, cut off again on failure; `auto` and fallback chains skip it meanwhile.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with, user};
use crate::stub::{Mode, Stub};

const COOLDOWN: Duration = Duration::from_millis(400);

async fn app() -> (TestApp, Stub) {
    let stub = Stub::start().await;
    let toml = format!(
        "{}[routing]\nfallback_enabled = false\n[routing.breaker]\nconsecutive_failures = 2\n\
         cooldown_ms = {}\n",
        stub.section("flaky", &["m"]),
        COOLDOWN.as_millis()
    );
    (spawn_app_with(&toml).await, stub)
}

async fn call(app: &TestApp) -> reqwest::Response {
    app.chat(&json!({"model": "flaky/m", "messages": user("Hello")}))
        .await
}

async fn breaker(app: &TestApp) -> Value {
    app.model_health("flaky/m").await["breaker"].clone()
}

async fn open_the_breaker(app: &TestApp, stub: &Stub) {
    stub.set(Mode::Status(500));
    for _ in 0..2 {
        assert_eq!(call(app).await.status(), 502);
    }
    assert_eq!(breaker(app).await, "open");
}

#[tokio::test]
async fn consecutive_failures_open_the_breaker_and_a_probe_closes_it() {
    let (app, stub) = app().await;
    open_the_breaker(&app, &stub).await;

    let refused = call(&app).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "circuit_open");
    assert_eq!(
        stub.calls(),
        2,
        "an open breaker does not call the provider"
    );

    tokio::time::sleep(COOLDOWN + Duration::from_millis(100)).await;
    assert_eq!(breaker(&app).await, "half_open");
    stub.set(Mode::Answer);
    assert_eq!(call(&app).await.status(), 200);
    assert_eq!(breaker(&app).await, "closed");
    assert_eq!(stub.calls(), 3);
}

#[tokio::test]
async fn a_failed_probe_opens_the_breaker_again() {
    let (app, stub) = app().await;
    open_the_breaker(&app, &stub).await;
    tokio::time::sleep(COOLDOWN + Duration::from_millis(100)).await;
    assert_eq!(call(&app).await.status(), 502);
    assert_eq!(breaker(&app).await, "open");
    assert_eq!(call(&app).await.status(), 503);
    assert_eq!(stub.calls(), 3);
}

#[tokio::test]
async fn auto_and_fallback_chains_skip_a_model_whose_breaker_is_open() {
    let stub = Stub::start().await;
    let toml = format!(
        "{}[routing.breaker]\nconsecutive_failures = 1\ncooldown_ms = 60000\n",
        stub.section("flaky", &["m"])
    );
    let app = spawn_app_with(&toml).await;
    stub.set(Mode::Status(500));
    // The free model wins `auto`, fails, and the request falls back.
    let body: Value = app
        .chat(&json!({"model": "auto", "messages": user("Hello")}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["x-llm-gateway"]["fallback_used"], true);

    let body: Value = app
        .chat(&json!({"model": "auto", "messages": user("Hello")}))
        .await
        .json()
        .await
        .unwrap();
    let r = &body["x-llm-gateway"];
    assert_eq!(r["routing"]["filtered_out"]["circuit_open"], 1);
    assert_eq!(r["fallback_used"], false);

    let body: Value = app
        .chat(&json!({"model": "flaky/m", "messages": user("Hello"),
                       "x-fallback-chain": ["groq/llama-3.1-8b-instant"]}))
        .await
        .json()
        .await
        .unwrap();
    let r = &body["x-llm-gateway"];
    assert_eq!(r["model"], "groq/llama-3.1-8b-instant");
    assert_eq!(r["fallback"]["attempts"][0]["error"], "circuit_open");
    assert_eq!(r["fallback"]["attempts"][0]["latency_ms"], 0);
    assert_eq!(stub.calls(), 1);
}
