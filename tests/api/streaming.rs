use std::time::{Duration, Instant};

use futures::StreamExt;
use gateway_fakes::CallOutcome;
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with, sse_chunks, sse_events, user};

fn content_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn a_stream_ends_with_done_and_its_last_chunk_carries_the_receipt() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": "openai/gpt-4o", "messages": user("Tell me a story"), "stream": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(response.headers().contains_key("x-request-id"));
    assert!(
        response.headers()["x-llm-gateway"]
            .to_str()
            .unwrap()
            .contains("model=openai/gpt-4o")
    );
    let body = response.text().await.unwrap();
    let events = sse_events(&body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks = sse_chunks(&body);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(content_of(&chunks).contains("Tell me a story"));
    let last = chunks.last().unwrap();
    assert!(
        !last["choices"].as_array().unwrap().is_empty(),
        "the docs' `chunk.choices[0]` loop must not break"
    );
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["x-llm-gateway"]["model"], "openai/gpt-4o");
    assert!(last["x-llm-gateway"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(
        chunks
            .iter()
            .filter(|c| c.get("x-llm-gateway").is_some())
            .count(),
        1
    );
    // The gateway asked for usage for its receipt, but the client did not: no usage chunk.
    assert!(
        chunks
            .iter()
            .all(|c| !c["choices"].as_array().unwrap().is_empty())
    );
    assert_eq!(
        app.last_call("openai").body["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test]
async fn stream_content_matches_the_non_stream_answer() {
    let app = spawn_app().await;
    let request =
        json!({"model": "groq/llama-3.1-8b-instant", "messages": user("Same words please")});
    let plain: Value = app.chat(&request).await.json().await.unwrap();
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let body = app.chat(&streamed).await.text().await.unwrap();
    assert_eq!(
        content_of(&sse_chunks(&body)),
        plain["choices"][0]["message"]["content"].as_str().unwrap()
    );
}

#[tokio::test]
async fn include_usage_gives_exactly_one_usage_chunk_with_the_receipt() {
    let app = spawn_app().await;
    for (provider, model) in [
        ("openai", "openai/gpt-4o"),
        ("groq", "groq/llama-3.1-8b-instant"),
        ("mistral", "mistral/mistral-small-latest"),
        (
            "together",
            "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        ),
    ] {
        let body = app
            .chat(
                &json!({"model": model, "messages": user("Count my tokens"), "stream": true,
                           "stream_options": {"include_usage": true}}),
            )
            .await
            .text()
            .await
            .unwrap();
        let chunks = sse_chunks(&body);
        let with_usage: Vec<&Value> = chunks.iter().filter(|c| c["usage"].is_object()).collect();
        assert_eq!(with_usage.len(), 1, "{provider}: {body}");
        let last = chunks.last().unwrap();
        assert!(
            last["usage"]["total_tokens"].as_u64().unwrap() > 0,
            "{provider}"
        );
        assert!(last.get("x-llm-gateway").is_some(), "{provider}");
        let _ = provider;
    }
}

#[tokio::test]
async fn usage_is_counted_by_the_gateway_when_a_stream_omits_it() {
    let app = spawn_app().await;
    let body = app
        .chat(
            &json!({"model": "openai/gpt-4o", "messages": user("[[fake omit_usage]] Hello there"),
                       "stream": true, "stream_options": {"include_usage": true}}),
        )
        .await
        .text()
        .await
        .unwrap();
    let chunks = sse_chunks(&body);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["prompt_tokens"].as_u64().unwrap() > 3);
    assert!(last["usage"]["completion_tokens"].as_u64().unwrap() > 3);
    assert_eq!(last["x-llm-gateway"]["tokens"]["counted_by"], "gateway");
}

#[tokio::test]
async fn streamed_tool_call_deltas_reassemble_to_the_non_stream_arguments() {
    let app = spawn_app().await;
    let request = json!({"model": "openai/gpt-4o", "messages": user("Weather in Paris?"),
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"]}}}]});
    let plain: Value = app.chat(&request).await.json().await.unwrap();
    let expected = plain["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let chunks = sse_chunks(&app.chat(&streamed).await.text().await.unwrap());
    let arguments: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]["tool_calls"].get(0)?["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(arguments, expected);
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
}

#[tokio::test]
async fn chunks_reach_the_client_as_the_provider_sends_them() {
    let app = spawn_app().await;
    let started = Instant::now();
    let response = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("[[fake words=6 chunk_delay_ms=150]]"), "stream": true}))
        .await;
    let mut body = response.bytes_stream();
    let mut arrivals = Vec::new();
    while let Some(piece) = body.next().await {
        let piece = piece.unwrap();
        if piece.windows(6).any(|w| w == b"data: ") {
            arrivals.push(started.elapsed());
        }
    }
    assert!(arrivals.len() >= 6, "{arrivals:?}");
    // Unbuffered: the first chunk arrives long before the last (8 delays of 150 ms apart).
    let spread = *arrivals.last().unwrap() - arrivals[0];
    assert!(spread >= Duration::from_millis(600), "{arrivals:?}");
}

#[tokio::test]
async fn an_upstream_dying_mid_stream_ends_with_an_error_event() {
    let app = spawn_app().await;
    let body = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("[[fake disconnect_after=3]]"), "stream": true}))
        .await
        .text()
        .await
        .unwrap();
    let events = sse_events(&body);
    assert_ne!(events.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{body}");
    assert_eq!(last["error"]["type"], "api_error");
}

#[tokio::test]
async fn a_stalled_stream_ends_with_a_timeout_error_event() {
    let app = spawn_app_with("[upstream]\nidle_timeout_ms = 300\n").await;
    let body = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("[[fake stall_after=2]]"), "stream": true}))
        .await
        .text()
        .await
        .unwrap();
    let events = sse_events(&body);
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_timeout", "{body}");
    assert_eq!(
        app.last_outcome("openai").await,
        CallOutcome::ClientDisconnected
    );
}

#[tokio::test]
async fn a_provider_that_fails_before_its_first_chunk_gets_a_proper_status() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("[[fake status=429 retry_after=3]]"), "stream": true}))
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_stream() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": "openai/gpt-4o", "messages": user("[[fake words=200 chunk_delay_ms=50]]"), "stream": true}))
        .await;
    let mut body = response.bytes_stream();
    let _first = body.next().await;
    drop(body);
    assert_eq!(
        app.last_outcome("openai").await,
        CallOutcome::ClientDisconnected
    );
}
