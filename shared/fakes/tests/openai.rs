//! The OpenAI fake over real HTTP, as the gateway's tests and demo mode use it.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions; a panic here is a failed test"
)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{KEY, chat, client, post, post_url, start_fake, stream, streamed_content, with};
use gateway_fakes::{CallOutcome, Dialect, FakeOptions, FakeServer, RecordedCall};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

const MODEL: &str = "gpt-4o-mini";
/// Upper bound for anything the tests wait on; generous so slow CI machines pass.
const PATIENCE: Duration = Duration::from_secs(15);

async fn start() -> FakeServer {
    start_fake(
        Dialect::OpenAi,
        &[MODEL],
        &["text-embedding-3-small", "text-embedding-ada-002"],
    )
    .await
}

fn ask(text: &str) -> Value {
    json!({ "model": MODEL, "messages": [{ "role": "user", "content": text }] })
}

/// Polls the call log until call `index` has `outcome`.
async fn outcome_of(server: &FakeServer, index: usize, outcome: CallOutcome) -> RecordedCall {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let call = server.calls().get(index).cloned();
        match call {
            Some(call) if call.outcome == outcome => return call,
            _ if tokio::time::Instant::now() > deadline => {
                panic!("call {index} never became {outcome:?}: {call:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test]
async fn replies_deterministically_like_openai() {
    let server = start().await;
    let (status, body) = chat(&server, ask("Hello there")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["system_fingerprint"], "fp_fake");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(
        choice["message"],
        json!({
            "role": "assistant",
            "content": "This is a simulated reply from gpt-4o-mini. You said: Hello there",
            "refusal": null
        })
    );
    let usage = &body["usage"];
    assert_eq!(usage["completion_tokens"], 11);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    let (_, again) = chat(&server, ask("Hello there")).await;
    assert_eq!(again["choices"], body["choices"]);
    assert_eq!(again["usage"], body["usage"]);
    assert_eq!(server.calls()[0].outcome, CallOutcome::Completed);
    assert_eq!(
        server.calls()[0].authorization.as_deref(),
        Some("Bearer sk-fake-test")
    );
    assert_eq!(server.calls()[0].body, ask("Hello there"));
    server.shutdown().await;
}

#[tokio::test]
async fn serves_any_path_prefix() {
    let server = start().await;
    let root = format!("http://{}", server.addr());
    for path in [
        "/v1/chat/completions",
        "/openai/v1/chat/completions",
        "/chat/completions",
    ] {
        let response = post_url(&format!("{root}{path}"), &ask("hi")).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn honours_n_logprobs_stop_and_max_tokens() {
    let server = start().await;
    let (_, body) = chat(
        &server,
        with(
            ask("one two three"),
            json!({ "n": 2, "logprobs": true, "top_logprobs": 2 }),
        ),
    )
    .await;
    let choices = body["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    assert_eq!(choices[1]["index"], 1);
    let logprobs = choices[0]["logprobs"]["content"].as_array().unwrap();
    let tokens: String = logprobs
        .iter()
        .map(|entry| entry["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, choices[0]["message"]["content"].as_str().unwrap());
    assert_eq!(logprobs[0]["top_logprobs"].as_array().unwrap().len(), 2);
    assert!(logprobs[0]["logprob"].as_f64().unwrap() < 0.0);

    let (_, body) = chat(
        &server,
        with(ask("one two three"), json!({ "stop": ["simulated", "x"] })),
    )
    .await;
    assert_eq!(body["choices"][0]["message"]["content"], "This is a ");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");

    let (_, body) = chat(
        &server,
        with(ask("one two three"), json!({ "max_completion_tokens": 4 })),
    )
    .await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "This is a simulated"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 4);
    server.shutdown().await;
}

#[tokio::test]
async fn json_modes_produce_parseable_json() {
    let server = start().await;
    let (_, body) = chat(
        &server,
        with(
            ask("answer in json"),
            json!({ "response_format": { "type": "json_object" } }),
        ),
    )
    .await;
    let content: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(
        content["reply"]
            .as_str()
            .unwrap()
            .contains("answer in json")
    );

    let (status, body) = chat(
        &server,
        with(
            ask("no keyword"),
            json!({ "response_format": { "type": "json_object" } }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "messages");

    let schema = json!({
        "type": "object",
        "properties": { "city": { "type": "string" }, "days": { "type": "integer" }, "unit": { "enum": ["c", "f"] } },
        "required": ["city", "days", "unit"],
        "additionalProperties": false
    });
    let format = json!({ "type": "json_schema", "json_schema": { "name": "forecast", "schema": schema, "strict": true } });
    let (_, body) = chat(
        &server,
        with(ask("forecast"), json!({ "response_format": format })),
    )
    .await;
    let content: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        content,
        json!({ "city": "example", "days": 1, "unit": "c" })
    );
    server.shutdown().await;
}

#[tokio::test]
async fn stream_deltas_concatenate_to_the_reply() {
    let server = start().await;
    let (_, whole) = chat(&server, ask("Stream  me\nplease")).await;
    let (chunks, done) = stream(&server, ask("Stream  me\nplease")).await;
    assert!(done);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({ "role": "assistant", "content": "" })
    );
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], chunks[0]["id"]);
        assert!(chunk.get("usage").is_none());
    }
    assert_eq!(
        streamed_content(&chunks),
        whole["choices"][0]["message"]["content"].as_str().unwrap()
    );
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks.len(), 1 + 12 + 1, "role, one per word, finish");
    outcome_of(&server, 1, CallOutcome::Completed).await;
    server.shutdown().await;
}

#[tokio::test]
async fn include_usage_adds_a_final_usage_chunk() {
    let server = start().await;
    let (_, whole) = chat(&server, ask("count me")).await;
    let (chunks, done) = stream(
        &server,
        with(
            ask("count me"),
            json!({ "stream_options": { "include_usage": true } }),
        ),
    )
    .await;
    assert!(done);
    let (last, rest) = chunks.split_last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], whole["usage"]);
    assert!(
        rest.iter()
            .all(|chunk| chunk["usage"] == Value::Null && chunk.get("usage").is_some())
    );

    let (chunks, _) = stream(
        &server,
        with(
            ask("[[fake omit_usage]]"),
            json!({ "stream_options": { "include_usage": true } }),
        ),
    )
    .await;
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));
    let (_, body) = chat(&server, ask("[[fake omit_usage]]")).await;
    assert!(body.get("usage").is_none());
    server.shutdown().await;
}

