//! Anthropic through the gateway: OpenAI requests in, Messages requests out, and back, streamed
//! or not, against the fake speaking Anthropic's protocol.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, sse_chunks, sse_events, user};

const MODEL: &str = "anthropic/claude-sonnet-4-6";

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

fn time_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_time",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}})
}

/// The body the fake Anthropic received last.
fn upstream_body(app: &TestApp) -> Value {
    let call = app.last_call("anthropic");
    assert_eq!(call.path, "/v1/messages");
    call.body
}

async fn stream_chunks(app: &TestApp, body: Value) -> Vec<Value> {
    let response = app.chat(&body).await;
    assert_eq!(response.status(), 200);
    sse_chunks(&response.text().await.unwrap())
}

fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"]["content"].as_str())
        .collect()
}

/// `(id, name, arguments)` of each streamed tool call, by index.
fn streamed_calls(chunks: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for chunk in chunks {
        let Some(deltas) = chunk["choices"]
            .get(0)
            .and_then(|c| c["delta"]["tool_calls"].as_array())
        else {
            continue;
        };
        for delta in deltas {
            let index = delta["index"].as_u64().unwrap() as usize;
            if index == calls.len() {
                calls.push((
                    delta["id"].as_str().unwrap().to_owned(),
                    delta["function"]["name"].as_str().unwrap().to_owned(),
                    String::new(),
                ));
            }
            calls[index]
                .2
                .push_str(delta["function"]["arguments"].as_str().unwrap());
        }
    }
    calls
}

fn finish_reason(chunks: &[Value]) -> Option<&str> {
    chunks
        .iter()
        .find_map(|c| c["choices"].get(0)?["finish_reason"].as_str())
}

#[tokio::test]
async fn a_chat_is_translated_to_messages_and_back() {
    let app = spawn_app().await;
    let response = app
        .chat(
            &json!({"model": MODEL, "user": "user-42", "stop": "NEVER", "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
                {"role": "user", "content": "Hello"},
                {"role": "user", "content": "Claude"},
            ]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let message = &body["choices"][0]["message"];
    assert_eq!(
        message["content"],
        "This is a simulated reply from claude-sonnet-4-6. You said: HelloClaude",
        "consecutive user messages reach Anthropic as one turn"
    );
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(usage["completion_tokens"], 10);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(body["x-llm-gateway"]["provider"], "anthropic");
    assert_eq!(body["x-llm-gateway"]["tokens"]["counted_by"], "provider");

    let sent = upstream_body(&app);
    assert_eq!(sent["model"], "claude-sonnet-4-6");
    assert_eq!(sent["system"], "Be terse.\n\nAnswer in English.");
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "Claude"}]}])
    );
    assert_eq!(
        sent["max_tokens"], 64000,
        "the catalog's max output when the client sets none"
    );
    assert_eq!(sent["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(sent["stop_sequences"], json!(["NEVER"]));
}

#[tokio::test]
async fn a_stream_starts_with_the_role_and_ends_with_full_usage() {
    let app = spawn_app().await;
    let request = json!({"model": MODEL, "messages": user("Stream to me please"), "max_completion_tokens": 100});
    let full: Value = app.chat(&request).await.json().await.unwrap();
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let chunks = stream_chunks(&app, streamed).await;
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        streamed_text(&chunks),
        full["choices"][0]["message"]["content"]
    );
    assert_eq!(finish_reason(&chunks), Some("stop"));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"]["prompt_tokens"],
        full["usage"]["prompt_tokens"]
    );
    assert_eq!(
        last["usage"]["completion_tokens"],
        full["usage"]["completion_tokens"]
    );
    assert_eq!(last["x-llm-gateway"]["tokens"]["counted_by"], "provider");
    assert_eq!(upstream_body(&app)["stream"], true);
    assert_eq!(upstream_body(&app)["max_tokens"], 100);
}

#[tokio::test]
async fn tool_calls_round_trip_with_their_ids() {
    let app = spawn_app().await;
    let tools = json!([weather_tool()]);
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("Weather in Paris?"), "tools": tools}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let message = &body["choices"][0]["message"];
    assert!(message["content"].is_null());
    let call = &message["tool_calls"][0];
    let id = call["id"].as_str().unwrap();
    assert!(id.starts_with("toolu_"), "{id}");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"city": "example"}));
    let sent = upstream_body(&app);
    assert_eq!(
        sent["tools"],
        json!([{"name": "get_weather", "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
    );
    assert!(sent.get("tool_choice").is_none());

    let answer: Value = app
        .chat(&json!({"model": MODEL, "tools": tools, "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            message,
            {"role": "tool", "tool_call_id": id, "content": "18C and sunny"},
        ]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "This is a simulated reply from claude-sonnet-4-6. The tool returned: 18C and sunny"
    );
    let sent = upstream_body(&app);
    assert_eq!(
        sent["messages"][1]["content"],
        json!([{"type": "tool_use", "id": id, "name": "get_weather", "input": {"city": "example"}}])
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id,
            "content": [{"type": "text", "text": "18C and sunny"}]}]})
    );
}

