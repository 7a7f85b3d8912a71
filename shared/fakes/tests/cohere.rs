//! The Cohere fake over real HTTP: it takes the requests Cohere documents, refuses what
//! Cohere's spec refuses (with Cohere's `{"id", "message"}` body), streams Cohere's named
//! events, and fails loudly on anything it does not implement.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions; a panic here is a failed test"
)]

mod common;

use std::path::Path;

use common::{KEY, client, post_url, start_fake};
use gateway_fakes::{Dialect, FakeServer};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

async fn cohere() -> FakeServer {
    start_fake(Dialect::Cohere, &[], &[]).await
}

async fn call(server: &FakeServer, path: &str, body: Value) -> (StatusCode, Value) {
    let response = post_url(&format!("{}{path}", server.base_url()), &body).await;
    (response.status(), response.json().await.unwrap())
}

fn ask(text: &str) -> Value {
    json!({"model": "command-a-03-2025", "messages": [{"role": "user", "content": text}]})
}

/// The Cohere bodies of the translation suite's request cases: Cohere's documented examples.
fn documented_requests() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers/tests/cases/cohere");
    let mut found: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("request-")
        })
        .map(|p| {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p.display().to_string(), case["expect"].clone())
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(found.len() >= 5);
    found
}

#[tokio::test]
async fn documented_requests_are_answered() {
    let server = cohere().await;
    for (name, body) in documented_requests() {
        let response = post_url(&format!("{}/v2/chat", server.base_url()), &body).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let text = response.text().await.unwrap();
        if body["stream"] == true {
            assert!(text.starts_with("event: message-start\n"), "{name}");
            assert!(text.ends_with("data: [DONE]\n\n"), "{name}");
        } else {
            let answer: Value = serde_json::from_str(&text).unwrap();
            assert!(answer["id"].is_string(), "{name}");
            assert_eq!(answer["message"]["role"], "assistant", "{name}");
            assert!(
                answer["usage"]["tokens"]["input_tokens"].as_u64().unwrap() > 0,
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn streams_are_named_events_that_match_the_json_answer() {
    let server = cohere().await;
    let (_, answer) = call(&server, "/v2/chat", ask("Hello [[fake words=6]]")).await;
    let mut streamed = ask("Hello [[fake words=6]]");
    streamed["stream"] = json!(true);
    let response = post_url(&format!("{}/v2/chat", server.base_url()), &streamed).await;
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let body = response.text().await.unwrap();
    let mut text = String::new();
    let mut names = Vec::new();
    for event in body.split("\n\n").filter(|e| !e.is_empty()) {
        let Some((name, data)) = event
            .strip_prefix("event: ")
            .and_then(|e| e.split_once("\ndata: "))
        else {
            assert_eq!(event, "data: [DONE]");
            continue;
        };
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(data["type"], name);
        names.push(name.to_owned());
        if let Some(t) = data["delta"]["message"]["content"]["text"].as_str() {
            text.push_str(t);
        }
        if name == "message-end" {
            assert_eq!(data["delta"]["finish_reason"], "COMPLETE");
            assert_eq!(data["delta"]["usage"], answer["usage"]);
        }
    }
    assert_eq!(
        text,
        answer["message"]["content"][0]["text"].as_str().unwrap()
    );
    assert_eq!(names.first().map(String::as_str), Some("message-start"));
    assert_eq!(names.last().map(String::as_str), Some("message-end"));
}

#[tokio::test]
async fn tool_calls_stream_their_arguments_in_fragments() {
    let server = cohere().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let mut request = ask("Weather?");
    request["tools"] = tools;
    let (_, answer) = call(&server, "/v2/chat", request.clone()).await;
    assert_eq!(answer["finish_reason"], "TOOL_CALL");
    let expected = answer["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap()
        .to_owned();
    request["stream"] = json!(true);
    let body = post_url(&format!("{}/v2/chat", server.base_url()), &request)
        .await
        .text()
        .await
        .unwrap();
    let arguments: String = body
        .split("\n\n")
        .filter_map(|e| e.split_once("\ndata: ").map(|(_, d)| d))
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|d| d["type"] == "tool-call-delta")
        .map(|d| {
            d["delta"]["message"]["tool_calls"]["function"]["arguments"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(arguments, expected);
}

#[tokio::test]
async fn what_cohere_refuses_is_refused_in_its_shape() {
    let server = cohere().await;
    let with = |extra: Value| {
        let mut body = ask("hi");
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (body, field) in [
        (with(json!({"top_p": 0.5})), "top_p"),
        (with(json!({"temperature": 1.5})), "temperature"),
        (with(json!({"p": 1.0})), "p"),
        (with(json!({"tool_choice": "REQUIRED"})), "tool_choice"),
        (
            with(json!({"tool_choice": "required", "tools": []})),
            "tool_choice",
        ),
        (
            with(json!({"stop_sequences": ["a", "b", "c", "d", "e", "f"]})),
            "stop_sequences",
        ),
        (
            with(json!({"response_format": {"type": "json_schema"}})),
            "response_format",
        ),
        (
            json!({"model": "m", "messages": [{"role": "developer", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x", "name": "bob"}]}),
            "messages[0].name",
        ),
        (
            json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "t9", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (
            json!({"model": "m", "messages": "must be an array"}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}]}),
            "model",
        ),
    ] {
        let (status, error) = call(&server, "/v2/chat", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert!(error["id"].is_string(), "{field}");
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "{field}: {error}"
        );
    }
}

#[tokio::test]
async fn unknown_calls_fail_loudly() {
    let server = cohere().await;
    let (status, error) = call(&server, "/v1/chat/completions", ask("hi")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("/v1/chat/completions")
    );
    let response = client()
        .get(format!("{}/v2/chat", server.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
    let response = client()
        .post(format!("{}/v2/chat", server.base_url()))
        .json(&ask("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let served = start_fake(Dialect::Cohere, &["command-a-03-2025"], &[]).await;
    let mut other = ask("hi");
    other["model"] = json!("command-x");
    let (status, error) = call(&served, "/v2/chat", other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error["message"].as_str().unwrap().contains("command-x"));
}

#[tokio::test]
async fn a_status_directive_answers_with_that_error_and_retry_after() {
    let server = cohere().await;
    let response = post_url(
        &format!("{}/v2/chat", server.base_url()),
        &ask("[[fake status=429 retry_after=5]]"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].is_string() && body["id"].is_string());
}

#[tokio::test]
async fn embed_takes_cohere_requests_only() {
    let server = cohere().await;
    let (status, answer) = call(
        &server,
        "/v2/embed",
        json!({"texts": ["hello", "goodbye"], "model": "embed-v4.0", "input_type": "classification", "embedding_types": ["float"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let vectors = answer["embeddings"]["float"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0].as_array().unwrap().len(), 1536);
    assert!(
        answer["meta"]["billed_units"]["input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let (_, again) = call(
        &server,
        "/v2/embed",
        json!({"texts": ["hello"], "model": "embed-v4.0", "input_type": "search_document", "output_dimension": 256}),
    )
    .await;
    assert_eq!(
        again["embeddings"]["float"][0].as_array().unwrap().len(),
        256
    );
    for (body, field) in [
        (json!({"texts": ["x"], "model": "embed-v4.0"}), "input_type"),
        (
            json!({"input": ["x"], "model": "embed-v4.0", "input_type": "search_query"}),
            "input",
        ),
        (
            json!({"texts": [], "model": "embed-v4.0", "input_type": "search_query"}),
            "texts",
        ),
        (
            json!({"texts": ["x"], "model": "embed-english-v3.0", "input_type": "search_query", "output_dimension": 256}),
            "output_dimension",
        ),
    ] {
        let (status, error) = call(&server, "/v2/embed", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "{field}: {error}"
        );
    }
}
