//! The Groq, Together and Mistral fakes over real HTTP: each accepts its provider's own
//! parameters, refuses what that provider refuses (with its error shape), and reports
//! streamed usage where that provider does.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions; a panic here is a failed test"
)]

mod common;

use common::{chat, embed, start_fake, stream, streamed_content, with};
use gateway_fakes::{CallOutcome, Dialect, FakeServer};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

const GROQ_MODEL: &str = "llama-3.3-70b-versatile";
/// A model Groq's spec gives `reasoning_effort` to.
const GROQ_REASONING_MODEL: &str = "qwen/qwen3-32b";
const TOGETHER_MODEL: &str = "meta-llama/Llama-3.3-70B-Instruct-Turbo";
const MISTRAL_MODEL: &str = "mistral-small-latest";

fn ask(model: &str, text: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": text }] })
}

fn weather_tool() -> Value {
    json!([{ "type": "function", "function": {
        "name": "get_weather",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } } }
    }}])
}

/// Posts each `(request, param, message)` to `path` and checks the OpenAI-shaped 400 it
/// gets.
async fn assert_openai_style_rejections(
    server: &FakeServer,
    path: &str,
    cases: &[(Value, &str, &str)],
) {
    for (request, param, message) in cases {
        let response = common::post(server, path, request.clone()).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {body}");
        let error = &body["error"];
        assert_eq!(error["type"], "invalid_request_error", "{request}");
        assert_eq!(error["param"], *param, "{request}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{request}: {error}"
        );
    }
}

/// Streams `request` and checks that its last chunk finishes a choice and is the only one
/// holding usage, at `pointer`, equal to the usage of the same request unstreamed.
async fn assert_usage_only_at_the_end(
    server: &FakeServer,
    request: Value,
    pointer: &str,
) -> Vec<Value> {
    let (_, whole) = chat(server, request.clone()).await;
    let (chunks, done) = stream(server, request).await;
    assert!(done);
    let (last, rest) = chunks.split_last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop", "{last}");
    assert_eq!(last.pointer(pointer), Some(&whole["usage"]), "{last}");
    assert!(rest.iter().all(|chunk| chunk.pointer(pointer).is_none()));
    let first_choice: Vec<Value> = chunks
        .iter()
        .filter(|chunk| chunk["choices"][0]["index"] == 0)
        .cloned()
        .collect();
    assert_eq!(
        streamed_content(&first_choice),
        whole["choices"][0]["message"]["content"].as_str().unwrap()
    );
    chunks
}

// Groq -----------------------------------------------------------------------------------

async fn groq() -> FakeServer {
    start_fake(
        Dialect::Groq,
        &[GROQ_MODEL, GROQ_REASONING_MODEL],
        &["nomic-embed-text-v1_5"],
    )
    .await
}