#[tokio::test]
async fn streamed_tool_calls_reassemble_to_the_non_stream_ones() {
    let app = spawn_app().await;
    let request = json!({"model": MODEL, "messages": user("Weather and time?"),
        "tools": [weather_tool(), time_tool()], "tool_choice": "required"});
    let full: Value = app.chat(&request).await.json().await.unwrap();
    let expected: Vec<(String, String, String)> = full["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["function"]["name"].as_str().unwrap().to_owned(),
                c["function"]["arguments"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(expected.len(), 2, "parallel calls are allowed by default");
    assert_eq!(upstream_body(&app)["tool_choice"], json!({"type": "any"}));
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let chunks = stream_chunks(&app, streamed).await;
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let calls = streamed_calls(&chunks);
    assert_eq!(calls.len(), 2);
    for ((_, name, arguments), (_, want_name, want_arguments)) in calls.iter().zip(&expected) {
        assert_eq!(name, want_name);
        let got: Value = serde_json::from_str(arguments).unwrap();
        let want: Value = serde_json::from_str(want_arguments).unwrap();
        assert_eq!(got, want);
    }
    assert_eq!(finish_reason(&chunks), Some("tool_calls"));
}

#[tokio::test]
async fn parallel_tool_calls_false_and_a_named_tool_are_translated() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("Time?"), "tools": [weather_tool(), time_tool()],
            "tool_choice": {"type": "function", "function": {"name": "get_time"}}, "parallel_tool_calls": false}))
        .await
        .json()
        .await
        .unwrap();
    let calls = body["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["function"]["name"], "get_time");
    assert_eq!(
        upstream_body(&app)["tool_choice"],
        json!({"type": "tool", "name": "get_time", "disable_parallel_tool_use": true})
    );
}

#[tokio::test]
async fn images_become_base64_and_url_sources() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": MODEL, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
        ]}]}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        upstream_body(&app)["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What is in these?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        ])
    );
}

#[tokio::test]
async fn max_tokens_and_stop_sequences_give_openai_finish_reasons() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake words=20]]"), "max_tokens": 5}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "word1 word2 word3 word4 word5"
    );
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake words=20]]"), "stop": ["word4"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "word1 word2 word3 "
    );
}

#[tokio::test]
async fn json_schema_becomes_structured_output() {
    let app = spawn_app().await;
    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": false});
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("Two plus two?"),
            "response_format": {"type": "json_schema", "json_schema": {"name": "sum", "schema": schema, "strict": true}}}))
        .await
        .json()
        .await
        .unwrap();
    let content: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"answer": 1}));
    assert_eq!(
        upstream_body(&app)["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
}

#[tokio::test]
async fn what_anthropic_cannot_do_is_a_400_naming_the_parameter_before_any_call() {
    let app = spawn_app().await;
    let cases = [
        (json!({"temperature": 1.5}), "temperature"),
        (json!({"n": 2}), "n"),
        (json!({"seed": 7}), "seed"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"presence_penalty": 0.5}), "presence_penalty"),
        (
            json!({"response_format": {"type": "json_object"}}),
            "response_format",
        ),
    ];
    for (extra, param) in cases {
        let mut request = json!({"model": MODEL, "messages": user("json please")});
        for (k, v) in extra.as_object().unwrap() {
            request[k] = v.clone();
        }
        let response = app.chat(&request).await;
        assert_eq!(response.status(), 400, "{param}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["param"], param, "{body}");
        assert_eq!(body["error"]["code"], "unsupported_parameter");
    }
    assert!(app.fake("anthropic").calls().is_empty());
}

#[tokio::test]
async fn an_overloaded_anthropic_is_a_retryable_503() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=529]]")}))
        .await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_overloaded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Overloaded")
    );
}

#[tokio::test]
async fn an_anthropic_rate_limit_keeps_its_retry_after() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=429 retry_after=9]]"), "stream": true}))
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "9");
}

#[tokio::test]
async fn a_stream_cut_short_ends_with_an_error_event() {
    let app = spawn_app().await;
    let body = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake disconnect_after=4]] tell me more"), "stream": true}))
        .await
        .text()
        .await
        .unwrap();
    let events = sse_events(&body);
    assert_ne!(events.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{body}");
}

#[tokio::test]
async fn usage_is_counted_by_the_gateway_when_anthropic_reports_none() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake omit_usage]] Hello there")}))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["x-llm-gateway"]["tokens"]["counted_by"], "gateway");
    let chunks = stream_chunks(
        &app,
        json!({"model": MODEL, "messages": user("[[fake omit_usage]] Hello there"), "stream": true,
            "stream_options": {"include_usage": true}}),
    )
    .await;
    let last = chunks.last().unwrap();
    assert_eq!(last["x-llm-gateway"]["tokens"]["counted_by"], "gateway");
    assert!(last["usage"]["completion_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn embeddings_for_an_anthropic_model_are_refused() {
    let app = spawn_app().await;
    let response = app
        .post("/v1/embeddings", &json!({"model": MODEL, "input": "hello"}))
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(app.fake("anthropic").calls().is_empty());
}

#[tokio::test]
async fn the_catalog_lists_the_anthropic_models() {
    let app = spawn_app().await;
    let models: Value = app.get("/v1/models").await.json().await.unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for id in [
        MODEL,
        "anthropic/claude-haiku-4-5",
        "anthropic/claude-3-5-sonnet-20241022",
        "anthropic/claude-3-haiku",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
}

#[tokio::test]
async fn a_stream_that_fails_before_any_output_is_an_http_error_not_a_broken_stream() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake disconnect_after=2]] hello"), "stream": true}))
        .await;
    assert_eq!(
        response.status(),
        502,
        "message_start and a block start carry no output"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "stream_interrupted", "{body}");
}
