//! Cohere through the gateway: OpenAI requests in, Cohere v2 calls out (checked by the fake's
//! strict validation and by what it recorded), OpenAI answers back, streaming included.

use serde_json::{Value, json};

use gateway_fakes::CallOutcome;

use crate::helpers::{spawn_app, spawn_app_with, sse_chunks, user};

const MODEL: &str = "cohere/command-a-03-2025";

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }}])
}

#[tokio::test]
async fn a_chat_is_sent_as_cohere_v2_and_answered_as_an_openai_completion() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello Cohere"},
            ],
            "temperature": 0.5, "top_p": 1.0, "max_tokens": 100, "stop": ["zzz"], "seed": 7,
            "frequency_penalty": 0.1, "presence_penalty": 0.2, "user": "u-1", "store": false,
        }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "command-a-03-2025");
    let message = &body["choices"][0]["message"];
    assert_eq!(message["role"], "assistant");
    assert!(
        message["content"]
            .as_str()
            .unwrap()
            .contains("Hello Cohere")
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["x-llm-gateway"]["provider"], "cohere");
    assert!(body["x-llm-gateway"]["cost_usd"].as_f64().unwrap() > 0.0);

    let call = app.last_call("cohere");
    assert_eq!(call.path, "/v2/chat");
    assert_eq!(
        call.authorization.as_deref(),
        Some("Bearer fake-cohere-key")
    );
    assert_eq!(
        call.body,
        json!({
            "model": "command-a-03-2025",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello Cohere"},
            ],
            "temperature": 0.5, "p": 0.99, "max_tokens": 100, "stop_sequences": ["zzz"],
            "seed": 7, "frequency_penalty": 0.1, "presence_penalty": 0.2,
        })
    );
}

#[tokio::test]
async fn tool_calls_round_trip_with_their_ids() {
    let app = spawn_app().await;
    let first: Value = app
        .chat(&json!({"model": MODEL, "messages": user("Weather in Paris?"), "tools": weather_tool()}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["choices"][0]["finish_reason"], "tool_calls");
    let message = &first["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null);
    let call = &message["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(arguments["city"].is_string());
    let id = call["id"].as_str().unwrap();

    let second = app
        .chat(
            &json!({"model": MODEL, "tools": weather_tool(), "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": id, "content": "18C and sunny"},
            ]}),
        )
        .await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert!(
        second["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("18C and sunny")
    );
    let sent = app.last_call("cohere").body;
    assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], id);
    assert_eq!(
        sent["messages"][2],
        json!({"role": "tool", "tool_call_id": id, "content": "18C and sunny"})
    );
}

#[tokio::test]
async fn a_streamed_tool_call_keeps_every_argument_fragment_and_usage() {
    let app = spawn_app().await;
    let plain: Value = app
        .chat(&json!({"model": MODEL, "messages": user("Weather?"), "tools": weather_tool()}))
        .await
        .json()
        .await
        .unwrap();
    let body = app
        .chat(&json!({
            "model": MODEL, "messages": user("Weather?"), "tools": weather_tool(),
            "stream": true, "stream_options": {"include_usage": true},
        }))
        .await
        .text()
        .await
        .unwrap();
    let chunks = sse_chunks(&body);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let mut arguments = String::new();
    let mut ids = Vec::new();
    for chunk in &chunks {
        for call in chunk["choices"]
            .get(0)
            .and_then(|c| c["delta"]["tool_calls"].as_array())
            .into_iter()
            .flatten()
        {
            assert_eq!(call["index"], 0);
            if let Some(id) = call["id"].as_str() {
                ids.push(id.to_owned());
            }
            arguments.push_str(call["function"]["arguments"].as_str().unwrap());
        }
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(
        arguments,
        plain["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    );
    let finish = chunks
        .iter()
        .find(|c| {
            c["choices"]
                .get(0)
                .is_some_and(|c| !c["finish_reason"].is_null())
        })
        .unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"], plain["usage"]);
    assert_eq!(app.last_call("cohere").body["stream"], true);
}

#[tokio::test]
async fn streamed_text_matches_the_non_streamed_answer() {
    let app = spawn_app().await;
    let request = json!({"model": MODEL, "messages": user("Same words [[fake words=12]]")});
    let plain: Value = app.chat(&request).await.json().await.unwrap();
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let chunks = sse_chunks(&app.chat(&streamed).await.text().await.unwrap());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        text,
        plain["choices"][0]["message"]["content"].as_str().unwrap()
    );
    assert_eq!(text.split_whitespace().count(), 12);
}

#[tokio::test]
async fn max_tokens_and_stop_sequences_finish_as_openai_says() {
    let app = spawn_app().await;
    let cut: Value = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake words=20]]"), "max_tokens": 5}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cut["choices"][0]["finish_reason"], "length");
    let stopped: Value = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake words=20]]"), "stop": "word7"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stopped["choices"][0]["finish_reason"], "stop");
    assert!(
        !stopped["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("word7")
    );
}