#[tokio::test]
async fn groq_accepts_its_own_parameters_under_openai_v1() {
    let server = groq().await;
    let request = with(
        ask(GROQ_MODEL, "one two three"),
        json!({
            "max_completion_tokens": 100, "reasoning_format": "hidden", "service_tier": "on_demand",
            "citation_options": "disabled", "seed": 7,
            "stop": "never", "logprobs": true, "top_logprobs": 2, "n": 1, "store": true,
            "metadata": { "k": "v" }, "disable_tool_validation": false
        }),
    );
    let url = format!("http://{}/openai/v1/chat/completions", server.addr());
    let response = common::post_url(&url, &request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        format!("This is a simulated reply from {GROQ_MODEL}. You said: one two three")
    );
    assert_eq!(
        body["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let developer = json!({ "model": GROQ_MODEL, "messages": [
        { "role": "developer", "content": "Be brief." },
        { "role": "user", "content": [{ "type": "text", "text": "hi" }] }
    ]});
    assert_eq!(chat(&server, developer).await.0, StatusCode::OK);
    let reasoning = with(
        ask(GROQ_REASONING_MODEL, "hi"),
        json!({ "reasoning_effort": "default" }),
    );
    assert_eq!(chat(&server, reasoning).await.0, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn groq_rejects_what_groq_rejects() {
    let server = groq().await;
    let ask = |extra: Value| with(ask(GROQ_MODEL, "hi"), extra);
    assert_openai_style_rejections(
        &server,
        "/chat/completions",
        &[
            (ask(json!({ "n": 2 })), "n", "Expected a value <= 1"),
            (
                ask(json!({ "prompt_cache_key": "k" })),
                "prompt_cache_key",
                "property 'prompt_cache_key' is unsupported",
            ),
            (
                ask(json!({ "verbosity": "low" })),
                "verbosity",
                "is unsupported",
            ),
            (
                ask(json!({ "service_tier": "priority" })),
                "service_tier",
                "'on_demand'",
            ),
            (
                ask(json!({ "stream_options": { "include_obfuscation": true }, "stream": true })),
                "stream_options.include_obfuscation",
                "Unknown parameter",
            ),
            (
                ask(json!({ "include_reasoning": true, "reasoning_format": "raw" })),
                "include_reasoning",
                "cannot be used together",
            ),
            (
                ask(json!({ "reasoning_effort": "low" })),
                "reasoning_effort",
                "not supported with this model",
            ),
            (
                ask(json!({ "stop": ["a", "b", "c", "d", "e"] })),
                "stop",
                "array too long",
            ),
            (
                json!({ "model": GROQ_MODEL, "messages": [
                    { "role": "assistant", "content": "x", "refusal": null }
                ]}),
                "messages[0].refusal",
                "Unknown parameter",
            ),
            (
                json!({ "model": GROQ_MODEL, "messages": [{ "role": "user", "content": [
                    { "type": "input_audio", "input_audio": { "data": "AA==", "format": "wav" } }
                ]}]}),
                "messages[0].content[0].type",
                "'input_audio'",
            ),
        ],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn groq_streams_usage_in_x_groq_and_on_request() {
    let server = groq().await;
    let chunks =
        assert_usage_only_at_the_end(&server, ask(GROQ_MODEL, "count me"), "/x_groq/usage").await;
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));

    let (_, whole) = chat(&server, ask(GROQ_MODEL, "count me")).await;
    let (chunks, _) = stream(
        &server,
        with(
            ask(GROQ_MODEL, "count me"),
            json!({ "stream_options": { "include_usage": true } }),
        ),
    )
    .await;
    let (last, rest) = chunks.split_last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], whole["usage"]);
    assert!(rest.iter().all(|chunk| chunk["usage"].is_null()));
    let finish = rest.last().unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["x_groq"]["usage"], whole["usage"]);

    let (chunks, _) = stream(
        &server,
        with(
            ask(GROQ_MODEL, "[[fake omit_usage]]"),
            json!({ "stream_options": { "include_usage": true } }),
        ),
    )
    .await;
    assert!(
        chunks
            .iter()
            .all(|chunk| chunk.get("usage").is_none() && chunk.get("x_groq").is_none())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn groq_embeddings_take_strings_only() {
    let server = groq().await;
    let request = json!({ "model": "nomic-embed-text-v1_5", "input": ["a", "b"], "encoding_format": "float" });
    let (status, body) = embed(&server, request.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_openai_style_rejections(
        &server,
        "/embeddings",
        &[
            (
                with(request.clone(), json!({ "dimensions": 64 })),
                "dimensions",
                "property 'dimensions' is unsupported",
            ),
            (
                with(request, json!({ "input": [1, 2, 3] })),
                "input[0]",
                "expected a string",
            ),
        ],
    )
    .await;
    server.shutdown().await;
}

// Together -------------------------------------------------------------------------------

async fn together() -> FakeServer {
    start_fake(
        Dialect::Together,
        &[TOGETHER_MODEL],
        &["BAAI/bge-base-en-v1.5"],
    )
    .await
}

#[tokio::test]
async fn together_accepts_list_stop_and_integer_logprobs() {
    let server = together().await;
    let request = with(
        ask(TOGETHER_MODEL, "one two three"),
        json!({
            "stop": ["three"], "logprobs": 3, "top_k": 40, "repetition_penalty": 1.1,
            "min_p": 0.05, "echo": false, "safety_model": "meta-llama/Meta-Llama-Guard-3-8B",
            "context_length_exceeded_behavior": "truncate", "reasoning_effort": "low",
            "max_tokens": 50, "n": 2, "seed": 1
        }),
    );
    let (status, body) = chat(&server, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["choices"].as_array().unwrap().len(), 2);
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.ends_with("You said: one two "), "{content}");
    let logprobs = &body["choices"][0]["logprobs"]["content"][0]["top_logprobs"];
    assert_eq!(logprobs.as_array().unwrap().len(), 3);

    let tools = with(
        ask(TOGETHER_MODEL, "weather?"),
        json!({ "tools": weather_tool(), "tool_choice": { "type": "function", "function": { "name": "get_weather" } } }),
    );
    let (status, body) = chat(&server, tools).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    server.shutdown().await;
}

#[tokio::test]
async fn together_rejects_what_together_rejects() {
    let server = together().await;
    let ask = |extra: Value| with(ask(TOGETHER_MODEL, "hi"), extra);
    assert_openai_style_rejections(
        &server,
        "/chat/completions",
        &[
            (ask(json!({ "stop": "x" })), "stop", "expected an array"),
            (
                ask(json!({ "logprobs": true })),
                "logprobs",
                "expected an integer",
            ),
            (
                ask(json!({ "logprobs": 21 })),
                "logprobs",
                "Expected a value <= 20",
            ),
            (
                ask(json!({ "stream": true, "stream_options": { "include_usage": true } })),
                "stream_options",
                "Unrecognized request argument supplied: stream_options",
            ),
            (
                ask(json!({ "max_completion_tokens": 10 })),
                "max_completion_tokens",
                "Unrecognized",
            ),
            (
                ask(json!({ "top_logprobs": 2 })),
                "top_logprobs",
                "Unrecognized",
            ),
            (
                ask(json!({ "context_length_exceeded_behavior": "drop" })),
                "context_length_exceeded_behavior",
                "'truncate'",
            ),
            (
                json!({ "model": TOGETHER_MODEL, "messages": [{ "role": "developer", "content": "x" }] }),
                "messages[0].role",
                "'developer'",
            ),
            (
                json!({ "model": TOGETHER_MODEL, "messages": [
                    { "role": "system", "content": [{ "type": "text", "text": "x" }] },
                    { "role": "user", "content": "hi" }
                ]}),
                "messages[0].content",
                "expected a string",
            ),
        ],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn together_streams_usage_on_the_finishing_chunk() {
    let server = together().await;
    assert_usage_only_at_the_end(&server, ask(TOGETHER_MODEL, "count me"), "/usage").await;
    let (chunks, _) = stream(&server, ask(TOGETHER_MODEL, "[[fake omit_usage]]")).await;
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));
    server.shutdown().await;
}

#[tokio::test]
async fn together_embeddings_take_model_and_input_only() {
    let server = together().await;
    let request = json!({ "model": "BAAI/bge-base-en-v1.5", "input": "hello" });
    let (status, body) = embed(&server, request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["object"], "embedding");
    assert_openai_style_rejections(
        &server,
        "/embeddings",
        &[
            (
                with(request.clone(), json!({ "encoding_format": "float" })),
                "encoding_format",
                "Unrecognized request argument supplied: encoding_format",
            ),
            (
                with(request, json!({ "dimensions": 8 })),
                "dimensions",
                "Unrecognized",
            ),
        ],
    )
    .await;
    server.shutdown().await;
}

// Mistral --------------------------------------------------------------------------------

async fn mistral() -> FakeServer {
    start_fake(Dialect::Mistral, &[MISTRAL_MODEL], &["mistral-embed"]).await
}

#[tokio::test]
async fn mistral_accepts_its_own_parameters() {
    let server = mistral().await;
    let request = with(
        ask(MISTRAL_MODEL, "one two three"),
        json!({
            "random_seed": 42, "temperature": 1.5, "top_p": 0.9, "max_tokens": 100, "n": 2,
            "safe_prompt": true, "prompt_mode": "reasoning", "metadata": { "team": "x" },
            "prediction": { "type": "content", "content": "one" }, "stop": "never",
            "response_format": { "type": "json_object" }, "service_tier": "auto"
        }),
    );
    let (status, body) = chat(&server, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["choices"].as_array().unwrap().len(), 2);
    let reply: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(reply["reply"].as_str().unwrap().contains("one two three"));

    let conversation = json!({
        "model": MISTRAL_MODEL,
        "tools": weather_tool(),
        "tool_choice": "any",
        "parallel_tool_calls": false,
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": [{ "type": "text", "text": "weather?" },
                { "type": "image_url", "image_url": "https://example.com/a.png" }] },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "abc123def", "function": { "name": "get_weather", "arguments": { "city": "Paris" } } }
            ]},
            { "role": "tool", "content": "sunny", "tool_call_id": "abc123def", "name": "get_weather" },
            { "role": "assistant", "content": "It is", "prefix": true }
        ]
    });
    let (status, body) = chat(&server, conversation).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    server.shutdown().await;
}

