//! HTTP and SSE helpers shared by the integration tests of every dialect.
#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses a different part of it"
)]

use gateway_fakes::{Dialect, FakeOptions, FakeServer};
use reqwest::{Client, Response, StatusCode, header};
use serde_json::Value;

pub const KEY: &str = "sk-fake-test";

/// A fake speaking `dialect` that requires [`KEY`] and serves the given models.
pub async fn start_fake(
    dialect: Dialect,
    models: &[&str],
    embedding_models: &[&str],
) -> FakeServer {
    let owned = |ids: &[&str]| ids.iter().map(|id| (*id).to_owned()).collect();
    let options = FakeOptions {
        api_key: Some(KEY.to_owned()),
        models: owned(models),
        embedding_models: owned(embedding_models),
        ..FakeOptions::default()
    };
    FakeServer::start(dialect, options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

/// POSTs `body` to `path` under the server's `/v1` base URL.
pub async fn post(server: &FakeServer, path: &str, body: Value) -> Response {
    post_url(&format!("{}{path}", server.base_url()), &body).await
}

/// POSTs `body` to `url` with the API key.
pub async fn post_url(url: &str, body: &Value) -> Response {
    client()
        .post(url)
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn chat(server: &FakeServer, body: Value) -> (StatusCode, Value) {
    let response = post(server, "/chat/completions", body).await;
    (response.status(), response.json().await.unwrap())
}

pub async fn embed(server: &FakeServer, body: Value) -> (StatusCode, Value) {
    let response = post(server, "/embeddings", body).await;
    (response.status(), response.json().await.unwrap())
}

/// `body` with the keys of `extra` set.
pub fn with(mut body: Value, extra: Value) -> Value {
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

/// The JSON payloads of a finished SSE body, and whether it ended with `[DONE]`.
pub fn events(body: &str) -> (Vec<Value>, bool) {
    let payloads: Vec<&str> = body
        .split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| event.strip_prefix("data: ").unwrap())
        .collect();
    let done = payloads.last() == Some(&"[DONE]");
    let chunks = payloads
        .iter()
        .filter(|p| **p != "[DONE]")
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    (chunks, done)
}

/// Streams `body` (with `"stream": true` added) and returns its chunks and `[DONE]`.
pub async fn stream(server: &FakeServer, body: Value) -> (Vec<Value>, bool) {
    let response = post(
        server,
        "/chat/completions",
        with(body, serde_json::json!({ "stream": true })),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    events(&response.text().await.unwrap())
}

pub fn streamed_content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}