fn weather_tools() -> Value {
    json!([
        { "type": "function", "function": {
            "name": "get_weather",
            "parameters": { "type": "object", "properties": {
                "city": { "type": "string" }, "days": { "type": "integer", "minimum": 3 }
            }, "required": ["city", "days"] }
        }},
        { "type": "function", "function": { "name": "get_time", "parameters": { "type": "object", "properties": {} } } }
    ])
}

/// `(id, name, arguments)` of each call, reassembled from stream deltas by index.
fn streamed_calls(chunks: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for chunk in chunks {
        for call in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = call["index"].as_u64().unwrap() as usize;
            if index == calls.len() {
                calls.push(Default::default());
            }
            let entry = &mut calls[index];
            if let Some(id) = call["id"].as_str() {
                entry.0 = id.to_owned();
                entry.1 = call["function"]["name"].as_str().unwrap().to_owned();
            }
            entry
                .2
                .push_str(call["function"]["arguments"].as_str().unwrap());
        }
    }
    calls
}

#[tokio::test]
async fn tool_calls_stream_like_openai() {
    let server = start().await;
    let request = with(ask("weather?"), json!({ "tools": weather_tools() }));
    let (_, whole) = chat(&server, request.clone()).await;
    let choice = &whole["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "parallel calls by default");
    let expected: Vec<(String, String, String)> = calls
        .iter()
        .map(|call| {
            let id = call["id"].as_str().unwrap();
            assert!(id.starts_with("call_") && id.len() == 29, "{id}");
            assert_eq!(call["type"], "function");
            let name = call["function"]["name"].as_str().unwrap();
            (
                id.to_owned(),
                name.to_owned(),
                call["function"]["arguments"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&expected[0].2).unwrap(),
        json!({ "city": "example", "days": 3 })
    );

    let (chunks, done) = stream(&server, request.clone()).await;
    assert!(done);
    assert_eq!(streamed_calls(&chunks), expected);
    let fragments = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["tool_calls"].is_array()
                && c["choices"][0]["delta"]["tool_calls"][0]["id"].is_null()
        })
        .count();
    assert_eq!(
        fragments,
        4 + 1,
        "arguments arrive in fragments of 8 characters"
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    let named = with(
        request.clone(),
        json!({ "tool_choice": { "type": "function", "function": { "name": "get_time" } } }),
    );
    let (_, body) = chat(&server, named).await;
    let calls = body["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]["function"],
        json!({ "name": "get_time", "arguments": "{}" })
    );

    let (_, body) = chat(
        &server,
        with(request, json!({ "parallel_tool_calls": false })),
    )
    .await;
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tool_results_get_a_text_reply() {
    let server = start().await;
    let request = json!({
        "model": MODEL,
        "tools": weather_tools(),
        "messages": [
            { "role": "user", "content": "weather?" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_1", "type": "function", "function": { "name": "get_weather", "arguments": "{}" } }
            ]},
            { "role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C" }
        ]
    });
    let (status, body) = chat(&server, request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .ends_with("The tool returned: sunny, 21C")
    );

    let mut unanswered = request;
    unanswered["messages"].as_array_mut().unwrap().pop();
    let (status, body) = chat(&server, unanswered).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("call_1")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn status_directive_returns_openai_error_with_retry_after() {
    let server = start().await;
    let response = post(
        &server,
        "/chat/completions",
        ask("hi [[fake status=429 retry_after=7]]"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(body["error"]["param"], Value::Null);

    let (status, body) = chat(
        &server,
        with(ask("[[fake status=503]]"), json!({ "stream": true })),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["type"], "server_error");

    let (status, body) = chat(&server, ask("[[fake status=abc]]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("status=abc")
    );
    assert!(
        server
            .calls()
            .iter()
            .all(|call| call.outcome == CallOutcome::Rejected)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn words_directive_sets_reply_length() {
    let server = start().await;
    let (_, body) = chat(&server, ask("[[fake words=5]]")).await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "word1 word2 word3 word4 word5"
    );
    let (chunks, _) = stream(&server, ask("[[fake words=300]]")).await;
    assert_eq!(chunks.len(), 1 + 300 + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn disconnect_after_cuts_the_stream() {
    let server = start().await;
    let body = with(
        ask("[[fake disconnect_after=3 words=50]]"),
        json!({ "stream": true }),
    );
    let mut response = post(&server, "/chat/completions", body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = String::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(bytes)) => received.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(None) => panic!("stream ended cleanly: {received}"),
            Err(error) => break error,
        }
    };
    assert!(
        error.is_body() || error.is_decode() || error.is_request(),
        "{error:?}"
    );
    assert!(!received.contains("[DONE]"));
    assert_eq!(received.matches("data: ").count(), 3);
    outcome_of(&server, 0, CallOutcome::Aborted).await;
    server.shutdown().await;
}

#[tokio::test]
async fn dropping_a_stream_records_client_disconnected() {
    let server = start().await;
    let body = with(
        ask("[[fake words=5000 chunk_delay_ms=5]]"),
        json!({ "stream": true }),
    );
    let mut response = post(&server, "/chat/completions", body).await;
    assert!(response.chunk().await.unwrap().is_some());
    assert_eq!(server.calls()[0].outcome, CallOutcome::InProgress);
    drop(response);
    outcome_of(&server, 0, CallOutcome::ClientDisconnected).await;
    server.shutdown().await;
}

#[tokio::test]
async fn abandoning_a_hanging_request_records_client_disconnected() {
    let server = start().await;
    let request = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .bearer_auth(KEY)
        .json(&ask("[[fake hang]]"))
        .timeout(Duration::from_millis(300))
        .send();
    let error = request.await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    outcome_of(&server, 0, CallOutcome::ClientDisconnected).await;
    server.shutdown().await;
}

#[tokio::test]
async fn stall_sends_nothing_more_and_shutdown_ends_it() {
    let server = start().await;
    let body = with(
        ask("[[fake stall_after=2 words=10]]"),
        json!({ "stream": true }),
    );
    let mut response = post(&server, "/chat/completions", body).await;
    let mut received = String::new();
    while received.matches("data: ").count() < 2 {
        received.push_str(&String::from_utf8_lossy(
            &response.chunk().await.unwrap().unwrap(),
        ));
    }
    let next = tokio::time::timeout(Duration::from_millis(300), response.chunk()).await;
    assert!(next.is_err(), "a stalled stream sent more: {next:?}");
    assert_eq!(server.calls()[0].outcome, CallOutcome::InProgress);

    let hanging = tokio::spawn(post_owned(server.base_url(), ask("[[fake hang]]")));
    tokio::time::timeout(PATIENCE, server.shutdown())
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(PATIENCE, response.chunk())
            .await
            .unwrap()
            .is_err()
    );
    assert!(
        tokio::time::timeout(PATIENCE, hanging)
            .await
            .unwrap()
            .unwrap()
            .is_err()
    );
}

async fn post_owned(base_url: String, body: Value) -> reqwest::Result<String> {
    client()
        .post(format!("{base_url}/chat/completions"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await?
        .text()
        .await
}

#[tokio::test]
async fn latency_and_ttft_delay_replies() {
    let server = start().await;
    let started = tokio::time::Instant::now();
    chat(&server, ask("[[fake latency_ms=150]]")).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    let started = tokio::time::Instant::now();
    stream(
        &server,
        ask("[[fake ttft_ms=100 chunk_delay_ms=10 words=5]]"),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(100 + 10 * 6));
    server.shutdown().await;
}

#[tokio::test]
async fn rejects_what_openai_rejects() {
    let server = start().await;
    let cases = [
        (
            with(ask("hi"), json!({ "foo": 1 })),
            "foo",
            "Unrecognized request argument supplied: foo",
        ),
        (
            with(ask("hi"), json!({ "temperature": 3 })),
            "temperature",
            "Expected a value <= 2",
        ),
        (
            with(ask("hi"), json!({ "top_p": -0.5 })),
            "top_p",
            "Expected a value >= 0",
        ),
        (
            with(ask("hi"), json!({ "n": 0 })),
            "n",
            "integer below minimum value",
        ),
        (
            with(ask("hi"), json!({ "top_logprobs": 21 })),
            "top_logprobs",
            "integer above maximum value",
        ),
        (
            with(
                ask("hi"),
                json!({ "stream_options": { "include_usage": true } }),
            ),
            "stream_options",
            "only allowed",
        ),
        (
            with(ask("hi"), json!({ "tool_choice": "auto" })),
            "tool_choice",
            "only allowed when 'tools'",
        ),
        (
            json!({ "model": MODEL, "messages": [] }),
            "messages",
            "empty array",
        ),
        (
            json!({ "model": MODEL }),
            "messages",
            "Missing required parameter",
        ),
        (
            json!({ "model": MODEL, "messages": [{ "role": "robot", "content": "x" }] }),
            "messages[0].role",
            "'robot'",
        ),
        (
            json!({ "model": MODEL, "messages": [{ "role": "tool", "content": "x" }] }),
            "messages[0].tool_call_id",
            "Missing",
        ),
        (
            json!({ "model": MODEL, "messages": [{ "role": "user", "content": [{ "type": "video", "video": {} }] }] }),
            "messages[0].content[0].type",
            "'video'",
        ),
        (
            json!({ "model": MODEL, "messages": [{ "role": "user", "content": "x", "extra": true }] }),
            "messages[0].extra",
            "Unknown parameter",
        ),
    ];
    for (request, param, message) in cases {
        let (status, body) = chat(&server, request.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}");
        let error = &body["error"];
        assert_eq!(error["type"], "invalid_request_error", "{request}");
        assert_eq!(error["param"], param, "{request}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{request}: {error}"
        );
    }

    let response = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .bearer_auth(KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("We could not parse the JSON body")
    );

    let (status, body) = chat(
        &server,
        json!({ "model": "gpt-9", "messages": [{ "role": "user", "content": "x" }] }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({ "error": {
            "message": "The model `gpt-9` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": null, "code": "model_not_found"
        }})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn requires_the_api_key() {
    let server = start().await;
    let url = format!("{}/chat/completions", server.base_url());
    for auth in [Some("Bearer sk-wrong"), None] {
        let mut request = client().post(&url).json(&ask("hi"));
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert!(!body.to_string().contains("sk-wrong"));
    }
    assert!(
        server
            .calls()
            .iter()
            .all(|call| call.outcome == CallOutcome::Rejected)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let server = start().await;
    let response = post(&server, "/completions/legacy", json!({})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Invalid URL (POST /v1/completions/legacy)"
    );
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let response = client()
        .get(format!("{}/chat/completions", server.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
    let response = client()
        .delete(format!("{}/models", server.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "GET");
    server.shutdown().await;
}

#[tokio::test]
async fn lists_models() {
    let server = start().await;
    let response = client()
        .get(format!("{}/models", server.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [MODEL, "text-embedding-3-small", "text-embedding-ada-002"]
    );
    assert_eq!(
        body["data"][0],
        json!({ "id": MODEL, "object": "model", "created": 1_700_000_000, "owned_by": "fake" })
    );
    server.shutdown().await;
}

#[tokio::test]
async fn embeddings_as_float_and_base64_agree() {
    let server = start().await;
    let request = json!({ "model": "text-embedding-3-small", "input": ["alpha", "beta"] });
    let response = post(&server, "/embeddings", request.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let floats: Value = response.json().await.unwrap();
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["model"], "text-embedding-3-small");
    assert!(floats["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let data = floats["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[1]["object"], "embedding");
    let vector: Vec<f32> = data[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(vector.len(), 1536);
    let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "{norm}");

    let response = post(
        &server,
        "/embeddings",
        with(request.clone(), json!({ "encoding_format": "base64" })),
    )
    .await;
    let encoded: Value = response.json().await.unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, vector);

    let response = post(
        &server,
        "/embeddings",
        with(request.clone(), json!({ "dimensions": 64 })),
    )
    .await;
    let short: Value = response.json().await.unwrap();
    assert_eq!(short["data"][0]["embedding"].as_array().unwrap().len(), 64);

    for bad in [
        json!({ "input": "" }),
        json!({ "input": [] }),
        json!({ "foo": 1 }),
        json!({ "input": [1, "a"] }),
    ] {
        let response = post(&server, "/embeddings", with(request.clone(), bad.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let limited = post(
        &server,
        "/embeddings",
        with(request.clone(), json!({ "input": "[[fake status=429]]" })),
    )
    .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let ada = json!({ "model": "text-embedding-ada-002", "input": [[1, 2, 3]], "dimensions": 8 });
    assert_eq!(
        post(&server, "/embeddings", ada).await.status(),
        StatusCode::BAD_REQUEST
    );
    server.shutdown().await;
}

async fn call_log(server: &FakeServer) -> Value {
    client()
        .get(format!("http://{}/__fake/calls", server.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn call_log_is_served_over_http() {
    let server = start().await;
    chat(&server, ask("one")).await;
    chat(&server, ask("[[fake status=500]]")).await;
    let log = call_log(&server).await;
    assert_eq!(log["dropped"], 0);
    let calls = log["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["method"], "POST");
    assert_eq!(calls[0]["path"], "/v1/chat/completions");
    assert_eq!(calls[0]["outcome"], "completed");
    assert_eq!(calls[1]["outcome"], "rejected");
    assert_eq!(calls[1]["body"], ask("[[fake status=500]]"));
    assert_eq!(server.calls().len(), 2, "control requests are not recorded");
    server.shutdown().await;
}

#[tokio::test]
async fn call_log_keeps_the_latest_calls_and_counts_the_rest() {
    let options = FakeOptions {
        keep_calls: 2,
        ..FakeOptions::default()
    };
    let server = FakeServer::start(Dialect::OpenAi, options, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for text in ["one", "two", "[[fake status=500]]"] {
        chat(&server, ask(text)).await;
    }
    let log = call_log(&server).await;
    assert_eq!(log["dropped"], 1);
    let calls = log["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["body"], ask("two"));
    assert_eq!(calls[0]["outcome"], "completed");
    assert_eq!(calls[1]["outcome"], "rejected");
    assert_eq!(server.calls().len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn reasoning_models_refuse_max_tokens_and_others_refuse_reasoning_effort() {
    let server = start_fake(Dialect::OpenAi, &[MODEL, "o4-mini"], &[]).await;
    let o4 = |extra: Value| {
        let mut body =
            json!({ "model": "o4-mini", "messages": [{ "role": "user", "content": "hi" }] });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (body, param, code) in [
        (
            o4(json!({ "max_tokens": 9 })),
            "max_tokens",
            "unsupported_parameter",
        ),
        (
            o4(json!({ "temperature": 0.5 })),
            "temperature",
            "unsupported_value",
        ),
    ] {
        let (status, answer) = chat(&server, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"]["param"], param, "{answer}");
        assert_eq!(answer["error"]["code"], code);
    }
    let reasoning = o4(json!({ "max_completion_tokens": 9, "reasoning_effort": "high" }));
    assert_eq!(chat(&server, reasoning).await.0, StatusCode::OK);
    let mut effort = ask("hi");
    effort["reasoning_effort"] = json!("low");
    let (status, answer) = chat(&server, effort).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"]["message"],
        "Unrecognized request argument supplied: reasoning_effort"
    );
    server.shutdown().await;
}