#[tokio::test]
async fn mistral_answers_422_for_what_its_schema_forbids() {
    let server = mistral().await;
    let ask = |extra: Value| with(ask(MISTRAL_MODEL, "hi"), extra);
    let (status, body) = chat(&server, ask(json!({ "seed": 7 }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({
            "object": "error",
            "message": "body.seed: Extra inputs are not permitted",
            "detail": [{ "type": "extra_forbidden", "loc": ["body", "seed"],
                         "msg": "Extra inputs are not permitted", "input": 7 }],
            "type": "invalid_request_error",
            "param": null,
            "code": null
        })
    );
    for (request, loc, kind) in [
        (
            ask(json!({ "max_completion_tokens": 9 })),
            json!(["body", "max_completion_tokens"]),
            "extra_forbidden",
        ),
        (
            ask(json!({ "logprobs": true })),
            json!(["body", "logprobs"]),
            "extra_forbidden",
        ),
        (
            ask(json!({ "user": "u" })),
            json!(["body", "user"]),
            "extra_forbidden",
        ),
        (
            ask(json!({ "stream": true, "stream_options": { "include_usage": true } })),
            json!(["body", "stream_options"]),
            "extra_forbidden",
        ),
        (
            ask(json!({ "temperature": 1.6 })),
            json!(["body", "temperature"]),
            "less_than_equal",
        ),
        (
            ask(json!({ "top_p": 0 })),
            json!(["body", "top_p"]),
            "greater_than",
        ),
        (
            ask(json!({ "random_seed": -1 })),
            json!(["body", "random_seed"]),
            "greater_than_equal",
        ),
        (
            ask(json!({ "max_tokens": -1 })),
            json!(["body", "max_tokens"]),
            "greater_than_equal",
        ),
        (
            ask(json!({ "tools": weather_tool(), "tool_choice": "force" })),
            json!(["body", "tool_choice"]),
            "literal_error",
        ),
        (
            ask(
                json!({ "response_format": { "type": "json_schema", "json_schema": { "name": "x" } } }),
            ),
            json!(["body", "response_format", "json_schema", "schema"]),
            "missing",
        ),
        (
            json!({ "model": MISTRAL_MODEL, "messages": [{ "role": "user", "content": "x", "name": "bob" }] }),
            json!(["body", "messages", 0, "name"]),
            "extra_forbidden",
        ),
        (
            json!({ "model": MISTRAL_MODEL, "messages": [{ "role": "developer", "content": "x" }] }),
            json!(["body", "messages", 0, "role"]),
            "literal_error",
        ),
        (
            json!({ "model": MISTRAL_MODEL, "messages": [{ "role": "user", "content": [
                { "type": "image_url", "image_url": { "url": "https://x", "size": 3 } }
            ]}]}),
            json!(["body", "messages", 0, "content", 0, "image_url", "size"]),
            "extra_forbidden",
        ),
    ] {
        let (status, body) = chat(&server, request.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{request}: {body}"
        );
        assert_eq!(body["object"], "error", "{body}");
        assert_eq!(body["detail"][0]["loc"], loc, "{request}: {body}");
        assert_eq!(body["detail"][0]["type"], kind, "{request}: {body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn mistral_errors_outside_the_schema_keep_their_status() {
    let server = mistral().await;
    let (status, body) = chat(&server, ask("mistral-huge", "hi")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["object"], "error");
    assert!(body.get("error").is_none() && body.get("detail").is_none());
    assert!(body["message"].as_str().unwrap().contains("mistral-huge"));

    let response = common::post(
        &server,
        "/chat/completions",
        ask(MISTRAL_MODEL, "[[fake status=429 retry_after=3]]"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "error");
    assert_eq!(body["type"], "rate_limit_error");
    assert_eq!(server.calls()[1].outcome, CallOutcome::Rejected);
    server.shutdown().await;
}

#[tokio::test]
async fn mistral_streams_usage_on_the_last_finishing_chunk() {
    let server = mistral().await;
    let request = with(ask(MISTRAL_MODEL, "count me"), json!({ "n": 2 }));
    let chunks = assert_usage_only_at_the_end(&server, request, "/usage").await;
    assert_eq!(chunks.last().unwrap()["choices"][0]["index"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn mistral_embeddings_take_output_dimension_and_dtype() {
    let server = mistral().await;
    let request = json!({ "model": "mistral-embed", "input": ["a", "b"], "output_dimension": 16 });
    let (status, body) = embed(&server, request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let floats = body["data"][0]["embedding"].as_array().unwrap();
    assert_eq!(floats.len(), 16);

    let (_, body) = embed(
        &server,
        with(request.clone(), json!({ "output_dtype": "int8" })),
    )
    .await;
    let ints = body["data"][0]["embedding"].as_array().unwrap();
    assert_eq!(ints.len(), 16);
    for (int, float) in ints.iter().zip(floats) {
        let expected = (float.as_f64().unwrap() * 127.0).round();
        assert!(
            (int.as_f64().unwrap() - expected).abs() <= 1.0,
            "{int} {float}"
        );
    }
    let (_, body) = embed(
        &server,
        with(request.clone(), json!({ "output_dtype": "ubinary" })),
    )
    .await;
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 2);

    for extra in [json!({ "dimensions": 8 }), json!({ "user": "u" })] {
        let (status, body) = embed(&server, with(request.clone(), extra)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["detail"][0]["type"], "extra_forbidden");
    }
    let (status, body) = embed(&server, with(request, json!({ "output_dimension": 0 }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "output_dimension"])
    );
    server.shutdown().await;
}