#[tokio::test]
async fn images_json_mode_and_a_named_tool_choice_are_translated() {
    let app = spawn_app().await;
    let response = app
        .chat(&json!({"model": "cohere/command-a-vision-07-2025", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
        ]}]}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.last_call("cohere").body["messages"][0]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}})
    );

    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let json_reply: Value = app
        .chat(&json!({"model": MODEL, "messages": user("JSON please"), "response_format": {
            "type": "json_schema", "json_schema": {"name": "a", "schema": schema, "strict": true}}}))
        .await
        .json()
        .await
        .unwrap();
    let parsed: Value = serde_json::from_str(
        json_reply["choices"][0]["message"]["content"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(parsed["answer"].is_string());
    assert_eq!(
        app.last_call("cohere").body["response_format"],
        json!({"type": "json_object", "json_schema": schema})
    );

    let mut tools = weather_tool();
    tools.as_array_mut().unwrap().push(json!({"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}));
    let forced = app
        .chat(
            &json!({"model": MODEL, "messages": user("hi"), "tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "other"}}}),
        )
        .await;
    assert_eq!(forced.status(), 200);
    let sent = app.last_call("cohere").body;
    assert_eq!(sent["tool_choice"], "REQUIRED");
    assert_eq!(sent["tools"].as_array().unwrap().len(), 1);
    assert_eq!(sent["tools"][0]["function"]["name"], "other");
}

#[tokio::test]
async fn parameters_cohere_cannot_honour_are_refused_by_name() {
    let app = spawn_app().await;
    for (extra, param) in [
        (json!({"n": 2}), "n"),
        (json!({"temperature": 1.5}), "temperature"),
        (json!({"top_logprobs": 2, "logprobs": true}), "top_logprobs"),
        (
            json!({"parallel_tool_calls": false, "tools": weather_tool()}),
            "parallel_tool_calls",
        ),
        (json!({"reasoning_effort": "low"}), "reasoning_effort"),
    ] {
        let mut request = json!({"model": MODEL, "messages": user("hi")});
        for (k, v) in extra.as_object().unwrap() {
            request[k] = v.clone();
        }
        let calls_before = app.fake("cohere").calls().len();
        let response = app.chat(&request).await;
        assert_eq!(response.status(), 400, "{param}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["param"], param);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(
            app.fake("cohere").calls().len(),
            calls_before,
            "{param}: never sent"
        );
    }
}

#[tokio::test]
async fn cohere_errors_become_openai_errors() {
    let app = spawn_app().await;
    let limited = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=429 retry_after=4]]")}))
        .await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "4");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    let unavailable = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=503]]")}))
        .await;
    assert_eq!(unavailable.status(), 503);

    let failed = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake status=500]]"), "stream": true}))
        .await;
    assert_eq!(failed.status(), 502);
}

#[tokio::test]
async fn a_stream_that_breaks_off_ends_with_an_error_event() {
    let app = spawn_app().await;
    let body = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake words=30 disconnect_after=4]]"), "stream": true}))
        .await
        .text()
        .await
        .unwrap();
    let chunks = sse_chunks(&body);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks.last().unwrap()["error"].is_object(), "{body}");
}

#[tokio::test]
async fn embeddings_go_to_v2_embed_as_search_documents() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/v1/embeddings",
            &json!({"model": "cohere/embed-v4.0", "input": ["one", "two"], "dimensions": 256}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 256);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let call = app.last_call("cohere");
    assert_eq!(call.path, "/v2/embed");
    assert_eq!(
        call.body,
        json!({"model": "embed-v4.0", "input_type": "search_document", "texts": ["one", "two"],
               "embedding_types": ["float"], "output_dimension": 256})
    );

    let fixed = app
        .post(
            "/v1/embeddings",
            &json!({"model": "cohere/embed-english-v3.0", "input": "x", "dimensions": 256}),
        )
        .await;
    assert_eq!(fixed.status(), 400);
    let body: Value = fixed.json().await.unwrap();
    assert_eq!(body["error"]["param"], "dimensions");
}

#[tokio::test]
async fn usage_cohere_leaves_out_is_counted_by_the_gateway() {
    let app = spawn_app().await;
    let body: Value = app
        .chat(&json!({"model": MODEL, "messages": user("Count me [[fake omit_usage]]")}))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["x-llm-gateway"]["tokens"]["counted_by"], "gateway");

    let chunks = sse_chunks(
        &app.chat(
            &json!({"model": MODEL, "messages": user("Count me [[fake omit_usage]]"),
            "stream": true, "stream_options": {"include_usage": true}}),
        )
        .await
        .text()
        .await
        .unwrap(),
    );
    let last = chunks.last().unwrap();
    assert!(last["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(last["x-llm-gateway"]["tokens"]["counted_by"], "gateway");
}

#[tokio::test]
async fn a_hanging_or_stalled_cohere_is_cut_off_in_time() {
    let app = spawn_app_with(
        "[upstream]\nrequest_timeout_ms = 300\nfirst_chunk_timeout_ms = 300\nidle_timeout_ms = 300\n",
    )
    .await;
    let hung = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake hang]]")}))
        .await;
    assert_eq!(hung.status(), 504);
    assert_eq!(
        app.last_outcome("cohere").await,
        CallOutcome::ClientDisconnected
    );

    let body = app
        .chat(&json!({"model": MODEL, "messages": user("[[fake stall_after=3]]"), "stream": true}))
        .await
        .text()
        .await
        .unwrap();
    let chunks = sse_chunks(&body);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        chunks.last().unwrap()["error"]["code"],
        "upstream_timeout",
        "{body}"
    );
}
