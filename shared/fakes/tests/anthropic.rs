//! The Anthropic fake over real HTTP: Messages answers and named stream events, the headers
//! Anthropic requires, its validation rules and its error shape.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions; a panic here is a failed test"
)]

mod common;

use common::{KEY, client, start_fake};
use gateway_fakes::{Dialect, FakeServer};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

const MODEL: &str = "claude-sonnet-4-6";

async fn fake() -> FakeServer {
    start_fake(Dialect::Anthropic, &[MODEL], &[]).await
}

fn messages(server: &FakeServer) -> RequestBuilder {
    client()
        .post(format!("{}/v1/messages", server.base_url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
}

fn ask(text: &str) -> Value {
    json!({"model": MODEL, "max_tokens": 1024, "messages": [{"role": "user", "content": text}]})
}

async fn send(request: RequestBuilder, body: &Value) -> (StatusCode, Value) {
    let response = request.json(body).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// `(event name, data)` of a finished SSE body.
fn named_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            (
                name.strip_prefix("event: ").unwrap().to_owned(),
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
            )
        })
        .collect()
}

fn assert_anthropic_error(status: StatusCode, body: &Value, want: u16, kind: &str, text: &str) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(text),
        "{body}"
    );
}

#[tokio::test]
async fn a_message_answers_with_anthropics_shape() {
    let server = fake().await;
    let (status, body) = send(messages(&server), &ask("Hello, Claude")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        body["content"][0]["text"],
        "This is a simulated reply from claude-sonnet-4-6. You said: Hello, Claude"
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["usage"]["output_tokens"], 11, "one per word");
    assert_eq!(server.base_url(), format!("http://{}", server.addr()));
}

#[tokio::test]
async fn a_stream_sends_the_documented_events_in_order() {
    let server = fake().await;
    let response = messages(&server)
        .json(&json!({"model": MODEL, "max_tokens": 5, "stream": true,
            "messages": [{"role": "user", "content": "[[fake words=9]]"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = named_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str());
    }
    assert!(
        events[0].1["message"]["usage"]["input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let delta = &events[9].1;
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"], json!({"output_tokens": 5}));
}

#[tokio::test]
async fn tool_input_streams_as_json_fragments() {
    let server = fake().await;
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let (_, whole) = send(
        messages(&server),
        &json!({"model": MODEL, "max_tokens": 100, "tools": tools, "messages": [{"role": "user", "content": "Weather?"}]}),
    )
    .await;
    assert_eq!(whole["stop_reason"], "tool_use");
    let call = &whole["content"][0];
    assert_eq!(call["type"], "tool_use");
    let response = messages(&server)
        .json(
            &json!({"model": MODEL, "max_tokens": 100, "tools": tools, "stream": true,
            "messages": [{"role": "user", "content": "Weather?"}]}),
        )
        .send()
        .await
        .unwrap();
    let events = named_events(&response.text().await.unwrap());
    let start = events
        .iter()
        .find(|(n, _)| n == "content_block_start")
        .unwrap();
    assert_eq!(start.1["content_block"]["id"], call["id"]);
    let input: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        call["input"]
    );
}

#[tokio::test]
async fn headers_are_checked_as_anthropic_checks_them() {
    let server = fake().await;
    let url = format!("{}/v1/messages", server.base_url());
    let (status, body) = send(
        client()
            .post(&url)
            .header("anthropic-version", "2023-06-01"),
        &ask("hi"),
    )
    .await;
    assert_anthropic_error(status, &body, 401, "authentication_error", "x-api-key");
    let (status, body) = send(
        client()
            .post(&url)
            .bearer_auth(KEY)
            .header("anthropic-version", "2023-06-01"),
        &ask("hi"),
    )
    .await;
    assert_anthropic_error(status, &body, 401, "authentication_error", "x-api-key");
    let (status, body) = send(client().post(&url).header("x-api-key", KEY), &ask("hi")).await;
    assert_anthropic_error(
        status,
        &body,
        400,
        "invalid_request_error",
        "anthropic-version",
    );
}

#[tokio::test]
async fn invalid_bodies_are_refused_naming_the_field() {
    let server = fake().await;
    let user = |content: Value| json!({"role": "user", "content": content});
    let cases = [
        (
            json!({"model": MODEL, "messages": [user(json!("hi"))]}),
            "max_tokens: Field required",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "temperature": 1.5, "messages": [user(json!("hi"))]}),
            "temperature",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "max_token": 5, "messages": [user(json!("hi"))]}),
            "max_token: Extra inputs",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
            "messages.0.role",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "messages": [user(json!([{"type": "text", "text": ""}]))]}),
            "messages.0.content.0.text",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "messages": [user(json!(""))]}),
            "non-empty content",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi", "name": "x"}]}),
            "messages.0.name: Extra inputs",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "messages": [user(json!([{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AA=="}}]))]}),
            "media_type",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "tools": [{"name": "f", "input_schema": {"type": "object"}}], "messages": [
            user(json!("hi")),
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
            user(json!("no result"))]}),
            "without `tool_result`",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "messages": [
            user(json!("hi")),
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
            user(json!([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]))]}),
            "must define tools",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "tool_choice": {"type": "any"}, "messages": [user(json!("hi"))]}),
            "no tools",
        ),
        (
            json!({"model": MODEL, "max_tokens": 5, "messages": [user(json!("[[fake nonsense]]"))]}),
            "nonsense",
        ),
    ];
    for (request, text) in cases {
        let (status, body) = send(messages(&server), &request).await;
        assert_anthropic_error(status, &body, 400, "invalid_request_error", text);
    }
    let (status, body) = send(
        messages(&server),
        &json!({"model": "claude-nope", "max_tokens": 5, "messages": [user(json!("hi"))]}),
    )
    .await;
    assert_anthropic_error(status, &body, 404, "not_found_error", "claude-nope");
}

#[tokio::test]
async fn directives_give_anthropics_errors() {
    let server = fake().await;
    let (status, body) = send(messages(&server), &ask("[[fake status=529]]")).await;
    assert_anthropic_error(status, &body, 529, "overloaded_error", "Overloaded");
    let response = messages(&server)
        .json(&ask("[[fake status=429 retry_after=4]]"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "4");
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_anthropic_error(status, &body, 429, "rate_limit_error", "rate limit");
}

#[tokio::test]
async fn other_paths_and_the_beta_api_are_not_served() {
    let server = fake().await;
    for path in [
        "/v1/complete",
        "/v1/messages/count_tokens",
        "/v1/messages?beta=true",
    ] {
        let (status, body) = send(
            client()
                .post(format!("{}{path}", server.base_url()))
                .header("x-api-key", KEY)
                .header("anthropic-version", "2023-06-01"),
            &ask("hi"),
        )
        .await;
        assert_anthropic_error(status, &body, 404, "not_found_error", "Not found");
    }
    let response = client()
        .get(format!("{}/v1/models", server.base_url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"][0]["id"], MODEL);
    assert_eq!(body["data"][0]["type"], "model");
}
